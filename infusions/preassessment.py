"""The checks before an infusion starts (``PreAssessment``): recording them.

A nurse records them at the chair while the session is checked in, in any order and over
several saves (``pre_assessment_record``): identity, today's weight, pregnancy status,
the escort home, when the patient last ate, and the pre-infusion vital signs
(``pre_assessment_vitals``, a phase "pre" reading through ``infusions.readings``). Blood
pressure at or above the caution limit needs a physician's acknowledgement
(``pre_assessment_acknowledge_caution``); at or above the hold limit there is no infusion
that day. Both are sticky for the session: a lower reading afterwards lifts neither
(``infusions.pre_bp``). Once the session has passed its pre-assessment the record is frozen.

Whether the checks are complete is ``infusions.preassessment_checklist``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from clinic.audit import Action, audit_record
from clinic.models import User
from clinic.permissions import Capability, require, user_can
from infusions import dosing, vitals
from infusions.models import InfusionSession, PreAssessment
from infusions.models.preassessment import BloodPressureStatus, PregnancyStatus
from infusions.models.sessions import InfusionSessionState
from infusions.pre_bp import pre_bp_refresh
from infusions.preassessment_checklist import local_day, questionnaires_before_infusion
from infusions.readings import ReadingInput, reading_record
from patients.services.details import patient_update

State = InfusionSessionState
Errors = dict[str, list[str]]

# A last meal "in the future" by up to this much is a clock difference, not an error.
CLOCK_SKEW = timedelta(minutes=2)
WEIGHT_PLACES = Decimal("0.1")
_TEXT_LIMITS = {"escort_name": 120, "escort_phone": 20}


# --- Writes ----------------------------------------------------------------------------------


@transaction.atomic
def pre_assessment_record(
    *,
    actor: User,
    session: InfusionSession,
    identity_confirmed: bool | None = None,
    weight_kg: Decimal | str | int | None = None,
    pregnancy_status: str | None = None,
    escort_confirmed: bool | None = None,
    escort_name: str | None = None,
    escort_phone: str | None = None,
    last_ate_at: datetime | None = None,
    notes: str | None = None,
    request: HttpRequest | None = None,
) -> PreAssessment:
    """Save what the nurse has checked so far; ``None`` leaves a value as it was.

    A weight is stamped ``weighed_at`` = now when it is new (or the one on file is not from
    today). Today's pre-session questionnaires are linked as they are found. Refuses,
    changing nothing, unless the session is checked in, and any value that is not
    possible (weight outside the clinic's limits, a last meal in the future, …)."""
    require(actor, Capability.RECORD_CLINICAL)
    locked = _locked_checked_in(session)
    assessment = _assessment_for_update(locked, actor)
    now = timezone.now()
    tz = locked.appointment.location.tz
    errors: Errors = {}
    weighed: Decimal | None = None  # a new weight, for the patient's record too

    if identity_confirmed is not None:
        assessment.identity_confirmed = bool(identity_confirmed)
    if weight_kg is not None and weight_kg != "":
        weight = _weight(weight_kg, errors)
        if weight is not None:
            fresh = assessment.weighed_at is not None and local_day(assessment.weighed_at, tz) == (
                local_day(now, tz)
            )
            if weight != assessment.weight_kg or not fresh:
                assessment.weight_kg = weight
                assessment.weighed_at = now
                weighed = weight
    if pregnancy_status is not None:
        if pregnancy_status and pregnancy_status not in PregnancyStatus.values:
            choices = "; ".join(label for label in PregnancyStatus.labels)
            errors.setdefault("pregnancy_status", []).append(
                f"Choose the pregnancy status from the list: {choices}."
            )
        else:
            assessment.pregnancy_status = pregnancy_status
    if escort_confirmed is not None:
        assessment.escort_confirmed = bool(escort_confirmed)
    for field, value in (("escort_name", escort_name), ("escort_phone", escort_phone)):
        if value is None:
            continue
        value = value.strip()
        if len(value) > _TEXT_LIMITS[field]:
            errors.setdefault(field, []).append(
                f"Shorten it to at most {_TEXT_LIMITS[field]} characters."
            )
        else:
            setattr(assessment, field, value)
    if last_ate_at is not None:
        if timezone.is_naive(last_ate_at):
            errors.setdefault("last_ate_at", []).append(
                "Give the time with its time zone, e.g. 2026-11-21T07:30:00-05:00."
            )
        elif last_ate_at > now + CLOCK_SKEW:
            errors.setdefault("last_ate_at", []).append(
                "That time is in the future: enter when the patient last ate or drank."
            )
        elif last_ate_at < now - timedelta(days=7):
            errors.setdefault("last_ate_at", []).append(
                "That is more than a week ago: check the date and enter it again."
            )
        else:
            assessment.last_ate_at = last_ate_at
    if notes is not None:
        assessment.notes = notes.strip()
    if errors:
        raise ValidationError(errors)

    assessment.recorded_by = actor
    assessment.updated_at = now
    created = assessment.pk is None
    assessment.save()
    if weighed is not None:
        # The patient's weight is the latest taken, at a consultation or at the chair: the
        # chart shows today's, not the one from the intake.
        patient_update(
            actor=actor, patient=locked.appointment.patient, weight_kg=weighed, request=request
        )
    _link_questionnaires(assessment, locked, now)
    audit_record(
        actor=actor,
        action=Action.CREATE if created else Action.UPDATE,
        target=locked,
        summary=f"recorded pre-infusion checks for patient {locked.appointment.patient.public_id}",
        request=request,
    )
    return assessment


@transaction.atomic
def pre_assessment_vitals(
    *,
    actor: User,
    session: InfusionSession,
    values: ReadingInput,
    request: HttpRequest | None = None,
) -> PreAssessment:
    """Take the pre-infusion vital signs: a phase "pre" reading on the flowsheet, judged
    against the caution and hold limits. A new reading replaces the one shown on the checks,
    but the session's ``bp_status`` is the worst of all its pre-infusion readings
    (``infusions.pre_bp``): a hold stays for the day, a caution stays until acknowledged, and
    a new caution reading needs a new acknowledgement."""
    require(actor, Capability.RECORD_CLINICAL)
    locked = _locked_checked_in(session)
    reading = reading_record(actor=actor, session=locked, values=values, request=request)
    values_read = values.as_reading()
    try:
        check = vitals.pre_infusion_status(values_read, vitals.caution_hold_from_settings())
    except vitals.ReadingError as error:
        raise ValidationError({k: [v] for k, v in error.errors.items()}) from None
    assessment = _assessment_for_update(locked, actor)
    assessment.vitals = reading
    assessment.recorded_by = actor
    assessment.updated_at = timezone.now()
    assessment.save()
    # The session's status is the worst of its readings, not this one's: a lower reading
    # lifts no hold, and an acknowledged caution stays acknowledged unless this reading is
    # itself a caution (``infusions.pre_bp``).
    assessment = pre_bp_refresh(locked) or assessment
    audit_record(
        actor=actor,
        action=Action.UPDATE,
        target=locked,
        summary=f"recorded pre-infusion vital signs ({check.status.value}; session "
        f"{assessment.bp_status}) for patient "
        f"{locked.appointment.patient.public_id}",
        request=request,
    )
    return assessment


@transaction.atomic
def pre_assessment_acknowledge_caution(
    *,
    actor: User,
    session: InfusionSession,
    note: str,
    request: HttpRequest | None = None,
) -> PreAssessment:
    """A physician's acknowledgement that the infusion may go ahead with a blood pressure at
    or above the caution limit (below the hold limit), with a note saying why."""
    if not user_can(actor, Capability.SIGN_MEDICAL_ORDERS):
        raise PermissionDenied(
            "Only a physician may acknowledge a blood pressure caution: ask the physician on shift."
        )
    locked = _locked_checked_in(session)
    assessment = PreAssessment.objects.select_for_update().filter(session=locked).first()
    if assessment is None or assessment.vitals_id is None:
        raise ValidationError(
            {"note": ["Take the pre-infusion vital signs first: there is nothing to acknowledge."]}
        )
    if assessment.bp_status == BloodPressureStatus.HOLD:
        raise ValidationError(
            {
                "note": [
                    "The blood pressure is at or above the hold limit: that cannot be "
                    "acknowledged. There is no infusion today; mark the session not started."
                ]
            }
        )
    if assessment.bp_status != BloodPressureStatus.CAUTION:
        raise ValidationError(
            {"note": ["The blood pressure is within limits: there is no caution to acknowledge."]}
        )
    if assessment.caution_acknowledged_by_id is not None:
        raise ValidationError(
            {"note": [f"{assessment.caution_acknowledged_by} has acknowledged it already."]}
        )
    note = (note or "").strip()
    if not note:
        raise ValidationError(
            {"note": ["Say why the infusion may go ahead: the note is part of the record."]}
        )
    assessment.caution_acknowledged_by = actor
    assessment.caution_acknowledged_at = timezone.now()
    assessment.caution_note = note
    assessment.save(
        update_fields=["caution_acknowledged_by", "caution_acknowledged_at", "caution_note"]
    )
    audit_record(
        actor=actor,
        action=Action.UPDATE,
        target=locked,
        summary="acknowledged a pre-infusion blood pressure caution for patient "
        f"{locked.appointment.patient.public_id}",
        request=request,
    )
    return assessment


# --- Helpers ---------------------------------------------------------------------------------


def _locked_checked_in(session: InfusionSession) -> InfusionSession:
    """The session, locked, if its pre-infusion checks may still change; else a refusal."""
    locked = (
        InfusionSession.objects.select_for_update(of=("self",))
        .select_related("appointment__location", "appointment__patient")
        .get(pk=session.pk)
    )
    state = State(locked.state)
    if state == State.CHECKED_IN:
        return locked
    if state == State.SCHEDULED:
        message = "Check the patient in first: the pre-infusion checks start at check-in."
    elif state == State.PRE_ASSESSMENT_PASSED:
        message = (
            "The session has passed its pre-assessment, so the checks are final. If something "
            "changed, mark the session not started and book a new appointment."
        )
    else:
        message = (
            f"The session is {state.label.lower()}: the pre-infusion checks can no longer change."
        )
    raise ValidationError({"session": [message]})


def _assessment_for_update(session: InfusionSession, actor: User) -> PreAssessment:
    assessment = PreAssessment.objects.select_for_update().filter(session=session).first()
    if assessment is None:
        assessment = PreAssessment(session=session, recorded_by=actor)
    return assessment


def _weight(value: Any, errors: Errors) -> Decimal | None:
    limits = dosing.limits_from_settings()
    low, high = _text(limits.min_weight_kg), _text(limits.max_weight_kg)
    if isinstance(value, float):
        value = str(value)
    try:
        number = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        number = None
    if number is None or not number.is_finite():
        errors.setdefault("weight_kg", []).append(
            f"Enter today's weight in kilograms as a number, e.g. 72.5 ({low}–{high} kg)."
        )
        return None
    if not limits.min_weight_kg <= number <= limits.max_weight_kg:
        errors.setdefault("weight_kg", []).append(
            f"A weight of {_text(number)} kg is outside {low}–{high} kg: check that it is in "
            "kilograms (not pounds) and enter it again."
        )
        return None
    if number != number.quantize(WEIGHT_PLACES):
        errors.setdefault("weight_kg", []).append(
            "Enter the weight to one decimal place at most, e.g. 72.5 kg."
        )
        return None
    return number.quantize(WEIGHT_PLACES)


def _text(value: Decimal) -> str:
    return f"{value.normalize():f}"


def _link_questionnaires(
    assessment: PreAssessment, session: InfusionSession, now: datetime
) -> None:
    """Link the questionnaires that count for this infusion."""
    counted = questionnaires_before_infusion(session, now)
    if counted:
        assessment.questionnaires.add(*counted)
