"""The superbill's codes and the practice it names: the rules that check them, the units a
visit bills, and the writes clinic admins make to them.

- **Practice details** (``PracticeDetails``): the NPI is ten digits whose last is a Luhn
  check digit computed over "80840" and the first nine (the health-industry prefix, as CMS
  issues them); the tax id is an EIN, NN-NNNNNNN; the place of service a two-digit CMS code.
- **Service codes** (``ServiceCode``): CPT (five digits, or four and F, T or U) or HCPCS
  level II (a letter and four digits), with a units rule per code.
- **Diagnosis codes** (``DiagnosisCode``): an ICD-10-CM code per condition the clinic treats.

The infusion units follow the CPT time rules for hydration, therapeutic and drug infusions:
**96365** (first hour) is billed once an IV infusion has run *more than 15 minutes* (15 or
fewer is an IV push, not an infusion); **96366** (each additional hour) is billed for each
hour after the first, the last one only when more than 30 minutes of it ran. So 40 min →
96365 x1; 90 min → 96365 x1 (30 minutes past the hour is not more than 30); 91 or 100 min
→ 96365 x1 + 96366 x1; 151 min → 96365 x1 + 96366 x2. The minutes are those the session
spent infusing, pauses left out (``infusions.models.sessions.minutes_infusing``).

The writes below are services (``<entity>_<verb>``, keyword-only, atomic, audited), kept
beside their rules rather than in ``billing.services`` because nothing else in the books
depends on them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils import timezone

from billing.models import DiagnosisCode, PlaceOfService, PracticeDetails, ServiceCode, UnitsRule
from clinic.audit import Action, audit_record
from clinic.conditions import Condition
from clinic.models import Location, User
from clinic.permissions import Capability, require
from scheduling.models import AppointmentType

# A service code is counted only once an infusion has run longer than this (CPT).
INFUSION_MINIMUM_MINUTES = 15
# The last additional hour counts only when more than this many minutes of it ran (CPT).
ADDITIONAL_HOUR_THRESHOLD_MINUTES = 30

NPI_PREFIX = "80840"
_EIN = re.compile(r"^([0-9]{2})-?([0-9]{7})$")
_SERVICE_CODE = re.compile(r"^([0-9]{4}[0-9FTU]|[A-V][0-9]{4})$")
_ICD10CM = re.compile(r"^[A-Z][0-9][0-9A-Z](\.[0-9A-Z]{1,4})?$")
DESCRIPTION_MAX = 200
NAME_MAX = 200
ADDRESS_MAX = 500


# --- The rules -------------------------------------------------------------------------------


def luhn_check_digit(digits: str) -> int:
    """The Luhn check digit to append to ``digits``."""
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2 == 0:  # doubled: the rightmost digit before the check digit, and on
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return (10 - total % 10) % 10


def npi_problem(npi: str) -> str | None:
    """What is wrong with ``npi`` (None if nothing)."""
    if not re.fullmatch(r"[0-9]{10}", npi):
        return "An NPI is 10 digits, e.g. 1234567893: enter the digits only."
    if npi[0] not in "12":
        return "An NPI starts with 1 (a person) or 2 (an organisation): check the number."
    if luhn_check_digit(NPI_PREFIX + npi[:9]) != int(npi[9]):
        return (
            "This NPI's last digit does not match the others (its check digit): "
            "check the number on the NPPES registry."
        )
    return None


def normalised_ein(value: str) -> str:
    """``value`` as NN-NNNNNNN, or ValueError saying what to fix."""
    found = _EIN.fullmatch(value.strip())
    if not found:
        raise ValueError("A tax id (EIN) is 9 digits written NN-NNNNNNN, e.g. 12-3456789.")
    if found.group(1) == "00":
        raise ValueError("No EIN starts with 00: check the number on the IRS letter.")
    return f"{found.group(1)}-{found.group(2)}"


def service_code_problem(code: str) -> str | None:
    if not _SERVICE_CODE.fullmatch(code):
        return (
            "Enter a CPT code (5 digits, e.g. 96365, or 4 digits and F, T or U) or a HCPCS "
            "code (a letter and 4 digits, e.g. J3490)."
        )
    return None


def icd10_problem(code: str) -> str | None:
    if not _ICD10CM.fullmatch(code):
        return (
            "Enter an ICD-10-CM code: a letter, two characters, then a dot and up to four "
            "more, e.g. F33.2 or G43.909."
        )
    return None


def infusion_first_hour_units(minutes: int) -> int:
    """96365: one unit once the infusion ran more than 15 minutes."""
    return 1 if minutes > INFUSION_MINIMUM_MINUTES else 0


def infusion_additional_hour_units(minutes: int) -> int:
    """96366: one unit per hour after the first, the last only when more than 30 minutes of
    it ran (61 to 90 min: 0; 91 to 150: 1; 151 to 210: 2; ...)."""
    beyond_first = minutes - 60
    if beyond_first <= ADDITIONAL_HOUR_THRESHOLD_MINUTES:
        return 0
    whole, part = divmod(beyond_first, 60)
    return whole + (1 if part > ADDITIONAL_HOUR_THRESHOLD_MINUTES else 0)


@dataclass(frozen=True)
class VisitFacts:
    """What a visit's units are counted from (``billing.superbill`` reads them in bulk)."""

    infusion_minutes: int = 0
    scored_questionnaires: int = 0
    drug_given: bool = False


def units_for(rule: str, facts: VisitFacts) -> int:
    """How many units of a code with ``rule`` the visit bills (0: the code does not apply)."""
    if rule == UnitsRule.INFUSION_FIRST_HOUR:
        return infusion_first_hour_units(facts.infusion_minutes)
    if rule == UnitsRule.INFUSION_ADDITIONAL_HOUR:
        return infusion_additional_hour_units(facts.infusion_minutes)
    if rule == UnitsRule.PER_SCORED_QUESTIONNAIRE:
        return facts.scored_questionnaires
    if rule == UnitsRule.PER_DRUG_GIVEN:
        return 1 if facts.drug_given else 0
    return 1


# --- Practice details ------------------------------------------------------------------------


@dataclass(frozen=True)
class Practice:
    """The practice as a superbill shows it for one location: the location's own details
    where it has them, the clinic-wide ones otherwise."""

    name: str
    address_lines: list[str]
    npi: str
    tax_id: str
    place_of_service: str
    place_of_service_label: str

    @property
    def missing(self) -> list[str]:
        """What an insurer will ask for that is not set yet."""
        return [
            label
            for label, value in (
                ("NPI", self.npi),
                ("tax id (EIN)", self.tax_id),
                ("place of service", self.place_of_service),
            )
            if not value
        ]

    @property
    def missing_text(self) -> str:
        """``missing`` as words: "NPI", "NPI and tax id (EIN)", "NPI, tax id (EIN) and ..."."""
        missing = self.missing
        return " and ".join([", ".join(missing[:-1]), missing[-1]] if len(missing) > 1 else missing)


def practice_for(
    location: Location, details: list[PracticeDetails], *, clinic_name: str
) -> Practice:
    """The practice for ``location`` from ``details`` (the clinic-wide row and the location's
    own, read by the caller: no query here)."""
    clinic_wide = next((row for row in details if row.location_id is None), None)
    own = next((row for row in details if row.location_id == location.pk), None)

    def pick(field: str) -> str:
        for row in (own, clinic_wide):
            if row is not None and getattr(row, field):
                return getattr(row, field)
        return ""

    address = pick("address")
    pos = pick("place_of_service")
    return Practice(
        name=pick("practice_name") or clinic_name,
        address_lines=address.splitlines() if address else location.address_lines,
        npi=pick("npi"),
        tax_id=pick("tax_id"),
        place_of_service=pos,
        place_of_service_label=PlaceOfService(pos).label if pos in PlaceOfService.values else pos,
    )


@transaction.atomic
def practice_details_set(
    *,
    actor: User,
    location: Location | None,
    practice_name: str = "",
    address: str = "",
    npi: str = "",
    tax_id: str = "",
    place_of_service: str = "",
    request: HttpRequest | None = None,
) -> PracticeDetails:
    """Set the practice details clinic-wide (``location`` None) or for one location (an
    empty field there: as the clinic). Bad input raises a ValidationError keyed by field
    and changes nothing."""
    require(actor, Capability.MANAGE_PRICES)
    errors: dict[str, list[str]] = {}
    practice_name = (practice_name or "").strip()
    if len(practice_name) > NAME_MAX:
        errors["practice_name"] = [f"Shorten the name to {NAME_MAX} characters or fewer."]
    address = "\n".join(
        line.strip() for line in (address or "").strip().splitlines() if line.strip()
    )
    if len(address) > ADDRESS_MAX:
        errors["address"] = [f"Shorten the address to {ADDRESS_MAX} characters or fewer."]
    npi = re.sub(r"[\s-]", "", npi or "")
    if npi and (problem := npi_problem(npi)):
        errors["npi"] = [problem]
    tax_id = (tax_id or "").strip()
    if tax_id:
        try:
            tax_id = normalised_ein(tax_id)
        except ValueError as exc:
            errors["tax_id"] = [str(exc)]
    place_of_service = (place_of_service or "").strip()
    if place_of_service and place_of_service not in PlaceOfService.values:
        errors["place_of_service"] = ["Choose the place of service from the list."]
    if errors:
        raise ValidationError(errors)
    details, created = PracticeDetails.objects.select_for_update().get_or_create(location=location)
    fields = {
        "practice_name": practice_name,
        "address": address,
        "npi": npi,
        "tax_id": tax_id,
        "place_of_service": place_of_service,
    }
    changed = [name for name, value in fields.items() if getattr(details, name) != value]
    for name, value in fields.items():
        setattr(details, name, value)
    details.updated_by, details.updated_at = actor, timezone.now()
    details.save()
    where = f"for {location.name}" if location is not None else "clinic-wide"
    audit_record(
        actor=actor,
        action=Action.CREATE if created else Action.UPDATE,
        target=details,
        summary=f"set the superbill's practice details {where}: "
        + (", ".join(changed) if changed else "no change"),
        request=request,
    )
    return details


# --- Service codes ---------------------------------------------------------------------------


@transaction.atomic
def service_code_save(
    *,
    actor: User,
    appointment_type: AppointmentType,
    code: str,
    description: str,
    units_rule: str,
    position: int = 0,
    is_active: bool = True,
    service_code: ServiceCode | None = None,
    request: HttpRequest | None = None,
) -> ServiceCode:
    """Add a service code to a kind of visit, or change one (``service_code``)."""
    require(actor, Capability.MANAGE_PRICES)
    errors: dict[str, list[str]] = {}
    code = (code or "").strip().upper()
    if problem := service_code_problem(code):
        errors["code"] = [problem]
    description = (description or "").strip()
    if not description:
        errors["description"] = ["Describe the service as the insurer reads it."]
    elif len(description) > DESCRIPTION_MAX:
        errors["description"] = [f"Shorten the description to {DESCRIPTION_MAX} characters."]
    if units_rule not in UnitsRule.values:
        errors["units_rule"] = ["Choose how the units are counted."]
    if isinstance(position, bool) or not isinstance(position, int) or not 0 <= position <= 99:
        errors["position"] = ["Enter an order from 0 to 99."]
    clash = ServiceCode.objects.filter(appointment_type=appointment_type, code=code)
    if service_code is not None:
        clash = clash.exclude(pk=service_code.pk)
    if not errors and clash.exists():
        errors["code"] = [f"{appointment_type.name} already has {code}: change that one instead."]
    if errors:
        raise ValidationError(errors)
    created = service_code is None
    row = service_code or ServiceCode(appointment_type=appointment_type)
    row.code, row.description, row.units_rule = code, description, units_rule
    row.position, row.is_active = position, is_active
    row.updated_by, row.updated_at = actor, timezone.now()
    try:
        with transaction.atomic():
            row.save()
    except IntegrityError:  # the same code added at the same moment by someone else
        raise ValidationError(
            {"code": [f"{appointment_type.name} already has {code}: change that one instead."]}
        ) from None
    audit_record(
        actor=actor,
        action=Action.CREATE if created else Action.UPDATE,
        target=row,
        summary=f"{'added' if created else 'changed'} superbill code {code} for "
        f"{appointment_type.name}" + ("" if is_active else " (switched off)"),
        request=request,
    )
    return row


# --- Diagnosis codes -------------------------------------------------------------------------


@transaction.atomic
def diagnosis_code_set(
    *,
    actor: User,
    condition: str,
    code: str,
    description: str,
    request: HttpRequest | None = None,
) -> DiagnosisCode | None:
    """Give ``condition`` an ICD-10-CM code, or (an empty code) take it away."""
    require(actor, Capability.MANAGE_PRICES)
    if condition not in Condition.values:
        raise ValidationError({"condition": ["Choose one of the conditions the clinic treats."]})
    code = (code or "").strip().upper()
    description = (description or "").strip()
    existing = DiagnosisCode.objects.select_for_update().filter(condition=condition).first()
    label = Condition(condition).label
    if not code:
        if existing is not None:
            existing.delete()
            audit_record(
                actor=actor,
                action=Action.DELETE,
                object_type="billing.diagnosiscode",
                object_id=str(existing.pk),
                summary=f"took the ICD-10-CM code off {label}",
                request=request,
            )
        return None
    errors: dict[str, list[str]] = {}
    if problem := icd10_problem(code):
        errors["code"] = [problem]
    if not description:
        errors["description"] = ["Write the code's description, as ICD-10-CM words it."]
    elif len(description) > DESCRIPTION_MAX:
        errors["description"] = [f"Shorten the description to {DESCRIPTION_MAX} characters."]
    if errors:
        raise ValidationError(errors)
    row = existing or DiagnosisCode(condition=condition)
    row.code, row.description = code, description
    row.updated_by, row.updated_at = actor, timezone.now()
    try:
        with transaction.atomic():
            row.save()
    except IntegrityError:  # coded at the same moment by someone else
        raise ValidationError(
            {"code": [f"{label} was coded a moment ago: look at the list and try again."]}
        ) from None
    audit_record(
        actor=actor,
        action=Action.UPDATE if existing else Action.CREATE,
        target=row,
        summary=f"coded {label} as {code}",
        request=request,
    )
    return row
