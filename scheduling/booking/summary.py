"""How a booking and a location are shown to the public, on pages and in emails: the booking's
summary (nothing clinical) and a location's opening hours."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings

from clinic.models import Location
from scheduling.models import Appointment, AppointmentStatus
from scheduling.wording import clock_text, when_text

_WEEKDAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]


def opening_hours_lines(location: Location) -> list[str]:
    """One line per run of weekdays with the same hours, e.g. "Mon-Fri: 8:00 AM - 6:00 PM"
    (with en dashes) and "Sat-Sun: Closed". Uses prefetched opening hours."""
    hours = {row.weekday: row for row in location.opening_hours.all()}
    groups: list[list[Any]] = []  # [first weekday, last weekday, text]
    for weekday in range(7):
        row = hours.get(weekday)
        text = f"{clock_text(row.opens_at)} – {clock_text(row.closes_at)}" if row else "Closed"
        if groups and groups[-1][2] == text:
            groups[-1][1] = weekday
        else:
            groups.append([weekday, weekday, text])
    return [
        f"{_WEEKDAYS[first]}{'' if first == last else '–' + _WEEKDAYS[last]}: {text}"
        for first, last, text in groups
    ]


@dataclass(frozen=True)
class BookingSummary:
    """What the patient is shown about a booking, on pages and in emails. Nothing
    clinical: the kind of visit, when (with the zone), where, how to reach the clinic."""

    what: str
    when: str
    starts_at: datetime
    duration_minutes: int
    time_zone: str
    location_name: str
    address_lines: list[str]
    phone: str
    email: str
    clinic_name: str
    is_cancelled: bool


def booking_summary(appointment: Appointment) -> BookingSummary:
    location = appointment.location
    return BookingSummary(
        what=appointment.appointment_type.name,
        when=when_text(appointment.starts_at, location),
        starts_at=appointment.starts_at,
        duration_minutes=appointment.appointment_type.duration_minutes,
        time_zone=location.time_zone,
        location_name=location.name,
        address_lines=location.address_lines,
        phone=location.phone,
        email=location.email,
        clinic_name=settings.CLINIC_NAME,
        is_cancelled=appointment.status == AppointmentStatus.CANCELLED,
    )
