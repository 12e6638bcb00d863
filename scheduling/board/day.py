"""The day board: one location's day, a column per chair and a row per half hour, and the
locations and local days both boards are read for.

Times are the location's: a local day runs from its local midnight to the next one. The
grid's rows walk real 30-minute steps from the opening time, labelled with the local wall
clock. On the night the clocks go back the repeated hour appears twice, as it passes; on
the night they go forward the skipped hour does not appear at all."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from django.db.models import F, Prefetch, QuerySet, prefetch_related_objects
from django.utils import timezone

from clinic.models import Chair, Closure, Location, User
from clinic.permissions import Capability, user_can
from clinic.selectors import DayHours, location_hours_on, locations_visible_to
from patients.models import Patient
from scheduling.availability import wall_clock_instants
from scheduling.board.cards import BoardEntry, board_entries, for_the_board
from scheduling.models import Appointment
from scheduling.selectors import (
    appointments_visible_to,
)

STEP = timedelta(minutes=30)  # one row of the day board's grid


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


def with_hours(location: Location, first: date, last: date) -> None:
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


# What the boards show of a patient: the name on the card, the id in its link.
BOARD_PATIENT_FIELDS = ("id", "public_id", "legal_first_name", "legal_last_name", "preferred_name")
# What no card reads of an appointment, and of its clinician (the name alone is shown): each
# loaded column costs a few microseconds a row, a busy week has ~500 rows.
BOARD_UNREAD = (
    "created_at",
    "updated_at",
    "booking_note",
    "source",
    "course",
    "created_by",
    *(
        f"clinician__{field.name}"
        for field in User._meta.concrete_fields
        if field.name not in ("id", "full_name")
    ),
)
# The week's list and counts read less still: no recovery, no cancellation reason, and of
# the type and the clinician only what it shows (``WEEK_LIST_READS``, onto each row).
WEEK_LIST_UNREAD = (
    *(field for field in BOARD_UNREAD if "__" not in field),
    "blocks_until",
    "cancel_reason",
)
WEEK_LIST_READS = {
    "type_name": F("appointment_type__name"),
    "type_needs_chair": F("appointment_type__needs_chair"),
    "clinician_name": F("clinician__full_name"),
}


def board_appointments(
    user: Any,
    location: Location,
    first: date,
    last: date,
    *,
    chairs: Iterable[Chair] = (),
    cards: bool = True,
) -> list[Appointment]:
    """The appointments at ``location`` from ``first`` to ``last`` (local days), with what
    their cards show (``for_the_board``) unless ``cards`` is False (the week's list shows
    none of it, and reads its type's name and ``needs_chair`` and its clinician's name as
    ``type_name``, ``type_needs_chair`` and ``clinician_name``); ``chairs``, the
    location's, already read, are attached rather than read again. Two queries however
    many: the appointments (through the (location, starts_at) index, with their type and
    clinician, and what the cards show of the session as per-row subqueries), then their
    patients by id. Joining the patients (or the sessions) in the same query made
    PostgreSQL read and hash all of them at chain scale (20,000 patients for a week's 500
    appointments); the columns no card shows are left unread (each timestamp costs a few
    microseconds to load)."""
    starts, ends = local_day_bounds(location, first, last)
    visible = appointments_visible_to(user)
    if cards:
        chosen = (
            for_the_board(visible)
            .select_related(None)
            .select_related("appointment_type", "clinician")
            .defer(*BOARD_UNREAD)
        )
    else:
        # A type and a clinician object per row cost more than the row itself.
        chosen = visible.select_related(None).defer(*WEEK_LIST_UNREAD).annotate(**WEEK_LIST_READS)
    appointments = list(
        chosen.filter(location=location, starts_at__gte=starts, starts_at__lt=ends).order_by(
            "starts_at", "id"
        )
    )
    by_id = {chair.pk: chair for chair in chairs}
    for appointment in appointments:
        appointment.location = location  # the board's own: no join, no query
        if appointment.chair_id in by_id:
            appointment.chair = by_id[appointment.chair_id]
    # Their patients by id, set on each directly (prefetch_related's bookkeeping cost more
    # than the query).
    patients = Patient.objects.only(*BOARD_PATIENT_FIELDS).in_bulk(
        {appointment.patient_id for appointment in appointments}
    )
    for appointment in appointments:
        appointment.patient = patients[appointment.patient_id]
    return appointments


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

    Five queries however many appointments: opening hours, closures, chairs, appointments
    (with type and clinician joined in), their patients; none per appointment."""
    with_hours(location, day, day)
    hours = location_hours_on(location, day)
    chairs = list(location.chairs.order_by("name", "id"))
    entries = board_entries(board_appointments(user, location, day, day, chairs=chairs), user)
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
