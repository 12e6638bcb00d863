"""Reads of appointments and the waitlist, and the access checks that go with them.

``appointment_for`` is the one way pages, the API and tasks fetch an appointment for a
member of staff: 403 without ``Capability.VIEW_SCHEDULE``, 404 when there is no such
appointment. The schedule is clinic-wide (staff are not tied to a location), so everyone
who may view the schedule sees every location's appointments.

``booking_note_for`` is the one rule for who reads what a patient wrote when booking online.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Exists, OuterRef, QuerySet
from django.http import Http404

from clinic.permissions import Capability, require, user_can
from patients.models import SafetyAlert
from scheduling.models import Appointment, WaitlistEntry


def appointments_visible_to(user: Any) -> QuerySet[Appointment]:
    """Every appointment ``user`` may see, with what a list shows of each (patient,
    location, type, chair, clinician, course) joined in, so listing them runs one query."""
    if not user_can(user, Capability.VIEW_SCHEDULE):
        return Appointment.objects.none()
    return Appointment.objects.select_related(
        "patient", "location", "appointment_type", "chair", "clinician", "course"
    )


def appointment_for(user: Any, public_id: uuid.UUID | str) -> Appointment:
    """The appointment ``user`` may see; 403 without the capability, 404 if there is none
    (or the id is not a UUID)."""
    require(user, Capability.VIEW_SCHEDULE)
    try:
        return appointments_visible_to(user).get(public_id=public_id)
    except (Appointment.DoesNotExist, ValueError, ValidationError):
        raise Http404("No such appointment.") from None


@dataclass(frozen=True)
class BookingNote:
    """What the patient wrote in "Tell us a little more" when booking online, as a member
    of staff may read it. ``withheld``: the words raised a safety alert and this reader does
    not see clinical detail, so ``text`` is empty (see ``booking_note_for``)."""

    text: str
    written_at: datetime
    withheld: bool = False


def with_booking_note_alerted(
    appointments: QuerySet[Appointment], user: Any
) -> QuerySet[Appointment]:
    """``appointments`` with ``booking_note_alerted``: whether booking each one raised a
    safety alert (``patients.services.safety.safety_alert_for_booking_reason``), in the same
    query, for ``booking_note_for`` to show them to ``user``. Unchanged for a reader with
    clinical access, who reads the words either way."""
    if user_can(user, Capability.VIEW_CLINICAL):
        return appointments
    return appointments.annotate(
        booking_note_alerted=Exists(
            SafetyAlert.objects.filter(
                appointment=OuterRef("pk"), source=SafetyAlert.Source.BOOKING_REASON
            )
        )
    )


def booking_note_for(user: Any, appointment: Appointment) -> BookingNote | None:
    """What the patient wrote when booking ``appointment`` online, for ``user``; None when
    they wrote nothing (or ``user`` may not see the schedule).

    Everyone who may see the appointment (VIEW_SCHEDULE) reads it, the front desk included:
    they need it to triage calls, and it is the patient's own words about why they booked,
    not a clinical record. One exception: words that raised a safety alert are kept for the
    clinicians, as every safety alert's words are (on the chart, VIEW_CLINICAL), so the
    others learn only that the note is with the alert (``withheld``).

    Runs one query (whether the booking raised an alert) for a reader without clinical
    access, unless the appointment came through ``with_booking_note_alerted``."""
    if not appointment.booking_note:
        return None
    if not user_can(user, Capability.VIEW_SCHEDULE):
        return None
    note = BookingNote(text=appointment.booking_note, written_at=appointment.created_at)
    if user_can(user, Capability.VIEW_CLINICAL):
        return note
    alerted = getattr(appointment, "booking_note_alerted", None)
    if alerted is None:
        alerted = SafetyAlert.objects.filter(
            appointment=appointment, source=SafetyAlert.Source.BOOKING_REASON
        ).exists()
    if alerted:
        return BookingNote(text="", written_at=appointment.created_at, withheld=True)
    return note


def waitlist_visible_to(user: Any) -> QuerySet[WaitlistEntry]:
    """Waitlist entries ``user`` may see, oldest first, with patient, location, type and any
    offered appointment joined in."""
    if not user_can(user, Capability.VIEW_SCHEDULE):
        return WaitlistEntry.objects.none()
    return WaitlistEntry.objects.select_related(
        "patient", "location", "appointment_type", "offered_appointment"
    ).order_by("created_at", "id")


def waitlist_entry_for(user: Any, public_id: uuid.UUID | str) -> WaitlistEntry:
    """The waitlist entry ``user`` may see; 403 without the capability, 404 if none."""
    require(user, Capability.VIEW_SCHEDULE)
    try:
        return waitlist_visible_to(user).get(public_id=public_id)
    except (WaitlistEntry.DoesNotExist, ValueError, ValidationError):
        raise Http404("No such waitlist entry.") from None
