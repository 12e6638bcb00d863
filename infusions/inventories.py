"""Inventories of ketamine (21 CFR 1304.11): a count of every lot at a location on one date,
as of the opening or the close of business, signed by the person counting and a witness.

- The initial inventory is taken when a location starts handling the drug (with nothing on
  hand it records that: an inventory with no counts); then at least every two years, so a
  location's next one is due two years after its last (``inventory_due``).
- ``inventory_take`` counts every lot the location holds (``lots_to_count``: any with drug
  left, expired or not); each lot's count is a ledger COUNT entry (``ledger_count``)
  pointing at the inventory, and a discrepancy must be explained and is booked as an
  adjustment correcting that count, as any count's is. All of it or nothing: one lot's
  problem refuses the whole inventory.
- A Spravato (esketamine) lot is counted in whole 28 mg devices, as it is received
  (``infusions.esketamine.esketamine_lot_receive``): the count is turned into mg for the
  ledger, and a difference is said in devices.
- The witness confirms on the counter's screen with their own password (and second factor):
  ``clinic.cosign``, as witnessed waste does.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from clinic.audit import Action, audit_record
from clinic.cosign import cosigner_errors
from clinic.models import Location, User
from clinic.permissions import require
from infusions.ledger import LEDGER_CAPABILITY, ledger_count
from infusions.models import Inventory, Lot
from infusions.models.dea import InventoryTime

Errors = dict[str, list[str]]

INVENTORY_YEARS = 2
# How long ahead the due date is shown to clinic admins and physicians.
NOTICE_DAYS = 60


def count_field(lot: Lot) -> str:
    """The field a lot's count is reported under (and typed into, on the page)."""
    return f"count_{lot.public_id.hex}"


def explanation_field(lot: Lot) -> str:
    return f"explain_{lot.public_id.hex}"


def lots_to_count(location: Location) -> QuerySet[Lot]:
    """Every lot at ``location`` with drug left, expired or not (one query)."""
    return Lot.objects.filter(location=location, balance_mg__gt=0).order_by(
        "expiry_date", "received_at", "id"
    )


# --- When the next one is due --------------------------------------------------------------


@dataclass(frozen=True)
class InventoryDue:
    location: Location
    last: Inventory | None
    due_on: date  # the location's date
    days_left: int  # negative when overdue

    @property
    def initial(self) -> bool:
        return self.last is None

    @property
    def overdue(self) -> bool:
        return self.days_left < 0

    @property
    def soon(self) -> bool:
        return self.days_left <= NOTICE_DAYS

    def message(self) -> str:
        what = "The initial inventory" if self.initial else "The biennial inventory"
        when = f"{self.due_on:%b} {self.due_on.day}, {self.due_on.year}"
        if self.initial:
            return (
                f"{what} of {self.location} has not been taken: count every lot (or record "
                "that there is none) with a witness."
            )
        if self.overdue:
            return f"{what} of {self.location} was due on {when}: take it now, with a witness."
        return f"{what} of {self.location} is due by {when} ({self.days_left} days left)."


def two_years_after(day: date) -> date:
    try:
        return day.replace(year=day.year + INVENTORY_YEARS)
    except ValueError:  # February 29th
        return day.replace(year=day.year + INVENTORY_YEARS, day=28)


def inventories_due(locations: QuerySet[Location]) -> list[InventoryDue]:
    """When each of ``locations`` must take its next inventory (two queries)."""
    latest: dict[int, Inventory] = {}
    for inventory in (
        Inventory.objects.filter(location__in=locations)
        .order_by("location_id", "-taken_at", "-id")
        .distinct("location_id")
    ):
        latest[inventory.location_id] = inventory
    due = []
    for location in locations:
        today = location.local_now().date()
        last = latest.get(location.pk)
        due_on = two_years_after(last.taken_at.astimezone(location.tz).date()) if last else today
        due.append(InventoryDue(location, last, due_on, (due_on - today).days))
    return due


# --- Taking one ----------------------------------------------------------------------------


@transaction.atomic
def inventory_take(
    *,
    actor: User,
    location: Location,
    time_of_day: str,
    counts: Mapping[Lot, Decimal | str | int | None],
    explanations: Mapping[Lot, str] | None = None,
    witness: User | None,
    witness_password: str,
    witness_otp: str = "",
    taken_at: datetime | None = None,
    devices_counted: bool = True,
    request: HttpRequest | None = None,
) -> Inventory:
    """Record ``location``'s inventory: ``counts`` has what was counted in every lot
    ``lots_to_count`` lists, in mg, but in devices for an esketamine lot (unless
    ``devices_counted`` is False: the API's counts are all in mg). Refuses with a
    ValidationError keyed by field (a lot's under ``count_field(lot)``) and then writes
    nothing."""
    require(actor, LEDGER_CAPABILITY)
    explanations = explanations or {}
    now = timezone.now()
    taken_at = taken_at or now
    errors: Errors = {}
    if time_of_day not in InventoryTime.values:
        errors["time_of_day"] = [
            "Say whether the count is as of the opening or the close of business."
        ]
    if taken_at > now:
        errors["taken_at"] = ["That time is in the future: enter when the count was taken."]
    if not location.is_active:
        errors["location"] = [f"{location} is no longer active: count an active location."]
    for field, messages in cosigner_errors(
        actor=actor,
        cosigner=witness,
        password=witness_password,
        otp=witness_otp,
        capability=LEDGER_CAPABILITY,
        field="witness",
        what="counted the stock with you",
        who="another nurse or physician",
        request=request,
    ).items():
        errors.setdefault(field, []).extend(messages)
    lots = list(lots_to_count(location).select_for_update())
    counted = {lot.pk: value for lot, value in counts.items()}
    for lot in lots:
        if counted.get(lot.pk) in (None, ""):
            errors[count_field(lot)] = [
                f"Enter what you counted in lot {lot.lot_number} (0 if it is not there): an "
                "inventory counts every lot."
            ]
        elif lot.is_devices and devices_counted:
            counted[lot.pk] = _devices_in_mg(lot, counted[lot.pk], errors)
    if errors:
        raise ValidationError(errors)

    inventory = Inventory.objects.create(
        location=location,
        is_initial=not Inventory.objects.filter(location=location).exists(),
        taken_at=taken_at,
        time_of_day=time_of_day,
        counted_by=actor,
        witness=witness,
    )
    for lot in lots:
        try:
            ledger_count(
                actor=actor,
                lot=lot,
                counted_mg=counted[lot.pk],
                explanation=_explanation(explanations, lot),
                occurred_at=taken_at,
                inventory=inventory,
                request=request,
            )
        except ValidationError as error:
            for field, messages in error.message_dict.items():
                key = explanation_field(lot) if field == "explanation" else count_field(lot)
                errors.setdefault(key, []).extend(
                    f"Lot {lot.lot_number}: {message}" for message in messages
                )
    if errors:
        raise ValidationError(errors)
    audit_record(
        actor=actor,
        action=Action.CREATE,
        target=inventory,
        summary=f"took the ketamine inventory of location {location.public_id} "
        f"({len(lots)} lots), witnessed",
        request=request,
    )
    return inventory


def _devices_in_mg(lot: Lot, value: Any, errors: Errors) -> Decimal | None:
    """A count of whole devices in an esketamine lot, in mg (28 mg each), or None with what
    to fix in ``errors``."""
    text = str(value).strip()
    if not text.isdigit() or len(text) > 6:
        errors[count_field(lot)] = [
            f"Enter the whole number of devices counted in lot {lot.lot_number} (0 if none "
            "is there): Spravato is counted in devices, not mg."
        ]
        return None
    return Decimal(int(text) * lot.mg_per_device)


def _explanation(explanations: Mapping[Any, str], lot: Lot) -> str:
    for key, value in explanations.items():
        if getattr(key, "pk", key) == lot.pk:
            return value
    return ""
