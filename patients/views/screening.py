"""Screening pages: running the rules again, and the physician's decision.

The decision page shows the latest screening result with every finding and the
rule-set version, and takes the decision on exactly that result: if a newer one
appears while the physician reads, the service refuses and the page shows the new one.
"""

from __future__ import annotations

import uuid
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from clinic.forms import show_service_errors
from clinic.permissions import Capability, capability_required, user_can
from patients.models import ScreeningDecision, ScreeningResult
from patients.selectors import patient_for
from patients.services.screening import (
    MIN_OVERRIDE_JUSTIFICATION,
    decision_current,
    decision_is_stale,
    decision_record,
    missing_fact_names,
    screening_latest,
    screening_run,
)
from patients.views.records import audit_patient_view


class DecisionForm(forms.Form):
    screening = forms.UUIDField(widget=forms.HiddenInput)
    decision = forms.ChoiceField(
        label="Decision",
        choices=[
            (ScreeningDecision.Decision.APPROVE, "Approve treatment"),
            (ScreeningDecision.Decision.DEFER, "Defer: something is needed first"),
            (ScreeningDecision.Decision.DECLINE, "Decline treatment"),
        ],
        widget=forms.RadioSelect,
        error_messages={"required": "Choose approve, defer or decline."},
    )
    reason = forms.CharField(
        label="Reason",
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Why, in a sentence or two. It stays on the patient's record.",
        error_messages={"required": "Say why, in a sentence or two."},
    )
    needed = forms.CharField(
        label="What is needed first",
        required=False,
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Required to defer, e.g. “blood pressure below 140/90 on two visits”.",
    )
    override_justification = forms.CharField(
        label="Justification for approving despite a contraindication",
        required=False,
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=(
            "Required to approve when the screening found a contraindication: why treatment is "
            f"safe for this patient, at least {MIN_OVERRIDE_JUSTIFICATION} characters."
        ),
    )
    missing_facts_acknowledged = forms.BooleanField(
        label="I asked the patient about every fact not recorded",
        required=False,
    )
    missing_facts_note = forms.CharField(
        label="What the patient said about the facts not recorded",
        required=False,
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=(
            "Required to approve while the screening lists facts not recorded: what the "
            "patient answered, or why treatment is safe without it, at least "
            f"{MIN_OVERRIDE_JUSTIFICATION} characters. Better still: record the intake and run "
            "the screening again."
        ),
    )


@require_POST
@capability_required(Capability.RECORD_CLINICAL)
def screening_run_view(request: HttpRequest, patient_id: uuid.UUID) -> HttpResponse:
    patient = patient_for(request.user, patient_id, clinical=True)
    result = screening_run(patient=patient, actor=request.user, request=request)
    messages.success(
        request,
        f"Screening run with rule set {result.ruleset_version}: {result.get_outcome_display()}.",
    )
    if user_can(request.user, Capability.DECIDE_SCREENING):
        return redirect("patients:decision-new", patient_id=patient.public_id)
    return redirect(reverse("patients:chart", args=[patient.public_id]) + "#screening")


@capability_required(Capability.DECIDE_SCREENING)
def decision_new(request: HttpRequest, patient_id: uuid.UUID) -> HttpResponse:
    patient = patient_for(request.user, patient_id, clinical=True)
    form = DecisionForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        chosen = ScreeningResult.objects.filter(
            patient=patient, public_id=form.cleaned_data["screening"]
        ).first()
        if chosen is None:
            form.add_error(
                None, "That screening result is not this patient's. Decide on the result below."
            )
        else:
            try:
                decision_record(
                    patient=patient,
                    screening=chosen,
                    decision=form.cleaned_data["decision"],
                    reason=form.cleaned_data["reason"],
                    needed=form.cleaned_data["needed"],
                    override_justification=form.cleaned_data["override_justification"],
                    missing_facts_acknowledged=form.cleaned_data["missing_facts_acknowledged"],
                    missing_facts_note=form.cleaned_data["missing_facts_note"],
                    actor=request.user,
                    request=request,
                )
            except ValidationError as exc:
                show_service_errors(form, exc)
            else:
                messages.success(request, "Decision recorded.")
                return redirect(reverse("patients:chart", args=[patient.public_id]) + "#decisions")
    elif request.method != "POST":
        audit_patient_view(request, patient, "opened the screening decision form")
    # Read after any write attempt, so a result that arrived meanwhile is the one shown.
    screening = screening_latest(patient)
    current = decision_current(patient)
    context: dict[str, Any] = {
        "patient": patient,
        "form": form,
        "screening": screening,
        "current": current,
        "current_is_stale": current is not None and decision_is_stale(current),
        "can_record": user_can(request.user, Capability.RECORD_CLINICAL),
        "min_justification": MIN_OVERRIDE_JUSTIFICATION,
    }
    if screening is not None:
        context |= {
            "missing_facts": missing_fact_names(screening),
            "intake": screening.intake,
            "measurement": screening.measurement,
            "phq9": screening.phq9,
        }
    return render(request, "patients/screening/decision_form.html", context)
