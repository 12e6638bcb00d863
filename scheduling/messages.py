"""Messages about appointments and the waitlist: what there is, whether it is still wanted, how
it reads.

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
  (``course_schedule_enqueue``, called by ``scheduling.courses.series_booking.course_create``),
  the email with one .ics holding them all; sent again, under a new key, when a date changes.

All of these are transactional (``MessageKind.transactional``): the patient needs them, so
the daily and weekly caps on texts never hold them back and they do not count towards them.

When and how they are queued: ``scheduling.message_queue``.

Still wanted? A row names the start time it was written for, so a moved appointment's old
reminders are skipped as "moved"; a cancelled appointment's are skipped as "cancelled", and a
reminder whose time has passed as "past".

What they say (DOMAIN.md, "Messages to patients"): the clinic's name, the kind of visit in
the clinic's own fixed words (never the editable type name, which could name a drug), the
time on the location's clock with its zone, the place, how to reach us; infusion reminders
add what to bring and that an adult must drive the patient home. No name, no condition, no
drug. Templates under ``templates/messages/``.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from clinic.messaging.registry import MessageKind, NotWanted, Rendered, register
from clinic.models import OutboxChannel, OutboxMessage, OutboxStatus
from scheduling.booking.manage import manage_token
from scheduling.booking_terms import booking_agreed_policy
from scheduling.calendar_files import appointment_ics, course_ics
from scheduling.message_queue import (
    CANCELLED,
    CONFIRMATION,
    COURSE_SCHEDULE,
    MOVED,
    WAITLIST_OFFER,
    course_dates,
    dates_digest,
    reminder_kind,
)
from scheduling.models import (
    INFUSION_KINDS,
    Appointment,
    AppointmentKind,
    AppointmentStatus,
    TreatmentCourse,
    WaitlistEntry,
)
from scheduling.services.online_changes import appointment_online_change_deadline
from scheduling.wording import VISIT_WORDS, clock_text, when_text

SUBJECTS = {
    CONFIRMATION: "Your {what} is booked: {when}",
    MOVED: "Your {what} has moved: {when}",
    CANCELLED: "Your {what} on {when} is cancelled",
    "reminder": "Reminder: your {what} on {when}",
}


# --- Still wanted? ----------------------------------------------------------------------------


def _change_until(appointment: Appointment) -> str:
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
        # The cancellation was undone (scheduling.services.undo.appointment_undo).
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
    if dates_digest(course_dates(course)) != (message.context or {}).get("dates"):
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
    if message.channel == OutboxChannel.EMAIL and change == CONFIRMATION:
        # What the booker agreed to, word for word, to keep with the booking.
        context["policy"] = booking_agreed_policy(appointment)
    if message.channel == OutboxChannel.EMAIL and change != "reminder":
        host = urlsplit(base_url).hostname or "chairside.invalid"
        name = "consultation.ics" if visit == AppointmentKind.CONSULTATION else "appointment.ics"
        context["attachments"] = (
            (name, appointment_ics(appointment, host=host, url=manage_url), "text/calendar"),
        )
    return _render("appointment", message, context)


def _render_waitlist_offer(message: OutboxMessage) -> Rendered:
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
    local = moment.astimezone(location.tz)
    return f"{local:%a %b} {local.day}, {clock_text(local)}"


def _render_course_schedule(message: OutboxMessage) -> Rendered:
    course = _course(message)
    if course is None:
        raise ValueError("The course of this message no longer exists.")
    appointments = course_dates(course)
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
        context["attachments"] = (
            (
                "appointments.ics",
                course_ics(appointments, host=host or "chairside.invalid", now=now),
                "text/calendar",
            ),
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
