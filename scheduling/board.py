"""The day board and the week board: what staff see of one location's schedule.

A read model on top of ``scheduling.selectors``: it fetches a day's (or a week's)
appointments in one query and arranges them for the page; it decides nothing. Which
status an appointment may take next comes from ``scheduling.services``, and who may make
each move from the same check the service makes, so a button is only shown when pressing
it would be allowed.

Times are the location's: a local day runs from its local midnight to the next one. The
day board's grid has a column per chair and a row per half hour: the rows walk real
30-minute steps from the opening time, labelled with the local wall clock. On the night
the clocks go back the repeated hour appears twice, as it passes; on the night they go
forward the skipped hour does not appear at all.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db.models import Prefetch, QuerySet, prefetch_related_objects
from django.utils import timezone

from clinic.models import Chair, Closure, Location, User
from clinic.permissions import Capability, user_can
from clinic.selectors import DayHours, location_hours_on, locations_visible_to
from infusions.selectors import with_session_state
from infusions.session_alerts import with_open_alerts
from patients.models import Patient
from scheduling.availability import wall_clock_instants
from scheduling.models import NON_BLOCKING_STATUSES, Appointment, AppointmentStatus
from scheduling.selectors import (
    BookingNote,
    appointments_visible_to,
    booking_note_for,
    with_booking_note_alerted,
)
from scheduling.services import (
    INFUSION_KINDS,
    UNDOABLE_STATUSES,
    appointment_next_statuses,
    last_status_change,
    require_status_permission,
    undo_deadline,
    undo_refusal,
    untimely_refusal,
    with_last_status_change,
)

Status = AppointmentStatus
STEP = timedelta(minutes=30)  # one row of the day board's grid
WEEK = 7


@dataclass(frozen=True)
class BoardAction:
    """A button that moves an appointment to ``status``: POSTed to
    ``scheduling:appointment-action`` with ``slug``."""

    slug: str
    label: str
    status: Status
    style: str  # Bootstrap button colour


# The moves the board offers, by the slug in the URL. Cancelling has its own page (it needs
# a reason) and is not one of them.
ACTIONS: dict[str, BoardAction] = {
    action.slug: action
    for action in (
        BoardAction("check-in", "Check in", Status.CHECKED_IN, "primary"),
        BoardAction("no-show", "No-show…", Status.NO_SHOW, "outline-secondary"),
        BoardAction("start-infusion", "Start infusion", Status.INFUSING, "primary"),
        BoardAction("recovery", "Move to recovery", Status.RECOVERING, "primary"),
        BoardAction("discharge", "Discharge", Status.DISCHARGED, "success"),
    )
}
_ACTION_FOR_STATUS = {action.status: action for action in ACTIONS.values()}
# What the board says of an infusion session in each state: where it is and the next step.
SESSION_STEP = {
    "scheduled": "Next: check in",
    "checked_in": "Next: pre-infusion checks",
    "pre_assessment_passed": "Checks passed · next: the dose order",
    "infusing": "Infusion running · next: recovery",
    "paused": "Infusion paused",
    "recovering": "Recovering · next: discharge checklist",
    "stopped_early": "Stopped early · next: discharge checklist",
    "discharged": "Gone home",
    "not_started": "Not started",
}
READY_TO_START = "Checks passed · ready to start"


# --- One appointment -----------------------------------------------------------------------


@dataclass(frozen=True)
class BoardEntry:
    """An appointment as the board shows it: local times, and what ``user`` may do next."""

    appointment: Appointment
    local_start: datetime
    local_end: datetime  # end of the procedure
    local_blocks_until: datetime  # end of recovery
    actions: tuple[BoardAction, ...]
    can_cancel: bool
    can_reschedule: bool
    # Unacknowledged vitals alerts of the appointment's infusion session (0 unless the
    # appointments came through ``_appointments``), and whether ``user`` may see clinical
    # detail: clinicians get the count and a link to the session, everyone else a neutral
    # "needs attention".
    open_alerts: int = 0
    session_id: uuid.UUID | None = None
    sees_clinical: bool = False
    # The infusion session's state and next step, in words (infusions only).
    session_step: str = ""
    # Until when ``user`` may undo the last check-in, no-show or cancellation (None: not).
    undo_until: datetime | None = None
    # What the patient wrote when booking online: on the chart's list only
    # (``patient_appointments``), never on the board's cards.
    booking_note: BookingNote | None = None

    @property
    def attending(self) -> bool:
        return self.appointment.status not in NON_BLOCKING_STATUSES

    @property
    def is_infusion(self) -> bool:
        """An infusion or booster: it has an infusion session."""
        return self.appointment.appointment_type.kind in INFUSION_KINDS

    @property
    def has_recovery(self) -> bool:
        return self.appointment.blocks_until > self.appointment.ends_at

    @property
    def procedure_percent(self) -> int:
        """How much of the chair time is the procedure itself (the rest is recovery)."""
        occupied = self.appointment.blocks_until - self.appointment.starts_at
        procedure = self.appointment.ends_at - self.appointment.starts_at
        return round(100 * procedure / occupied) if occupied else 100


def board_entry(appointment: Appointment, user: Any) -> BoardEntry:
    """``appointment`` as the board shows it to ``user``. Runs no query when the location
    and appointment type are joined in (``appointments_visible_to`` does)."""
    tz = appointment.location.tz
    next_statuses = appointment_next_statuses(appointment)
    can_book = user_can(user, Capability.BOOK_APPOINTMENTS)
    infusion = appointment.appointment_type.kind in INFUSION_KINDS
    session_state = getattr(appointment, "session_state", None) or "scheduled"
    undo_until = None
    # A check-in is undone through the session, and only while nothing else has happened.
    undoable = (
        not infusion or appointment.status != Status.CHECKED_IN or (session_state == "checked_in")
    )
    if can_book and undoable and appointment.status in UNDOABLE_STATUSES:
        change = last_status_change(appointment)
        if change is not None and not undo_refusal(user, appointment, change):
            undo_until = undo_deadline(change).astimezone(tz)
    return BoardEntry(
        appointment=appointment,
        local_start=appointment.starts_at.astimezone(tz),
        local_end=appointment.ends_at.astimezone(tz),
        local_blocks_until=appointment.blocks_until.astimezone(tz),
        actions=tuple(
            _ACTION_FOR_STATUS[status]
            for status in next_statuses
            if status in _ACTION_FOR_STATUS
            and _may_set(user, appointment, status)
            and _offered(appointment, status, infusion, session_state)
        ),
        can_cancel=can_book and Status.CANCELLED in next_statuses,
        can_reschedule=can_book and appointment.status == Status.BOOKED,
        open_alerts=getattr(appointment, "open_alert_count", 0),
        session_id=getattr(appointment, "session_public_id", None),
        sees_clinical=user_can(user, Capability.VIEW_CLINICAL),
        session_step=_session_step(appointment, session_state) if infusion else "",
        undo_until=undo_until,
    )


def _offered(appointment: Appointment, status: Status, infusion: bool, session_state: str) -> bool:
    """Whether the board offers the move at all: a no-show only once the grace period after
    the start is over; for an infusion, "Start infusion" only when its session may start
    (checks passed, a signed dose order) and no discharge button (the checklist is on the
    session)."""
    if status in (Status.CHECKED_IN, Status.NO_SHOW):
        # Check-in on the day (not too early), a no-show after the grace period: the clock's
        # rules, so the board never offers a press that can only be refused.
        return not untimely_refusal(appointment, status)
    if not infusion:
        return True
    if status == Status.INFUSING:
        return session_state == "pre_assessment_passed" and bool(
            getattr(appointment, "session_has_order", False)
        )
    if status == Status.RECOVERING:
        return session_state == "infusing"
    return status != Status.DISCHARGED


def _session_step(appointment: Appointment, session_state: str) -> str:
    if session_state == "pre_assessment_passed" and getattr(
        appointment, "session_has_order", False
    ):
        return READY_TO_START
    if appointment.status in NON_BLOCKING_STATUSES and session_state == "scheduled":
        return ""
    if session_state == "scheduled" and untimely_refusal(appointment, Status.CHECKED_IN):
        # Not the day, or before the check-in window: like the "Check in" button (see
        # ``_offered``), "Next: check in" waits until pressing it would be allowed.
        return ""
    return SESSION_STEP.get(session_state, "")


def _may_set(user: Any, appointment: Appointment, status: Status) -> bool:
    try:
        require_status_permission(user, appointment, status)
    except PermissionDenied:
        return False
    return True


# --- Locations and days ----------------------------------------------------------------------


def board_locations(user: Any) -> QuerySet[Location]:
    """The locations whose board ``user`` may open: the active ones, by name; none without
    VIEW_SCHEDULE."""
    if not user_can(user, Capability.VIEW_SCHEDULE):
        return Location.objects.none()
    return locations_visible_to(user).filter(is_active=True).order_by("name", "id")


def local_instant(location: Location, day: date, at: time) -> datetime:
    """The first instant (UTC) the location's clocks show ``at`` on ``day``; for a time the
    clocks skip, the moment they jump past it."""
    instants = wall_clock_instants(location=location, day=day, at=at)
    if instants:
        return instants[0]
    return datetime.combine(day, at, tzinfo=location.tz).astimezone(UTC)


def local_day_bounds(location: Location, first: date, last: date) -> tuple[datetime, datetime]:
    """From the local midnight starting ``first`` to the one ending ``last``, in UTC."""
    return (
        local_instant(location, first, time.min),
        local_instant(location, last + timedelta(days=1), time.min),
    )


def _with_hours(location: Location, first: date, last: date) -> None:
    """Fetch the opening hours and the closures touching ``first``..``last`` once (two
    queries), so ``location_hours_on`` needs none for any day in between. ``location`` must
    not have them prefetched already (``board_locations`` does not)."""
    prefetch_related_objects(
        [location],
        "opening_hours",
        Prefetch(
            "closures", queryset=Closure.objects.filter(starts_on__lte=last, ends_on__gte=first)
        ),
    )


def for_the_board(appointments: QuerySet[Appointment]) -> QuerySet[Appointment]:
    """``appointments`` with what their cards show, in the same query: open alerts, the
    infusion session's state, the latest status change (for "Undo")."""
    return with_last_status_change(with_session_state(with_open_alerts(appointments)))


def _appointments(user: Any, location: Location, first: date, last: date) -> list[Appointment]:
    starts, ends = local_day_bounds(location, first, last)
    return list(
        for_the_board(appointments_visible_to(user))
        .filter(location=location, starts_at__gte=starts, starts_at__lt=ends)
        .order_by("starts_at", "id")
    )


# --- The day ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Slot:
    """One half hour of the day: a row of the chairs' grid."""

    starts_at: datetime  # UTC
    local: datetime
    is_now: bool = False

    @property
    def on_the_hour(self) -> bool:
        return self.local.minute == 0


@dataclass(frozen=True)
class GridCell:
    """A cell of a chair's column: empty (one slot) or an appointment down ``span`` slots."""

    chair_label: str
    span: int
    entry: BoardEntry | None = None


@dataclass(frozen=True)
class ChairColumn:
    label: str
    chair: Chair | None  # None: chair appointments that have no chair assigned
    cells: list[GridCell]  # top to bottom, their spans adding up to the day's slots
    count: int


@dataclass(frozen=True)
class SlotRow:
    """A row of the grid as a table draws it: the slot, and the cells that begin in it, in
    chair order. A chair whose appointment began in a slot above has no cell here (that
    appointment's cell spans down over this row)."""

    slot: Slot
    cells: list[GridCell]

    @property
    def has_appointments(self) -> bool:
        return any(cell.entry is not None for cell in self.cells)


@dataclass(frozen=True)
class ClinicianGroup:
    label: str
    clinician: User | None
    entries: list[BoardEntry]


@dataclass(frozen=True)
class DayBoard:
    location: Location
    day: date
    hours: DayHours
    is_today: bool
    slots: list[Slot]
    chair_columns: list[ChairColumn]
    visits: list[ClinicianGroup]  # consultations and follow-ups, by clinician
    not_attending: list[BoardEntry]  # cancelled and no-shows
    attending_count: int

    @property
    def previous_day(self) -> date:
        return self.day - timedelta(days=1)

    @property
    def next_day(self) -> date:
        return self.day + timedelta(days=1)

    @property
    def rows(self) -> list[SlotRow]:
        """The chairs' grid row by row, for a table with a column per chair."""
        starting: list[list[GridCell]] = [[] for _ in self.slots]
        for column in self.chair_columns:
            index = 0
            for cell in column.cells:
                starting[index].append(cell)
                index += cell.span
        return [
            SlotRow(slot=slot, cells=cells)
            for slot, cells in zip(self.slots, starting, strict=True)
        ]

    @property
    def chair_entries(self) -> list[BoardEntry]:
        """The appointments in the chairs' grid, chair by chair."""
        return [cell.entry for column in self.chair_columns for cell in column.cells if cell.entry]


def day_board(*, user: Any, location: Location, day: date) -> DayBoard:
    """The board of ``location`` for the local ``day``, as ``user`` sees it.

    Four queries however many appointments: opening hours, closures, chairs, appointments
    (with patient, type, chair and clinician joined in), and none per appointment."""
    _with_hours(location, day, day)
    hours = location_hours_on(location, day)
    chairs = list(location.chairs.order_by("name", "id"))
    entries = [
        board_entry(appointment, user) for appointment in _appointments(user, location, day, day)
    ]
    attending = [entry for entry in entries if entry.attending]
    in_chairs = [entry for entry in attending if entry.appointment.appointment_type.needs_chair]
    slots = _slots(location, day, hours, in_chairs)
    return DayBoard(
        location=location,
        day=day,
        hours=hours,
        is_today=day == location.local_now().date(),
        slots=slots,
        chair_columns=_chair_columns(chairs, in_chairs, slots),
        visits=_by_clinician(
            entry for entry in attending if not entry.appointment.appointment_type.needs_chair
        ),
        not_attending=[entry for entry in entries if not entry.attending],
        attending_count=len(attending),
    )


def _slots(location: Location, day: date, hours: DayHours, entries: list[BoardEntry]) -> list[Slot]:
    """The opening hours in 30-minute steps of real time, widened to show any appointment
    outside them; none on a closed day without chair appointments."""
    starts: list[datetime] = [entry.appointment.starts_at for entry in entries]
    ends: list[datetime] = [entry.appointment.blocks_until for entry in entries]
    if hours.is_open and hours.opens_at is not None and hours.closes_at is not None:
        starts.append(local_instant(location, day, hours.opens_at))
        ends.append(local_instant(location, day, hours.closes_at))
    if not starts:
        return []
    first, last = min(starts), max(ends)
    local_first = first.astimezone(location.tz)
    # Start on a half hour of the local clock (time zones 30 or 45 minutes off UTC too).
    first -= timedelta(
        minutes=local_first.minute % (STEP.seconds // 60),
        seconds=local_first.second,
        microseconds=local_first.microsecond,
    )
    now = timezone.now()
    slots = []
    moment = first
    while moment < last:
        slots.append(
            Slot(
                starts_at=moment,
                local=moment.astimezone(location.tz),
                is_now=moment <= now < moment + STEP,
            )
        )
        moment += STEP
    return slots


def _chair_columns(
    chairs: list[Chair], entries: list[BoardEntry], slots: list[Slot]
) -> list[ChairColumn]:
    """A column per active chair (and per retired chair that still has appointments), then
    one for chair appointments without a chair, if any."""
    by_chair: dict[int | None, list[BoardEntry]] = {}
    for entry in entries:
        by_chair.setdefault(entry.appointment.chair_id, []).append(entry)
    columns = []
    for chair in chairs:
        if chair.is_active or chair.pk in by_chair:
            label = chair.name if chair.is_active else f"{chair.name} (out of use)"
            booked = by_chair.get(chair.pk, [])
            columns.append(
                ChairColumn(
                    label=label,
                    chair=chair,
                    cells=_cells(booked, slots, label),
                    count=len(booked),
                )
            )
    if None in by_chair:
        label = "No chair assigned"
        columns.append(
            ChairColumn(
                label=label,
                chair=None,
                cells=_cells(by_chair[None], slots, label),
                count=len(by_chair[None]),
            )
        )
    return columns


def _cells(entries: list[BoardEntry], slots: list[Slot], chair_label: str) -> list[GridCell]:
    """Lay one chair's appointments (in start order) down the slots: each from the slot its
    start falls in to the one its recovery ends in, never overlapping the one before."""
    if not slots:
        return []
    origin = slots[0].starts_at
    cells: list[GridCell] = []
    cursor = 0

    def empty(count: int) -> list[GridCell]:
        return [GridCell(chair_label=chair_label, span=1) for _ in range(count)]

    for entry in entries:
        start = max(math.floor((entry.appointment.starts_at - origin) / STEP), cursor)
        end = min(math.ceil((entry.appointment.blocks_until - origin) / STEP), len(slots))
        if start >= len(slots):
            break
        end = max(end, start + 1)
        cells.extend(empty(start - cursor))
        cells.append(GridCell(chair_label=chair_label, span=end - start, entry=entry))
        cursor = end
    cells.extend(empty(len(slots) - cursor))
    return cells


def _by_clinician(entries: Iterable[BoardEntry]) -> list[ClinicianGroup]:
    """Group in time order under each clinician, by name; unassigned ones last."""
    groups: dict[int | None, ClinicianGroup] = {}
    for entry in entries:
        clinician = entry.appointment.clinician
        key = clinician.pk if clinician is not None else None
        if key not in groups:
            label = clinician.full_name if clinician is not None else "No clinician assigned"
            groups[key] = ClinicianGroup(label=label, clinician=clinician, entries=[])
        groups[key].entries.append(entry)
    return sorted(groups.values(), key=lambda group: (group.clinician is None, group.label.lower()))


# --- The week --------------------------------------------------------------------------------


@dataclass(frozen=True)
class WeekDay:
    day: date
    hours: DayHours
    is_today: bool
    entries: list[BoardEntry]  # attending, in time order
    not_attending_count: int


@dataclass(frozen=True)
class WeekRow:
    label: str
    counts: list[int]  # one per day


@dataclass(frozen=True)
class WeekBoard:
    location: Location
    days: list[WeekDay]
    chair_rows: list[WeekRow]
    visit_row: WeekRow
    attending_count: int

    @property
    def first_day(self) -> date:
        return self.days[0].day

    @property
    def last_day(self) -> date:
        return self.days[-1].day

    @property
    def previous_week(self) -> date:
        return self.first_day - timedelta(days=WEEK)

    @property
    def next_week(self) -> date:
        return self.first_day + timedelta(days=WEEK)


def week_board(*, user: Any, location: Location, day: date) -> WeekBoard:
    """The week (Monday to Sunday) around the local ``day`` at ``location``: appointments
    per chair and day, consultations and follow-ups per day, and every appointment in a
    list. Four queries however many appointments (as ``day_board``)."""
    monday = day - timedelta(days=day.weekday())
    sunday = monday + timedelta(days=WEEK - 1)
    _with_hours(location, monday, sunday)
    chairs = list(location.chairs.order_by("name", "id"))
    entries = [
        board_entry(appointment, user)
        for appointment in _appointments(user, location, monday, sunday)
    ]
    today = location.local_now().date()
    days = [monday + timedelta(days=offset) for offset in range(WEEK)]
    on_day: dict[date, list[BoardEntry]] = {one: [] for one in days}
    for entry in entries:
        on_day.setdefault(entry.local_start.date(), []).append(entry)

    def count(day: date, chair_id: int | None = None, *, in_chair: bool = True) -> int:
        return sum(
            1
            for entry in on_day[day]
            if entry.attending
            and entry.appointment.appointment_type.needs_chair == in_chair
            and (not in_chair or entry.appointment.chair_id == chair_id)
        )

    used_chairs = {entry.appointment.chair_id for entry in entries if entry.attending}
    chair_rows = [
        WeekRow(
            label=chair.name if chair.is_active else f"{chair.name} (out of use)",
            counts=[count(one, chair.pk) for one in days],
        )
        for chair in chairs
        if chair.is_active or chair.pk in used_chairs
    ]
    if any(
        entry.attending
        and entry.appointment.appointment_type.needs_chair
        and entry.appointment.chair_id is None
        for entry in entries
    ):
        chair_rows.append(
            WeekRow(label="No chair assigned", counts=[count(one, None) for one in days])
        )
    return WeekBoard(
        location=location,
        days=[
            WeekDay(
                day=one,
                hours=location_hours_on(location, one),
                is_today=one == today,
                entries=[entry for entry in on_day[one] if entry.attending],
                not_attending_count=sum(1 for entry in on_day[one] if not entry.attending),
            )
            for one in days
        ],
        chair_rows=chair_rows,
        visit_row=WeekRow(
            label="Consultations and follow-ups",
            counts=[count(one, in_chair=False) for one in days],
        ),
        attending_count=sum(1 for entry in entries if entry.attending),
    )


# --- A patient's appointments (for the chart) ------------------------------------------------


def patient_appointments(user: Any, patient: Patient, *, limit: int = 10) -> list[BoardEntry]:
    """The patient's appointments still to come or under way (any location, cancelled ones
    included), soonest first, with what ``user`` may do to each: for the "Appointments"
    section of the patient chart, with what the patient wrote when booking each one online
    (``booking_note_for``). One query."""
    appointments = with_booking_note_alerted(
        appointments_visible_to(user).filter(patient=patient, blocks_until__gte=timezone.now()),
        user,
    ).order_by("starts_at", "id")[:limit]
    return [
        replace(board_entry(appointment, user), booking_note=booking_note_for(user, appointment))
        for appointment in appointments
    ]
