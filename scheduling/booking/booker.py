"""Who is booking: the booker matched to a patient already on file (the same date of birth and
last name, and the same email or mobile) or a new patient, without ever saying which; and
their contact consent, each box recorded with
the exact wording shown (``consent_wording``).

A known patient's record is only filled in where it is blank, never overwritten by what an
anonymous form says. A box left unticked is recorded as "not given" only the first time the
patient is asked, so a returning patient's earlier consent is not withdrawn by a form that
cannot show it to them (withdrawing is explicit: STOP, or staff)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from django.conf import settings
from django.db.models import Case, IntegerField, Q, Value, When
from django.http import HttpRequest

from clinic.models import Location
from patients.models import Channel, Patient
from patients.selectors import contact_consents_current
from patients.services.contact_consent import contact_consent_record
from patients.services.details import patient_create, patient_update
from scheduling.services.locks import advisory_lock

CONSENT_METHOD = "online booking form"
# First key of pg_advisory_xact_lock(int, int) for "this person" (``scheduling.services.locks``
# lists the others), taken after the booking form's and before any other lock.
_PERSON_LOCK = 7_307


@dataclass(frozen=True)
class BookingDetails:
    """What the booker typed, already parsed (``mobile`` in E.164, ``email`` lower case).
    ``condition`` is a ``clinic.conditions.Condition`` value, or "" for "not sure"."""

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


def patient_match_or_create(
    *, details: BookingDetails, location: Location, request: HttpRequest | None
) -> Patient:
    """The patient this is, or a new one. Only blanks in a known record are filled in."""
    last_name = details.legal_last_name.strip()
    advisory_lock(_PERSON_LOCK, f"{details.date_of_birth}|{last_name.lower()}")
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


def consents_record(
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
