"""Online consultation booking for the public, under /book/ (``scheduling.views.booking``).

- What is offered: active locations, and the free times of the consultation type (the one
  appointment type ``bookable_online``) for the next ``BOOKING_HORIZON_DAYS`` days, a week at
  a time, on the location's own clock (``booking_week``).
- Who is booking: ``booking_submit`` matches the booker to a patient already on file (the
  same date of birth and last name, and the same email or mobile) or creates one, and never
  says which: the pages and the email are the same either way. A known patient's record is
  only filled in where it is blank, never overwritten by what an anonymous form says.
- Contact consent: each box ticked is recorded with the exact wording shown
  (``consent_wording``) when it is not already given; a box left unticked is recorded as
  "not given" only the first time the patient is asked, so a returning patient's earlier
  consent is not withdrawn by a form that cannot show it to them (withdrawing is explicit:
  STOP, or staff).
- Abuse and accidents: a form nonce makes a double submit return the first booking
  (``booking_replayed``), ``booking_rate_limit`` counts attempts per IP and per contact in
  Django's cache, and the view answers a filled-in honeypot as if it had booked.
- Manage links: a signed token naming the appointment (``manage_token``), usable until the
  appointment is over, to see it, download the .ics, and cancel or move it while
  ``appointment_patient_may_change`` allows.
- Messages: outbox rows in the booking's transaction (``scheduling.messages``). The booking
  queues the confirmation (with the manage link and the .ics) on the channels the booker
  ticked and the patient agreed to; ``appointment_book`` queues the reminders, and a cancel
  or move through the manage link queues its message in ``appointment_cancel`` or
  ``appointment_reschedule``. A message goes to the address on the patient's record when it
  is sent, so an anonymous form cannot send a known patient's messages elsewhere. Content
  is minimal (DOMAIN.md, "Messages to patients"): the clinic, the time with its zone, the
  address, how to reach us.
- The calendar file (``appointment_ics``): one event on the location's clock with the
  VTIMEZONE for its zone (``scheduling.ics``), so calendars show the right local time
  whatever their own zone and whatever happens to the clocks.
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
import time as clock
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from django.conf import settings
from django.core import signing
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Case, IntegerField, Q, QuerySet, Value, When
from django.http import Http404, HttpRequest
from django.utils import timezone

from clinic.models import Location
from clinic.selectors import location_hours_on, locations_public
from patients.chart import contact_consents_current
from patients.messages import patient_message_channels
from patients.models import Channel, Condition, Patient
from patients.services.records import (
    E164,
    PHONE_PUNCTUATION,
    contact_consent_record,
    patient_create,
    patient_update,
)
from patients.services.safety import safety_alert_for_booking_reason
from scheduling.availability import Slot, free_slots
from scheduling.message_queue import confirmation_enqueue
from scheduling.models import Appointment, AppointmentKind, AppointmentStatus, AppointmentType
from scheduling.services.book_and_reschedule import appointment_book, appointment_reschedule
from scheduling.services.free_time import SlotTaken
from scheduling.services.online_changes import appointment_patient_may_change
from scheduling.services.status_changes import appointment_cancel
from scheduling.services.status_rules import CANCEL_REASON_MAX_LENGTH
from scheduling.wording import clock_text, day_text, when_text, zone_on

logger = logging.getLogger(__name__)

Errors = dict[str, list[str]]

STEP_MINUTES = 15
DAYS_PER_WEEK = 7
CONSENT_METHOD = "online booking form"
CANCELLED_ONLINE = "cancelled by the patient online"
# What the patient may add to CANCELLED_ONLINE, so the whole reason fits the column.
CANCEL_NOTE_MAX_LENGTH = CANCEL_REASON_MAX_LENGTH - len(CANCELLED_ONLINE) - 2
# How much the booker may write in "Tell us a little more" (``Appointment.booking_note``).
BOOKING_NOTE_MAX_LENGTH = 500
TAKEN_MESSAGE = "Sorry, that time was just taken. Please choose another time."
SLOT_FORMAT = "%Y-%m-%dT%H:%MZ"
_SLOT_PATTERN = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}Z")
# A US or Canadian number typed without the country code, with or without the leading 1.
_NANP_NUMBER = re.compile(r"1?[2-9]\d{9}")

_MANAGE_SALT = "chairside.scheduling.booking.manage"
# A manage link stops working once its appointment is over. This is a backstop: no link
# lives longer, however often its appointment is moved.
_MANAGE_LINK_MAX_AGE = timedelta(days=400)
_NONCE_LIFETIME_SECONDS = 24 * 60 * 60
_HOUR_SECONDS = 60 * 60
_DAY_SECONDS = 24 * _HOUR_SECONDS
# First keys of pg_advisory_xact_lock(int, int) (scheduling.services uses 7304 and 7305):
# "this booking form" and "this person", taken in that order before any other lock.
_NONCE_LOCK = 7_306
_PERSON_LOCK = 7_307


# --- What is offered ---------------------------------------------------------------------


def booking_locations() -> QuerySet[Location]:
    """Active locations with their opening hours, for the first page (three queries)."""
    return locations_public().order_by("name")


def booking_location(public_id: uuid.UUID | str) -> Location:
    """An active location with its opening hours and closures prefetched, or 404."""
    location = booking_locations().filter(public_id=public_id).first()
    if location is None:
        raise Http404("No location taking online bookings has that id.")
    return location


def booking_consultation_type() -> AppointmentType | None:
    """The consultation type, if the clinic lets patients book it online."""
    return AppointmentType.objects.filter(
        kind=AppointmentKind.CONSULTATION, bookable_online=True
    ).first()


@dataclass(frozen=True)
class SlotDay:
    day: date
    zone: str  # the zone's abbreviation that day, e.g. CST
    slots: list[Slot]

    @property
    def label(self) -> str:
        return day_text(self.day)


@dataclass(frozen=True)
class BookingWeek:
    """One week of free times: ``number`` 0 is the week starting today (local)."""

    number: int
    count: int
    first_day: date
    last_day: date
    days: list[SlotDay]

    @property
    def has_previous(self) -> bool:
        return self.number > 0

    @property
    def has_next(self) -> bool:
        return self.number + 1 < self.count

    @property
    def slot_count(self) -> int:
        return sum(len(day.slots) for day in self.days)


def booking_week(
    *,
    location: Location,
    appointment_type: AppointmentType,
    week: int = 0,
    patient: Patient | None = None,
    excluding: Appointment | None = None,
) -> BookingWeek:
    """The free times in week ``week`` of the booking horizon (today to today +
    BOOKING_HORIZON_DAYS, local), grouped by local day. ``week`` is clamped into range.
    A fixed number of queries (``free_slots``) however many appointments there are."""
    today = location.local_now().date()
    last = today + timedelta(days=settings.BOOKING_HORIZON_DAYS)
    count = (last - today).days // DAYS_PER_WEEK + 1
    week = min(max(week, 0), count - 1)
    first_day = today + timedelta(days=week * DAYS_PER_WEEK)
    last_day = min(first_day + timedelta(days=DAYS_PER_WEEK - 1), last)
    slots = free_slots(
        location=location,
        appointment_type=appointment_type,
        start_date=first_day,
        end_date=last_day,
        patient=patient,
        step_minutes=STEP_MINUTES,
        excluding=excluding,
    )
    by_day: dict[date, list[Slot]] = defaultdict(list)
    for slot in slots:
        by_day[slot.local_start.date()].append(slot)
    days = []
    day = first_day
    while day <= last_day:
        days.append(SlotDay(day=day, zone=zone_on(location, day), slots=by_day.get(day, [])))
        day += timedelta(days=1)
    return BookingWeek(number=week, count=count, first_day=first_day, last_day=last_day, days=days)


def booking_week_of(location: Location, starts_at: datetime) -> int:
    """Which week of the horizon ``starts_at`` falls in (0 if it has passed)."""
    days = (starts_at.astimezone(location.tz).date() - location.local_now().date()).days
    return max(days, 0) // DAYS_PER_WEEK


def slot_value(starts_at: datetime) -> str:
    """A start time as it travels in URLs and forms: UTC to the minute."""
    return starts_at.astimezone(UTC).strftime(SLOT_FORMAT)


def slot_parse(text: str | None) -> datetime | None:
    """The start time ``slot_value`` wrote, or None for anything else."""
    if not text or not _SLOT_PATTERN.fullmatch(text):
        return None
    try:
        return datetime.strptime(text, SLOT_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        return None


# --- Showing times and places --------------------------------------------------------------


_WEEKDAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]


def opening_hours_lines(location: Location) -> list[str]:
    """One line per run of weekdays with the same hours, e.g. "Mon-Fri: 8:00 AM - 6:00 PM"
    (with en dashes) and "Sat-Sun: Closed". Uses prefetched opening hours."""
    hours = {row.weekday: row for row in location.opening_hours.all()}
    groups: list[list[Any]] = []  # [first weekday, last weekday, text]
    for weekday in range(7):
        row = hours.get(weekday)
        text = f"{clock_text(row.opens_at)} – {clock_text(row.closes_at)}" if row else "Closed"
        if groups and groups[-1][2] == text:
            groups[-1][1] = weekday
        else:
            groups.append([weekday, weekday, text])
    return [
        f"{_WEEKDAYS[first]}{'' if first == last else '–' + _WEEKDAYS[last]}: {text}"
        for first, last, text in groups
    ]


@dataclass(frozen=True)
class BookingSummary:
    """What the patient is shown about a booking, on pages and in emails. Nothing
    clinical: the kind of visit, when (with the zone), where, how to reach the clinic."""

    what: str
    when: str
    starts_at: datetime
    duration_minutes: int
    time_zone: str
    location_name: str
    address_lines: list[str]
    phone: str
    email: str
    clinic_name: str
    is_cancelled: bool


def booking_summary(appointment: Appointment) -> BookingSummary:
    location = appointment.location
    return BookingSummary(
        what=appointment.appointment_type.name,
        when=when_text(appointment.starts_at, location),
        starts_at=appointment.starts_at,
        duration_minutes=appointment.appointment_type.duration_minutes,
        time_zone=location.time_zone,
        location_name=location.name,
        address_lines=location.address_lines,
        phone=location.phone,
        email=location.email,
        clinic_name=settings.CLINIC_NAME,
        is_cancelled=appointment.status == AppointmentStatus.CANCELLED,
    )


# --- Contact details and consent wording -------------------------------------------------------


def mobile_normalise(text: str) -> str:
    """A mobile number in E.164, the patients' records rule, also accepting the ways people
    in the US write theirs: (312) 555-0142, 312.555.0142, 1-312-555-0142."""
    number = PHONE_PUNCTUATION.sub("", (text or "").strip())
    if number.startswith("00"):
        number = "+" + number[2:]
    if _NANP_NUMBER.fullmatch(number):
        number = "+1" + number[-10:]
    if not E164.fullmatch(number):
        raise ValidationError(
            "Enter your mobile number with its area code, e.g. (312) 555-0142, or from outside "
            "the US with + and the country code, e.g. +44 7700 900123."
        )
    return number


def consent_wording(channel: Channel | str) -> str:
    """The exact sentence next to each consent box, stored with the consent given."""
    clinic = settings.CLINIC_NAME
    if channel == Channel.SMS:
        return (
            f"Yes, {clinic} may send text messages about my appointments (such as reminders) "
            "to the mobile number above. Message and data rates may apply. I can reply STOP "
            "at any time to stop them."
        )
    return (
        f"Yes, {clinic} may email me about my appointments (such as confirmations and "
        "reminders) at the email address above. I can ask them to stop at any time."
    )


# --- Rate limits -------------------------------------------------------------------------------


class RateLimited(Exception):
    """Too many booking attempts from one place or for one contact; ``str()`` says what to
    do, ``retry_after`` is in seconds."""

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def booking_rate_limit(*, ip: str | None, email: str, mobile: str, location: Location) -> None:
    """Count one booking attempt from ``ip`` for ``email`` and ``mobile``, or raise
    ``RateLimited`` (counting nothing) when one of them has used its share:
    BOOKING_LIMIT_PER_IP_PER_HOUR (5) from one address in an hour, and
    BOOKING_LIMIT_PER_CONTACT_PER_DAY (3) for one email address or mobile number in a day.

    Sliding windows kept in Django's cache (keys are hashes: no contact details in the
    cache). Read and write are not atomic, so a burst of parallel requests may pass a
    request or two over the limit: good enough to stop abuse, which is its purpose."""
    per_ip = getattr(settings, "BOOKING_LIMIT_PER_IP_PER_HOUR", 5)
    per_contact = getattr(settings, "BOOKING_LIMIT_PER_CONTACT_PER_DAY", 3)
    now = clock.time()
    checks = [("ip", ip or "unknown", per_ip, _HOUR_SECONDS)]
    checks += [("contact", value, per_contact, _DAY_SECONDS) for value in (email, mobile) if value]
    counted = []
    for kind, value, limit, window in checks:
        key = _rate_key(kind, value)
        recent = sorted(hit for hit in cache.get(key, []) if hit > now - window)
        if len(recent) >= limit:
            # When enough of these hits have aged out of the window to allow one more.
            retry_after = max(int(recent[-limit] + window - now) + 1, 1)
            raise RateLimited(
                _rate_message(kind, limit, retry_after, location), retry_after=retry_after
            )
        counted.append((key, recent, window))
    for key, recent, window in counted:
        cache.set(key, [*recent, now], timeout=window)


def _rate_key(kind: str, value: str) -> str:
    digest = hashlib.sha256(value.strip().lower().encode()).hexdigest()
    return f"chairside:booking:rate:{kind}:{digest}"


def _rate_message(kind: str, limit: int, retry_after: int, location: Location) -> str:
    call = f"call {location.name} on {location.phone}"
    if kind == "ip":
        minutes = max((retry_after + 59) // 60, 1)
        return (
            f"There have been {limit} booking attempts from your internet connection in the "
            f"last hour, which is as many as we accept. Please try again in {minutes} "
            f"minute{'s' if minutes != 1 else ''}, or {call} to book."
        )
    return (
        f"This email address or mobile number has been used for {limit} booking attempts "
        f"in the last 24 hours, which is as many as we accept. Please {call} to book, or try "
        "again tomorrow."
    )


# --- Booking ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class BookingDetails:
    """What the booker typed, already parsed (``mobile`` in E.164, ``email`` lower case).
    ``condition`` is a ``patients.models.Condition`` value, or "" for "not sure"."""

    legal_first_name: str
    legal_last_name: str
    date_of_birth: date
    sex_at_birth: str
    email: str
    mobile: str
    condition: str
    consent_sms: bool
    consent_email: bool
    # In the booker's own words, optional: read for safety triage and kept on the
    # appointment for the staff (``booking_submit``).
    reason: str = ""


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
    ``TAKEN_MESSAGE`` and the nearest free times (nothing saved)."""
    _advisory_lock(_NONCE_LOCK, nonce)
    replayed = booking_replayed(nonce)
    if replayed is not None:
        return replayed
    errors = booking_slot_errors(
        location=location, appointment_type=appointment_type, starts_at=starts_at
    )
    if len(details.reason) > BOOKING_NOTE_MAX_LENGTH:
        errors["reason"] = [
            f"Please keep this to {BOOKING_NOTE_MAX_LENGTH} characters (it has "
            f"{len(details.reason)}): you can tell the physician more at the consultation."
        ]
    try:
        patient = _patient_match_or_create(details=details, location=location, request=request)
    except ValidationError as exc:
        _merge(errors, exc)
        patient = None
    if errors or patient is None:
        raise ValidationError(errors or {"__all__": ["Please check the form and try again."]})
    _consents_record(patient=patient, details=details, request=request)
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
    ticked = {Channel.EMAIL: details.consent_email, Channel.SMS: details.consent_sms}
    confirmation_enqueue(
        appointment,
        channels=[channel for channel in patient_message_channels(patient) if ticked[channel]],
        base_url=settings.SITE_URL or base_url,
    )
    return appointment


def booking_slot_errors(
    *, location: Location, appointment_type: AppointmentType, starts_at: datetime
) -> Errors:
    """Why ``starts_at`` is not a time the public can book at ``location``, keyed
    "starts_at": passed, beyond the horizon, or not one of the offered times (outside the
    opening hours, or off the slot grid, as a hand-edited value would be). Whether it is
    still free is the booking's to find out."""
    if starts_at <= timezone.now():
        return {"starts_at": ["That time has passed. Please choose a later time."]}
    local = starts_at.astimezone(location.tz)
    horizon = settings.BOOKING_HORIZON_DAYS
    if local.date() > location.local_now().date() + timedelta(days=horizon):
        return {
            "starts_at": [
                f"Online booking is open for the next {horizon} days. Please choose an earlier "
                f"time, or call {location.name} on {location.phone}."
            ]
        }
    hours = location_hours_on(location, local.date())
    end = (starts_at + appointment_type.occupied).astimezone(location.tz)
    inside = (
        hours.is_open
        and hours.opens_at is not None
        and hours.closes_at is not None
        and hours.opens_at <= local.time()
        and end.date() == local.date()
        and end.time() <= hours.closes_at
    )
    if not inside or not _on_grid(local, hours.opens_at):
        return {
            "starts_at": [
                f"{location.name} does not offer a {appointment_type.name.lower()} at that "
                "time. Please choose one of the times listed."
            ]
        }
    return {}


def _on_grid(local: datetime, opens_at: time | None) -> bool:
    if opens_at is None or local.second or local.microsecond:
        return False
    minutes = local.hour * 60 + local.minute - (opens_at.hour * 60 + opens_at.minute)
    return minutes % STEP_MINUTES == 0


def _patient_match_or_create(
    *, details: BookingDetails, location: Location, request: HttpRequest | None
) -> Patient:
    """The patient this is, or a new one. Only blanks in a known record are filled in."""
    last_name = details.legal_last_name.strip()
    _advisory_lock(_PERSON_LOCK, f"{details.date_of_birth}|{last_name.lower()}")
    patient = patient_match(
        last_name=last_name,
        date_of_birth=details.date_of_birth,
        email=details.email,
        mobile=details.mobile,
    )
    conditions = [details.condition] if details.condition else []
    if patient is None:
        return patient_create(
            actor=None,
            legal_first_name=details.legal_first_name,
            legal_last_name=last_name,
            date_of_birth=details.date_of_birth,
            sex_at_birth=details.sex_at_birth,
            email=details.email,
            mobile=details.mobile,
            conditions=conditions,
            preferred_location=location,
            request=request,
        )
    blanks: dict[str, Any] = {}
    if not patient.email:
        blanks["email"] = details.email
    if not patient.mobile:
        blanks["mobile"] = details.mobile
    if not patient.conditions and conditions:
        blanks["conditions"] = conditions
    if patient.preferred_location_id is None:
        blanks["preferred_location"] = location
    if not blanks:
        return patient
    return patient_update(actor=None, patient=patient, request=request, **blanks)


def patient_match(
    *, last_name: str, date_of_birth: date, email: str, mobile: str
) -> Patient | None:
    """The patient on file with this date of birth and last name (any case) and this email
    or mobile (both already normalised); an email match first, then the oldest record."""
    contact = Q(pk__in=[])
    if email:
        contact |= Q(email__iexact=email)
    if mobile:
        contact |= Q(mobile=mobile)
    return (
        Patient.objects.filter(
            contact,
            date_of_birth=date_of_birth,
            legal_last_name__iexact=last_name.strip(),
        )
        .annotate(
            by_email=Case(
                When(email__iexact=email, then=Value(0)),
                default=Value(1),
                output_field=IntegerField(),
            )
        )
        .order_by("by_email", "created_at", "id")
        .first()
    )


def _consents_record(
    *, patient: Patient, details: BookingDetails, request: HttpRequest | None
) -> None:
    """A ticked box is recorded when consent is not already given; an unticked one only when
    the patient was never asked on that channel (see the module docstring)."""
    current = {entry.channel: entry.latest for entry in contact_consents_current(patient)}
    for channel, ticked in (
        (Channel.SMS, details.consent_sms),
        (Channel.EMAIL, details.consent_email),
    ):
        latest = current.get(channel)
        if latest is not None and (latest.granted or not ticked):
            continue
        contact_consent_record(
            actor=None,
            patient=patient,
            channel=channel,
            granted=ticked,
            method=CONSENT_METHOD,
            wording=consent_wording(channel),
            request=request,
        )


# --- Manage links ------------------------------------------------------------------------------


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


# --- Changes through a manage link ---------------------------------------------------------------


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


# --- Helpers ------------------------------------------------------------------------------


def _nonce_key(nonce: str) -> str:
    return "chairside:booking:nonce:" + hashlib.sha256(nonce.encode()).hexdigest()


def _advisory_lock(first_key: int, value: str) -> None:
    """Hold others off ``value`` until this transaction ends (a stable 31-bit hash of it)."""
    if not value:
        return
    second_key = int.from_bytes(hashlib.sha256(value.encode()).digest()[:4], "big") % 2**31
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [first_key, second_key])


def _merge(errors: Errors, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for field, messages in exc.message_dict.items():
            errors.setdefault(field, []).extend(messages)
    else:
        errors.setdefault("__all__", []).extend(exc.messages)
