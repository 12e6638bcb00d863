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
from clinic.permissions import Capability, require
from patients.links import link_create, refuse_silent_replacement
from patients.messages import message_base_url, patient_link_enqueue
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


@transaction.atomic
def questionnaire_link_create(
    *,
    actor: User,
    patient: Patient,
    instruments: list[Instrument],
    context: QuestionnaireResponse.Context | str,
    send_to_patient: bool = False,
    replace_live: bool = False,
    request: HttpRequest | None = None,
) -> tuple[PatientLink, str]:
    """A single-use link for the patient to answer ``instruments`` on their phone, kept as
    ``context`` (e.g. the baseline PHQ-9 a physician needs before approving treatment);
    returns (link, token).

    As the intake and consent links: any questionnaire link the patient has not answered
    stops working (a scheduled one's message is then not sent), so a link only to copy
    while the patient holds a working one is refused until staff confirm
    (``replace_live``). With ``send_to_patient`` it is queued to the patient on the
    channels they agreed to (``patients.messages``)."""
    require(actor, Capability.SEND_PATIENT_LINKS)
    if not instruments:
        raise ValidationError({"instruments": ["Choose at least one questionnaire to send."]})
    if context not in QuestionnaireResponse.Context.values:
        raise ValidationError({"context": ["Choose when the answers count for."]})
    if not send_to_patient and not replace_live:
        refuse_silent_replacement(patient, PatientLink.Purpose.QUESTIONNAIRE)
    link, token = link_create(
        patient=patient, purpose=PatientLink.Purpose.QUESTIONNAIRE, created_by=actor
    )
    link.instruments = [Instrument(instrument).value for instrument in instruments]
    link.questionnaire_context = context
    link.save(update_fields=["instruments", "questionnaire_context"])
    if send_to_patient:
        patient_link_enqueue(link=link, base_url=message_base_url(request))
    return link, token
