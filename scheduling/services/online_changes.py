"""Until when the patient may cancel or move an appointment themselves, through the manage
link of an online booking: the one rule the manage page, the confirmation page and the
messages all show (staff may change an appointment at any time)."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from scheduling.models import Appointment, AppointmentStatus
from scheduling.services.checks import label

Status = AppointmentStatus


def appointment_patient_may_change(appointment: Appointment) -> tuple[bool, str]:
    """Whether the patient (through a manage link) may still cancel or move ``appointment``,
    and why not: only a booked appointment, and only before
    ``appointment_online_change_deadline`` (up to ``CANCEL_NOTICE_HOURS`` before it starts,
    or, for a booking made online, also in the ``ONLINE_CHANGE_GRACE_MINUTES`` after it was
    made, but never once it has started). Staff may change it at any time. Callers check
    this before calling ``appointment_cancel`` or ``appointment_reschedule`` with
    ``actor=None``."""
    location = appointment.location
    call = f"Call {location.name} on {location.phone}"
    if appointment.status != Status.BOOKED:
        return False, (
            f"This appointment is {label(appointment.status)}, so it can't be changed online. "
            f"{call} if you need help."
        )
    deadline = appointment_online_change_deadline(appointment)
    if deadline is not None and timezone.now() < deadline:
        return True, ""
    if timezone.now() >= appointment.starts_at:
        return False, f"This appointment has started, so it can't be changed online. {call}."
    hours = settings.CANCEL_NOTICE_HOURS
    grace = settings.ONLINE_CHANGE_GRACE_MINUTES
    also = (
        f", or in the first {grace} minutes after booking online"
        if grace and appointment.source == Appointment.Source.ONLINE
        else ""
    )
    return False, (
        f"Appointments can be changed online up to {hours} hours before they start{also}. "
        f"{call} to change this one."
    )


def appointment_online_change_deadline(appointment: Appointment) -> datetime | None:
    """The moment from which the patient can no longer cancel or move ``appointment`` online
    (they can until just before it), or None when it is not booked. Pages show it in the
    location's time zone, so what they promise is what ``appointment_patient_may_change``
    does.

    It is the later of the notice limit (``CANCEL_NOTICE_HOURS`` before the start) and, for
    a booking made online, the end of its grace period (``ONLINE_CHANGE_GRACE_MINUTES``
    after it was made, to the minute, so the time shown is exact); never after the start.
    The grace runs from the booking, not from a move, so moving does not extend it."""
    if appointment.status != Status.BOOKED:
        return None
    deadline = appointment.starts_at - timedelta(hours=settings.CANCEL_NOTICE_HOURS)
    grace = settings.ONLINE_CHANGE_GRACE_MINUTES
    if grace and appointment.source == Appointment.Source.ONLINE:
        made = appointment.created_at.replace(second=0, microsecond=0)
        deadline = max(deadline, min(made + timedelta(minutes=grace), appointment.starts_at))
    return deadline
