"""The vitals flowsheet as the session screen shows it: ``flowsheet_for`` gives the
readings in time order with their alerts, the open alerts, and when the next reading is
due.

The writes are elsewhere: readings in ``infusions.readings``, alerts in
``infusions.session_alerts``, side effects and interventions in ``infusions.session_events``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db.models import OuterRef, Subquery
from django.utils import timezone

from infusions import vitals
from infusions.models import InfusionSession, SessionAlert, SessionStateChange, VitalsReading
from infusions.models.sessions import InfusionSessionState

State = InfusionSessionState

# The reading schedule runs while the drug is in: infusing and paused (a pause is part of
# the infusion, watched as closely), then recovering. Before the start there is only the
# pre-infusion reading; once the session has ended there is no schedule.
SCHEDULE_PHASE_FOR_STATE: dict[State, vitals.Phase] = {
    State.INFUSING: vitals.Phase.INFUSING,
    State.PAUSED: vitals.Phase.INFUSING,
    State.RECOVERING: vitals.Phase.RECOVERING,
}


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


def readings_due_for(session: InfusionSession, now: datetime) -> ReadingsDue | None:
    """When the next reading of ``session`` is due at ``now``, as ``flowsheet_for`` says,
    without reading the readings: one query (the start of the current phase and the latest
    reading not in error) while a reading schedule runs, none otherwise."""
    if State(session.state) not in SCHEDULE_PHASE_FOR_STATE:
        return None
    latest = (
        VitalsReading.objects.filter(session=OuterRef("pk"), entered_in_error_at__isnull=True)
        .order_by("-taken_at", "-id")
        .values("taken_at")[:1]
    )
    started = (
        SessionStateChange.objects.filter(
            session=OuterRef("pk"), to_state__in=[State.INFUSING, State.RECOVERING]
        )
        .order_by("-at", "-id")
        .values("at")[:1]
    )
    started_at, last_reading_at = (
        InfusionSession.objects.filter(pk=session.pk)
        .values_list(Subquery(started), Subquery(latest))
        .get()
    )
    return _due(session, now, last_reading_at, started_at=started_at)


def _due(
    session: InfusionSession,
    now: datetime,
    last_reading_at: datetime | None,
    *,
    started_at: datetime | None = None,
) -> ReadingsDue | None:
    phase = SCHEDULE_PHASE_FOR_STATE.get(State(session.state))
    if phase is None:
        return None
    if started_at is None:
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
