"""Medication reconciliation: staff confirm, with the patient, the medication list of
their latest intake version (who confirmed it, and when).

The list itself changes only as a new intake version (``intake_submit``), so the
screening and any decision on it always see one list; confirming it changes no fact the
rules look at, and so does not screen again.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest

from clinic.audit import Action, audit_record
from clinic.models import User
from clinic.permissions import Capability, require
from patients.models import IntakeSubmission, MedicationReconciliation, Patient
from patients.services.screening import latest_intake

MAX_NOTE = 2000


@transaction.atomic
def medication_list_confirm(
    *,
    actor: User,
    patient: Patient,
    intake: IntakeSubmission,
    note: str = "",
    request: HttpRequest | None = None,
) -> MedicationReconciliation:
    """Record that ``actor`` went through the medication list of ``intake`` with the
    patient. Only the latest version's list can be confirmed."""
    require(actor, Capability.RECORD_CLINICAL)
    patient.refresh_from_db(from_queryset=Patient.objects.select_for_update())
    note = (note or "").strip()
    if intake.patient_id != patient.pk:
        raise ValidationError(
            "This intake belongs to another patient. Open the patient's own chart and "
            "confirm the list there."
        )
    latest = latest_intake(patient)
    if latest is None or latest.pk != intake.pk:
        raise ValidationError(
            "A newer intake version has a newer medication list, so nothing was confirmed. "
            "Check the latest list with the patient and confirm it."
        )
    if len(note) > MAX_NOTE:
        raise ValidationError({"note": [f"Keep the note under {MAX_NOTE} characters."]})
    reconciliation = MedicationReconciliation.objects.create(
        intake=intake, confirmed_by=actor, note=note
    )
    audit_record(
        actor=actor,
        action=Action.CREATE,
        target=reconciliation,
        summary=f"confirmed the medication list of intake version {intake.version} "
        f"for patient {patient.public_id}",
        request=request,
    )
    return reconciliation
