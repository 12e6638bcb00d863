"""Medication reconciliation from the chart: staff confirm the latest medication list."""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.http import require_POST

from clinic.permissions import Capability, capability_required
from patients.selectors import patient_for
from patients.services.medications import medication_list_confirm


@require_POST
@capability_required(Capability.RECORD_CLINICAL)
def medications_confirm(request: HttpRequest, patient_id: uuid.UUID) -> HttpResponse:
    """Confirm the list of the intake version the page showed (``version``): a list that
    changed in the meantime is refused, so nobody confirms a list they did not see."""
    patient = patient_for(request.user, patient_id, clinical=True)
    chart_url = reverse("patients:chart", args=[patient.public_id]) + "#medications"
    version = request.POST.get("version", "")
    intake = patient.intakes.filter(version=int(version)).first() if version.isdigit() else None
    if intake is None:
        messages.error(
            request, "That intake version was not found: reload the chart and confirm again."
        )
        return redirect(chart_url)
    try:
        medication_list_confirm(
            actor=request.user,
            patient=patient,
            intake=intake,
            note=request.POST.get("note", ""),
            request=request,
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"Medication list of intake version {intake.version} confirmed.")
    return redirect(chart_url)
