"""The week board: one location's seven days from a Monday, a row per appointment."""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.urls import reverse

from clinic.models import Location
from clinic.selectors import DayHours, location_hours_on
from scheduling.board.day import board_appointments, with_hours
from scheduling.models import NON_BLOCKING_STATUSES, Appointment

WEEK = 7


# --- The week --------------------------------------------------------------------------------


@dataclass(frozen=True)
class WeekEntry:
    """An appointment in the week's list: when it starts there, and its page. The list
    offers no moves (the day board's cards do), so none are worked out."""

    appointment: Appointment
    local_start: datetime
    local_end: datetime
    url: str

    @property
    def attending(self) -> bool:
        return self.appointment.status not in NON_BLOCKING_STATUSES


@dataclass(frozen=True)
class WeekDay:
    day: date
    hours: DayHours
    is_today: bool
    entries: list[WeekEntry]  # attending, in time order
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


def week_of(day: date) -> tuple[date, date]:
    """The Monday and the Sunday of ``day``'s week."""
    monday = day - timedelta(days=day.weekday())
    return monday, monday + timedelta(days=WEEK - 1)


def week_board(*, user: Any, location: Location, day: date) -> WeekBoard:
    """The week (Monday to Sunday) around the local ``day`` at ``location``: appointments
    per chair and day, consultations and follow-ups per day, and every appointment in a
    list. Five queries however many appointments (as ``day_board``)."""
    monday, sunday = week_of(day)
    with_hours(location, monday, sunday)
    chairs = list(location.chairs.order_by("name", "id"))
    # One reverse() for the week rather than one per row: an appointment's page is its
    # public id in a fixed path.
    placeholder = str(uuid.UUID(int=0))
    url_head, url_tail = reverse("scheduling:appointment-detail", args=[placeholder]).split(
        placeholder
    )
    tz = location.tz
    entries = [
        WeekEntry(
            appointment=appointment,
            local_start=appointment.starts_at.astimezone(tz),
            local_end=appointment.ends_at.astimezone(tz),
            url=f"{url_head}{appointment.public_id}{url_tail}",
        )
        for appointment in board_appointments(
            user, location, monday, sunday, chairs=chairs, cards=False
        )
    ]
    today = location.local_now().date()
    days = [monday + timedelta(days=offset) for offset in range(WEEK)]
    on_day: dict[date, list[WeekEntry]] = {one: [] for one in days}
    for entry in entries:
        on_day.setdefault(entry.local_start.date(), []).append(entry)

    # Attending appointments per (day, chair) for the chairs' rows, per (day, None) for
    # chair appointments without a chair, and per day for the consultations' row: one pass.
    in_chairs: Counter[tuple[date, int | None]] = Counter()
    visits: Counter[date] = Counter()
    for one in days:
        for entry in on_day[one]:
            if not entry.attending:
                continue
            if entry.appointment.type_needs_chair:
                in_chairs[one, entry.appointment.chair_id] += 1
            else:
                visits[one] += 1
    used_chairs = {entry.appointment.chair_id for entry in entries if entry.attending}
    chair_rows = [
        WeekRow(
            label=chair.name if chair.is_active else f"{chair.name} (out of use)",
            counts=[in_chairs[one, chair.pk] for one in days],
        )
        for chair in chairs
        if chair.is_active or chair.pk in used_chairs
    ]
    if any(chair_id is None for _, chair_id in in_chairs):
        chair_rows.append(
            WeekRow(label="No chair assigned", counts=[in_chairs[one, None] for one in days])
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
            counts=[visits[one] for one in days],
        ),
        attending_count=sum(1 for entry in entries if entry.attending),
    )
