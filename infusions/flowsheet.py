"""The vitals flowsheet: readings, the alerts they raise, when the next one is due, and the
side effects and interventions of a session.

Writes (each ``@transaction.atomic``, refusing with ``ValidationError`` keyed by field and
changing nothing):

- ``reading_record`` is the one way a reading gets into a session, whether a nurse typed
  it, a monitor sent it through the API, or it is the pre-infusion reading of the
  pre-assessment. It checks the values (``vitals.validate_reading``, the same limits the
  database enforces), the time (within the session, not in the future) and the session's
  state, stores the reading with the phase the session is in, and raises one
  ``SessionAlert`` listing every value outside the alert thresholds (``vitals.alerts_for``)
  in the same transaction: one reading, one alert, one acknowledgement.
  ``readings_record_batch`` does the same for a monitor's batch, all or nothing.
- ``reading_mark_in_error`` / ``event_mark_in_error``: records are never edited; a wrong
  one is marked entered in error, once, with who and why. A reading in error takes its
  open alerts with it: they are acknowledged in the same transaction by the person marking
  it, with the action "continue" and the note "Reading entered in error: <why>". So
  "open alert" stays one plain condition (``acknowledged_at IS NULL``, the partial index
  ``alert_open_idx``) that the day board, discharge and the API can all rely on, and the
  record still shows who closed the alert and why.
- ``alert_acknowledge``: a named person (the actor) says what was done. "Medication given"
  needs the medication and records it as a ``SessionEvent`` linked to the alert. "Pause"
  and "stop" also move the session (``sessions.session_transition``) in the same
  transaction when it is infusing (stop: or paused); otherwise the alert is acknowledged
  and the session stays as it is.
- ``event_record``: a side effect with its severity, a medication given (name, dose and
  route together), or both, at a time within the session.

Reads: ``flowsheet_for`` (the section of the session screen: readings in time order with
their alerts, the open alerts, and when the next reading is due), ``events_for``, and
``open_alert_counts`` / ``with_open_alerts`` for the day board.

Times a nurse enters are whole minutes, so a time in the minute the patient was checked in
counts as after check-in.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, F, IntegerField, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.http import HttpRequest
from django.utils import timezone

from clinic.audit import Action, audit_record
from clinic.models import User
from clinic.permissions import Capability, require
from infusions import vitals
from infusions.models import (
    InfusionSession,
    SessionAlert,
    SessionEvent,
    SessionStateChange,
    SideEffect,
    VitalsReading,
)
from infusions.models.events import MedicationRoute, Severity
from infusions.models.readings import AlertAction, ReadingSource, VitalsPhase
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
# What each source must send: a nurse enters the full set, a monitor what it measures.
REQUIRED_BY_SOURCE: dict[str, tuple[str, ...]] = {
    ReadingSource.MANUAL: vitals.REQUIRED_FIELDS,
    ReadingSource.MONITOR: (),
}
VALUE_FIELDS = tuple(vitals.PHYSIOLOGICAL_LIMITS)
# A monitor's clock may run a little ahead of the server's.
CLOCK_SKEW = timedelta(minutes=2)
# The most readings one batch may carry (a monitor sends what it measured since last time).
BATCH_MAX = 100
# The reading schedule runs while the drug is in: infusing and paused (a pause is part of
# the infusion, watched as closely), then recovering. Before the start there is only the
# pre-infusion reading; once the session has ended there is no schedule.
SCHEDULE_PHASE_FOR_STATE: dict[State, vitals.Phase] = {
    State.INFUSING: vitals.Phase.INFUSING,
    State.PAUSED: vitals.Phase.INFUSING,
    State.RECOVERING: vitals.Phase.RECOVERING,
}
# The moves "pause" and "stop" make, from the states they make them in.
MOVE_FOR_ACTION: dict[str, tuple[State, frozenset[State]]] = {
    AlertAction.PAUSE: (State.PAUSED, frozenset({State.INFUSING})),
    AlertAction.STOP: (State.STOPPED_EARLY, frozenset({State.INFUSING, State.PAUSED})),
}
# An alert nobody has acknowledged yet (readings in error have theirs acknowledged).
OPEN_ALERT = Q(acknowledged_at__isnull=True)
ERROR_NOTE = "Reading entered in error: "


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


def finding_as_dict(alert: vitals.VitalsAlert) -> dict[str, Any]:
    """One value out of range as ``SessionAlert.findings`` stores it."""
    return {
        "parameter": alert.parameter,
        "direction": alert.kind.value,
        "value": alert.value,
        "threshold": alert.threshold,
        "message": alert.message,
    }


# --- Readings ----------------------------------------------------------------------------------


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
    taken_at = _time_in_session(locked, taken_at, errors, "taken_at", "the reading was taken")
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
    found = vitals.alerts_for(values.as_reading(), vitals.alert_thresholds_from_settings())
    if found:
        SessionAlert.objects.create(
            session=locked,
            reading=reading,
            findings=[finding_as_dict(alert) for alert in found],
            message=" ".join(alert.message for alert in found),
            raised_at=taken_at,
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


@transaction.atomic
def readings_record_batch(
    *,
    actor: User,
    session: InfusionSession,
    readings: Sequence[tuple[datetime, ReadingInput]],
    source: str = ReadingSource.MONITOR,
    request: HttpRequest | None = None,
) -> list[VitalsReading]:
    """Store a batch of readings (a monitor's), all or nothing: when any one is refused,
    ``ValidationError({"readings": [...]})`` names each bad one by its index (from 0) and
    says what to fix, and none is saved."""
    require(actor, Capability.RECORD_CLINICAL)
    if not readings:
        raise ValidationError({"readings": ["Send at least one reading."]})
    if len(readings) > BATCH_MAX:
        raise ValidationError(
            {
                "readings": [
                    f"Send at most {BATCH_MAX} readings at a time, not {len(readings)}: split "
                    "the batch."
                ]
            }
        )
    saved: list[VitalsReading] = []
    problems: list[str] = []
    for index, (taken_at, values) in enumerate(readings):
        try:
            # reading_record runs in a savepoint: a refusal leaves the others to be checked.
            saved.append(
                reading_record(
                    actor=actor,
                    session=session,
                    values=values,
                    taken_at=taken_at,
                    source=source,
                    request=request,
                )
            )
        except ValidationError as error:
            for field, messages in error.message_dict.items():
                problems.extend(f"readings[{index}].{field}: {message}" for message in messages)
    if problems:
        # Raising undoes the ones that went in: the batch is all or nothing.
        raise ValidationError({"readings": problems})
    return saved


@transaction.atomic
def reading_mark_in_error(
    *, actor: User, reading: VitalsReading, reason: str, request: HttpRequest | None = None
) -> VitalsReading:
    """Mark ``reading`` entered in error (once), with who and why; it drops out of the
    schedule and its open alerts are acknowledged by ``actor`` with the action "continue"
    and the note "Reading entered in error: <reason>" (see the module's docstring)."""
    require(actor, Capability.RECORD_CLINICAL)
    locked = VitalsReading.objects.select_for_update().get(pk=reading.pk)
    reason = _clean_text(reason)
    _refuse_if_in_error(locked, "reading")
    if not reason:
        raise ValidationError(
            {"reason": ["Say why the reading is wrong, e.g. “cuff slipped”: it stays on record."]}
        )
    now = timezone.now()
    locked.entered_in_error_at = now
    locked.entered_in_error_by = actor
    locked.entered_in_error_reason = reason
    locked.save(
        update_fields=["entered_in_error_at", "entered_in_error_by", "entered_in_error_reason"]
    )
    SessionAlert.objects.filter(OPEN_ALERT, reading=locked).update(
        acknowledged_by=actor,
        acknowledged_at=now,
        action=AlertAction.CONTINUE,
        action_note=ERROR_NOTE + reason,
    )
    audit_record(
        actor=actor,
        action=Action.UPDATE,
        target=locked,
        summary=f"marked vital signs entered in error for patient {_patient_id(locked.session_id)}",
        request=request,
    )
    _copy_fields(locked, reading)
    return reading


# --- Alerts ------------------------------------------------------------------------------------


@transaction.atomic
def alert_acknowledge(
    *,
    actor: User,
    alert: SessionAlert,
    action: str,
    note: str = "",
    medication_name: str = "",
    medication_dose: str = "",
    medication_route: str = "",
    request: HttpRequest | None = None,
) -> SessionAlert:
    """``actor`` acknowledges ``alert`` with what was done (an ``AlertAction``), once.

    "Medication given" needs the medication (name, dose, route) and records it as a
    ``SessionEvent`` linked to the alert. "Pause" moves an infusing session to paused and
    "stop" an infusing or paused one to stopped early (the alert's message and the note are
    the reason), in this same transaction: if the move is refused, so is the
    acknowledgement. In any other state the session is left as it is. ``alert.session`` is
    updated in place when the session moves."""
    require(actor, Capability.RECORD_CLINICAL)
    locked = SessionAlert.objects.select_for_update().get(pk=alert.pk)
    errors: dict[str, list[str]] = {}
    if locked.acknowledged_at is not None:
        who = locked.acknowledged_by.full_name if locked.acknowledged_by else "someone"
        tz = alert.session.appointment.location.tz
        raise ValidationError(
            {
                "alert": [
                    f"{who} acknowledged this alert already, at "
                    f"{locked.acknowledged_at.astimezone(tz):%H:%M} "
                    f"({locked.get_action_display().lower()}). If something else was done "
                    "since, record it as an event."
                ]
            }
        )
    if action not in AlertAction.values:
        choices = ", ".join(f"{value} ({label.lower()})" for value, label in AlertAction.choices)
        errors["action"] = [f"Say what was done: one of {choices}."]
    note = _clean_text(note)
    medication = (
        _clean_text(medication_name),
        _clean_text(medication_dose),
        _clean_text(medication_route),
    )
    if action == AlertAction.MEDICATION:
        _medication_errors(*medication, errors)
    elif any(medication):
        errors.setdefault("action", []).append(
            "A medication was entered: choose “medication given” to record it, or clear it."
        )
    _length_errors({"action_note": note}, errors)
    if errors:
        raise ValidationError(errors)

    now = timezone.now()
    locked.acknowledged_by = actor
    locked.acknowledged_at = now
    locked.action = action
    locked.action_note = note
    locked.save(update_fields=["acknowledged_by", "acknowledged_at", "action", "action_note"])
    session = alert.session
    if action == AlertAction.MEDICATION:
        name, dose, route = medication
        SessionEvent.objects.create(
            session_id=locked.session_id,
            occurred_at=now,
            medication_name=name,
            medication_dose=dose,
            medication_route=route,
            alert=locked,
            note=note,
            recorded_by=actor,
        )
    audit_record(
        actor=actor,
        action=Action.UPDATE,
        target=locked,
        summary=f"acknowledged a vital signs alert ({action}) for patient "
        f"{session.appointment.patient.public_id}",
        request=request,
    )
    move = MOVE_FOR_ACTION.get(action)
    if move is not None and session.state in move[1]:
        from infusions.sessions import session_transition  # it builds on this module's peers

        reason = f"Alert: {locked.message}" + (f" {note}" if note else "")
        session_transition(
            actor=actor, session=session, to_state=move[0], reason=reason, request=request
        )
    _copy_fields(locked, alert)
    return alert


def open_alerts(session: InfusionSession) -> QuerySet[SessionAlert]:
    """The alerts of ``session`` nobody has acknowledged yet, oldest first."""
    return session.alerts.filter(OPEN_ALERT).order_by("raised_at", "id")


def open_alert_counts(appointment_ids: Iterable[int]) -> dict[int, int]:
    """Open alerts per appointment (by primary key), for the appointments that have any;
    one query."""
    rows = (
        SessionAlert.objects.filter(OPEN_ALERT, session__appointment_id__in=list(appointment_ids))
        .values("session__appointment_id")
        .annotate(count=Count("id"))
        .order_by()
    )
    return {row["session__appointment_id"]: row["count"] for row in rows}


def with_open_alerts(appointments: QuerySet) -> QuerySet:
    """``appointments`` annotated with ``open_alert_count`` (0 without a session or alerts)
    and ``session_public_id`` (None without a session), in the same query: for the day
    board, whose query count must not grow with the appointments."""
    count = (
        SessionAlert.objects.filter(OPEN_ALERT, session__appointment_id=OuterRef("pk"))
        .values("session__appointment_id")
        .annotate(count=Count("id"))
        .values("count")
    )
    return appointments.annotate(
        open_alert_count=Coalesce(Subquery(count, output_field=IntegerField()), Value(0)),
        session_public_id=F("infusion_session__public_id"),
    )


# --- Side effects and interventions ------------------------------------------------------------


@transaction.atomic
def event_record(
    *,
    actor: User,
    session: InfusionSession,
    occurred_at: datetime | None = None,
    side_effect: str = "",
    severity: str = "",
    description: str = "",
    medication_name: str = "",
    medication_dose: str = "",
    medication_route: str = "",
    note: str = "",
    alert: SessionAlert | None = None,
    request: HttpRequest | None = None,
) -> SessionEvent:
    """Record a side effect (with its severity; "other" described), a medication given
    (name, dose and route together), or both, at ``occurred_at`` (now if None) within the
    session. ``alert`` links it to an alert of the same session."""
    require(actor, Capability.RECORD_CLINICAL)
    locked = InfusionSession.objects.select_for_update().get(pk=session.pk)
    if PHASE_FOR_STATE.get(State(locked.state)) is None:
        raise ValidationError({"session": [_closed_message(locked, "events")]})
    errors: dict[str, list[str]] = {}
    side_effect, severity, description = (
        _clean_text(side_effect),
        _clean_text(severity),
        _clean_text(description),
    )
    medication = (
        _clean_text(medication_name),
        _clean_text(medication_dose),
        _clean_text(medication_route),
    )
    note = _clean_text(note)
    if not side_effect and not any(medication):
        errors["side_effect"] = ["Choose the side effect, or enter the medication given (or both)."]
    if side_effect and side_effect not in SideEffect.values:
        errors["side_effect"] = [
            f"“{side_effect[:40]}” is not on the list: choose one, or “other” and describe it."
        ]
    if side_effect and severity not in Severity.values:
        errors["severity"] = ["Choose how severe it is: mild, moderate or severe."]
    if severity and not side_effect and "side_effect" not in errors:
        errors["side_effect"] = ["A severity was chosen: choose the side effect it is for."]
    if side_effect == SideEffect.OTHER and not description:
        errors["description"] = ["Describe the side effect: it is “other”."]
    if any(medication):
        _medication_errors(*medication, errors)
    if alert is not None and alert.session_id != locked.pk:
        errors["alert"] = ["That alert belongs to another session: pick one of this session's."]
    _length_errors({"description": description, "note": note}, errors)
    occurred_at = _time_in_session(locked, occurred_at, errors, "occurred_at", "it happened")
    if errors:
        raise ValidationError(errors)

    name, dose, route = medication
    event = SessionEvent.objects.create(
        session=locked,
        occurred_at=occurred_at,
        side_effect=side_effect,
        severity=severity if side_effect else "",
        description=description,
        medication_name=name,
        medication_dose=dose,
        medication_route=route,
        alert=alert,
        note=note,
        recorded_by=actor,
    )
    what = " and ".join(
        part
        for part, present in (("a side effect", side_effect), ("a medication given", name))
        if present
    )
    audit_record(
        actor=actor,
        action=Action.CREATE,
        target=event,
        summary=f"recorded {what} for patient {locked.appointment.patient.public_id}",
        request=request,
    )
    return event


@transaction.atomic
def event_mark_in_error(
    *, actor: User, event: SessionEvent, reason: str, request: HttpRequest | None = None
) -> SessionEvent:
    """Mark ``event`` entered in error (once), with who and why."""
    require(actor, Capability.RECORD_CLINICAL)
    locked = SessionEvent.objects.select_for_update().get(pk=event.pk)
    reason = _clean_text(reason)
    _refuse_if_in_error(locked, "event")
    if not reason:
        raise ValidationError(
            {"reason": ["Say why the entry is wrong, e.g. “wrong patient”: it stays on record."]}
        )
    locked.entered_in_error_at = timezone.now()
    locked.entered_in_error_by = actor
    locked.entered_in_error_reason = reason
    locked.save(
        update_fields=["entered_in_error_at", "entered_in_error_by", "entered_in_error_reason"]
    )
    audit_record(
        actor=actor,
        action=Action.UPDATE,
        target=locked,
        summary=f"marked a session event entered in error for patient "
        f"{_patient_id(locked.session_id)}",
        request=request,
    )
    _copy_fields(locked, event)
    return event


def events_for(session: InfusionSession) -> list[SessionEvent]:
    """The session's side effects and interventions in time order, those in error too (the
    page shows them struck through); one query."""
    return list(
        session.events.select_related("recorded_by", "entered_in_error_by", "alert").order_by(
            "occurred_at", "id"
        )
    )


# --- The flowsheet -----------------------------------------------------------------------------

# The columns of the flowsheet and the alert parameters each shows.
COLUMNS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("bp", ("systolic", "diastolic")),
    ("heart_rate", ("heart_rate",)),
    ("spo2", ("spo2",)),
    ("respiratory_rate", ("respiratory_rate",)),
)


@dataclass(frozen=True)
class Cell:
    """One value of a reading as the flowsheet shows it; ``flag`` is "high", "low" or ""."""

    text: str
    flag: str = ""


@dataclass(frozen=True)
class FlowsheetRow:
    reading: VitalsReading
    alerts: tuple[SessionAlert, ...]  # its alert (one at most), acknowledged or not
    cells: dict[str, Cell]

    @property
    def in_error(self) -> bool:
        return self.reading.entered_in_error_at is not None

    @property
    def consciousness_label(self) -> str:
        level = self.reading.consciousness
        return vitals.CONSCIOUSNESS_LABELS[vitals.Consciousness(level)] if level else ""


@dataclass(frozen=True)
class ReadingsDue:
    """When the next reading is due, on the schedule of ``phase``."""

    phase: vitals.Phase
    interval_minutes: int
    phase_started_at: datetime
    next_due_at: datetime
    overdue: bool


@dataclass(frozen=True)
class Flowsheet:
    session: InfusionSession
    now: datetime
    rows: list[FlowsheetRow]  # in time order, readings in error included (marked)
    open_alerts: list[SessionAlert]  # oldest first
    due: ReadingsDue | None  # None when no reading schedule runs (before the start, ended)

    @property
    def last_reading(self) -> VitalsReading | None:
        valid = [row.reading for row in self.rows if not row.in_error]
        return valid[-1] if valid else None


def flowsheet_for(session: InfusionSession, now: datetime | None = None) -> Flowsheet:
    """The flowsheet of ``session`` at ``now`` (the current time if None). Three queries:
    the readings, their alerts, and the start of the current phase."""
    now = now or timezone.now()
    readings = list(
        session.readings.select_related("recorded_by", "entered_in_error_by").order_by(
            "taken_at", "id"
        )
    )
    alerts_by_reading: dict[int, list[SessionAlert]] = {}
    for alert in session.alerts.select_related("acknowledged_by").order_by("raised_at", "id"):
        alert.session = session  # for the templates, without a query each
        alerts_by_reading.setdefault(alert.reading_id, []).append(alert)
    rows = [
        FlowsheetRow(
            reading=reading,
            alerts=tuple(alerts_by_reading.get(reading.pk, ())),
            cells=_cells(reading, alerts_by_reading.get(reading.pk, ())),
        )
        for reading in readings
    ]
    open_list = [alert for row in rows for alert in row.alerts if alert.acknowledged_at is None]
    open_list.sort(key=lambda alert: (alert.raised_at, alert.pk))
    valid = [reading for reading in readings if reading.entered_in_error_at is None]
    return Flowsheet(
        session=session,
        now=now,
        rows=rows,
        open_alerts=open_list,
        due=_due(session, now, valid[-1].taken_at if valid else None),
    )


def phase_started_at(session: InfusionSession) -> datetime | None:
    """When the session last entered infusing or recovering (None if it never did)."""
    return (
        SessionStateChange.objects.filter(
            session=session, to_state__in=[State.INFUSING, State.RECOVERING]
        )
        .order_by("-at", "-id")
        .values_list("at", flat=True)
        .first()
    )


def _due(
    session: InfusionSession, now: datetime, last_reading_at: datetime | None
) -> ReadingsDue | None:
    phase = SCHEDULE_PHASE_FOR_STATE.get(State(session.state))
    if phase is None:
        return None
    started_at = phase_started_at(session)
    if started_at is None:  # cannot happen through session_transition; be safe
        return None
    interval_infusing = settings.VITALS_INTERVAL_INFUSING_MINUTES
    interval_recovering = settings.VITALS_INTERVAL_RECOVERING_MINUTES
    next_due_at, overdue = vitals.readings_due(
        started_at=started_at,
        now=now,
        phase=phase,
        last_reading_at=last_reading_at,
        interval_infusing=interval_infusing,
        interval_recovering=interval_recovering,
    )
    return ReadingsDue(
        phase=phase,
        interval_minutes=interval_infusing
        if phase == vitals.Phase.INFUSING
        else interval_recovering,
        phase_started_at=started_at,
        next_due_at=next_due_at,
        overdue=overdue,
    )


def _cells(reading: VitalsReading, alerts: Iterable[SessionAlert]) -> dict[str, Cell]:
    flags: dict[str, str] = {}
    for alert in alerts:
        for finding in alert.findings:
            flags.setdefault(finding["parameter"], finding["direction"])
    cells: dict[str, Cell] = {}
    for column, parameters in COLUMNS:
        values = [getattr(reading, name) for name in parameters]
        text = "/".join(str(value) for value in values) if None not in values else "—"
        flag = next((flags[name] for name in parameters if name in flags), "")
        cells[column] = Cell(text=text, flag=flag)
    return cells


# --- Checks shared by the writes ---------------------------------------------------------------


def session_checked_in_at(session: InfusionSession) -> datetime | None:
    """When the patient was checked in for ``session`` (None before that)."""
    return (
        SessionStateChange.objects.filter(session=session, to_state=State.CHECKED_IN)
        .values_list("at", flat=True)
        .first()
    )


def _time_in_session(
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


def _medication_errors(name: str, dose: str, route: str, errors: dict[str, list[str]]) -> None:
    if not name:
        errors.setdefault("medication_name", []).append(
            "Enter the name of the medication given, e.g. ondansetron."
        )
    if not dose:
        errors.setdefault("medication_dose", []).append("Enter the dose given, e.g. 4 mg.")
    if route not in MedicationRoute.values:
        routes = ", ".join(label.lower() for _value, label in MedicationRoute.choices)
        errors.setdefault("medication_route", []).append(f"Choose how it was given: {routes}.")
    _length_errors({"medication_name": name, "medication_dose": dose}, errors)


def _length_errors(values: dict[str, str], errors: dict[str, list[str]]) -> None:
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


def _clean_text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _refuse_if_in_error(record: VitalsReading | SessionEvent, what: str) -> None:
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


def _patient_id(session_id: int) -> uuid.UUID:
    return (
        InfusionSession.objects.filter(pk=session_id)
        .values_list("appointment__patient__public_id", flat=True)
        .get()
    )


def _copy_fields(source: Any, target: Any) -> None:
    if target is source:
        return
    for field in type(source)._meta.concrete_fields:
        setattr(target, field.attname, getattr(source, field.attname))


def _closed_message(session: InfusionSession, what: str = "readings") -> str:
    state = State(session.state)
    if state == State.SCHEDULED:
        return f"Check the patient in first: {what} start at check-in."
    return (
        f"{session.state_sentence} No more {what} can be added to this session: open the "
        "patient's current session instead."
    )
