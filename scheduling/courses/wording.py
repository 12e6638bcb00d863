"""How courses name days and times in plans and refusals, on the location's clock: "Mon 7 Dec",
"Mon 7 Dec 10:00"; and the ``Errors`` dict (keyed by field) refusals fill."""

from __future__ import annotations

from datetime import date, datetime

from clinic.models import Location

Errors = dict[str, list[str]]
WEEKDAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def add_error(errors: Errors, field: str, message: str) -> None:
    errors.setdefault(field, []).append(message)


def course_day(day: date) -> str:
    return f"{WEEKDAY_NAMES[day.weekday()]} {day.day} {day:%b}"


def course_when(moment: datetime, location: Location) -> str:
    local = moment.astimezone(location.tz)
    return f"{course_day(local.date())} {local:%H:%M}"
