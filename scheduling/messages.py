"""Messages about appointments and the waitlist: what there is, when it is queued, how it reads.

Kinds (``clinic.messaging.registry``), each by email and by text:

- ``consultation_confirmation``: a consultation booked online (``scheduling.booking``); the
  email has the manage link and the .ics.
- ``appointment_moved`` and ``appointment_cancelled``: any appointment still to come that
  staff or the patient moved or cancelled (``scheduling.services``); emails carry the .ics
  that updates the calendar entry (and, for online bookings, the manage link).
- ``reminder_<h>h`` for each ``REMINDER_HOURS`` (48 and 2): every appointment, queued when
  it is booked or moved, due ``h`` hours before it starts; a text due inside quiet hours
  goes at the last allowed minute before them (20:59), never after the visit
  (``before_quiet_hours``, ``clinic.messaging.rules``).
- ``waitlist_offer``: a freed time offered to a waitlisted patient.
- ``course_schedule``: every date, time and place of a treatment course, once it is booked
  (``course_schedule_enqueue``, called by ``scheduling.courses.course_create``), the email
  with one .ics holding them all; sent again, under a new key, when a date changes.

All of these are transactional (``MessageKind.transactional``): the patient needs them, so
the daily and weekly caps on texts never hold them back and they do not count towards them.

When: the rows are written by the service that made the change, in its transaction
(``outbox_enqueue``), on the channels the patient agreed to at that moment and has an
address for; the worker checks consent again right before sending (``rules.decide``).

Still wanted? Each row keeps the start time it was written for (``context["starts_at"]``)
and its key contains it (``appointment:<public_id>:<starts_at>:reminder-48h:sms``), so a
moved appointment gets new reminders while the old ones are skipped as "moved"; a cancelled
appointment's are skipped as "cancelled", and a reminder whose time has passed as "past".
A reminder is of use until the next one is due (the 48-hour one until 2 hours before), the
last one until the start: ``context["useful_until"]``, which the caps and quiet hours use.

What they say (DOMAIN.md, "Messages to patients"): the clinic's name, the kind of visit in
the clinic's own fixed words (never the editable type name, which could name a drug), the
time on the location's clock with its zone, the place, how to reach us; infusion reminders
add what to bring and that an adult must drive the patient home. No name, no condition, no
drug. Templates under ``templates/messages/``.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from clinic.messaging.outbox import outbox_enqueue, planned
from clinic.messaging.registry import MessageKind, NotWanted, Rendered, register
from clinic.models import OutboxChannel, OutboxMessage, OutboxStatus
from patients.messages import patient_message_channels
from scheduling.ics import IcsEvent, ics_events_calendar
from scheduling.models import (
    Appointment,
    AppointmentKind,
    AppointmentStatus,
    TreatmentCourse,
    WaitlistEntry,
)

CONFIRMATION = "consultation_confirmation"
MOVED = "appointment_moved"
CANCELLED = "appointment_cancelled"
WAITLIST_OFFER = "waitlist_offer"
COURSE_SCHEDULE = "course_schedule"

# The kind of visit in the clinic's fixed words: nothing an admin can rename.
VISIT_WORDS = {
    AppointmentKind.CONSULTATION: "consultation",
    AppointmentKind.INFUSION: "infusion appointment",
    AppointmentKind.BOOSTER: "infusion appointment",
    AppointmentKind.FOLLOW_UP: "follow-up visit",
}
INFUSION_KINDS = frozenset({AppointmentKind.INFUSION, AppointmentKind.BOOSTER})
_COURSE_GOING_ON = frozenset({TreatmentCourse.State.INDUCTION, TreatmentCourse.State.MAINTENANCE})

SUBJECTS = {
    CONFIRMATION: "Your {what} is booked: {when}",
    MOVED: "Your {what} has moved: {when}",
    CANCELLED: "Your {what} on {when} is cancelled",
    "reminder": "Reminder: your {what} on {when}",
}


def reminder_kind(hours: int) -> str:
    return f"reminder_{hours}h"


# --- Queueing -------------------------------------------------------------------------------


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


def reminders_enqueue(appointment: Appointment) -> list[OutboxMessage]:
    """Queue the reminders of a booked (or just moved) appointment: one per
    ``REMINDER_HOURS`` and channel, due that many hours before the start. Reminders whose
    time has already come (a booking made at short notice) are not queued: the booking
    itself told the patient."""
    now = timezone.now()
    hours = sorted(settings.REMINDER_HOURS, reverse=True)
    channels = patient_message_channels(appointment.patient)
    queued: list[OutboxMessage] = []
    for index, before in enumerate(hours):
        due = appointment.starts_at - timedelta(hours=before)
        if due <= now:
            continue
        later = hours[index + 1] if index + 1 < len(hours) else 0
        queued += _enqueue_for_appointment(
            appointment,
            kind=reminder_kind(before),
            step=f"reminder-{before}h",
            channels=channels,
            not_before=due,
            useful_until=appointment.starts_at - timedelta(hours=later),
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


def _course_dates(course: TreatmentCourse) -> list[Appointment]:
    """The course's appointments that are on (not cancelled, not missed), in time order."""
    return list(
        course.appointments.exclude(
            status__in=[AppointmentStatus.CANCELLED, AppointmentStatus.NO_SHOW]
        )
        .select_related("location", "appointment_type")
        .order_by("starts_at")
    )


def _dates_digest(appointments: Iterable[Appointment]) -> str:
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
    appointments = _course_dates(course)
    upcoming = [item for item in appointments if item.starts_at > timezone.now()]
    if not upcoming:
        return []
    digest = _dates_digest(appointments)
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


# --- Still wanted? ----------------------------------------------------------------------------


def _change_until(appointment: Appointment) -> str:
    from scheduling.booking import when_text
    from scheduling.services import appointment_online_change_deadline

    deadline = appointment_online_change_deadline(appointment)
    return when_text(deadline, appointment.location) if deadline else ""


def _context_time(message: OutboxMessage, name: str) -> datetime | None:
    value = (message.context or {}).get(name)
    return parse_datetime(value) if isinstance(value, str) else None


def _appointment(message: OutboxMessage) -> Appointment | None:
    if message.appointment_id is None:
        return None
    return (
        Appointment.objects.select_related("location", "appointment_type")
        .filter(pk=message.appointment_id)
        .first()
    )


def _past(message: OutboxMessage, starts_at: datetime | None) -> NotWanted | None:
    limit = _context_time(message, "useful_until") or starts_at
    if limit is not None and timezone.now() >= limit:
        return NotWanted("past", "The time it was for had passed.")
    return None


def _booked_as_queued(message: OutboxMessage) -> NotWanted | None:
    """Wanted while the appointment is booked at the time the message was made for."""
    appointment = _appointment(message)
    if appointment is None:
        return NotWanted("not_wanted", "The appointment no longer exists.")
    if appointment.status in (AppointmentStatus.CANCELLED, AppointmentStatus.NO_SHOW):
        return NotWanted("cancelled", "The appointment was cancelled after this was queued.")
    starts_at = _context_time(message, "starts_at")
    if starts_at != appointment.starts_at:
        return NotWanted("moved", "The appointment was moved after this was queued.")
    if appointment.status != AppointmentStatus.BOOKED:
        return NotWanted("not_wanted", "The patient has already checked in.")
    return _past(message, appointment.starts_at)


def _cancelled_as_queued(message: OutboxMessage) -> NotWanted | None:
    appointment = _appointment(message)
    if appointment is None:
        return NotWanted("not_wanted", "The appointment no longer exists.")
    if appointment.status != AppointmentStatus.CANCELLED:
        # The cancellation was undone (scheduling.services.appointment_undo).
        return NotWanted("not_wanted", "The cancellation was undone after this was queued.")
    return _past(message, appointment.starts_at)


def _offer_open(message: OutboxMessage) -> NotWanted | None:
    entry = WaitlistEntry.objects.filter(public_id=(message.context or {}).get("entry")).first()
    if entry is None or entry.state != WaitlistEntry.State.OFFERED:
        return NotWanted("not_wanted", "The waitlist offer was taken back or answered.")
    return _past(message, _context_time(message, "starts_at"))


def _course(message: OutboxMessage) -> TreatmentCourse | None:
    public_id = (message.context or {}).get("course")
    if not public_id:
        return None
    return TreatmentCourse.objects.filter(public_id=public_id).first()


def _course_as_queued(message: OutboxMessage) -> NotWanted | None:
    """Wanted while the course goes on with the dates it was written for."""
    course = _course(message)
    if course is None:
        return NotWanted("not_wanted", "The course no longer exists.")
    if course.state in (TreatmentCourse.State.DISCONTINUED, TreatmentCourse.State.COMPLETED):
        return NotWanted("cancelled", "The course ended before this was sent.")
    if _dates_digest(_course_dates(course)) != (message.context or {}).get("dates"):
        return NotWanted(
            "moved", "The course's dates changed after this was queued: a newer list went."
        )
    return _past(message, None)


# --- Writing them ------------------------------------------------------------------------------


def _place(location: Any) -> dict[str, Any]:
    return {
        "clinic_name": settings.CLINIC_NAME,
        "location_name": location.name,
        "address_lines": location.address_lines,
        "address": ", ".join(location.address_lines),
        "phone": location.phone,
        "email": location.email,
        "time_zone": location.time_zone,
    }


def _render(kind_template: str, message: OutboxMessage, context: dict[str, Any]) -> Rendered:
    """``messages/<template>_sms.txt`` for a text; for an email the subject from context and
    ``messages/<template>_email.txt`` and ``.html``."""
    if message.channel == OutboxChannel.SMS:
        body = render_to_string(f"messages/{kind_template}_sms.txt", context)
        return Rendered(body=" ".join(body.split()))
    return Rendered(
        subject=context["subject"],
        body=_tidy(render_to_string(f"messages/{kind_template}_email.txt", context)),
        html=render_to_string(f"messages/{kind_template}_email.html", context),
        attachments=context.get("attachments", ()),
    )


def _tidy(text: str) -> str:
    """A text email without the blank runs template tags leave: at most one empty line."""
    return re.sub(r"\n{3,}", "\n\n", text.strip()) + "\n"


def _render_appointment(message: OutboxMessage, *, change: str, hours: int = 0) -> Rendered:
    from scheduling.booking import appointment_ics, manage_token, when_text

    appointment = _appointment(message)
    if appointment is None:
        raise ValueError("The appointment of this message no longer exists.")
    location = appointment.location
    starts_at = _context_time(message, "starts_at") or appointment.starts_at
    visit = appointment.appointment_type.kind
    what = VISIT_WORDS.get(visit, "appointment")
    when = when_text(starts_at, location)
    base_url = (message.context or {}).get("base_url", "")
    manage_url = ""
    if (
        base_url
        and change != CANCELLED
        and appointment.source == Appointment.Source.ONLINE
        and appointment.status == AppointmentStatus.BOOKED
    ):
        manage_url = base_url + reverse("booking:manage", args=[manage_token(appointment)])
    context = {
        **_place(location),
        "change": change,
        "what": what,
        "when": when,
        "hours": hours,
        "is_infusion": visit in INFUSION_KINDS,
        "fasting_hours": settings.PRE_INFUSION_FASTING_HOURS,
        "manage_url": manage_url,
        "book_url": base_url + reverse("booking:start") if base_url else "",
        # The same deadline the confirmation and manage pages show (online change grace or
        # notice rule), as it stands when the message is sent.
        "change_until": _change_until(appointment) if manage_url else "",
        "subject": SUBJECTS["reminder" if change == "reminder" else change].format(
            what=what, when=when
        ),
    }
    if message.channel == OutboxChannel.EMAIL and change != "reminder":
        host = urlsplit(base_url).hostname or "chairside.invalid"
        name = "consultation.ics" if visit == AppointmentKind.CONSULTATION else "appointment.ics"
        context["attachments"] = (
            (name, appointment_ics(appointment, host=host, url=manage_url), "text/calendar"),
        )
    return _render("appointment", message, context)


def _render_waitlist_offer(message: OutboxMessage) -> Rendered:
    from scheduling.booking import when_text

    location = message.location
    starts_at = _context_time(message, "starts_at")
    if location is None or starts_at is None:
        raise ValueError("This waitlist offer has no place or time.")
    what = VISIT_WORDS.get((message.context or {}).get("visit"), "appointment")
    when = when_text(starts_at, location)
    context = {
        **_place(location),
        "what": what,
        "when": when,
        "subject": f"A {what} time has opened up: {when}",
    }
    return _render("waitlist_offer", message, context)


def _short_when(moment: datetime, location: Any) -> str:
    """Mon Dec 14, 9:00 AM: for a list in a text."""
    from scheduling.booking import clock_text

    local = moment.astimezone(location.tz)
    return f"{local:%a %b} {local.day}, {clock_text(local)}"


def _course_event(appointment: Appointment, *, host: str, now: datetime) -> IcsEvent:
    """The calendar entry of one appointment of a course: the same UID and words as the
    booking's own .ics (``scheduling.booking.appointment_ics``), so either file updates the
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


def _render_course_schedule(message: OutboxMessage) -> Rendered:
    from scheduling.booking import when_text

    course = _course(message)
    if course is None:
        raise ValueError("The course of this message no longer exists.")
    appointments = _course_dates(course)
    if not appointments:
        raise ValueError("The course of this message has no appointments left.")
    location = course.location
    count = len(appointments)
    dates = [
        {
            "when": when_text(item.starts_at, item.location),
            "short": _short_when(item.starts_at, item.location),
            "elsewhere": item.location_id != location.pk,
            "place": f"{item.location.name}, {', '.join(item.location.address_lines)}",
        }
        for item in appointments
    ]
    # The text says the dates were emailed only when the email is on its way too.
    emailed = (
        message.channel == OutboxChannel.SMS
        and OutboxMessage.objects.filter(
            idempotency_key=message.idempotency_key.rsplit(":", 1)[0] + ":email"
        )
        .exclude(status__in=[OutboxStatus.SKIPPED, OutboxStatus.FAILED])
        .exists()
    )
    context = {
        **_place(location),
        "count": count,
        "dates": dates,
        "emailed": emailed,
        "is_infusion": True,
        "fasting_hours": settings.PRE_INFUSION_FASTING_HOURS,
        "subject": f"Your {count} infusion appointments at {settings.CLINIC_NAME}",
    }
    if message.channel == OutboxChannel.EMAIL:
        host = urlsplit((message.context or {}).get("base_url", "")).hostname
        now = timezone.now()
        events = [
            _course_event(item, host=host or "chairside.invalid", now=now) for item in appointments
        ]
        context["attachments"] = (
            ("appointments.ics", ics_events_calendar(events, now=now), "text/calendar"),
        )
    return _render("course_schedule", message, context)


# --- The kinds -----------------------------------------------------------------------------------

register(
    MessageKind(
        name=CONFIRMATION,
        render=lambda message: _render_appointment(message, change=CONFIRMATION),
        still_wanted=_booked_as_queued,
        transactional=True,
        description="Your consultation is booked (online booking)",
    )
)
register(
    MessageKind(
        name=MOVED,
        render=lambda message: _render_appointment(message, change=MOVED),
        still_wanted=_booked_as_queued,
        transactional=True,
        description="Your appointment has moved",
    )
)
register(
    MessageKind(
        name=CANCELLED,
        render=lambda message: _render_appointment(message, change=CANCELLED),
        still_wanted=_cancelled_as_queued,
        transactional=True,
        description="Your appointment is cancelled",
    )
)
register(
    MessageKind(
        name=WAITLIST_OFFER,
        render=_render_waitlist_offer,
        still_wanted=_offer_open,
        transactional=True,
        description="A time has opened up (waitlist)",
    )
)


register(
    MessageKind(
        name=COURSE_SCHEDULE,
        render=_render_course_schedule,
        still_wanted=_course_as_queued,
        transactional=True,
        description="Every date of a treatment course, with a calendar file",
    )
)


def _register_reminders() -> None:
    # Read in ``ready()`` (autodiscover), not at import of the settings: one kind per hour
    # count, so a reminder queued under one setting is still known after the setting changes
    # only if that hour count is still listed; otherwise it is skipped as an unknown kind.
    for hours in settings.REMINDER_HOURS:
        register(
            MessageKind(
                name=reminder_kind(hours),
                render=lambda message, hours=hours: _render_appointment(
                    message, change="reminder", hours=hours
                ),
                still_wanted=_booked_as_queued,
                transactional=True,
                # A reminder after the visit is no use: in quiet hours it goes before them.
                before_quiet_hours=True,
                description=f"Reminder {hours} hours before an appointment",
            )
        )


_register_reminders()
