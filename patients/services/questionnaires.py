"""Writes of a patient's completed questionnaires (PHQ-9, GAD-7, PCL-5, pain): scored
and kept; a baseline PHQ-9 runs the screening again, and thoughts of self-harm raise a
safety alert.

As for every record service: input is checked first (``ValidationError`` keyed by item,
nothing saved), and each response is in the audit log by the patient's ``public_id``.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest

from clinic.audit import Action, audit_record
from clinic.models import User
from patients.models import Patient, PatientLink, QuestionnaireResponse, SafetyAlert
from patients.questionnaires import Instrument, QuestionnaireError, definition_for, score
from patients.services.safety import safety_alert_raise
from patients.services.screening import screening_run


@transaction.atomic
def questionnaire_record(
    *,
    actor: User | None,
    patient: Patient,
    instrument: Instrument | str,
    answers: dict[str, int],
    context: QuestionnaireResponse.Context | str = QuestionnaireResponse.Context.BASELINE,
    via_link: PatientLink | None = None,
    request: HttpRequest | None = None,
) -> QuestionnaireResponse:
    """Score and keep a completed questionnaire. Errors are keyed by item ("q4").

    A baseline PHQ-9 re-runs the screening, which raises the urgent flag when question 9
    is answered above 0. Any PHQ-9 with question 9 above 0 also raises a safety alert and
    queues the on-call email (``patients.services.safety``), in this transaction.
    """
    if instrument not in {member.value for member in Instrument}:
        choices = ", ".join(member.value for member in Instrument)
        raise ValidationError({"instrument": f"Choose a questionnaire: one of {choices}."})
    if context not in QuestionnaireResponse.Context.values:
        raise ValidationError({"context": "Choose when it was completed from the list."})
    try:
        result = score(instrument, answers)
    except QuestionnaireError as exc:
        raise ValidationError({key: [message] for key, message in exc.errors.items()}) from None

    locked = Patient.objects.select_for_update().get(pk=patient.pk)
    response = QuestionnaireResponse.objects.create(
        patient=locked,
        instrument=result.instrument.value,
        context=context,
        answers=result.answers,
        total=result.total,
        band=result.band,
        item9_positive=result.item9_positive,
        entered_by=actor if actor is not None and actor.is_authenticated else None,
        via_link=via_link,
    )
    audit_record(
        actor=actor,
        action=Action.CREATE,
        target=response,
        summary=(
            f"recorded a {definition_for(instrument).short_name} ({context}) "
            f"for patient {locked.public_id}"
        ),
        request=request,
    )
    if response.item9_positive:
        # In this transaction: the alert and the on-call email exist once the answers do.
        safety_alert_raise(
            patient=locked,
            source=SafetyAlert.Source.PHQ9_ITEM9,
            questionnaire=response,
            appointment=via_link.appointment if via_link is not None else None,
            actor=actor,
            request=request,
        )
    if result.instrument is Instrument.PHQ9 and context == QuestionnaireResponse.Context.BASELINE:
        screening_run(patient=locked, actor=actor, request=request)
    return response
