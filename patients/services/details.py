"""Writes to the patient's own record: adding a patient, changing their details, and moving
them along the clinical process (their status).

Each service checks its input first and raises ``ValidationError`` keyed by field, with
a message that says what to fix; nothing is saved then. Every change is recorded with
``audit_record``: patient records by ``public_id`` only, and summaries name the fields
that changed, never their values. Who may call a service is decided by the caller
(views check ``clinic.permissions`` and ``patients.selectors``). The checks the other
record services share (the clock's allowance, a decimal in range) are here too.
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

from clinic.audit import Action, audit_record, changed_fields_summary, created_fields_summary
from clinic.conditions import Condition
from clinic.models import Location, User
from clinic.permissions import Capability, require, user_can
from clinic.phones import phone_e164
from patients.models import Patient, PatientStatus, SexAtBirth

Errors = dict[str, list[str]]

OLDEST_AGE_YEARS = 120
WEIGHT_RANGE_KG = (Decimal(30), Decimal(300))
HEIGHT_RANGE_CM = (Decimal(100), Decimal(250))
# Readings a few minutes "in the future" are clock drift between devices, not typos.
CLOCK_SKEW = timedelta(minutes=5)


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
        summary=created_fields_summary(filled),
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
        return decimal_in_range(value, WEIGHT_RANGE_KG, "weight", "kg", "72.5")
    if field == "height_cm":
        return decimal_in_range(value, HEIGHT_RANGE_CM, "height", "cm", "172")
    if field == "preferred_location":
        if value is not None and not isinstance(value, Location):
            raise ValidationError("Choose one of the clinic's locations from the list.")
        return value
    raise AssertionError(field)  # pragma: no cover - PATIENT_FIELDS is checked first


def _phone(text: str, field: str) -> str:
    what = "mobile number" if field == "mobile" else "phone number"
    # As the booking form reads it: a US number with its area code, or any with + and the
    # country code (the front desk types what the patient says, as the patient would).
    return phone_e164(
        text,
        how_to_write=(
            f"Enter the {what} with its area code, e.g. (212) 555-0142, or from outside the "
            "US with + and the country code, e.g. +44 7400 123456."
        ),
        national=True,
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


def decimal_in_range(
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
