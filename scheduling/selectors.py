"""Reads of appointments and the waitlist, and the access checks that go with them.

``appointment_for`` is the one way pages, the API and tasks fetch an appointment for a
member of staff: 403 without ``Capability.VIEW_SCHEDULE``, 404 when there is no such
appointment. The schedule is clinic-wide (staff are not tied to a location), so everyone
who may view the schedule sees every location's appointments.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import Http404

from clinic.permissions import Capability, require, user_can
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
