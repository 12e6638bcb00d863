"""Booking a consultation from the public form, all or nothing: the patient matched or created
(``booker``), consent recorded, the time booked through ``appointment_book``, a safety alert
raised when the reason mentions self-harm, and the confirmation queued. A form nonce makes a
double submit return the first booking (``booking_replayed``)."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest

from clinic.conditions import Condition
from clinic.models import Location
from patients.messages import patient_message_channels
from patients.models import Channel
from patients.services.safety import safety_alert_for_booking_reason
from scheduling.booking.booker import BookingDetails, consents_record, patient_match_or_create
from scheduling.booking.offer import TAKEN_MESSAGE, Errors, booking_slot_errors
from scheduling.booking_terms import BookingTerms, booking_terms_record
from scheduling.message_queue import confirmation_enqueue
from scheduling.models import Appointment, AppointmentType
from scheduling.services.book_and_reschedule import appointment_book
from scheduling.services.free_time import SlotTaken, free_slot_or_refuse
from scheduling.services.locks import advisory_lock

# How much the booker may write in "Tell us a little more" (``Appointment.booking_note``).
BOOKING_NOTE_MAX_LENGTH = 500
_NONCE_LIFETIME_SECONDS = 24 * 60 * 60
# First key of pg_advisory_xact_lock(int, int) for "this booking form" (``scheduling.services.
# locks`` lists the others), taken before any other lock.
_NONCE_LOCK = 7_306
POLICY_CHANGED = (
    "The clinic updated its cancellation and no-show policy while you were reading it: "
    "please read it again and tick the box to agree to it."
)
POLICY_NOT_AGREED = (
    "Please read the cancellation and no-show policy and tick the box to agree to it: the "
    "time can't be booked online without it."
)


def booking_nonce() -> str:
    """A fresh key for one booking form: the same form sent twice books once."""
    return secrets.token_urlsafe(18)


def booking_replayed(nonce: str) -> Appointment | None:
    """The appointment a booking form with this nonce already made, if any."""
    if not nonce:
        return None
    public_id = cache.get(_nonce_key(nonce))
    if public_id is None:
        return None
    return (
        Appointment.objects.select_related("location", "appointment_type")
        .filter(public_id=public_id, source=Appointment.Source.ONLINE)
        .first()
    )


@transaction.atomic
def booking_submit(
    *,
    location: Location,
    appointment_type: AppointmentType,
    starts_at: datetime,
    details: BookingDetails,
    nonce: str,
    base_url: str,
    request: HttpRequest | None = None,
    terms: BookingTerms | None = None,
    agreed: bool = False,
) -> Appointment:
    """Book a consultation for whoever filled in the form, all or nothing.

    Matches or creates the patient (without saying which), records consent changes, books
    through ``appointment_book`` (actor None, source "online", which queues the reminders)
    and queues the confirmation on each channel the booker ticked (email, text) that the
    patient agrees to and has an address for. ``base_url`` makes the manage link in it. A
    form sent again with the same ``nonce`` returns the appointment it made the first time.

    Triage: when the reason (what they want help with, in their words or from the list)
    mentions suicide or self-harm, the booking raises a safety alert, the same as PHQ-9
    question 9, with the urgent on-call email (``safety_alert_for_booking_reason``); the
    booking stands, and its confirmation page shows the crisis line first.

    The reason in their words is kept on the appointment (``booking_note``, at most
    BOOKING_NOTE_MAX_LENGTH characters): the form promises it helps us get them the right
    help, so the staff read it (``scheduling.selectors.booking_note_for``). It is not written
    to the patient's record otherwise, nor to a log, an audit summary or a patient's page.

    Raises ``ValidationError`` keyed by form field (nothing saved) and ``SlotTaken`` with
    ``TAKEN_MESSAGE`` and the nearest free times (nothing saved). A time already taken is
    refused before anything else is done, so a crowd asking for one time is answered
    quickly (the booking itself checks again, under its locks).

    ``terms`` (``scheduling.booking_terms``): the location's policy, which the booker must
    have ``agreed`` to (kept with its wording), and a card or deposit to give first: then the
    time is held, and the confirmation waits until they have (the keeper sends it)."""
    advisory_lock(_NONCE_LOCK, nonce)
    replayed = booking_replayed(nonce)
    if replayed is not None:
        return replayed
    errors = booking_slot_errors(
        location=location, appointment_type=appointment_type, starts_at=starts_at
    )
    if not errors:
        _refuse_if_taken(location=location, appointment_type=appointment_type, starts_at=starts_at)
    if len(details.reason) > BOOKING_NOTE_MAX_LENGTH:
        errors["reason"] = [
            f"Please keep this to {BOOKING_NOTE_MAX_LENGTH} characters (it has "
            f"{len(details.reason)}): you can tell the physician more at the consultation."
        ]
    if terms is not None and terms.policy and not agreed:
        errors["agree_policy"] = [POLICY_NOT_AGREED]
    try:
        patient = patient_match_or_create(details=details, location=location, request=request)
    except ValidationError as exc:
        _merge(errors, exc)
        patient = None
    if errors or patient is None:
        raise ValidationError(errors or {"__all__": ["Please check the form and try again."]})
    consents_record(patient=patient, details=details, request=request)
    try:
        appointment = appointment_book(
            actor=None,
            patient=patient,
            location=location,
            appointment_type=appointment_type,
            starts_at=starts_at,
            source=Appointment.Source.ONLINE,
            booking_note=details.reason,
            request=request,
        )
    except SlotTaken as taken:
        # The service's own words may mention the patient's other appointments; the booker
        # must not learn from them whether they were known.
        raise SlotTaken(TAKEN_MESSAGE, taken.alternatives) from None
    safety_alert_for_booking_reason(
        patient=patient,
        appointment=appointment,
        reason=details.reason,
        help_with=Condition(details.condition).label if details.condition else "",
        request=request,
    )
    if nonce:
        cache.set(_nonce_key(nonce), str(appointment.public_id), _NONCE_LIFETIME_SECONDS)
    if terms is not None:
        booking_terms_record(appointment=appointment, terms=terms, request=request)
        if terms.holds_the_time:
            return appointment
    ticked = {Channel.EMAIL: details.consent_email, Channel.SMS: details.consent_sms}
    confirmation_enqueue(
        appointment,
        channels=[channel for channel in patient_message_channels(patient) if ticked[channel]],
        base_url=settings.SITE_URL or base_url,
    )
    return appointment


def _refuse_if_taken(
    *, location: Location, appointment_type: AppointmentType, starts_at: datetime
) -> None:
    """``SlotTaken`` with ``TAKEN_MESSAGE`` when nobody could book ``starts_at`` now, as far
    as the committed bookings say (no lock: the booking checks again under its own). Any
    other reason the time can't be booked is left to the booking to say, with the form's
    other problems."""
    try:
        free_slot_or_refuse(
            location=location, appointment_type=appointment_type, starts_at=starts_at, patient=None
        )
    except ValidationError:
        return
    except SlotTaken as taken:
        raise SlotTaken(TAKEN_MESSAGE, taken.alternatives) from None


def _nonce_key(nonce: str) -> str:
    return "chairside:booking:nonce:" + hashlib.sha256(nonce.encode()).hexdigest()


def _merge(errors: Errors, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for field, messages in exc.message_dict.items():
            errors.setdefault(field, []).extend(messages)
    else:
        errors.setdefault("__all__", []).extend(exc.messages)
