"""Messages about appointments and the waitlist: what there is, when it is queued, how it reads.

Kinds (``clinic.messaging.registry``), each by email and by text:

- ``consultation_confirmation``: a consultation booked online (``scheduling.booking``); the
  email has the manage link and the .ics.
- ``appointment_moved`` and ``appointment_cancelled``: any appointment still to come that
  staff or the patient moved or cancelled (``scheduling.services``); emails carry the .ics
  that updates the calendar entry (and, for online bookings, the manage link).
- ``reminder_<h>h`` for each ``REMINDER_HOURS`` (48 and 2): every appointment, queued when
  it is booked or moved, due ``h`` hours before it starts.
- ``waitlist_offer``: a freed time offered to a waitlisted patient.

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

from clinic.messaging.outbox import outbox_enqueue
from clinic.messaging.registry import MessageKind, NotWanted, Rendered, register
from clinic.models import OutboxChannel, OutboxMessage, OutboxStatus
from patients.messages import patient_message_channels
from scheduling.models import Appointment, AppointmentKind, AppointmentStatus, WaitlistEntry

CONFIRMATION = "consultation_confirmation"
MOVED = "appointment_moved"
CANCELLED = "appointment_cancelled"
WAITLIST_OFFER = "waitlist_offer"

# The kind of visit in the clinic's fixed words: nothing an admin can rename.
VISIT_WORDS = {
    AppointmentKind.CONSULTATION: "consultation",
    AppointmentKind.INFUSION: "infusion appointment",
    AppointmentKind.BOOSTER: "infusion appointment",
    AppointmentKind.FOLLOW_UP: "follow-up visit",
}
INFUSION_KINDS = frozenset({AppointmentKind.INFUSION, AppointmentKind.BOOSTER})

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
    OutboxMessage.objects.filter(
        pk=message.pk, status=OutboxStatus.SKIPPED, skip_reason="moved"
    ).update(
        status=OutboxStatus.PENDING,
        skip_reason="",
        skip_detail="",
        not_before=not_before or timezone.now(),
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
    the new time) or cancelled (``CANCELLED``). Nothing for one already started or past."""
    if appointment.starts_at <= timezone.now():
        return []
    step = "moved" if kind == MOVED else "cancelled"
    return _enqueue_for_appointment(
        appointment,
        kind=kind,
        step=step,
        channels=patient_message_channels(appointment.patient),
        useful_until=appointment.starts_at,
        base_url=base_url,
    )


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


# --- Still wanted? ----------------------------------------------------------------------------


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
    return _past(message, appointment.starts_at)


def _offer_open(message: OutboxMessage) -> NotWanted | None:
    entry = WaitlistEntry.objects.filter(public_id=(message.context or {}).get("entry")).first()
    if entry is None or entry.state != WaitlistEntry.State.OFFERED:
        return NotWanted("not_wanted", "The waitlist offer was taken back or answered.")
    return _past(message, _context_time(message, "starts_at"))


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
        "cancel_notice_hours": settings.CANCEL_NOTICE_HOURS,
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


# --- The kinds -----------------------------------------------------------------------------------

register(
    MessageKind(
        name=CONFIRMATION,
        render=lambda message: _render_appointment(message, change=CONFIRMATION),
        still_wanted=_booked_as_queued,
        description="Your consultation is booked (online booking)",
    )
)
register(
    MessageKind(
        name=MOVED,
        render=lambda message: _render_appointment(message, change=MOVED),
        still_wanted=_booked_as_queued,
        description="Your appointment has moved",
    )
)
register(
    MessageKind(
        name=CANCELLED,
        render=lambda message: _render_appointment(message, change=CANCELLED),
        still_wanted=_cancelled_as_queued,
        description="Your appointment is cancelled",
    )
)
register(
    MessageKind(
        name=WAITLIST_OFFER,
        render=_render_waitlist_offer,
        still_wanted=_offer_open,
        description="A time has opened up (waitlist)",
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
                description=f"Reminder {hours} hours before an appointment",
            )
        )


_register_reminders()
