"""Queueing messages about appointments and the waitlist: the outbox rows, written by the
service that made the change, in its transaction. How they read and when they are no longer
wanted is ``scheduling.messages``'s, which registers the kinds named here.

When: the rows are written by the service that made the change, in its transaction
(``outbox_enqueue``), on the channels the patient agreed to at that moment and has an
address for; the worker checks consent again right before sending (``rules.decide``).

- booking queues the reminders (``reminders_enqueue``): one per ``REMINDER_HOURS`` and
  channel, due that many hours before the start, whole days on the location's clock (48:
  two days before at the same local time, across a daylight-saving change too);
- a consultation booked online queues its confirmation (``confirmation_enqueue``);
- moving or cancelling an appointment still to come queues "moved" or "cancelled"
  (``appointment_change_enqueue``);
- a freed time offered to the waitlist queues the offer (``waitlist_offer_enqueue``);
- a booked course queues its list of dates (``course_schedule_enqueue``), again under a new
  key when a date changes.

Keys: each row keeps the start time it was written for (``context["starts_at"]``) and its
key contains it (``appointment:<public_id>:<starts_at>:reminder-48h:sms``), so a moved
appointment gets new reminders while the old ones are skipped as "moved". A reminder is of
use until the next one is due (the 48-hour one until 2 hours before), the last one until the
start: ``context["useful_until"]``, which the caps and quiet hours use.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone

from clinic.messaging.outbox import outbox_enqueue, planned
from clinic.models import OutboxMessage, OutboxStatus
from patients.messages import patient_message_channels
from scheduling.models import Appointment, AppointmentStatus, TreatmentCourse, WaitlistEntry

CONFIRMATION = "consultation_confirmation"
MOVED = "appointment_moved"
CANCELLED = "appointment_cancelled"
WAITLIST_OFFER = "waitlist_offer"
COURSE_SCHEDULE = "course_schedule"

_COURSE_GOING_ON = frozenset({TreatmentCourse.State.INDUCTION, TreatmentCourse.State.MAINTENANCE})


def reminder_kind(hours: int) -> str:
    return f"reminder_{hours}h"


def moment_text(moment: datetime) -> str:
    """A time as it is kept in keys and context: UTC, ISO 8601, to the second."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _appointment_key(appointment: Appointment, step: str, channel: str) -> str:
    starts_at = moment_text(appointment.starts_at)
    return f"appointment:{appointment.public_id}:{starts_at}:{step}:{channel}"


def _enqueue_for_appointment(
    appointment: Appointment,
    *,
    kind: str,
    step: str,
    channels: Iterable[str],
    useful_until: datetime,
    not_before: datetime | None = None,
    base_url: str = "",
) -> list[OutboxMessage]:
    context: dict[str, Any] = {
        "starts_at": moment_text(appointment.starts_at),
        "useful_until": moment_text(useful_until),
    }
    if base_url:
        context["base_url"] = base_url
    queued = []
    for channel in channels:
        message = outbox_enqueue(
            key=_appointment_key(appointment, step, channel),
            kind=kind,
            channel=channel,
            patient=appointment.patient,
            appointment=appointment,
            location=appointment.location,
            context=context,
            not_before=not_before,
        )
        queued.append(_revived_if_moved_back(message, not_before=not_before))
    return queued


def _revived_if_moved_back(message: OutboxMessage, *, not_before: datetime | None) -> OutboxMessage:
    """An appointment moved away and back again finds its first messages under the same
    keys. Those already skipped as "moved" (never sent) are due again; a sent one stays sent,
    so nothing goes twice."""
    if message.status != OutboxStatus.SKIPPED or message.skip_reason != "moved":
        return message
    due, context = planned(
        kind=message.kind,
        channel=message.channel,
        urgent=message.urgent,
        due=not_before,
        context=message.context or {},
        location=message.location,
        patient=message.patient,
    )
    OutboxMessage.objects.filter(
        pk=message.pk, status=OutboxStatus.SKIPPED, skip_reason="moved"
    ).update(
        status=OutboxStatus.PENDING,
        skip_reason="",
        skip_detail="",
        context=context,
        not_before=due,
        claim_token=None,
        claimed_until=None,
    )
    message.refresh_from_db()
    return message


def reminder_due(appointment: Appointment, hours: int) -> datetime:
    """When the reminder ``hours`` before the appointment is due. Whole days (48: two days)
    are counted on the location's wall clock, so the reminder comes at the same local time
    of day as the appointment even when the clocks change in between (10:00 on the Monday
    after a daylight-saving change: 10:00 on the Saturday, not 09:00 or 11:00); any other
    number of hours is that many hours."""
    days, rest = divmod(hours, 24)
    if rest:
        return appointment.starts_at - timedelta(hours=hours)
    local = appointment.starts_at.astimezone(appointment.location.tz)
    # Wall-clock arithmetic (same tzinfo), then resolved again by zoneinfo: a time the
    # change skips (02:30 in spring) comes out as the instant an hour on (03:30).
    return (local - timedelta(days=days)).replace(fold=0).astimezone(UTC)


def reminders_enqueue(appointment: Appointment) -> list[OutboxMessage]:
    """Queue the reminders of a booked (or just moved) appointment: one per
    ``REMINDER_HOURS`` and channel, due that long before the start (``reminder_due``: whole
    days at the same local time). Reminders whose time has already come (a booking made at
    short notice) are not queued: the booking itself told the patient."""
    now = timezone.now()
    hours = sorted(settings.REMINDER_HOURS, reverse=True)
    channels = patient_message_channels(appointment.patient)
    queued: list[OutboxMessage] = []
    for index, before in enumerate(hours):
        due = reminder_due(appointment, before)
        if due <= now:
            continue
        later = hours[index + 1] if index + 1 < len(hours) else 0
        queued += _enqueue_for_appointment(
            appointment,
            kind=reminder_kind(before),
            step=f"reminder-{before}h",
            channels=channels,
            not_before=due,
            useful_until=reminder_due(appointment, later) if later else appointment.starts_at,
        )
    return queued


def confirmation_enqueue(
    appointment: Appointment, *, channels: Iterable[str], base_url: str = ""
) -> list[OutboxMessage]:
    """Queue the confirmation of a consultation booked online, on ``channels`` (those the
    booker asked for and the patient agreed to: see ``patient_channels``)."""
    return _enqueue_for_appointment(
        appointment,
        kind=CONFIRMATION,
        step="confirmation",
        channels=channels,
        useful_until=appointment.starts_at,
        base_url=base_url,
    )


def appointment_change_enqueue(
    appointment: Appointment, *, kind: str, base_url: str = ""
) -> list[OutboxMessage]:
    """Tell the patient an appointment still to come was moved (``MOVED``, after the move:
    the new time) or cancelled (``CANCELLED``). Nothing for one already started or past. A
    moved appointment of a course going on also sends the course's new list of dates."""
    if appointment.starts_at <= timezone.now():
        return []
    step = "moved" if kind == MOVED else "cancelled"
    queued = _enqueue_for_appointment(
        appointment,
        kind=kind,
        step=step,
        channels=patient_message_channels(appointment.patient),
        useful_until=appointment.starts_at,
        base_url=base_url,
    )
    course = appointment.course
    if kind == MOVED and course is not None and course.state in _COURSE_GOING_ON:
        # The course's list of dates changed: the patient gets the new one (and its .ics).
        queued += course_schedule_enqueue(course, base_url=base_url)
    return queued


def waitlist_offer_enqueue(entry: WaitlistEntry, freed: Appointment) -> list[OutboxMessage]:
    """Tell a waitlisted patient that the time ``freed`` has opened up. The freed appointment
    is another patient's, so the row names only the place and time, not that appointment."""
    context = {
        "entry": str(entry.public_id),
        "starts_at": moment_text(freed.starts_at),
        "useful_until": moment_text(freed.starts_at),
        "visit": freed.appointment_type.kind,
    }
    return [
        outbox_enqueue(
            key=f"waitlist:{entry.public_id}:{moment_text(freed.starts_at)}:offer:{channel}",
            kind=WAITLIST_OFFER,
            channel=channel,
            patient=entry.patient,
            location=entry.location,
            context=context,
        )
        for channel in patient_message_channels(entry.patient)
    ]


def course_dates(course: TreatmentCourse) -> list[Appointment]:
    """The course's appointments that are on (not cancelled, not missed), in time order."""
    return list(
        course.appointments.exclude(
            status__in=[AppointmentStatus.CANCELLED, AppointmentStatus.NO_SHOW]
        )
        .select_related("location", "appointment_type")
        .order_by("starts_at")
    )


def dates_digest(appointments: Iterable[Appointment]) -> str:
    """A short name for a set of dates and places: it changes when any of them does."""
    text = ",".join(
        f"{appointment.public_id}@{moment_text(appointment.starts_at)}@{appointment.location_id}"
        for appointment in appointments
    )
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def course_schedule_enqueue(course: TreatmentCourse, *, base_url: str = "") -> list[OutboxMessage]:
    """Queue the course's schedule (every date, time and place, the email with one .ics of
    them all) on the channels the patient agreed to, in the caller's transaction. Named by
    the course and its dates, so queueing again sends once, and a course whose dates
    changed gets a new message while the old one, if still waiting, is skipped as "moved"."""
    appointments = course_dates(course)
    upcoming = [item for item in appointments if item.starts_at > timezone.now()]
    if not upcoming:
        return []
    digest = dates_digest(appointments)
    context: dict[str, Any] = {
        "course": str(course.public_id),
        "dates": digest,
        "useful_until": moment_text(upcoming[-1].starts_at),
    }
    if base_url:
        context["base_url"] = base_url
    return [
        outbox_enqueue(
            key=f"course:{course.public_id}:{digest}:schedule:{channel}",
            kind=COURSE_SCHEDULE,
            channel=channel,
            patient=course.patient,
            location=course.location,
            context=context,
        )
        for channel in patient_message_channels(course.patient)
    ]
