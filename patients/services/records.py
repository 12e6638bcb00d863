"""Writes to the patient record: details, contact consent, measurements and questionnaires.

Each service checks its input first and raises ``ValidationError`` keyed by field, with
a message that says what to fix; nothing is saved then. Every change is recorded with
``audit_record``: patient records by ``public_id`` only, and summaries name the fields
that changed, never their values. Who may call a service is decided by the caller
(views check ``clinic.permissions`` and ``patients.selectors``).
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any, TypedDict, Unpack

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from clinic.audit import Action, audit_record, changed_fields_summary
from clinic.models import Location, User
from clinic.permissions import Capability, require, user_can
from clinic.phones import phone_e164
from patients.models import (
    Channel,
    CommunicationConsent,
    Condition,
    Measurement,
    Patient,
    PatientLink,
    PatientStatus,
    QuestionnaireResponse,
    SafetyAlert,
    SexAtBirth,
)
from patients.questionnaires import Instrument, QuestionnaireError, definition_for, score
from patients.services.safety import safety_alert_raise

Errors = dict[str, list[str]]

OLDEST_AGE_YEARS = 120
WEIGHT_RANGE_KG = (Decimal(30), Decimal(300))
HEIGHT_RANGE_CM = (Decimal(100), Decimal(250))
# Readings a few minutes "in the future" are clock drift between devices, not typos.
CLOCK_SKEW = timedelta(minutes=5)


# --- Patient details -----------------------------------------------------------------


class PatientDetails(TypedDict, total=False):
    legal_first_name: str
    legal_last_name: str
    preferred_name: str
    date_of_birth: date
    sex_at_birth: str
    email: str
    mobile: str
    address_line1: str
    address_line2: str
    city: str
    region: str
    postal_code: str
    country: str
    emergency_contact_name: str
    emergency_contact_relationship: str
    emergency_contact_phone: str
    preferred_location: Location | None
    referring_clinician: str
    conditions: list[str]
    weight_kg: Decimal | int | float | str | None
    height_cm: Decimal | int | float | str | None


PATIENT_FIELDS = frozenset(PatientDetails.__annotations__)
_TEXT_FIELDS = PATIENT_FIELDS - {
    "date_of_birth",
    "preferred_location",
    "conditions",
    "weight_kg",
    "height_cm",
}


CLINICAL_FIELDS = ("weight_kg", "height_cm")


def _check_actor(actor: User | None, clinical_fields_sent: list[str]) -> None:
    """Staff need the right to edit details, and the clinical right for weight and height.

    ``actor=None`` is the system itself (demo data, imports), which the caller vouches for.
    """
    if actor is None:
        return
    require(actor, Capability.EDIT_PATIENT_DETAILS)
    if clinical_fields_sent and not user_can(actor, Capability.RECORD_CLINICAL):
        raise PermissionDenied(
            "Only nurses and physicians record weight and height: leave out "
            f"{', '.join(clinical_fields_sent)}."
        )


@transaction.atomic
def patient_create(
    *,
    actor: User | None,
    legal_first_name: str,
    legal_last_name: str,
    date_of_birth: date,
    sex_at_birth: str,
    request: HttpRequest | None = None,
    **details: Unpack[PatientDetails],
) -> Patient:
    """Add a patient; they start at "consultation requested"."""
    _reject_unknown("patient_create", details)
    _check_actor(actor, [field for field in CLINICAL_FIELDS if details.get(field) is not None])
    values: dict[str, Any] = {
        "legal_first_name": legal_first_name,
        "legal_last_name": legal_last_name,
        "date_of_birth": date_of_birth,
        "sex_at_birth": sex_at_birth,
        **details,
    }
    errors: Errors = {}
    patient = Patient(status=PatientStatus.CONSULTATION_REQUESTED)
    for field, value in values.items():
        _set_field(patient, field, value, errors)
    _validate_patient(patient, errors, new_location=patient.preferred_location)
    patient.save()
    filled = sorted(field for field in PATIENT_FIELDS if _is_filled(getattr(patient, field)))
    audit_record(
        actor=actor,
        action=Action.CREATE,
        target=patient,
        summary="created with " + ", ".join(filled),
        request=request,
    )
    return patient


@transaction.atomic
def patient_update(
    *,
    actor: User | None,
    patient: Patient,
    request: HttpRequest | None = None,
    **changes: Unpack[PatientDetails],
) -> Patient:
    """Change some of a patient's details; returns the saved patient.

    The caller's ``patient`` object is left as it was if validation fails. Status is not
    changed here: it follows the clinical process (``patient_set_status``).
    """
    _reject_unknown("patient_update", changes)
    _check_actor(actor, [field for field in CLINICAL_FIELDS if field in changes])
    current = Patient.objects.select_for_update().get(pk=patient.pk)
    errors: Errors = {}
    changed = []
    for field, value in changes.items():
        before = _comparable(field, getattr(current, field))
        _set_field(current, field, value, errors)
        if field not in errors and _comparable(field, getattr(current, field)) != before:
            changed.append(field)
    new_location = current.preferred_location if "preferred_location" in changed else None
    _validate_patient(current, errors, new_location=new_location)
    if not changed:
        return current
    current.save(update_fields=[*changed, "updated_at"])
    audit_record(
        actor=actor,
        action=Action.UPDATE,
        target=current,
        summary=changed_fields_summary(sorted(changed)),
        request=request,
    )
    return current


@transaction.atomic
def patient_set_status(
    *,
    actor: User | None,
    patient: Patient,
    status: PatientStatus | str,
    request: HttpRequest | None = None,
) -> Patient:
    """Move a patient along the clinical process (intake, decision, treatment, discharge).

    For the services that drive those steps; the audit summary names the field only, as
    a status such as "declined" is itself clinical information.
    """
    if status not in PatientStatus.values:
        raise ValidationError({"status": f"{status!r} is not a patient status."})
    current = Patient.objects.select_for_update().get(pk=patient.pk)
    if current.status == status:
        return current
    current.status = status
    current.save(update_fields=["status", "updated_at"])
    audit_record(
        actor=actor,
        action=Action.UPDATE,
        target=current,
        summary=changed_fields_summary(["status"]),
        request=request,
    )
    return current


def _reject_unknown(service: str, values: dict[str, Any]) -> None:
    unknown = set(values) - PATIENT_FIELDS
    if unknown:
        raise TypeError(f"{service}() got unexpected fields: {', '.join(sorted(unknown))}")


def _is_filled(value: Any) -> bool:
    return value is not None and value != "" and value != []


def _comparable(field: str, value: Any) -> Any:
    if field == "preferred_location":
        return value.pk if value is not None else None
    return value


def _set_field(patient: Patient, field: str, value: Any, errors: Errors) -> None:
    """Normalise one value and put it on ``patient``, or note why it cannot be used."""
    try:
        setattr(patient, field, _normalise(field, value))
    except ValidationError as exc:
        errors[field] = exc.messages


def _normalise(field: str, value: Any) -> Any:
    if field in _TEXT_FIELDS:
        text = "" if value is None else str(value).strip()
        if field in {"mobile", "emergency_contact_phone"}:
            return _phone(text, field)
        if field == "email":
            return _email(text)
        if field == "country":
            return text.upper()
        return text
    if field == "date_of_birth":
        return _date_of_birth(value)
    if field == "conditions":
        return _conditions(value)
    if field == "weight_kg":
        return _decimal_in_range(value, WEIGHT_RANGE_KG, "weight", "kg", "72.5")
    if field == "height_cm":
        return _decimal_in_range(value, HEIGHT_RANGE_CM, "height", "cm", "172")
    if field == "preferred_location":
        if value is not None and not isinstance(value, Location):
            raise ValidationError("Choose one of the clinic's locations from the list.")
        return value
    raise AssertionError(field)  # pragma: no cover - PATIENT_FIELDS is checked first


def _phone(text: str, field: str) -> str:
    what = "mobile number" if field == "mobile" else "phone number"
    return phone_e164(
        text,
        how_to_write=(
            f"Enter the {what} in international format: + then the country code and number, "
            "e.g. +12125550142. Spaces and dashes are fine."
        ),
    )


def _email(text: str) -> str:
    if not text:
        return ""
    try:
        validate_email(text)
    except ValidationError:
        raise ValidationError(
            "Enter a valid email address, e.g. name@example.com, or leave it empty."
        ) from None
    return text.lower()


def _date_of_birth(value: Any) -> date:
    if value is None or value == "":
        raise ValidationError("Enter the date of birth, e.g. 1984-03-27.")
    if isinstance(value, datetime) or not isinstance(value, date):
        raise ValidationError("Enter the date of birth as a date, e.g. 1984-03-27.")
    today = timezone.localdate()
    if value > today:
        raise ValidationError(
            "The date of birth is in the future. Check the year, e.g. 1984-03-27."
        )
    if value < _years_before(today, OLDEST_AGE_YEARS):
        raise ValidationError(
            f"That date of birth makes the patient over {OLDEST_AGE_YEARS}. Check the year."
        )
    return value


def _years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February in a year that has none
        return day.replace(year=day.year - years, day=28)


def _conditions(value: Any) -> list[str]:
    chosen = set(value or [])
    unknown = sorted(str(key) for key in chosen - set(Condition.values))
    if unknown:
        raise ValidationError(
            f"{', '.join(unknown)} is not a condition the clinic treats. Choose from the list."
        )
    # Stored in the list's own order, so the same choice always compares equal.
    return [key for key in Condition.values if key in chosen]


def _decimal_in_range(
    value: Any, bounds: tuple[Decimal, Decimal], what: str, unit: str, example: str
) -> Decimal | None:
    if value is None or value == "":
        return None
    low, high = bounds
    message = f"Enter the {what} in {unit}, between {low} and {high}, e.g. {example}."
    if isinstance(value, bool):
        raise ValidationError(message)
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise ValidationError(message) from None
    if not number.is_finite() or not low <= number <= high:
        raise ValidationError(message)
    return number.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def _validate_patient(patient: Patient, errors: Errors, *, new_location: Location | None) -> None:
    """Everything the normalisers did not already check, then raise if anything failed."""
    for field, label in (("legal_first_name", "first"), ("legal_last_name", "last")):
        if field not in errors and not getattr(patient, field):
            errors[field] = [f"Enter the patient's legal {label} name, as on their ID."]
    if "sex_at_birth" not in errors and patient.sex_at_birth not in SexAtBirth.values:
        errors["sex_at_birth"] = ["Choose the sex recorded at birth from the list."]
    if "country" not in errors and not re.fullmatch(r"[A-Z]{2}", patient.country):
        errors["country"] = ["Enter the two-letter country code, e.g. US or CA."]
    closed = new_location is not None and not new_location.is_active
    if closed and "preferred_location" not in errors:
        errors["preferred_location"] = [
            f"{new_location.name} is deactivated. Choose a location that is open."
        ]
    # Lengths and anything else the model declares; the messages above take precedence.
    try:
        patient.full_clean(validate_unique=False, validate_constraints=False)
    except ValidationError as exc:
        for field, messages in exc.message_dict.items():
            errors.setdefault(field, messages)
    if errors:
        raise ValidationError(errors)


# --- Contact consent -------------------------------------------------------------------


@transaction.atomic
def contact_consent_record(
    *,
    actor: User | None,
    patient: Patient,
    channel: Channel | str,
    granted: bool,
    method: str,
    wording: str = "",
    recorded_at: datetime | None = None,
    request: HttpRequest | None = None,
) -> CommunicationConsent:
    """Record that the patient gave or withdrew consent to be contacted on ``channel``.

    History is kept: this appends a row, and the latest row per channel is the current
    state. Recording the state the channel is already in is refused, so the history only
    holds real changes. A first "not given" is recorded, as it says the patient was asked.
    """
    locked = Patient.objects.select_for_update().get(pk=patient.pk)
    errors: Errors = {}
    method = (method or "").strip()
    if channel not in Channel.values:
        errors["channel"] = ["Choose email or text message (SMS)."]
    if not isinstance(granted, bool):
        errors["granted"] = ["Choose whether consent is given or withdrawn."]
    if not method:
        errors["method"] = ["Say how the patient gave or withdrew it, e.g. 'by phone'."]
    elif len(method) > CommunicationConsent._meta.get_field("method").max_length:
        errors["method"] = ["Keep it short (120 characters at most), e.g. 'by phone'."]
    if recorded_at is not None and recorded_at > timezone.now() + CLOCK_SKEW:
        errors["recorded_at"] = ["That time is in the future. Enter when it happened."]
    if errors:
        raise ValidationError(errors)
    label = Channel(channel).label
    if granted and channel == Channel.EMAIL and not locked.email:
        raise ValidationError(
            {"granted": "Add the patient's email address first, then record consent to email."}
        )
    if granted and channel == Channel.SMS and not locked.mobile:
        raise ValidationError(
            {"granted": "Add the patient's mobile number first, then record consent to texts."}
        )
    current = _contact_consent_current(locked, channel)
    if current is not None and current.granted == granted:
        state = "given" if granted else "withdrawn"
        raise ValidationError(
            {
                "granted": (
                    f"Consent to {label.lower()} is already {state} (recorded "
                    f"{timezone.localtime(current.recorded_at):%Y-%m-%d}). Nothing to change."
                )
            }
        )
    consent = CommunicationConsent.objects.create(
        patient=locked,
        channel=channel,
        granted=granted,
        method=method,
        wording=(wording or "").strip(),
        recorded_at=recorded_at or timezone.now(),
        recorded_by=actor if actor is not None and actor.is_authenticated else None,
    )
    if not granted:
        # Withdrawn: what is still waiting on that channel is not sent (the worker's rules
        # would refuse it too, but staff see it as not sent straight away).
        from clinic.messaging.outbox import outbox_skip_without_consent

        outbox_skip_without_consent(patient=locked, channel=channel)
    audit_record(
        actor=actor,
        action=Action.UPDATE,
        target=locked,
        summary=f"changed contact consent: {channel}",
        request=request,
    )
    return consent


def _contact_consent_current(
    patient: Patient, channel: Channel | str
) -> CommunicationConsent | None:
    """The latest consent row for one channel (one query), or None if never recorded."""
    return patient.contact_consents.filter(channel=channel).order_by("-recorded_at", "-id").first()


# --- Measurements ----------------------------------------------------------------------

# field: (lowest, highest, what, unit), the same ranges as the model's checks.
MEASUREMENT_RANGES: dict[str, tuple[int, int, str, str]] = {
    "systolic": (60, 260, "systolic blood pressure", "mmHg"),
    "diastolic": (30, 160, "diastolic blood pressure", "mmHg"),
    "heart_rate": (25, 250, "heart rate", "beats a minute"),
    "spo2": (50, 100, "oxygen saturation (SpO₂)", "%"),
}


@transaction.atomic
def measurement_record(
    *,
    actor: User | None,
    patient: Patient,
    systolic: int,
    diastolic: int,
    heart_rate: int,
    spo2: int,
    weight_kg: Decimal | int | float | str | None = None,
    taken_at: datetime | None = None,
    request: HttpRequest | None = None,
) -> Measurement:
    """Record baseline vitals (and weight), then re-run the patient's screening.

    A weight also becomes the patient's current weight on their record.
    """
    readings = {
        "systolic": systolic,
        "diastolic": diastolic,
        "heart_rate": heart_rate,
        "spo2": spo2,
    }
    errors: Errors = {}
    for field, value in readings.items():
        low, high, what, unit = MEASUREMENT_RANGES[field]
        if value is None or value == "":
            errors[field] = [f"Enter the {what} in {unit}."]
        elif isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            errors[field] = [
                f"Enter a {what} between {low} and {high} {unit}; {value} is outside what "
                "can be measured. Check the reading and enter it again."
            ]
    if "systolic" not in errors and "diastolic" not in errors and diastolic >= systolic:
        errors["diastolic"] = [
            f"The diastolic pressure ({diastolic}) must be lower than the systolic "
            f"({systolic}). Check the reading, and that the two were not swapped."
        ]
    weight = None
    try:
        weight = _decimal_in_range(weight_kg, WEIGHT_RANGE_KG, "weight", "kg", "72.5")
    except ValidationError as exc:
        errors["weight_kg"] = exc.messages
    if taken_at is not None and taken_at > timezone.now() + CLOCK_SKEW:
        errors["taken_at"] = ["That time is in the future. Enter when the reading was taken."]
    if errors:
        raise ValidationError(errors)

    locked = Patient.objects.select_for_update().get(pk=patient.pk)
    measurement = Measurement.objects.create(
        patient=locked,
        taken_at=taken_at or timezone.now(),
        taken_by=actor if actor is not None and actor.is_authenticated else None,
        systolic=systolic,
        diastolic=diastolic,
        heart_rate=heart_rate,
        spo2=spo2,
        weight_kg=weight,
    )
    recorded = ["blood pressure", "heart rate", "SpO2"]
    if weight is not None:
        recorded.append("weight")
        if locked.weight_kg != weight:
            locked.weight_kg = weight
            locked.save(update_fields=["weight_kg", "updated_at"])
            patient.weight_kg = weight
    audit_record(
        actor=actor,
        action=Action.CREATE,
        target=measurement,
        summary=f"recorded {', '.join(recorded)} for patient {locked.public_id}",
        request=request,
    )
    _screen_again(locked, actor, request)
    return measurement


# --- Questionnaires --------------------------------------------------------------------


@transaction.atomic
def questionnaire_record(
    *,
    actor: User | None,
    patient: Patient,
    instrument: Instrument | str,
    answers: dict[str, int],
    context: QuestionnaireResponse.Context | str = QuestionnaireResponse.Context.BASELINE,
    via_link: PatientLink | None = None,
    request: HttpRequest | None = None,
) -> QuestionnaireResponse:
    """Score and keep a completed questionnaire. Errors are keyed by item ("q4").

    A baseline PHQ-9 re-runs the screening, which raises the urgent flag when question 9
    is answered above 0. Any PHQ-9 with question 9 above 0 also raises a safety alert and
    queues the on-call email (``patients.services.safety``), in this transaction.
    """
    if instrument not in {member.value for member in Instrument}:
        choices = ", ".join(member.value for member in Instrument)
        raise ValidationError({"instrument": f"Choose a questionnaire: one of {choices}."})
    if context not in QuestionnaireResponse.Context.values:
        raise ValidationError({"context": "Choose when it was completed from the list."})
    try:
        result = score(instrument, answers)
    except QuestionnaireError as exc:
        raise ValidationError({key: [message] for key, message in exc.errors.items()}) from None

    locked = Patient.objects.select_for_update().get(pk=patient.pk)
    response = QuestionnaireResponse.objects.create(
        patient=locked,
        instrument=result.instrument.value,
        context=context,
        answers=result.answers,
        total=result.total,
        band=result.band,
        item9_positive=result.item9_positive,
        entered_by=actor if actor is not None and actor.is_authenticated else None,
        via_link=via_link,
    )
    audit_record(
        actor=actor,
        action=Action.CREATE,
        target=response,
        summary=(
            f"recorded a {definition_for(instrument).short_name} ({context}) "
            f"for patient {locked.public_id}"
        ),
        request=request,
    )
    if response.item9_positive:
        # In this transaction: the alert and the on-call email exist once the answers do.
        safety_alert_raise(
            patient=locked,
            source=SafetyAlert.Source.PHQ9_ITEM9,
            questionnaire=response,
            appointment=via_link.appointment if via_link is not None else None,
            actor=actor,
            request=request,
        )
    if result.instrument is Instrument.PHQ9 and context == QuestionnaireResponse.Context.BASELINE:
        _screen_again(locked, actor, request)
    return response


def _screen_again(patient: Patient, actor: User | None, request: HttpRequest | None) -> None:
    # Imported here: the screening services import this module (patient_set_status).
    from patients.services.screening import screening_run

    screening_run(patient=patient, actor=actor, request=request)
