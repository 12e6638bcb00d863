"""Free appointment slots: when a patient could come, with which chair and clinician.

Everything is worked out on the location's own wall clock and handed back in UTC:

- Each local day's opening window is walked in ``step_minutes`` from the opening time. A
  wall time is turned into instants deliberately (``_instants``): one instant normally,
  none for a time skipped when clocks go forward, and both for a time that happens twice
  when they go back (``fold`` 0 and 1). So no slot is skipped, duplicated or an hour off on
  a DST day, and the repeated hour of a night clinic is offered twice, as it really passes.
- Opening, closing and shift times are read as the first instant the clock shows that time
  or later (``_first_instant``): a clinic that "closes at 02:30" on the night when 02:00 to 03:00
  never happens closes when the clocks jump.
- The chair, the nurse and the patient are taken from the start until the end of recovery
  (``appointment_type.occupied``); the clinic must be open, and the clinician on shift, for
  all of it.

Rules (see the issue 4 plan): a slot needs a clinician of the type's role on shift at the
location; a chair appointment needs a free active chair; a nurse looks after at most
``settings.INFUSIONS_PER_NURSE`` chair appointments at once, a physician holds one
consultation or follow-up at a time; a given patient must be free; nothing starts before
``not_before`` (now). Appointments that are cancelled or no-shows block nothing.

Each call reads opening hours, closures, shifts, chairs and appointments once for its whole
date range, so its number of queries does not grow with the number of appointments.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import NamedTuple

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from clinic.models import Chair, Location, User
from patients.models import Patient
from scheduling.models import BLOCKING, Appointment, AppointmentType, StaffShift

ONE_SECOND = timedelta(seconds=1)
# The grid of start times offered, unless a caller asks for another.
STEP_MINUTES = 15


@dataclass(frozen=True)
class Slot:
    """A bookable start time with the chair (or None) and clinician it would use."""

    starts_at: datetime  # aware, UTC
    ends_at: datetime  # end of the procedure
    blocks_until: datetime  # end of recovery
    chair: Chair | None
    clinician: User | None
    location: Location

    @property
    def local_start(self) -> datetime:
        return self.starts_at.astimezone(self.location.tz)

    @property
    def local_end(self) -> datetime:
        return self.ends_at.astimezone(self.location.tz)


# --- The wall clock -------------------------------------------------------------------


def _wall(instant: datetime, tz: zoneinfo.ZoneInfo) -> datetime:
    """What a clock in ``tz`` shows at ``instant``, as a naive datetime."""
    return instant.astimezone(tz).replace(tzinfo=None)


def _instants(wall: datetime, tz: zoneinfo.ZoneInfo) -> list[datetime]:
    """The UTC instants at which a clock in ``tz`` shows ``wall`` (naive): usually one, none
    in a spring-forward gap, two (earlier first) in a fall-back overlap."""
    earlier = wall.replace(tzinfo=tz, fold=0).astimezone(UTC)
    later = wall.replace(tzinfo=tz, fold=1).astimezone(UTC)
    return [
        instant
        for instant in sorted({earlier, later})
        # In a gap both readings exist as arithmetic but the clock never shows them.
        if _wall(instant, tz) == wall
    ]


def _first_instant(day: date, at: time, tz: zoneinfo.ZoneInfo) -> datetime:
    """The first instant (UTC) on ``day`` at which the clock shows ``at`` or later.

    The earlier of a repeated time; for a skipped time, the moment the clocks jump."""
    wall = datetime.combine(day, at)
    existing = _instants(wall, tz)
    if existing:
        return existing[0]
    # In the gap: the fold=1 reading lies before the jump (the clock still shows less than
    # ``wall``), the fold=0 reading after it. Narrow down to the jump itself, to the second.
    before = wall.replace(tzinfo=tz, fold=1).astimezone(UTC)
    after = wall.replace(tzinfo=tz, fold=0).astimezone(UTC)
    while after - before > ONE_SECOND:
        middle = before + (after - before) // 2
        if _wall(middle, tz) >= wall:
            after = middle
        else:
            before = middle
    return after


def _days(start_date: date, end_date: date) -> Iterator[date]:
    day = start_date
    while day <= end_date:
        yield day
        day += timedelta(days=1)


# --- What is already booked -----------------------------------------------------------


class _Booked(NamedTuple):
    starts_at: datetime
    blocks_until: datetime
    location_id: int
    patient_id: int
    chair_id: int | None
    clinician_id: int | None
    needs_chair: bool
    role: str


class _OnShift(NamedTuple):
    clinician: User
    starts_at: datetime
    ends_at: datetime


@dataclass
class _Day:
    day: date
    opens_at: datetime
    closes_at: datetime
    grid_anchor: time  # the opening time as configured: start times fall on its grid
    on_shift: list[_OnShift]
    booked: list[_Booked]


class _Planner:
    """Everything one availability question needs, read in a fixed number of queries."""

    def __init__(
        self,
        *,
        location: Location,
        appointment_type: AppointmentType,
        start_date: date,
        end_date: date,
        patient: Patient | None,
        not_before: datetime,
        excluding: Appointment | None,
    ) -> None:
        self.location = location
        self.appointment_type = appointment_type
        self.patient = patient
        self.not_before = not_before
        self.tz = location.tz
        self.role = appointment_type.clinician
        self.occupied = appointment_type.occupied
        self.per_clinician = settings.INFUSIONS_PER_NURSE if appointment_type.needs_chair else 1
        self.chairs: list[Chair] = []
        self.days: list[_Day] = []
        if not location.is_active or end_date < start_date:
            return
        windows = self._opening_windows(start_date, end_date)
        if not windows:
            return
        range_start = max(windows[0][1], not_before)
        range_end = windows[-1][2]
        if range_start >= range_end:
            return
        shifts = list(
            StaffShift.objects.filter(
                location=location, staff__is_active=True, staff__roles__contains=[self.role]
            )
            .select_related("staff")
            .order_by("staff__full_name", "staff__id")
        )
        if appointment_type.needs_chair:
            self.chairs = list(location.chairs.filter(is_active=True).order_by("name", "id"))
        booked = self._booked(
            range_start, range_end, {shift.staff_id for shift in shifts}, excluding
        )
        for day, opens_at, closes_at, grid_anchor in windows:
            self.days.append(
                _Day(
                    day=day,
                    opens_at=opens_at,
                    closes_at=closes_at,
                    grid_anchor=grid_anchor,
                    on_shift=[
                        _OnShift(
                            shift.staff,
                            _first_instant(day, shift.starts_at, self.tz),
                            _first_instant(day, shift.ends_at, self.tz),
                        )
                        for shift in shifts
                        if shift.weekday == day.weekday()
                    ],
                    booked=[
                        b for b in booked if b.starts_at < closes_at and opens_at < b.blocks_until
                    ],
                )
            )

    def _opening_windows(
        self, start_date: date, end_date: date
    ) -> list[tuple[date, datetime, datetime, time]]:
        """(day, opens and closes in UTC, opening time) for each local day in range the
        location is open."""
        # Uses prefetched opening hours when the caller has them.
        hours = {row.weekday: row for row in self.location.opening_hours.all()}
        closures = list(
            self.location.closures.filter(starts_on__lte=end_date, ends_on__gte=start_date)
        )
        windows = []
        for day in _days(start_date, end_date):
            row = hours.get(day.weekday())
            if row is None or any(closure.covers(day) for closure in closures):
                continue
            opens_at = _first_instant(day, row.opens_at, self.tz)
            closes_at = _first_instant(day, row.closes_at, self.tz)
            if closes_at > opens_at:
                windows.append((day, opens_at, closes_at, row.opens_at))
        return windows

    def _booked(
        self,
        range_start: datetime,
        range_end: datetime,
        clinician_ids: set[int],
        excluding: Appointment | None,
    ) -> list[_Booked]:
        """Active appointments in the range that could clash: at this location, of this
        patient anywhere, or of these clinicians anywhere. One query."""
        who = Q(location=self.location)
        if self.patient is not None:
            who |= Q(patient=self.patient)
        if clinician_ids:
            who |= Q(clinician_id__in=clinician_ids)
        appointments = Appointment.objects.filter(
            BLOCKING, who, starts_at__lt=range_end, blocks_until__gt=range_start
        )
        if excluding is not None and excluding.pk is not None:
            appointments = appointments.exclude(pk=excluding.pk)
        rows = appointments.order_by().values_list(
            "starts_at",
            "blocks_until",
            "location_id",
            "patient_id",
            "chair_id",
            "clinician_id",
            "appointment_type__needs_chair",
            "appointment_type__clinician",
        )
        return [_Booked(*row) for row in rows]

    # --- Answers ------------------------------------------------------------------------

    def candidates(self, day: _Day, step: timedelta) -> list[datetime]:
        """Start times on ``day``, as instants in time order: each wall-clock time on the
        ``step`` grid through the opening time at which the clinic is open. A repeated wall
        time gives two instants an hour apart, a skipped one none."""
        midnight = datetime.combine(day.day, time.min)
        wall = midnight + (datetime.combine(day.day, day.grid_anchor) - midnight) % step
        # Walking the whole grid, not just from the opening wall time, keeps the second
        # 01:00-01:30 of a clinic that opens at 01:30 on the night the clocks go back.
        last_wall = _wall(day.closes_at, self.tz)
        instants: set[datetime] = set()
        while wall < last_wall:
            instants.update(_instants(wall, self.tz))
            wall += step
        return sorted(instant for instant in instants if instant >= day.opens_at)

    def day_of(self, instant: datetime) -> _Day | None:
        local_day = instant.astimezone(self.tz).date()
        return next((day for day in self.days if day.day == local_day), None)

    def slot_at(
        self,
        day: _Day,
        starts_at: datetime,
        *,
        chair: Chair | None = None,
        clinician: User | None = None,
    ) -> Slot | None:
        """The slot starting at ``starts_at`` on ``day`` (with ``chair``/``clinician`` if
        given), or None if anything it needs is taken or closed."""
        blocks_until = starts_at + self.occupied
        if starts_at < self.not_before:
            return None
        if starts_at < day.opens_at or blocks_until > day.closes_at:
            return None
        clashing = [
            b for b in day.booked if b.starts_at < blocks_until and starts_at < b.blocks_until
        ]
        if self.patient is not None and any(b.patient_id == self.patient.pk for b in clashing):
            return None
        picked_chair = None
        if self.appointment_type.needs_chair:
            picked_chair = self._free_chair(clashing, chair)
            if picked_chair is None:
                return None
        picked_clinician = self._free_clinician(day, starts_at, blocks_until, clashing, clinician)
        if picked_clinician is None:
            return None
        return Slot(
            starts_at=starts_at,
            ends_at=starts_at + self.appointment_type.duration,
            blocks_until=blocks_until,
            chair=picked_chair,
            clinician=picked_clinician,
            location=self.location,
        )

    def _free_chair(self, clashing: list[_Booked], wanted: Chair | None) -> Chair | None:
        here = [b for b in clashing if b.location_id == self.location.pk]
        taken = {b.chair_id for b in here if b.chair_id is not None}
        free = [chair for chair in self.chairs if chair.pk not in taken]
        # A chair appointment booked without a chair still needs one of them.
        unplaced = sum(1 for b in here if b.chair_id is None and b.needs_chair)
        if len(free) <= unplaced:
            return None
        if wanted is None:
            return free[0]
        return next((chair for chair in free if chair.pk == wanted.pk), None)

    def _free_clinician(
        self,
        day: _Day,
        starts_at: datetime,
        blocks_until: datetime,
        clashing: list[_Booked],
        wanted: User | None,
    ) -> User | None:
        on_duty = [
            shift.clinician
            for shift in day.on_shift
            if shift.starts_at <= starts_at and blocks_until <= shift.ends_at
        ]
        spare = {
            clinician.pk: self._spare_capacity(
                [b for b in clashing if b.clinician_id == clinician.pk]
            )
            for clinician in on_duty
        }
        # Appointments of this role booked without a clinician still need one of them.
        unassigned = sum(
            1
            for b in clashing
            if b.clinician_id is None and b.location_id == self.location.pk and b.role == self.role
        )
        if sum(spare.values()) <= unassigned:
            return None
        return next(
            (
                clinician
                for clinician in on_duty
                if spare[clinician.pk] > 0 and (wanted is None or clinician.pk == wanted.pk)
            ),
            None,
        )

    def _spare_capacity(self, theirs: list[_Booked]) -> int:
        """How many more appointments of this type a clinician could take on at once.

        A consultation or follow-up has the clinician's whole attention; a nurse watches
        several patients in chairs, up to INFUSIONS_PER_NURSE."""
        if any(not b.needs_chair for b in theirs):
            return 0
        if not self.appointment_type.needs_chair:
            return 0 if theirs else 1
        return max(self.per_clinician - len(theirs), 0)


# --- The interface ----------------------------------------------------------------------


def wall_clock_instants(*, location: Location, day: date, at: time) -> list[datetime]:
    """The instants (UTC) at which the location's clocks show ``at`` on ``day``: one as a
    rule, none in the hour skipped when clocks go forward, two (earlier first) in the hour
    repeated when they go back. For turning a local date and time someone typed into
    ``starts_at`` without silently moving it an hour."""
    return _instants(datetime.combine(day, at), location.tz)


def free_slots(
    *,
    location: Location,
    appointment_type: AppointmentType,
    start_date: date,
    end_date: date,
    patient: Patient | None = None,
    step_minutes: int = STEP_MINUTES,
    not_before: datetime | None = None,
    excluding: Appointment | None = None,
) -> list[Slot]:
    """Every bookable start time on the location's local days ``start_date`` to
    ``end_date`` (inclusive), earliest first, one slot per start time.

    ``excluding`` is an appointment to treat as not there (the one being rescheduled).
    Runs at most five queries however many appointments there are."""
    if step_minutes < 1:
        raise ValueError("step_minutes must be a positive number of minutes.")
    planner = _Planner(
        location=location,
        appointment_type=appointment_type,
        start_date=start_date,
        end_date=end_date,
        patient=patient,
        not_before=not_before or timezone.now(),
        excluding=excluding,
    )
    return _all_slots(planner, timedelta(minutes=step_minutes))


def _all_slots(planner: _Planner, step: timedelta) -> list[Slot]:
    slots = []
    for day in planner.days:
        for starts_at in planner.candidates(day, step):
            slot = planner.slot_at(day, starts_at)
            if slot is not None:
                slots.append(slot)
    return slots


def slot_is_free(
    *,
    location: Location,
    appointment_type: AppointmentType,
    starts_at: datetime,
    patient: Patient | None = None,
    chair: Chair | None = None,
    clinician: User | None = None,
    excluding: Appointment | None = None,
) -> Slot | None:
    """The concrete slot if ``starts_at`` (aware) is bookable, with ``chair`` and
    ``clinician`` when given, else None. Any minute will do, not just the step grid.

    ``excluding`` is an appointment to treat as not there (the one being rescheduled)."""
    slot, _day = _slot_and_day(
        location=location,
        appointment_type=appointment_type,
        starts_at=starts_at,
        patient=patient,
        chair=chair,
        clinician=clinician,
        excluding=excluding,
    )
    return slot


def slot_or_nearest(
    *,
    location: Location,
    appointment_type: AppointmentType,
    starts_at: datetime,
    patient: Patient | None = None,
    chair: Chair | None = None,
    clinician: User | None = None,
    excluding: Appointment | None = None,
    count: int = 3,
) -> tuple[Slot | None, Callable[[], list[Slot]]]:
    """``slot_is_free``'s slot, and a function giving ``nearest_free_slots`` around
    ``starts_at`` (``count`` of them) for when it is None. What is read for the day of
    ``starts_at`` serves both, so a time that is not free costs one reading of that day,
    not two."""
    slot, day = _slot_and_day(
        location=location,
        appointment_type=appointment_type,
        starts_at=starts_at,
        patient=patient,
        chair=chair,
        clinician=clinician,
        excluding=excluding,
    )

    def nearest() -> list[Slot]:
        return _nearest(
            location=location,
            appointment_type=appointment_type,
            around=starts_at,
            patient=patient,
            count=count,
            excluding=excluding,
            read=day,
        )

    return slot, nearest


def _slot_and_day(
    *,
    location: Location,
    appointment_type: AppointmentType,
    starts_at: datetime,
    patient: Patient | None,
    chair: Chair | None,
    clinician: User | None,
    excluding: Appointment | None,
) -> tuple[Slot | None, _Planner]:
    """``slot_is_free``'s answer, with what was read for the day (local) of ``starts_at``."""
    if timezone.is_naive(starts_at):
        raise ValueError("starts_at must be an aware datetime.")
    local_day = starts_at.astimezone(location.tz).date()
    planner = _Planner(
        location=location,
        appointment_type=appointment_type,
        start_date=local_day,
        end_date=local_day,
        patient=patient,
        not_before=timezone.now(),
        excluding=excluding,
    )
    day = planner.day_of(starts_at)
    if day is None:
        return None, planner
    slot = planner.slot_at(day, starts_at.astimezone(UTC), chair=chair, clinician=clinician)
    return slot, planner


def nearest_free_slots(
    *,
    location: Location,
    appointment_type: AppointmentType,
    around: datetime,
    patient: Patient | None = None,
    count: int = 3,
    excluding: Appointment | None = None,
) -> list[Slot]:
    """Up to ``count`` future free slots closest in time to ``around``, before or after it,
    closest first (the earlier one first on a tie). Looks up to BOOKING_HORIZON_DAYS either
    side: first on ``around``'s own day, widening the search (to 1, 3, 9, ... days either
    side) only when the days searched do not settle the answer."""
    return _nearest(
        location=location,
        appointment_type=appointment_type,
        around=around,
        patient=patient,
        count=count,
        excluding=excluding,
        read=None,
    )


def _nearest(
    *,
    location: Location,
    appointment_type: AppointmentType,
    around: datetime,
    patient: Patient | None,
    count: int,
    excluding: Appointment | None,
    read: _Planner | None,
) -> list[Slot]:
    """``nearest_free_slots``; ``read`` is what was already read for the day of ``around``
    (with the same patient and ``excluding``), used instead of reading that day again."""
    now = read.not_before if read is not None else timezone.now()
    tz = location.tz
    around_day = around.astimezone(tz).date()
    horizon = settings.BOOKING_HORIZON_DAYS
    radius = 0
    while True:
        start_date = max(around_day - timedelta(days=radius), now.astimezone(tz).date())
        end_date = around_day + timedelta(days=radius)
        if read is not None and start_date == end_date == around_day:
            found = _all_slots(read, timedelta(minutes=STEP_MINUTES))
        else:
            found = free_slots(
                location=location,
                appointment_type=appointment_type,
                start_date=start_date,
                end_date=end_date,
                patient=patient,
                not_before=now,
                excluding=excluding,
            )
        found.sort(key=lambda slot: (abs(slot.starts_at - around), slot.starts_at))
        nearest = found[:count]
        if radius >= horizon or _settled(nearest, count, around, start_date, end_date, now, tz):
            return nearest
        radius = min(max(radius * 3, 1), horizon)


def _settled(
    nearest: list[Slot],
    count: int,
    around: datetime,
    start_date: date,
    end_date: date,
    now: datetime,
    tz: zoneinfo.ZoneInfo,
) -> bool:
    """Whether days outside start_date..end_date cannot hold a slot nearer than these."""
    if len(nearest) < count:
        return False
    searched_from = _first_instant(start_date, time.min, tz)
    searched_to = _first_instant(end_date + timedelta(days=1), time.min, tz)
    # Nothing before ``now`` is offered, so if the search began there it is complete below.
    reach_before = None if searched_from <= now else around - searched_from
    reach_after = searched_to - around
    reach = reach_after if reach_before is None else min(reach_before, reach_after)
    return abs(nearest[-1].starts_at - around) <= reach
