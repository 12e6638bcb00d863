"""Manage links: a signed token naming an online booking (``manage_token``), usable until the
appointment is over, to see it, download the .ics, and cancel or move it while
``appointment_patient_may_change`` allows; and the decoy token shown to a bot that filled in
the honeypot. A cancel or move through the link queues its message in ``appointment_cancel``
or ``appointment_reschedule``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.core import signing
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from clinic.models import Location
from scheduling.booking.offer import (
    TAKEN_MESSAGE,
    booking_consultation_type,
    booking_slot_errors,
    slot_parse,
    slot_value,
)
from scheduling.models import Appointment
from scheduling.services.book_and_reschedule import appointment_reschedule
from scheduling.services.free_time import SlotTaken
from scheduling.services.online_changes import appointment_patient_may_change
from scheduling.services.status_changes import appointment_cancel
from scheduling.services.status_rules import CANCEL_REASON_MAX_LENGTH

CANCELLED_ONLINE = "cancelled by the patient online"
# What the patient may add to CANCELLED_ONLINE, so the whole reason fits the column.
CANCEL_NOTE_MAX_LENGTH = CANCEL_REASON_MAX_LENGTH - len(CANCELLED_ONLINE) - 2

_MANAGE_SALT = "chairside.scheduling.booking.manage"
# A manage link stops working once its appointment is over. This is a backstop: no link
# lives longer, however often its appointment is moved.
_MANAGE_LINK_MAX_AGE = timedelta(days=400)


class ManageLinkError(Exception):
    """A manage link that cannot be used; ``str()`` says what to do, ``status`` is 404 for a
    link that never was valid and 410 for one that no longer works."""

    def __init__(self, message: str, *, status: int) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class ManageLink:
    """What a token stands for: an appointment, or (for a honeypot decoy) an unsaved one,
    and whether the booker asked for email (for the confirmation page's wording)."""

    appointment: Appointment
    emailed: bool
    is_decoy: bool


def manage_token(appointment: Appointment, *, emailed: bool = False) -> str:
    return signing.dumps(
        {"a": str(appointment.public_id), "e": int(emailed)}, salt=_MANAGE_SALT, compress=True
    )


def decoy_token(*, location: Location, starts_at: datetime, emailed: bool) -> str:
    """A token for the confirmation page shown to a bot that filled in the honeypot: it looks
    like a booking's and leads nowhere."""
    return signing.dumps(
        {"d": [str(location.public_id), slot_value(starts_at)], "e": int(emailed)},
        salt=_MANAGE_SALT,
        compress=True,
    )


_NOT_VALID = (
    "This link is not valid. Check that you copied the whole link from your email, or call "
    "the clinic and we will help."
)


def manage_link(token: str, *, allow_decoy: bool = False) -> ManageLink:
    """The booking a manage token stands for, or ``ManageLinkError``: 404 when altered or
    made up, 410 once the appointment is over."""
    try:
        payload = signing.loads(
            token, salt=_MANAGE_SALT, max_age=_MANAGE_LINK_MAX_AGE.total_seconds()
        )
    except signing.SignatureExpired:
        raise ManageLinkError(_passed(), status=410) from None
    except signing.BadSignature:
        raise ManageLinkError(_NOT_VALID, status=404) from None
    if not isinstance(payload, dict):
        raise ManageLinkError(_NOT_VALID, status=404)
    emailed = bool(payload.get("e"))
    if "d" in payload:
        if not allow_decoy:
            raise ManageLinkError(_NOT_VALID, status=404)
        return ManageLink(appointment=_decoy(payload["d"]), emailed=emailed, is_decoy=True)
    try:
        appointment = (
            Appointment.objects.select_related("location", "appointment_type", "patient")
            .filter(public_id=payload.get("a"), source=Appointment.Source.ONLINE)
            .first()
        )
    except (ValidationError, ValueError):
        appointment = None
    if appointment is None:
        raise ManageLinkError(_NOT_VALID, status=404)
    if appointment.blocks_until <= timezone.now():
        raise ManageLinkError(_passed(appointment.location), status=410)
    return ManageLink(appointment=appointment, emailed=emailed, is_decoy=False)


def _passed(location: Location | None = None) -> str:
    call = f"call {location.name} on {location.phone}" if location else "call the clinic"
    return (
        "This link has expired because the appointment it was for is over. To book another "
        f"appointment, start again from the booking page or {call}."
    )


def _decoy(values: Any) -> Appointment:
    try:
        location_id, value = values
        location = Location.objects.get(public_id=location_id)
    except (ValueError, TypeError, ValidationError, Location.DoesNotExist):
        raise ManageLinkError(_NOT_VALID, status=404) from None
    starts_at = slot_parse(value)
    consultation = booking_consultation_type()
    if starts_at is None or consultation is None:
        raise ManageLinkError(_NOT_VALID, status=404)
    return Appointment(
        location=location,
        appointment_type=consultation,
        starts_at=starts_at,
        ends_at=starts_at + consultation.duration,
        blocks_until=starts_at + consultation.occupied,
        source=Appointment.Source.ONLINE,
    )


def _refuse_unless_patient_may_change(appointment: Appointment) -> None:
    allowed, why = appointment_patient_may_change(appointment)
    if not allowed:
        raise ValidationError(why)


@transaction.atomic
def booking_cancel(
    *,
    appointment: Appointment,
    note: str = "",
    base_url: str,
    request: HttpRequest | None = None,
) -> Appointment:
    """The patient cancels through their manage link, within the clinic's notice period.
    The reason is "cancelled by the patient online", with their note if they gave one.
    ``appointment_cancel`` queues the message; its links come from ``SITE_URL`` or
    ``request`` (``base_url`` is kept for callers and no longer used)."""
    current = (
        Appointment.objects.select_for_update(of=("self",))
        .select_related("location", "appointment_type", "patient")
        .get(pk=appointment.pk)
    )
    _refuse_unless_patient_may_change(current)
    note = " ".join((note or "").split())
    if len(note) > CANCEL_NOTE_MAX_LENGTH:
        raise ValidationError(
            {
                "note": [
                    f"Please keep the reason to {CANCEL_NOTE_MAX_LENGTH} characters (it has "
                    f"{len(note)}), or leave it empty."
                ]
            }
        )
    reason = f"{CANCELLED_ONLINE}: {note}" if note else CANCELLED_ONLINE
    return appointment_cancel(actor=None, appointment=current, reason=reason, request=request)


@transaction.atomic
def booking_reschedule(
    *,
    appointment: Appointment,
    starts_at: datetime,
    base_url: str,
    request: HttpRequest | None = None,
) -> Appointment:
    """The patient moves their consultation to another free time through their manage
    link, within the clinic's notice period. ``SlotTaken`` carries ``TAKEN_MESSAGE``.
    ``appointment_reschedule`` queues the message and the new reminders; their links come
    from ``SITE_URL`` or ``request`` (``base_url`` is kept for callers and no longer used)."""
    _refuse_unless_patient_may_change(appointment)
    errors = booking_slot_errors(
        location=appointment.location,
        appointment_type=appointment.appointment_type,
        starts_at=starts_at,
    )
    if errors:
        raise ValidationError(errors)
    try:
        moved = appointment_reschedule(
            actor=None, appointment=appointment, starts_at=starts_at, request=request
        )
    except SlotTaken as taken:
        raise SlotTaken(TAKEN_MESSAGE, taken.alternatives) from None
    return moved
