"""Writes about the intake questionnaire.

A patient fills it in through a link, saving as they go (``intake_save_draft``), or
staff enter it; either way ``intake_submit`` keeps it as a new version (nothing is
overwritten), moves the patient on to "awaiting decision" and runs the screening rules.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Max
from django.http import HttpRequest

from clinic.audit import Action, audit_record
from clinic.models import User
from clinic.permissions import Capability, require, user_can
from patients.intake.answers import clean_answers, draft_answers, draft_steps
from patients.intake.medications import (
    clean_medication_rows,
    draft_medications,
    list_problems,
    medication_models,
)
from patients.intake.questions import SECTION_KEYS
from patients.links import (
    link_create,
    link_for_token,
    link_mark_used,
    link_token,
    refuse_silent_replacement,
)
from patients.messages import message_base_url, patient_link_enqueue
from patients.models import IntakeSubmission, Medication, Patient, PatientLink, PatientStatus
from patients.services.details import patient_set_status
from patients.services.screening import screening_run

# Statuses a submitted intake moves on to "awaiting decision"; later ones (in treatment,
# discharged) are moved by the treatment itself.
_BEFORE_TREATMENT = {
    PatientStatus.CONSULTATION_REQUESTED,
    PatientStatus.INTAKE_IN_PROGRESS,
    PatientStatus.AWAITING_DECISION,
    PatientStatus.APPROVED,
    PatientStatus.DEFERRED,
    PatientStatus.DECLINED,
}


def _lock_link(link: PatientLink) -> PatientLink:
    # Check the link again under a row lock, through the one access function for links,
    # so two tabs submitting at once cannot both succeed. Raises LinkError.
    return link_for_token(link_token(link), PatientLink.Purpose(link.purpose), for_update=True)


def _mark_intake_started(patient: Patient, actor: User | None, request: HttpRequest | None) -> None:
    if patient.status == PatientStatus.CONSULTATION_REQUESTED:
        patient.status = patient_set_status(
            actor=actor, patient=patient, status=PatientStatus.INTAKE_IN_PROGRESS, request=request
        ).status


@transaction.atomic
def intake_link_create(
    *,
    actor: User,
    patient: Patient,
    send_to_patient: bool = False,
    replace_live: bool = False,
    request: HttpRequest | None = None,
) -> tuple[PatientLink, str]:
    """A single-use link for the patient to fill in the intake; returns (link, token).

    A link only to copy (not sent) while the patient still holds a working intake link is
    refused (ValidationError keyed ``replace_live`` saying when and how that one was sent)
    unless ``replace_live``: staff confirmed the patient's link may stop working.

    Earlier unused intake links stop working. The patient's progress so far on those is
    not carried over: their answers reach the clinic only when submitted.

    The link is always returned for staff to hand over. With ``send_to_patient`` (staff
    chose to send it) it is also queued to the patient by email and/or text, on the
    channels they agreed to and have an address for (``patients.messages``); without
    consent or an address nothing is queued, and the link is still shown.
    """
    require(actor, Capability.SEND_PATIENT_LINKS)
    if not send_to_patient and not replace_live:
        refuse_silent_replacement(patient, PatientLink.Purpose.INTAKE)
    link, token = link_create(patient=patient, purpose=PatientLink.Purpose.INTAKE, created_by=actor)
    _mark_intake_started(patient, actor, request)
    if send_to_patient:
        patient_link_enqueue(link=link, base_url=message_base_url(request))
    return link, token


@transaction.atomic
def intake_save_draft(
    *,
    link: PatientLink,
    data: dict[str, Any],
    step: str = "",
    medications: list[dict[str, Any]] | None = None,
    request: HttpRequest | None = None,
) -> PatientLink:
    """Save a patient's answers so far on their link. Partial answers are fine, but what is
    answered must be valid (ValidationError keyed by question). ``medications``, when
    given, replaces the list saved so far; each medicine on it must be valid. Raises
    LinkError when the link can no longer be used."""
    locked = _lock_link(link)
    patient = locked.patient
    answers = clean_answers(
        {**draft_answers(locked), **data}, sex_at_birth=patient.sex_at_birth, draft=True
    )
    rows = clean_medication_rows(draft_medications(locked) if medications is None else medications)
    steps = draft_steps(locked)
    if step in SECTION_KEYS and step not in steps:
        steps.append(step)
    locked.draft = {"answers": answers, "steps_saved": steps, "medications": rows}
    locked.save(update_fields=["draft"])
    link.draft = locked.draft
    audit_record(
        actor=None,
        action=Action.UPDATE,
        target=locked,
        summary=f"saved intake progress through a link for patient {patient.public_id}",
        request=request,
    )
    _mark_intake_started(patient, None, request)
    return locked


@transaction.atomic
def intake_submit(
    *,
    patient: Patient,
    answers: dict[str, Any],
    medications: list[dict[str, Any]] | None = None,
    entered_by: User | None = None,
    via_link: PatientLink | None = None,
    request: HttpRequest | None = None,
) -> IntakeSubmission:
    """Keep a complete intake as the patient's next version and screen the patient.

    Staff (``entered_by``, who must record clinical information) or the patient through
    their link (``via_link``, which is then used up). Every question asked must be
    answered: ValidationError keyed by question otherwise, and nothing is saved.
    ``medications`` is the version's medication list (``patients.intake.medications``
    rows; none given: an empty list); a wrong medicine is a ValidationError under
    "medications".
    """
    if (entered_by is None) == (via_link is None):
        raise ValidationError("Say who entered the intake: a staff member or the patient's link.")
    if entered_by is not None and not user_can(entered_by, Capability.RECORD_CLINICAL):
        raise PermissionDenied(
            "Only nurses and physicians can enter an intake. Send the patient a link instead."
        )
    link = None
    if via_link is not None:
        link = _lock_link(via_link)
        if link.patient_id != patient.pk or link.purpose != PatientLink.Purpose.INTAKE:
            raise PermissionDenied("This link is not for this patient's intake.")
    # Lock the patient: two submissions at once must get different version numbers.
    patient.refresh_from_db(from_queryset=Patient.objects.select_for_update())
    clean = clean_answers(answers, sex_at_birth=patient.sex_at_birth, draft=False)
    try:
        rows = clean_medication_rows(medications or [])
    except ValidationError as exc:
        raise ValidationError({"medications": exc.messages}) from None
    problems = list_problems(clean, rows)
    if problems:
        raise ValidationError({"takes_medicines": problems})
    latest = patient.intakes.aggregate(latest=Max("version"))["latest"] or 0
    submission = IntakeSubmission.objects.create(
        patient=patient,
        version=latest + 1,
        answers=clean,
        entered_by=entered_by,
        via_link=link,
    )
    listed = medication_models(rows)
    for medication in listed:
        medication.intake = submission
    Medication.objects.bulk_create(listed)
    how = "through a link" if link is not None else "entered by staff"
    audit_record(
        actor=entered_by,
        action=Action.CREATE,
        target=submission,
        summary=f"submitted intake version {submission.version} ({how}) "
        f"for patient {patient.public_id}",
        request=request,
    )
    if link is not None:
        link_mark_used(link)
        via_link.used_at, via_link.draft = link.used_at, link.draft
    if patient.status in _BEFORE_TREATMENT:
        patient.status = patient_set_status(
            actor=entered_by,
            patient=patient,
            status=PatientStatus.AWAITING_DECISION,
            request=request,
        ).status
    screening_run(patient=patient, actor=entered_by, request=request)
    return submission
