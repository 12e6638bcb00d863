"""Staff pages about safety alerts: recording the follow-up that closes one.

The alert itself is shown on the chart (``patients/chart/partials/_safety_alerts.html``) and
on the staff home page; the rules are in ``patients.services.safety``.
"""

from __future__ import annotations

import uuid

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse

from clinic.forms import show_service_errors
from clinic.permissions import Capability, capability_required
from patients.selectors import patient_for
from patients.services.safety import NOTE_MAX_LENGTH, safety_alert_for, safety_alert_resolve
from patients.views.records import audit_patient_view


class SafetyFollowUpForm(forms.Form):
    # Not required here: the service says what a missing note should say.
    follow_up_note = forms.CharField(
        label="Follow-up",
        required=False,
        max_length=NOTE_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=(
            "Who contacted the patient, when, what they said, and what happens next (e.g. "
            "safety plan agreed, seen today, referred)."
        ),
    )


def _chart_url(patient_id: uuid.UUID) -> str:
    return reverse("patients:chart", args=[patient_id]) + "#safety-alerts"


@capability_required(Capability.RECORD_CLINICAL)
def safety_alert_follow_up(
    request: HttpRequest, patient_id: uuid.UUID, alert_id: uuid.UUID
) -> HttpResponse:
    patient = patient_for(request.user, patient_id, clinical=True)
    alert = safety_alert_for(request.user, patient, alert_id)
    form = SafetyFollowUpForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            safety_alert_resolve(
                actor=request.user,
                alert=alert,
                follow_up_note=form.cleaned_data["follow_up_note"],
                request=request,
            )
        except ValidationError as exc:
            show_service_errors(form, exc)
            alert = safety_alert_for(request.user, patient, alert_id)  # closed meanwhile?
        else:
            messages.success(request, "Follow-up recorded: the safety alert is closed.")
            return redirect(_chart_url(patient.public_id))
    elif request.method != "POST":
        audit_patient_view(request, patient, f"opened safety alert {alert.public_id}")
    return render(
        request,
        "patients/safety/follow_up.html",
        {"patient": patient, "alert": alert, "form": form},
    )
