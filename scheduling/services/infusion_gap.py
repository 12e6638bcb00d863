"""The minimum gap between a patient's infusions (DOMAIN.md, "The patient's path" 5:
``COURSE_MIN_GAP_HOURS``, 24 by default), for every infusion-kind appointment (infusion or
booster), whether or not it belongs to a course.

A course keeps its own infusions apart (``scheduling.courses``); this keeps any two of the
patient's infusions apart: a booster booked an hour after the morning's infusion, or an
infusion moved next to another, is refused with the earliest time allowed. It is checked
while holding the patient's booking lock (``locks.lock_bookings``), so two bookings of one
patient are checked one after the other and cannot both slip in. Start to start, like the
course's gaps; cancelled and no-show appointments count for nothing."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings

from clinic.models import Location
from patients.models import Patient
from scheduling.models import BLOCKING, INFUSION_KINDS, Appointment, AppointmentType
from scheduling.services.checks import Errors, is_infusion, when_label, with_article


def infusion_min_gap() -> timedelta:
    return timedelta(hours=settings.COURSE_MIN_GAP_HOURS)


def infusion_gap_errors(
    *,
    patient: Patient,
    location: Location,
    appointment_type: AppointmentType,
    starts_at: datetime,
    excluding: Appointment | None = None,
) -> Errors:
    """Why an infusion-kind appointment at ``starts_at`` is too close to another of the
    patient's, with the earliest time from which it would be allowed; empty when it is not
    (or the type is no infusion). Call it holding the patient's booking lock."""
    if not is_infusion(appointment_type):
        return {}
    gap = infusion_min_gap()
    others = (
        Appointment.objects.filter(
            BLOCKING,
            patient=patient,
            appointment_type__kind__in=INFUSION_KINDS,
            starts_at__gt=starts_at - gap,
        )
        .select_related("appointment_type", "location")
        .order_by("starts_at", "id")
    )
    if excluding is not None and excluding.pk is not None:
        others = others.exclude(pk=excluding.pk)
    close = None
    earliest = starts_at
    # The others in time order: each one closer than the gap to the time still in the
    # running pushes it to that one's start plus the gap.
    for other in others:
        if abs(other.starts_at - earliest) < gap:
            close = close or other
            earliest = other.starts_at + gap
    if close is None:
        return {}
    hours = settings.COURSE_MIN_GAP_HOURS
    return {
        "starts_at": [
            f"The patient has {with_article(close.appointment_type).lower()} at "
            f"{when_label(close.starts_at, close.location)} ({close.location.name}): infusions "
            f"must be at least {hours} hours apart. The earliest time allowed is "
            f"{when_label(earliest, location)}; choose that or a later time."
        ]
    }
