"""The controlled-substance ledger: receiving ketamine, doses, waste, adjustments, counts.

Every write here follows the same steps, in one transaction:

1. check the actor may handle the drug (``Capability.HANDLE_CONTROLLED_SUBSTANCES``);
2. lock the lot row (``select_for_update``), so two nurses drawing from one lot at the same
   moment are booked one after the other against the true balance;
3. check everything, and refuse with a ``ValidationError`` keyed by field when anything is
   wrong — nothing is written then;
4. insert the entry, move ``Lot.balance_mg`` by its ``amount_mg``, and audit it.

The database is the last line of defence (``infusions.models``): CHECK constraints keep
balances at or above zero and a trigger keeps entries append-only. Should a write still
reach the balance check, its ``IntegrityError`` becomes the same ``ValidationError`` a
person would have seen from step 3.

Counts: a count entry records what was counted, what the book expected and the
difference; it moves nothing. A non-zero difference must be explained, and is then booked
as an adjustment entry that ``corrects`` the count, so the balance equals what is
physically there and the book still shows both the shortfall and its explanation.

Receiving and giving the drug need the location's current DEA registration
(``infusions.dea.registration_problem``); waste, adjustments and counts do not, so that stock
left at a location whose registration lapsed can still be counted and disposed of.

Corrections are new entries: ``ledger_adjust(corrects=entry, …)``; nothing is edited or
deleted, and there is no delete path at all (every foreign key to the ledger PROTECTs).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils import timezone

from clinic.audit import Action, audit_record
from clinic.cosign import cosigner_errors
from clinic.models import Location, User
from clinic.permissions import Capability, require
from infusions.dea import (
    Registrant,
    dea_number_problem,
    normalized_dea_number,
    registration_problem,
)
from infusions.models import InfusionSession, Inventory, LedgerEntry, Lot
from infusions.models.ledger import ESKETAMINE_MG_PER_DEVICE, MG, LedgerEntryKind, LotProduct
from patients.models import Patient

Errors = dict[str, list[str]]
Kind = LedgerEntryKind

# Who may handle the drug, so write to the ledger (nurses and physicians), and who may read
# it (they, and clinic admins: clinic.permissions).
LEDGER_CAPABILITY = Capability.HANDLE_CONTROLLED_SUBSTANCES
LEDGER_READ_CAPABILITY = Capability.VIEW_LEDGER
MG_PLACES = Decimal(1).scaleb(-MG["decimal_places"])  # 0.001
MG_LIMIT = Decimal(10) ** (MG["max_digits"] - MG["decimal_places"])
VOLUME_LIMIT = Decimal(10) ** 8  # Lot.volume_ml: 10 digits, 2 decimals
CONTAINERS_LIMIT = 100_000
BALANCE_CONSTRAINTS = frozenset({"lot_balance_not_negative", "entry_balance_not_negative"})


# --- Receiving ---------------------------------------------------------------------------


@transaction.atomic
def lot_receive(
    *,
    actor: User,
    location: Location,
    product_name: str,
    concentration_mg_per_ml: Decimal | str | int,
    container_volume_ml: Decimal | str | int,
    containers_received: int | str,
    lot_number: str,
    expiry_date: date,
    supplier: str,
    supplier_address: str,
    supplier_dea_number: str,
    invoice_number: str,
    received_at: datetime | None = None,
    product: str = LotProduct.KETAMINE,
    request: HttpRequest | None = None,
) -> Lot:
    """Receive a delivery: a new lot holding concentration x container size x containers mg,
    and its receipt, with what 21 CFR 1304.22(c) asks a receipt to record (the product,
    its strength, the container size and count, the date received, and the supplier's
    name, address and DEA number). ``product`` esketamine is Spravato nasal spray, whose
    containers are its 28 mg devices (``infusions.esketamine.esketamine_lot_receive``)."""
    require(actor, LEDGER_CAPABILITY)
    now = timezone.now()
    received_at = received_at or now
    errors: Errors = {}
    concentration = decimal_in(
        concentration_mg_per_ml, "concentration_mg_per_ml", "The concentration", "mg/mL", errors
    )
    size = decimal_in(
        container_volume_ml, "container_volume_ml", "The container size", "mL", errors, places=2
    )
    containers = containers_in(containers_received, errors)
    texts = {
        "product_name": ("the product name, as on the label", product_name),
        "lot_number": ("the lot number", lot_number),
        "supplier": ("the supplier's name", supplier),
        "supplier_address": ("the supplier's address, as on the invoice", supplier_address),
        "invoice_number": ("the invoice number", invoice_number),
    }
    cleaned: dict[str, str] = {}
    for field, (label, value) in texts.items():
        cleaned[field] = (value or "").strip()
        max_length = Lot._meta.get_field(field).max_length
        if not cleaned[field]:
            errors.setdefault(field, []).append(f"Enter {label}.")
        elif max_length is not None and len(cleaned[field]) > max_length:
            errors.setdefault(field, []).append(
                f"Shorten {label} to at most {max_length} characters."
            )
    dea_number = normalized_dea_number(supplier_dea_number)
    if problem := dea_number_problem(dea_number, registrant=Registrant.SUPPLIER):
        errors.setdefault("supplier_dea_number", []).append(
            f"{problem} (The supplier's number is on its invoice or DEA Form 222.)"
        )
    if not location.is_active:
        errors.setdefault("location", []).append(
            f"{location} is no longer active: receive the stock at an active location."
        )
    elif problem := registration_problem(location, received_at.astimezone(location.tz).date()):
        errors.setdefault("location", []).append(problem)
    if received_at > now:
        errors.setdefault("received_at", []).append(
            "The time received is in the future: enter when the delivery arrived."
        )
    if expiry_date < received_at.astimezone(location.tz).date():
        errors.setdefault("expiry_date", []).append(
            f"This lot expired on {expiry_date:%Y-%m-%d}: do not take expired stock into the "
            "ledger; return it to the supplier."
        )
    total_mg = volume = Decimal(0)
    if concentration is not None and size is not None and containers is not None:
        volume = size * containers
        total_mg = (concentration * volume).quantize(MG_PLACES, rounding=ROUND_HALF_UP)
        if total_mg >= MG_LIMIT or volume >= VOLUME_LIMIT:
            errors.setdefault("containers_received", []).append(
                "That is more drug than one lot can hold: check the concentration, the "
                "container size and the number of containers."
            )
    _raise_if(errors)

    lot = Lot.objects.create(
        location=location,
        concentration_mg_per_ml=concentration,
        volume_ml=volume,
        container_volume_ml=size,
        containers_received=containers,
        supplier_dea_number=dea_number,
        expiry_date=expiry_date,
        received_by=actor,
        received_at=received_at,
        balance_mg=total_mg,
        product=product,
        mg_per_device=ESKETAMINE_MG_PER_DEVICE if product == LotProduct.ESKETAMINE else None,
        **cleaned,
    )
    LedgerEntry.objects.create(
        lot=lot,
        kind=Kind.RECEIPT,
        amount_mg=total_mg,
        balance_after_mg=total_mg,
        recorded_by=actor,
        occurred_at=received_at,
    )
    audit_record(
        actor=actor,
        action=Action.CREATE,
        target=lot,
        summary="received a ketamine lot (product, lot number, containers, supplier, invoice)",
        request=request,
    )
    return lot


# --- Movements ---------------------------------------------------------------------------


@transaction.atomic
def ledger_administer(
    *,
    actor: User,
    lot: Lot,
    patient: Patient,
    amount_mg: Decimal | str | int,
    occurred_at: datetime | None = None,
    session: InfusionSession | None = None,
    request: HttpRequest | None = None,
) -> LedgerEntry:
    """Record a dose given to ``patient`` from ``lot`` by ``actor`` (in ``session``)."""
    locked, errors, amount, occurred_at = lot_opened(
        actor, lot, amount_mg, "amount_mg", "The dose", occurred_at
    )
    if patient is None:
        errors.setdefault("patient", []).append("Choose the patient who received the dose.")
    if locked.expiry_date < timezone.now().astimezone(locked.location.tz).date():
        errors.setdefault("lot", []).append(
            f"Lot {locked.lot_number} expired on {locked.expiry_date:%Y-%m-%d}: give the dose "
            "from another lot, and record the expired stock as waste."
        )
    local_day = occurred_at.astimezone(locked.location.tz).date()
    if problem := registration_problem(locked.location, local_day):
        errors.setdefault("lot", []).append(problem)
    _check_session(session, patient, locked, errors)
    return booked_movement(
        locked,
        lot,
        errors,
        kind=Kind.ADMINISTERED,
        amount=None if amount is None else -amount,
        recorded_by=actor,
        patient=patient,
        occurred_at=occurred_at,
        session=session,
        audit=("recorded a ketamine dose (lot, amount, patient)", request),
    )


@transaction.atomic
def ledger_waste(
    *,
    actor: User,
    lot: Lot,
    amount_mg: Decimal | str | int,
    witness: User | None,
    witness_password: str,
    witness_otp: str = "",
    reason: str = "",
    patient: Patient | None = None,
    occurred_at: datetime | None = None,
    session: InfusionSession | None = None,
    request: HttpRequest | None = None,
) -> LedgerEntry:
    """Record drug destroyed, seen by ``witness``, who confirms with their own password (and
    ``witness_otp``, a code from their second factor, when they have one)."""
    locked, errors, amount, occurred_at = lot_opened(
        actor, lot, amount_mg, "amount_mg", "The amount wasted", occurred_at
    )
    _check_witness(actor, witness, witness_password, errors, request, otp=witness_otp)
    _check_session(session, patient, locked, errors)
    return booked_movement(
        locked,
        lot,
        errors,
        kind=Kind.WASTED,
        amount=None if amount is None else -amount,
        recorded_by=actor,
        witness=witness,
        reason=reason.strip(),
        patient=patient,
        occurred_at=occurred_at,
        session=session,
        audit=("recorded witnessed ketamine waste (lot, amount, witness)", request),
    )


@transaction.atomic
def ledger_adjust(
    *,
    actor: User,
    lot: Lot,
    amount_mg: Decimal | str | int,
    reason: str,
    corrects: LedgerEntry | None = None,
    occurred_at: datetime | None = None,
    request: HttpRequest | None = None,
) -> LedgerEntry:
    """Move a lot's balance by ``amount_mg`` (+ or -) for a stated reason.

    This is how a mistaken entry is corrected: a new adjustment that ``corrects`` it.
    """
    locked, errors, amount, occurred_at = lot_opened(
        actor, lot, amount_mg, "amount_mg", "The adjustment", occurred_at, signed=True
    )
    reason = (reason or "").strip()
    if not reason:
        errors.setdefault("reason", []).append(
            "Say why the balance changes (e.g. which entry was wrong and how): an adjustment "
            "needs a reason."
        )
    if corrects is not None and corrects.lot_id != locked.pk:
        errors.setdefault("corrects", []).append(
            "That entry belongs to another lot: correct it with an adjustment on its own lot."
        )
    return booked_movement(
        locked,
        lot,
        errors,
        kind=Kind.ADJUSTMENT,
        amount=amount,
        recorded_by=actor,
        reason=reason,
        corrects=corrects,
        occurred_at=occurred_at,
        audit=("recorded a ketamine ledger adjustment (lot, amount, reason)", request),
    )


@transaction.atomic
def ledger_count(
    *,
    actor: User,
    lot: Lot,
    counted_mg: Decimal | str | int,
    explanation: str = "",
    occurred_at: datetime | None = None,
    inventory: Inventory | None = None,
    request: HttpRequest | None = None,
) -> LedgerEntry:
    """Record an inventory count of ``lot`` (in ``inventory``, when it is part of one);
    returns the count entry.

    When the count differs from the book the difference must be explained; it is then also
    booked as an adjustment (``count.corrections``) bringing the balance to ``counted_mg``.
    """
    locked, errors, counted, occurred_at = lot_opened(
        actor, lot, counted_mg, "counted_mg", "The count", occurred_at, allow_zero=True
    )
    explanation = (explanation or "").strip()
    expected = locked.balance_mg
    discrepancy = counted - expected if counted is not None else Decimal(0)
    per_device = locked.mg_per_device if locked.is_devices else None
    if per_device and counted is not None and counted % per_device:
        errors.setdefault("counted_mg", []).append(
            f"Spravato is counted in whole devices of {per_device} mg: {counted} mg is not a "
            "whole number of devices."
        )
    elif discrepancy and not explanation:
        direction = "less" if discrepancy < 0 else "more"
        if per_device:
            devices = int(abs(discrepancy) // per_device)
            difference = (
                f"{devices} device{'s' if devices != 1 else ''} {direction} than the book's "
                f"{locked.devices_left} devices ({abs(discrepancy)} mg)"
            )
        else:
            difference = f"{abs(discrepancy)} mg {direction} than the book's {expected} mg"
        errors.setdefault("explanation", []).append(
            f"You counted {difference}: explain the difference before saving (a significant "
            "loss must also be reported to the DEA)."
        )
    _raise_if(errors)
    count = _book(
        locked,
        lot,
        kind=Kind.COUNT,
        amount=Decimal(0),
        recorded_by=actor,
        counted_mg=counted,
        discrepancy_mg=discrepancy,
        reason=explanation,
        occurred_at=occurred_at,
        inventory=inventory,
        audit=("recorded a ketamine count (lot, counted, discrepancy)", request),
    )
    if discrepancy:
        _book(
            locked,
            lot,
            kind=Kind.ADJUSTMENT,
            amount=discrepancy,
            recorded_by=actor,
            reason=explanation,
            corrects=count,
            occurred_at=occurred_at,
            audit=("booked a count discrepancy as a ketamine ledger adjustment", request),
        )
    return count


# --- Helpers -----------------------------------------------------------------------------


def lot_opened(
    actor: User,
    lot: Lot,
    value: Any,
    field: str,
    label: str,
    occurred_at: datetime | None,
    **number: Any,
) -> tuple[Lot, Errors, Decimal | None, datetime]:
    """The first steps of every movement: ``actor`` may handle the drug, the lot is locked,
    and the amount (``value`` under ``field``, read by ``decimal_in`` with ``number``'s options)
    and the time are checked. Returns the locked lot, the problems found so far (nothing is
    raised yet), the amount (None when refused) and the time."""
    require(actor, LEDGER_CAPABILITY)
    locked = _lock(lot)
    errors: Errors = {}
    amount = decimal_in(value, field, label, "mg", errors, **number)
    return locked, errors, amount, _occurred_at(locked, occurred_at, errors)


def booked_movement(
    locked: Lot, lot: Lot, errors: Errors, *, amount: Decimal | None, **entry: Any
) -> LedgerEntry:
    """The last steps of a movement that changes the balance: refuse it when it would take
    the lot below zero or anything else is in ``errors``, else book ``amount`` (``_book``)."""
    if amount is not None:
        _refuse_below_zero(locked, amount, errors)
    _raise_if(errors)
    return _book(locked, lot, amount=amount, **entry)


def _lock(lot: Lot) -> Lot:
    """The lot row, locked until the transaction ends (one query)."""
    return Lot.objects.select_for_update().select_related("location").get(pk=lot.pk)


def _book(
    locked: Lot,
    lot: Lot,
    *,
    kind: str,
    amount: Decimal,
    audit: tuple[str, HttpRequest | None],
    **fields: Any,
) -> LedgerEntry:
    """Insert the entry and move the locked lot's balance, in a savepoint, then audit it.

    ``lot`` is the caller's copy, brought up to date on success; ``audit`` is the event's
    summary and the request it came from.
    """
    before = locked.balance_mg
    after = before + amount
    try:
        with transaction.atomic():
            entry = LedgerEntry.objects.create(
                lot=locked, kind=kind, amount_mg=amount, balance_after_mg=after, **fields
            )
            locked.balance_mg = after
            locked.save(update_fields=["balance_mg"])
    except IntegrityError as error:
        locked.balance_mg = before
        if _violated_constraint(error) not in BALANCE_CONSTRAINTS:
            raise
        raise ValidationError({"amount_mg": [_below_zero_message(locked)]}) from error
    lot.balance_mg = after
    summary, request = audit
    audit_record(
        actor=fields["recorded_by"],
        action=Action.CREATE,
        target=entry,
        summary=summary,
        request=request,
    )
    return entry


def _refuse_below_zero(locked: Lot, amount: Decimal, errors: Errors) -> None:
    if locked.balance_mg + amount < 0:
        errors.setdefault("amount_mg", []).append(_below_zero_message(locked))


def _below_zero_message(lot: Lot) -> str:
    return (
        f"That would take lot {lot.lot_number} below zero: it holds {lot.balance_mg} mg. "
        "Check the amount, or count the lot if the book looks wrong."
    )


def _check_witness(
    actor: User,
    witness: User | None,
    password: str,
    errors: Errors,
    request: HttpRequest | None = None,
    otp: str = "",
) -> None:
    for field, messages in cosigner_errors(
        actor=actor,
        cosigner=witness,
        password=password,
        otp=otp,
        capability=LEDGER_CAPABILITY,
        field="witness",
        what="saw the drug destroyed",
        who="another nurse or physician",
        request=request,
    ).items():
        errors.setdefault(field, []).extend(messages)


def _occurred_at(locked: Lot, occurred_at: datetime | None, errors: Errors) -> datetime:
    now = timezone.now()
    if occurred_at is None:
        return now
    if occurred_at > now:
        errors.setdefault("occurred_at", []).append(
            "That time is in the future: enter when it happened."
        )
    elif occurred_at < locked.received_at:
        errors.setdefault("occurred_at", []).append(
            f"That is before lot {locked.lot_number} was received: check the time and the lot."
        )
    return occurred_at


def _check_session(
    session: InfusionSession | None, patient: Patient | None, lot: Lot, errors: Errors
) -> None:
    """A dose or waste booked to a session must be that session's patient's, at its place."""
    if session is None:
        return
    appointment = session.appointment
    if patient is not None and appointment.patient_id != patient.pk:
        errors.setdefault("patient", []).append(
            "This session is another patient's: book the drug to the patient in the chair."
        )
    if appointment.location_id != lot.location_id:
        errors.setdefault("lot", []).append(
            f"Lot {lot.lot_number} is stock of another location: draw from a lot kept where "
            "the session takes place."
        )


def decimal_in(
    value: Any,
    field: str,
    label: str,
    unit: str,
    errors: Errors,
    *,
    places: int = MG["decimal_places"],
    signed: bool = False,
    allow_zero: bool = False,
) -> Decimal | None:
    """``value`` as a Decimal, or None with a message in ``errors[field]``.

    Never rounds silently: more than ``places`` decimals is refused, so what is booked is
    exactly what was entered.
    """
    try:
        number = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        number = None
    problem = ""
    if number is None or not number.is_finite():
        problem = f"{label} must be a number of {unit}, e.g. 35.5."
    elif abs(number) >= MG_LIMIT:
        problem = f"{label} is too large: check the amount in {unit}."
    elif number != number.quantize(Decimal(1).scaleb(-places)):
        problem = f"{label} can have at most {places} decimals: round it to {places} places."
    elif number == 0 and not allow_zero:
        problem = f"{label} cannot be zero: enter the amount in {unit}."
    elif number < 0 and not signed:
        problem = f"{label} cannot be negative: enter the amount in {unit}."
    if problem:
        errors.setdefault(field, []).append(problem)
        return None
    return number


def containers_in(value: Any, errors: Errors) -> int | None:
    """How many containers were received: a whole number of at least one."""
    text = str(value if value is not None else "").strip()
    if text.isdigit() and 0 < int(text) < CONTAINERS_LIMIT:
        return int(text)
    errors.setdefault("containers_received", []).append(
        "Enter how many containers (vials) of this lot arrived: a whole number, e.g. 10."
    )
    return None


def _raise_if(errors: Errors) -> None:
    if errors:
        raise ValidationError(errors)


def _violated_constraint(error: IntegrityError) -> str:
    diag = getattr(error.__cause__, "diag", None)
    name = getattr(diag, "constraint_name", None)
    if name:
        return name
    return next((name for name in BALANCE_CONSTRAINTS if name in str(error)), "")
