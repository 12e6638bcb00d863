"""DEA registrations: each location's own number, registrant and expiry (21 CFR 1301.12:
a separate registration for each place where controlled substances are kept or given).

A location without a current registration cannot receive or give ketamine:
``infusions.ledger.lot_receive`` and ``ledger_administer`` ask ``registration_problem``
first and refuse with its message. "Current" means: the latest registration recorded for
the location has not expired on the location's date of the act, and its registrant is
still an active physician. Registrations are never edited: a renewal, a new registrant or
a corrected number is recorded as a new registration, which then counts.

The number (``dea_number_problem``) is two characters and seven digits:

- the first character is the registrant type. DEA's "Registration Record Layout" (the
  file layout of its registrant database, Diversion Control Division) lists A, B, F and G
  for practitioners, hospitals and clinics, pharmacies and teaching institutions; M for
  mid-level practitioners; P and R for manufacturers, distributors, reverse distributors,
  researchers, importers, exporters and narcotic treatment programs. A clinic location
  registered under a physician has A, B, F or G; a supplier that sells ketamine to it
  (a distributor or manufacturer) has P or R.
- the second is the initial of the registrant's last name or business name, or 9 when
  the business name starts with a digit (same source);
- the seventh digit is a check digit: (d1 + d3 + d5) + 2 x (d2 + d4 + d6), and the last
  digit of that sum must equal d7 (the check DEA's guidance for pharmacists describes for
  verifying a number; ``../shared/DOMAIN.md``, "Controlled substance").
"""

from __future__ import annotations

import re
from datetime import date
from enum import Enum

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest

from clinic.audit import Action, audit_record
from clinic.models import Location, User
from clinic.permissions import Capability, require, user_can
from clinic.roles import Role
from infusions.models import DeaRegistration

Errors = dict[str, list[str]]

# Who records a location's registration: those who manage locations (clinic admins).
REGISTRATION_CAPABILITY = Capability.MANAGE_LOCATIONS


class Registrant(Enum):
    """Whose DEA number is being checked: the first letters each may have, and a name."""

    PRACTITIONER = ("ABFG", "a practitioner's or clinic's")
    SUPPLIER = ("PR", "a manufacturer's or distributor's")

    def __init__(self, letters: str, label: str) -> None:
        self.letters = letters
        self.label = label


_SHAPE = re.compile(r"[A-Z][A-Z9][0-9]{7}")


def normalized_dea_number(number: str | None) -> str:
    """The number as DEA prints it: capitals, no spaces or dashes."""
    return re.sub(r"[\s-]", "", number or "").upper()


def dea_check_digit(digits: str) -> int:
    """The check digit for the first six digits: (d1+d3+d5) + 2*(d2+d4+d6), last digit."""
    values = [int(digit) for digit in digits[:6]]
    return (sum(values[0::2]) + 2 * sum(values[1::2])) % 10


def dea_number_problem(number: str, *, registrant: Registrant) -> str:
    """What is wrong with ``number`` (already normalized) as ``registrant``'s DEA number;
    empty when nothing."""
    example = "BJ1234563" if registrant is Registrant.PRACTITIONER else "PS1234563"
    if not number:
        return f"Enter the DEA registration number, e.g. {example}."
    if not _SHAPE.fullmatch(number):
        return (
            f"{number} is not a DEA registration number: it has two letters and seven digits "
            f"(e.g. {example}), as on the registration certificate."
        )
    if number[0] not in registrant.letters:
        letters = ", ".join(registrant.letters[:-1]) + f" or {registrant.letters[-1]}"
        return (
            f"{number} starts with {number[0]}, which is not {registrant.label} registration: "
            f"{registrant.label} number starts with {letters}. Check the certificate."
        )
    if dea_check_digit(number[2:]) != int(number[8]):
        return (
            f"{number} fails the DEA check digit: one of its digits is mistyped. Copy the "
            "number again from the registration certificate."
        )
    return ""


# --- Reading -----------------------------------------------------------------------------


def latest_registration(location: Location) -> DeaRegistration | None:
    """The registration recorded last for ``location`` (one query), current or not."""
    return (
        DeaRegistration.objects.filter(location=location)
        .select_related("registrant")
        .order_by("-recorded_at", "-id")
        .first()
    )


def registration_problem(location: Location, on: date) -> str:
    """Why ``location`` may not receive or give ketamine on its local date ``on``; empty
    when its latest registration is current (one query)."""
    return registration_problem_of(location, latest_registration(location), on)


def registration_problem_of(
    location: Location, registration: DeaRegistration | None, on: date
) -> str:
    """``registration_problem`` when ``registration``, the location's latest, is read
    already (with its registrant): no query."""
    if registration is None:
        return (
            f"{location} has no DEA registration on record, so it cannot receive or give "
            "ketamine. A clinic admin records the location's registration first (Ketamine "
            "ledger, DEA registrations)."
        )
    if registration.expires_on < on:
        return (
            f"{location}'s DEA registration {registration.number} expired on "
            f"{registration.expires_on:%Y-%m-%d}, so it cannot receive or give ketamine. A "
            "clinic admin records the renewed registration (Ketamine ledger, DEA registrations)."
        )
    if not _is_active_physician(registration.registrant):
        return (
            f"{location}'s DEA registrant, {registration.registrant}, is no longer an active "
            "physician, so the location cannot receive or give ketamine. A clinic admin records "
            "the registration under its current registrant (Ketamine ledger, DEA registrations)."
        )
    return ""


def registrations_visible_to(user: object) -> QuerySet[DeaRegistration]:
    """Every location's registrations, for those who read the ledger."""
    if not user_can(user, Capability.VIEW_LEDGER):
        return DeaRegistration.objects.none()
    return DeaRegistration.objects.select_related("location", "registrant", "recorded_by")


def possible_registrants() -> QuerySet[User]:
    return User.objects.filter(is_active=True, roles__contains=[Role.PHYSICIAN]).order_by(
        "full_name", "email"
    )


# --- Recording ---------------------------------------------------------------------------


@transaction.atomic
def dea_registration_record(
    *,
    actor: User,
    location: Location,
    number: str,
    registrant: User | None,
    expires_on: date | None,
    request: HttpRequest | None = None,
) -> DeaRegistration:
    """Record ``location``'s DEA registration (a first one, a renewal or a correction: the
    latest recorded counts). Refuses with a ValidationError keyed by field."""
    require(actor, REGISTRATION_CAPABILITY)
    errors: Errors = {}
    number = normalized_dea_number(number)
    if problem := dea_number_problem(number, registrant=Registrant.PRACTITIONER):
        errors["number"] = [problem]
    elif (
        elsewhere := DeaRegistration.objects.filter(number=number)
        .exclude(location=location)
        .select_related("location")
        .first()
    ):
        errors["number"] = [
            f"{number} is recorded as the registration of {elsewhere.location}: each location "
            "has its own DEA registration. Check which certificate hangs at this location."
        ]
    if registrant is None:
        errors["registrant"] = ["Choose the registrant: the physician the certificate names."]
    elif not _is_active_physician(registrant):
        errors["registrant"] = [
            f"{registrant} is not an active physician: the registrant is the physician the "
            "certificate names."
        ]
    today = location.local_now().date()
    if expires_on is None:
        errors["expires_on"] = ["Enter the expiry date printed on the certificate."]
    elif expires_on < today:
        errors["expires_on"] = [
            f"That registration expired on {expires_on:%Y-%m-%d}: record the renewed "
            "certificate's number and expiry date."
        ]
    if not location.is_active:
        errors["location"] = [f"{location} is no longer active: register an active location."]
    if errors:
        raise ValidationError(errors)
    registration = DeaRegistration.objects.create(
        location=location,
        number=number,
        registrant=registrant,
        expires_on=expires_on,
        recorded_by=actor,
    )
    audit_record(
        actor=actor,
        action=Action.CREATE,
        target=registration,
        summary=f"recorded the DEA registration of location {location.public_id}",
        request=request,
    )
    return registration


def _is_active_physician(user: User) -> bool:
    return user.is_active and Role.PHYSICIAN in user.roles
