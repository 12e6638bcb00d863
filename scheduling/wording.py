"""How appointments read to patients, on the booking pages, in messages and in calendar files:
times on the location's own clock with its zone named, and the clinic's fixed words for each
kind of visit (never the editable type name, which could name a drug)."""

from __future__ import annotations

from datetime import date, datetime, time

from clinic.models import Location
from scheduling.models import AppointmentKind

# The kind of visit in the clinic's fixed words: nothing an admin can rename.
VISIT_WORDS = {
    AppointmentKind.CONSULTATION: "consultation",
    AppointmentKind.INFUSION: "infusion appointment",
    AppointmentKind.BOOSTER: "infusion appointment",
    AppointmentKind.FOLLOW_UP: "follow-up visit",
    AppointmentKind.SPRAVATO: "treatment appointment",
}


def clock_text(moment: datetime | time) -> str:
    """9:00 AM."""
    return moment.strftime("%I:%M %p").lstrip("0")


def day_text(day: date) -> str:
    """Monday, November 2, 2026."""
    return f"{day:%A}, {day:%B} {day.day}, {day.year}"


def zone_on(location: Location, day: date) -> str:
    """The location's zone abbreviation around midday on ``day`` (CST or CDT)."""
    return datetime.combine(day, time(12), location.tz).tzname() or location.time_zone


def when_text(starts_at: datetime, location: Location) -> str:
    """Monday, November 2, 2026, 9:00 AM CST: always on the location's clock, zone named."""
    local = starts_at.astimezone(location.tz)
    return f"{day_text(local.date())}, {clock_text(local)} {local.tzname()}"
