"""Discharge: the checklist a nurse signs before the patient goes home.

``discharge_blockers`` says what must happen before the checklist can be signed at all: the
session is recovering (or stopped early), every alert is acknowledged, and when the infusion
started, what was given and wasted of the current dose order is recorded.

``discharge_sign`` records the checklist (``Discharge``): vitals back near the patient's
baseline, alert and oriented, a modified Aldrete score of at least
``settings.DISCHARGE_MIN_ALDRETE``, an adult escort present (named), and the after-care
instructions given. An alert that is still unresolved (its value is still outside the alert
thresholds in the latest reading of that value) needs a physician's note; when the nurse
signs, the physician confirms with their own password at the chair.

A recovering session moves to discharged in the same transaction
(``infusions.sessions.session_transition``, which asks ``discharge_problems``). A session that
stopped early is final already and the lifecycle has no move out of it, but the patient is
still watched in recovery and then sent home: its checklist is recorded the same way, with no
state move, and the appointment goes from recovering to discharged.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from clinic.audit import Action, audit_record
from clinic.cosign import cosigner_errors
from clinic.models import User
from clinic.permissions import ROLE_CAPABILITIES, Capability, require, user_can
from infusions import vitals
from infusions.models import (
    Discharge,
    DoseAdministration,
    InfusionSession,
    PreAssessment,
    SessionAlert,
    VitalsReading,
)
from infusions.models.sessions import InfusionSessionState
from infusions.orders import current_order
from patients.followups import followup_checkin_enqueue
from scheduling.models import Appointment, AppointmentStatus
from scheduling.services import appointment_follow_session

State = InfusionSessionState

# The states in which the patient is watched and then sent home.
DISCHARGE_STATES = frozenset({State.RECOVERING, State.STOPPED_EARLY})


def discharge_problems(session: InfusionSession) -> list[str]:
    """What stops ``session`` moving to discharged; empty once the checklist is signed.

    ``session_transition`` asks this: the checklist itself (``discharge_sign``) is where
    each criterion is checked."""
    if not Discharge.objects.filter(session=session).exists():
        return ["Complete and sign the discharge checklist."]
    return []


# --- What stands in the way ---------------------------------------------------------------


@dataclass(frozen=True)
class UnresolvedAlert:
    """An alert whose value is still outside the alert limits in the latest reading of it."""

    alert: SessionAlert  # the latest alert that listed this value and direction
    parameter: str  # the value, e.g. "systolic"
    direction: str  # "high" or "low"
    reading: VitalsReading  # the latest reading of the value, still outside the limits
    message: str  # what the latest reading says, e.g. "The systolic pressure of 185 mmHg …"


def open_alerts(session: InfusionSession) -> QuerySet[SessionAlert]:
    """Alerts nobody has acknowledged yet (a reading entered in error raises none)."""
    return SessionAlert.objects.filter(
        session=session,
        acknowledged_at__isnull=True,
        reading__entered_in_error_at__isnull=True,
    )


def unresolved_alerts(session: InfusionSession) -> list[UnresolvedAlert]:
    """Each value (and direction) listed in an alert that is still outside the alert
    limits in the latest reading that has it (readings entered in error left out): one
    item per value, though one alert may list several.

    Two queries: the alerts and the session's valid readings."""
    alerts = list(
        SessionAlert.objects.filter(
            session=session, reading__entered_in_error_at__isnull=True
        ).order_by("raised_at", "id")
    )
    if not alerts:
        return []
    readings = list(
        VitalsReading.objects.filter(session=session, entered_in_error_at__isnull=True).order_by(
            "taken_at", "id"
        )
    )
    thresholds = vitals.alert_thresholds_from_settings()
    latest_alert: dict[tuple[str, str], SessionAlert] = {}
    for alert in alerts:
        for finding in alert.findings:
            latest_alert[(finding["parameter"], finding["direction"])] = alert
    unresolved = []
    for (parameter, direction), alert in latest_alert.items():
        latest = next(
            (r for r in reversed(readings) if getattr(r, parameter, None) is not None), None
        )
        if latest is None:
            continue
        still = [
            found
            for found in vitals.alerts_for(_as_reading(latest), thresholds)
            if found.parameter == parameter and found.kind.value == direction
        ]
        if still:
            unresolved.append(
                UnresolvedAlert(
                    alert=alert,
                    parameter=parameter,
                    direction=direction,
                    reading=latest,
                    message=still[0].message,
                )
            )
    return unresolved


def discharge_blockers(session: InfusionSession) -> list[str]:
    """What must happen before the discharge checklist can be signed, each as a sentence
    saying what to do; empty when it may be signed."""
    state = State(session.state)
    if Discharge.objects.filter(session=session).exists():
        return ["The discharge checklist is signed already: the patient has gone home."]
    if state == State.NOT_STARTED:
        return ["The infusion was not started, so there is no discharge to record."]
    if state == State.DISCHARGED:
        return ["The session is discharged already."]
    if state not in DISCHARGE_STATES:
        return [
            f"The session is {state.label.lower()}: end the infusion (recovery) first, then "
            "sign the discharge checklist when the patient is ready to go home."
        ]
    blockers = []
    count = open_alerts(session).count()
    if count:
        blockers.append(
            f"Acknowledge the {count} open alert{'s' if count != 1 else ''} on the flowsheet "
            "first, saying what was done."
        )
    if session.started_at is not None:
        order = current_order(session)
        if order is not None and not DoseAdministration.objects.filter(order=order).exists():
            blockers.append(
                "Record what was given and wasted of the dose first (with the witness for "
                "any waste)."
            )
    return blockers


def physicians() -> QuerySet[User]:
    """Active staff who may write the physician's note (``SIGN_MEDICAL_ORDERS``)."""
    roles = [
        role for role, caps in ROLE_CAPABILITIES.items() if Capability.SIGN_MEDICAL_ORDERS in caps
    ]
    return User.objects.filter(is_active=True, roles__overlap=roles).order_by("full_name")


def baseline_reading(session: InfusionSession) -> VitalsReading | None:
    """The pre-infusion reading the pre-assessment recorded, if any."""
    try:
        return session.pre_assessment.vitals
    except PreAssessment.DoesNotExist:
        return None


def latest_reading(session: InfusionSession) -> VitalsReading | None:
    """The session's latest reading that was not entered in error."""
    return (
        VitalsReading.objects.filter(session=session, entered_in_error_at__isnull=True)
        .order_by("-taken_at", "-id")
        .first()
    )


def default_escort_name(session: InfusionSession) -> str:
    """The escort named at the pre-assessment, or ""."""
    try:
        return session.pre_assessment.escort_name.strip()
    except PreAssessment.DoesNotExist:
        return ""


# --- Signing -------------------------------------------------------------------------------


@transaction.atomic
def discharge_sign(
    *,
    actor: User,
    session: InfusionSession,
    vitals_near_baseline: bool,
    alert_and_oriented: bool,
    aldrete_score: int | None,
    escort_present: bool,
    escort_name: str = "",
    instructions_given: bool,
    physician: User | None = None,
    physician_password: str = "",
    physician_otp: str = "",
    physician_note: str = "",
    request: HttpRequest | None = None,
) -> Discharge:
    """Sign the discharge checklist for ``session`` and send the patient home.

    Refuses (``ValidationError`` keyed by field, nothing saved) anything in
    ``discharge_blockers`` (under "session"), each criterion not met, and an unresolved alert
    without a physician's note: ``physician`` (who may sign medical orders) and
    ``physician_note``, with the physician's own ``physician_password`` (and ``physician_otp``
    when they have a second factor) unless the physician is the one signing. With no
    unresolved alert the physician fields are not needed and are not kept. ``escort_name``
    defaults to the escort named at the pre-assessment."""
    require(actor, Capability.RECORD_CLINICAL)
    appointment = (
        Appointment.objects.select_for_update(of=("self",))
        .select_related("patient")
        .get(pk=session.appointment_id)
    )
    current = InfusionSession.objects.select_for_update().get(pk=session.pk)
    blockers = discharge_blockers(current)
    if (
        State(current.state) not in DISCHARGE_STATES
        or Discharge.objects.filter(session=current).exists()
    ):
        raise ValidationError({"session": blockers})

    errors: dict[str, list[str]] = {}
    if blockers:
        errors["session"] = blockers
    _check_criteria(
        errors,
        vitals_near_baseline=vitals_near_baseline,
        alert_and_oriented=alert_and_oriented,
        aldrete_score=aldrete_score,
        escort_present=escort_present,
    )
    escort_name = (escort_name or "").strip() or default_escort_name(current)
    if not escort_name:
        errors["escort_name"] = ["Enter the name of the adult taking the patient home."]
    elif len(escort_name) > Discharge._meta.get_field("escort_name").max_length:
        errors["escort_name"] = ["Shorten the escort's name to 120 characters or fewer."]
    if not instructions_given:
        errors["instructions_given"] = [
            "Give the patient the written after-care instructions (print the after-care "
            "sheet) and go through them, then tick this."
        ]
    reasons = physician_review_reasons(current)
    physician_note = (physician_note or "").strip()
    if reasons:
        _check_physician(
            errors,
            actor=actor,
            physician=physician,
            password=physician_password,
            otp=physician_otp,
            note=physician_note,
            reasons=reasons,
            request=request,
        )
    else:
        physician, physician_note = None, ""
    if errors:
        raise ValidationError(errors)

    discharge = Discharge.objects.create(
        session=current,
        vitals_near_baseline=True,
        alert_and_oriented=True,
        aldrete_score=aldrete_score,
        escort_present=True,
        escort_name=escort_name,
        instructions_given=True,
        physician=physician,
        physician_note=physician_note,
        signed_by=actor,
    )
    audit_record(
        actor=actor,
        action=Action.CREATE,
        target=discharge,
        summary=f"signed the discharge checklist for patient {appointment.patient.public_id}"
        + (" with a physician's note" if physician_note else ""),
        request=request,
    )
    if current.state == State.RECOVERING:
        # session_transition moves the appointment along too.
        current = _move_to_discharged(actor, current, request)
    else:
        _discharge_appointment(actor, appointment, request)
    # The next-day check-in, queued in this transaction (patients.followups).
    followup_checkin_enqueue(appointment=appointment, discharged_at=discharge.signed_at)
    for field in InfusionSession._meta.concrete_fields:
        setattr(session, field.attname, getattr(current, field.attname))
    return discharge


def _check_criteria(
    errors: dict[str, list[str]],
    *,
    vitals_near_baseline: bool,
    alert_and_oriented: bool,
    aldrete_score: int | None,
    escort_present: bool,
) -> None:
    minimum = settings.DISCHARGE_MIN_ALDRETE
    if not vitals_near_baseline:
        errors["vitals_near_baseline"] = [
            "Not ready to go home: the vital signs must be back near the patient's baseline "
            "(the reading before the infusion). Keep watching and take another reading."
        ]
    if not alert_and_oriented:
        errors["alert_and_oriented"] = [
            "Not ready to go home: the patient must be alert and oriented (knows who and where "
            "they are, and the day). Keep watching and check again."
        ]
    if aldrete_score is None:
        errors["aldrete_score"] = ["Enter the modified Aldrete score (0 to 10)."]
    elif isinstance(aldrete_score, bool) or not isinstance(aldrete_score, int):
        errors["aldrete_score"] = [
            "Enter the modified Aldrete score as a whole number from 0 to 10, "
            f"not {aldrete_score!r}."
        ]
    elif not 0 <= aldrete_score <= 10:
        errors["aldrete_score"] = [
            f"A modified Aldrete score is 0 to 10, not {aldrete_score}: score the patient again."
        ]
    elif aldrete_score < minimum:
        errors["aldrete_score"] = [
            f"Not ready to go home: the modified Aldrete score is {aldrete_score} and the "
            f"clinic needs at least {minimum}. Keep watching the patient and score again."
        ]
    if not escort_present:
        errors["escort_present"] = [
            "Not ready to go home: an adult escort must be here to take the patient home (no "
            "driving until the next day). Call the escort, or keep the patient until they come."
        ]


def _check_physician(
    errors: dict[str, list[str]],
    *,
    actor: User,
    physician: User | None,
    password: str,
    otp: str,
    note: str,
    reasons: list[str],
    request: HttpRequest | None,
) -> None:
    what = " ".join(reasons)
    if physician is None:
        errors["physician"] = [
            f"{what} A physician must review it and write a note before the patient goes "
            "home. Choose the physician."
        ]
    elif not user_can(physician, Capability.SIGN_MEDICAL_ORDERS):
        errors["physician"] = [f"{physician} cannot write this note: choose a physician."]
    elif physician.pk != actor.pk:
        for field, messages in cosigner_errors(
            actor=actor,
            cosigner=physician,
            password=password,
            otp=otp,
            capability=Capability.SIGN_MEDICAL_ORDERS,
            field="physician",
            what="reviewed the discharge",
            who="a physician",
            request=request,
        ).items():
            errors.setdefault(field, []).extend(messages)
    if not note:
        errors["physician_note"] = [
            "Write the physician's note: why the patient may go home now, and what they should do."
        ]


def physician_review_reasons(session: InfusionSession) -> list[str]:
    """Why discharge needs a physician's note now, each a sentence; empty when it doesn't:
    an alert still unresolved in the latest reading, or less recovery than
    ``MIN_RECOVERY_MINUTES`` so far."""
    reasons = [item.message for item in unresolved_alerts(session)]
    shortfall = recovery_shortfall(session)
    if shortfall:
        reasons.append(shortfall)
    return reasons


def recovery_started_at(session: InfusionSession) -> datetime | None:
    """When the patient went into recovery (or the infusion was stopped early), or None."""
    change = (
        session.state_changes.filter(to_state__in=DISCHARGE_STATES).order_by("at", "id").first()
    )
    return change.at if change else None


def recovery_shortfall(session: InfusionSession, now: datetime | None = None) -> str:
    """ "" once the patient has been in recovery for ``MIN_RECOVERY_MINUTES``; otherwise a
    sentence saying how long so far and until when."""
    minimum = settings.MIN_RECOVERY_MINUTES
    started = recovery_started_at(session)
    if started is None or minimum == 0:
        return ""
    now = now or timezone.now()
    ready_at = started + timedelta(minutes=minimum)
    if now >= ready_at:
        return ""
    minutes = int((now - started).total_seconds() // 60)
    tz = session.appointment.location.tz
    return (
        f"The patient has been in recovery for {minutes} of the {minimum} minutes the clinic "
        f"asks for (until {ready_at.astimezone(tz):%H:%M})."
    )


def _move_to_discharged(
    actor: User, session: InfusionSession, request: HttpRequest | None
) -> InfusionSession:
    from infusions.sessions import session_transition  # sessions imports this module

    return session_transition(
        actor=actor, session=session, to_state=State.DISCHARGED, request=request
    )


def _discharge_appointment(
    actor: User, appointment: Appointment, request: HttpRequest | None
) -> None:
    """A stopped-early session stays as it is; its appointment (recovering) is done."""
    appointment_follow_session(
        actor=actor, appointment=appointment, status=AppointmentStatus.DISCHARGED, request=request
    )


def _as_reading(reading: VitalsReading) -> vitals.Reading:
    return vitals.Reading(**{name: getattr(reading, name) for name in vitals.PHYSIOLOGICAL_LIMITS})
