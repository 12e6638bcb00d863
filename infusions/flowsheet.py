"""The vitals flowsheet: readings, the alerts they raise, and when the next one is due.

``reading_record`` is the one way a reading gets into a session, whether a nurse typed it,
a monitor sent it through the API, or it is the pre-infusion reading of the pre-assessment.
It checks the values (``vitals.validate_reading``, the same limits the database enforces),
the time (within the session, not in the future) and the session's state, stores the
reading with the phase the session is in, and raises one ``SessionAlert`` per value outside
the alert thresholds (``vitals.alerts_for``) in the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from clinic.audit import Action, audit_record
from clinic.models import User
from clinic.permissions import Capability, require
from infusions import vitals
from infusions.models import (
    InfusionSession,
    InfusionSessionState,
    ReadingSource,
    SessionAlert,
    SessionStateChange,
    VitalsPhase,
    VitalsReading,
)

State = InfusionSessionState

# The phase a reading belongs to, by the session's state when it is taken. A session that
# stopped early is still watched until the patient goes home, so readings go on then.
PHASE_FOR_STATE: dict[State, VitalsPhase] = {
    State.CHECKED_IN: VitalsPhase.PRE,
    State.PRE_ASSESSMENT_PASSED: VitalsPhase.PRE,
    State.INFUSING: VitalsPhase.INFUSING,
    State.PAUSED: VitalsPhase.PAUSED,
    State.RECOVERING: VitalsPhase.RECOVERING,
    State.STOPPED_EARLY: VitalsPhase.RECOVERING,
}
# What each source must send: a nurse enters the full set, a monitor what it measures.
REQUIRED_BY_SOURCE: dict[str, tuple[str, ...]] = {
    ReadingSource.MANUAL: vitals.REQUIRED_FIELDS,
    ReadingSource.MONITOR: (),
}
VALUE_FIELDS = tuple(vitals.PHYSIOLOGICAL_LIMITS)
# A monitor's clock may run a little ahead of the server's.
CLOCK_SKEW = timedelta(minutes=2)


@dataclass(frozen=True)
class ReadingInput:
    """The values of one reading as entered or sent; None means "not measured"."""

    systolic: int | None = None
    diastolic: int | None = None
    heart_rate: int | None = None
    spo2: int | None = None
    respiratory_rate: int | None = None
    consciousness: int | None = None
    pain: int | None = None

    def as_reading(self) -> vitals.Reading:
        return vitals.Reading(**{name: getattr(self, name) for name in VALUE_FIELDS})


@transaction.atomic
def reading_record(
    *,
    actor: User,
    session: InfusionSession,
    values: ReadingInput,
    taken_at: datetime | None = None,
    source: str = ReadingSource.MANUAL,
    request: HttpRequest | None = None,
) -> VitalsReading:
    """Store one reading and raise its alerts; ``ValidationError`` keyed by field, with
    nothing saved, when the values, the time or the session's state do not allow it."""
    require(actor, Capability.RECORD_CLINICAL)
    locked = InfusionSession.objects.select_for_update().get(pk=session.pk)
    errors: dict[str, list[str]] = {}
    phase = PHASE_FOR_STATE.get(State(locked.state))
    if phase is None:
        raise ValidationError({"session": [_closed_message(locked)]})
    try:
        vitals.validate_reading(
            values.as_reading(), required=REQUIRED_BY_SOURCE.get(source, vitals.REQUIRED_FIELDS)
        )
    except vitals.ReadingError as error:
        for field, message in error.errors.items():
            errors.setdefault(field, []).append(message)
    taken_at = _taken_at(locked, taken_at, errors)
    if errors:
        raise ValidationError(errors)

    reading = VitalsReading.objects.create(
        session=locked,
        phase=phase,
        taken_at=taken_at,
        source=source,
        recorded_by=actor,
        **{name: getattr(values, name) for name in VALUE_FIELDS},
    )
    thresholds = vitals.alert_thresholds_from_settings()
    SessionAlert.objects.bulk_create(
        SessionAlert(
            session=locked,
            reading=reading,
            parameter=alert.parameter,
            direction=alert.kind.value,
            value=alert.value,
            threshold=alert.threshold,
            message=alert.message,
            raised_at=taken_at,
        )
        for alert in vitals.alerts_for(values.as_reading(), thresholds)
    )
    audit_record(
        actor=actor,
        action=Action.CREATE,
        target=reading,
        summary=f"recorded vital signs ({phase.label.lower()}) for patient "
        f"{locked.appointment.patient.public_id}",
        request=request,
    )
    return reading


def session_checked_in_at(session: InfusionSession) -> datetime | None:
    """When the patient was checked in for ``session`` (None before that)."""
    return (
        SessionStateChange.objects.filter(session=session, to_state=State.CHECKED_IN)
        .values_list("at", flat=True)
        .first()
    )


def _taken_at(
    session: InfusionSession, taken_at: datetime | None, errors: dict[str, list[str]]
) -> datetime:
    now = timezone.now()
    if taken_at is None:
        return now
    if timezone.is_naive(taken_at):
        errors.setdefault("taken_at", []).append(
            "Give the time with its time zone, e.g. 2026-11-21T10:15:00-05:00."
        )
        return now
    if taken_at > now + CLOCK_SKEW:
        errors.setdefault("taken_at", []).append(
            "That time is in the future: enter when the reading was taken."
        )
    checked_in_at = session_checked_in_at(session)
    if checked_in_at is not None and taken_at < checked_in_at:
        tz = session.appointment.location.tz
        errors.setdefault("taken_at", []).append(
            f"That time is before the patient was checked in "
            f"({checked_in_at.astimezone(tz):%H:%M}): enter a time during the session."
        )
    return taken_at


def _closed_message(session: InfusionSession) -> str:
    state = State(session.state)
    if state == State.SCHEDULED:
        return "Check the patient in first: readings start at check-in."
    return (
        f"The session is {state.label.lower()}, so no more readings can be added to it. "
        "Open the patient's current session instead."
    )
