"""What the flowsheet's writes (``infusions.readings``, ``infusions.session_alerts``,
``infusions.session_events``) share: the phase a record belongs to by the session's state,
what an open alert is, and the checks of time, text and medication each write runs.

Times a nurse enters are whole minutes, so a time in the minute the patient was checked in
counts as after check-in.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Q
from django.utils import timezone

from infusions.models import InfusionSession, SessionEvent, SessionStateChange, VitalsReading
from infusions.models.events import MedicationRoute
from infusions.models.readings import VitalsPhase
from infusions.models.sessions import InfusionSessionState

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
# A monitor's clock may run a little ahead of the server's.
CLOCK_SKEW = timedelta(minutes=2)
# An alert nobody has acknowledged yet (readings in error have theirs acknowledged).
OPEN_ALERT = Q(acknowledged_at__isnull=True)


def session_checked_in_at(session: InfusionSession) -> datetime | None:
    """When the patient was checked in for ``session`` (None before that)."""
    return (
        SessionStateChange.objects.filter(session=session, to_state=State.CHECKED_IN)
        .values_list("at", flat=True)
        .first()
    )


def time_in_session(
    session: InfusionSession,
    moment: datetime | None,
    errors: dict[str, list[str]],
    field: str,
    what: str,
) -> datetime:
    """``moment`` (now if None), or an error under ``field`` when it has no time zone, is
    in the future or before check-in."""
    now = timezone.now()
    if moment is None:
        return now
    if timezone.is_naive(moment):
        errors.setdefault(field, []).append(
            "Give the time with its time zone, e.g. 2026-11-21T10:15:00-05:00."
        )
        return now
    if moment > now + CLOCK_SKEW:
        errors.setdefault(field, []).append(f"That time is in the future: enter when {what}.")
    checked_in_at = session_checked_in_at(session)
    if checked_in_at is not None and moment < checked_in_at.replace(second=0, microsecond=0):
        tz = session.appointment.location.tz
        errors.setdefault(field, []).append(
            f"That time is before the patient was checked in "
            f"({checked_in_at.astimezone(tz):%H:%M}): enter a time during the session."
        )
    return moment


def medication_errors(name: str, dose: str, route: str, errors: dict[str, list[str]]) -> None:
    if not name:
        errors.setdefault("medication_name", []).append(
            "Enter the name of the medication given, e.g. ondansetron."
        )
    if not dose:
        errors.setdefault("medication_dose", []).append("Enter the dose given, e.g. 4 mg.")
    if route not in MedicationRoute.values:
        routes = ", ".join(label.lower() for _value, label in MedicationRoute.choices)
        errors.setdefault("medication_route", []).append(f"Choose how it was given: {routes}.")
    length_errors({"medication_name": name, "medication_dose": dose}, errors)


def length_errors(values: dict[str, str], errors: dict[str, list[str]]) -> None:
    limits = {
        field.name: field.max_length
        for field in SessionEvent._meta.concrete_fields
        if getattr(field, "max_length", None)
    }
    for field, value in values.items():
        limit = limits.get(field)
        if limit is not None and len(value) > limit:
            errors.setdefault(field, []).append(
                f"Shorten this to {limit} characters or fewer (it has {len(value)})."
            )
        if "\x00" in value:
            errors.setdefault(field, []).append("Remove the control characters from this text.")


def clean_text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def refuse_if_in_error(record: VitalsReading | SessionEvent, what: str) -> None:
    if record.entered_in_error_at is None:
        return
    who = record.entered_in_error_by.full_name if record.entered_in_error_by else "someone"
    raise ValidationError(
        {
            "reason": [
                f"{who} marked this {what} entered in error already: there is nothing more to do."
            ]
        }
    )


def session_patient_id(session_id: int) -> uuid.UUID:
    return (
        InfusionSession.objects.filter(pk=session_id)
        .values_list("appointment__patient__public_id", flat=True)
        .get()
    )


def copy_fields(source: Any, target: Any) -> None:
    if target is source:
        return
    for field in type(source)._meta.concrete_fields:
        setattr(target, field.attname, getattr(source, field.attname))


def closed_message(session: InfusionSession, what: str = "readings") -> str:
    state = State(session.state)
    if state == State.SCHEDULED:
        return f"Check the patient in first: {what} start at check-in."
    return (
        f"{session.state_sentence} No more {what} can be added to this session: open the "
        "patient's current session instead."
    )
