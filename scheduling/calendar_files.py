"""The calendar files (.ics) patients are given: one appointment's (from the manage page, and
attached to the messages about it) and a treatment course's dates (attached to the course's
schedule). An appointment has the same UID and words in both, so either file updates the one
entry in the patient's calendar. The iCalendar text itself is ``scheduling.ics``'s."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.utils import timezone

from scheduling.ics import IcsEvent, ics_calendar, ics_events_calendar
from scheduling.models import Appointment, AppointmentStatus
from scheduling.wording import VISIT_WORDS


def appointment_ics(
    appointment: Appointment, *, host: str, url: str = "", now: datetime | None = None
) -> str:
    """The .ics for ``appointment``: at its location's local time with that zone's VTIMEZONE
    (``scheduling.ics``). UID is ``<public_id>@<host>``, so a later file for the same
    appointment (moved, cancelled) updates the one already in the calendar."""
    location = appointment.location
    clinic = settings.CLINIC_NAME
    # The clinic's fixed words for the visit, not the editable type name: calendars are
    # shared and synced, and the type could be named after the drug.
    what = VISIT_WORDS.get(appointment.appointment_type.kind, "appointment").capitalize()
    reach = location.phone + (f", {location.email}" if location.email else "")
    description = [
        f"{what} at {clinic}, {location.name}.",
        f"To reach us: {reach}.",
    ]
    if url:
        description.append(f"To change or cancel: {url}")
    return ics_calendar(
        uid=f"{appointment.public_id}@{host}",
        tzid=location.time_zone,
        starts_at=appointment.starts_at,
        ends_at=appointment.ends_at,
        summary=f"{what} at {clinic}",
        location=", ".join([location.name, *location.address_lines]),
        description="\n".join(description),
        cancelled=appointment.status == AppointmentStatus.CANCELLED,
        sequence=_sequence(appointment),
        url=url,
        now=now or timezone.now(),
    )


def _sequence(appointment: Appointment) -> int:
    """Seconds between creation and the last change: 0 for a new booking, larger after every
    change, which is all SEQUENCE has to be."""
    if appointment.created_at is None or appointment.updated_at is None:
        return 0
    return max(int((appointment.updated_at - appointment.created_at).total_seconds()), 0)


def course_event(appointment: Appointment, *, host: str, now: datetime) -> IcsEvent:
    """The calendar entry of one appointment of a course: the same UID and words as the
    booking's own .ics (``appointment_ics``), so either file updates the
    one entry."""
    location = appointment.location
    clinic = settings.CLINIC_NAME
    what = VISIT_WORDS.get(appointment.appointment_type.kind, "appointment").capitalize()
    reach = location.phone + (f", {location.email}" if location.email else "")
    changed = (appointment.updated_at or now) - (appointment.created_at or now)
    return IcsEvent(
        uid=f"{appointment.public_id}@{host}",
        tzid=location.time_zone,
        starts_at=appointment.starts_at,
        ends_at=appointment.ends_at,
        summary=f"{what} at {clinic}",
        location=", ".join([location.name, *location.address_lines]),
        description=f"{what} at {clinic}, {location.name}.\nTo reach us: {reach}.",
        sequence=max(int(changed.total_seconds()), 0),
    )


def course_ics(appointments: list[Appointment], *, host: str, now: datetime) -> str:
    """One .ics with an event for each of a course's ``appointments``."""
    return ics_events_calendar(
        [course_event(item, host=host, now=now) for item in appointments], now=now
    )
