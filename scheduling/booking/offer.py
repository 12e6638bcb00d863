"""What the public is offered: active locations, the consultation type (the one appointment
type ``bookable_online``), its free times for the next ``BOOKING_HORIZON_DAYS`` days a week at
a time on the location's own clock, and which start times a booker may ask for."""

from __future__ import annotations

import re
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from django.conf import settings
from django.contrib.postgres.expressions import ArraySubquery
from django.db.models import BooleanField, F, Func, QuerySet
from django.http import Http404
from django.utils import timezone

from clinic.fragments import RowsMatching, RowsOf, rows_version
from clinic.models import Chair, Closure, Location, OpeningHours, User
from clinic.selectors import location_hours_on, locations_public
from patients.models import Patient
from scheduling.availability import Slot, free_slots
from scheduling.models import Appointment, AppointmentKind, AppointmentType, StaffShift
from scheduling.wording import day_text, zone_on

Errors = dict[str, list[str]]

STEP_MINUTES = 15
DAYS_PER_WEEK = 7
TAKEN_MESSAGE = "Sorry, that time was just taken. Please choose another time."
SLOT_FORMAT = "%Y-%m-%dT%H:%MZ"
_SLOT_PATTERN = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}Z")


def booking_locations() -> QuerySet[Location]:
    """Active locations with their opening hours, for the first page (three queries)."""
    return locations_public().order_by("name")


def booking_location(public_id: uuid.UUID | str, *, prefetch: bool = True) -> Location:
    """An active location with its opening hours and closures prefetched (unless not
    ``prefetch``: one query, for a page that mostly shows a kept list), or 404."""
    if prefetch:
        location = booking_locations().filter(public_id=public_id).first()
    else:
        location = locations_public().filter(public_id=public_id).prefetch_related(None).first()
    if location is None:
        raise Http404("No location taking online bookings has that id.")
    return location


def booking_consultation_type() -> AppointmentType | None:
    """The consultation type, if the clinic lets patients book it online."""
    return AppointmentType.objects.filter(
        kind=AppointmentKind.CONSULTATION, bookable_online=True
    ).first()


@dataclass(frozen=True)
class SlotDay:
    day: date
    zone: str  # the zone's abbreviation that day, e.g. CST
    slots: list[Slot]

    @property
    def label(self) -> str:
        return day_text(self.day)


@dataclass(frozen=True)
class BookingWeek:
    """One week of free times: ``number`` 0 is the week starting today (local)."""

    number: int
    count: int
    first_day: date
    last_day: date
    days: list[SlotDay]

    @property
    def has_previous(self) -> bool:
        return self.number > 0

    @property
    def has_next(self) -> bool:
        return self.number + 1 < self.count

    @property
    def slot_count(self) -> int:
        return sum(len(day.slots) for day in self.days)


def booking_week(
    *,
    location: Location,
    appointment_type: AppointmentType,
    week: int = 0,
    patient: Patient | None = None,
    excluding: Appointment | None = None,
    not_before: datetime | None = None,
) -> BookingWeek:
    """The free times in week ``week`` of the booking horizon (today to today +
    BOOKING_HORIZON_DAYS, local), grouped by local day, none before ``not_before`` (now).
    ``week`` is clamped into range. A fixed number of queries (``free_slots``) however many
    appointments there are."""
    today = location.local_now().date()
    last = today + timedelta(days=settings.BOOKING_HORIZON_DAYS)
    count = (last - today).days // DAYS_PER_WEEK + 1
    week = min(max(week, 0), count - 1)
    first_day = today + timedelta(days=week * DAYS_PER_WEEK)
    last_day = min(first_day + timedelta(days=DAYS_PER_WEEK - 1), last)
    slots = free_slots(
        location=location,
        appointment_type=appointment_type,
        start_date=first_day,
        end_date=last_day,
        patient=patient,
        step_minutes=STEP_MINUTES,
        excluding=excluding,
        not_before=not_before,
    )
    by_day: dict[date, list[Slot]] = defaultdict(list)
    for slot in slots:
        by_day[slot.local_start.date()].append(slot)
    days = []
    day = first_day
    while day <= last_day:
        days.append(SlotDay(day=day, zone=zone_on(location, day), slots=by_day.get(day, [])))
        day += timedelta(days=1)
    return BookingWeek(number=week, count=count, first_day=first_day, last_day=last_day, days=days)


class _AnyOf(Func):
    """``expression = ANY(array)``, as a condition."""

    output_field = BooleanField()

    def as_sql(self, compiler: Any, connection: Any, **extra: Any) -> tuple[str, list[Any]]:
        value, array = self.get_source_expressions()
        value_sql, value_params = compiler.compile(value)
        array_sql, array_params = compiler.compile(array)
        return f"{value_sql} = ANY({array_sql})", [*value_params, *array_params]


def booking_week_drawn_from(
    *, location: Location, appointment_type: AppointmentType, week: int, minute: datetime
) -> str:
    """A version of everything ``booking_week`` (for no patient, nothing excluded) reads
    for ``week`` during ``minute``, for the public list kept rendered (``clinic.fragments``),
    in one query: the location, its opening hours, closures and chairs, the appointment
    types, the location's shifts and their staff, and every appointment that could clash
    (at the location, or of anyone with a shift there) still blocking after ``minute`` and
    starting before the week can end (a generous bound: a few more rows than the week's
    cost nothing, one fewer would be a taken time offered as free)."""
    weeks = settings.BOOKING_HORIZON_DAYS // DAYS_PER_WEEK + 1
    until = minute + timedelta(days=DAYS_PER_WEEK * (min(max(week, 0), weeks) + 1) + 2)
    staff = StaffShift.objects.filter(location=location).order_by().values("staff_id")
    clashing = Appointment.objects.filter(blocks_until__gt=minute, starts_at__lt=until)
    return rows_version(
        RowsOf(Location, "pk", [location.pk]),
        RowsOf(OpeningHours, "location", [location.pk]),
        RowsOf(Closure, "location", [location.pk]),
        RowsOf(Chair, "location", [location.pk]),
        RowsOf(AppointmentType),
        RowsOf(StaffShift, "location", [location.pk]),
        User.objects.filter(pk__in=staff),
        RowsMatching(clashing.filter(location=location)),
        # ANY(ARRAY(...)): the shifts' staff first, then their appointments off the
        # (clinician, blocks_until) index; a join or IN (...) reads every appointment.
        RowsMatching(clashing.filter(_AnyOf(F("clinician_id"), ArraySubquery(staff)))),
    )


def booking_week_of(location: Location, starts_at: datetime) -> int:
    """Which week of the horizon ``starts_at`` falls in (0 if it has passed)."""
    days = (starts_at.astimezone(location.tz).date() - location.local_now().date()).days
    return max(days, 0) // DAYS_PER_WEEK


def slot_value(starts_at: datetime) -> str:
    """A start time as it travels in URLs and forms: UTC to the minute."""
    return starts_at.astimezone(UTC).strftime(SLOT_FORMAT)


def slot_parse(text: str | None) -> datetime | None:
    """The start time ``slot_value`` wrote, or None for anything else."""
    if not text or not _SLOT_PATTERN.fullmatch(text):
        return None
    try:
        return datetime.strptime(text, SLOT_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        return None


def booking_slot_errors(
    *, location: Location, appointment_type: AppointmentType, starts_at: datetime
) -> Errors:
    """Why ``starts_at`` is not a time the public can book at ``location``, keyed
    "starts_at": passed, beyond the horizon, or not one of the offered times (outside the
    opening hours, or off the slot grid, as a hand-edited value would be). Whether it is
    still free is the booking's to find out."""
    if starts_at <= timezone.now():
        return {"starts_at": ["That time has passed. Please choose a later time."]}
    local = starts_at.astimezone(location.tz)
    horizon = settings.BOOKING_HORIZON_DAYS
    if local.date() > location.local_now().date() + timedelta(days=horizon):
        return {
            "starts_at": [
                f"Online booking is open for the next {horizon} days. Please choose an earlier "
                f"time, or call {location.name} on {location.phone}."
            ]
        }
    hours = location_hours_on(location, local.date())
    end = (starts_at + appointment_type.occupied).astimezone(location.tz)
    inside = (
        hours.is_open
        and hours.opens_at is not None
        and hours.closes_at is not None
        and hours.opens_at <= local.time()
        and end.date() == local.date()
        and end.time() <= hours.closes_at
    )
    if not inside or not _on_grid(local, hours.opens_at):
        return {
            "starts_at": [
                f"{location.name} does not offer a {appointment_type.name.lower()} at that "
                "time. Please choose one of the times listed."
            ]
        }
    return {}


def _on_grid(local: datetime, opens_at: time | None) -> bool:
    if opens_at is None or local.second or local.microsecond:
        return False
    minutes = local.hour * 60 + local.minute - (opens_at.hour * 60 + opens_at.minute)
    return minutes % STEP_MINUTES == 0
