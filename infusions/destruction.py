"""Destroying expired or unusable ketamine (21 CFR 1317; DEA Form 41).

``lot_destroy`` takes an amount out of a lot as a ``destroyed`` ledger entry, with the
``Destruction`` record that holds what Form 41 asks: the quantity in containers and mg, the
reason, the method (handed to a reverse distributor, with its name, address and DEA number;
or destroyed on site, saying how it was made non-retrievable), the date, and two witnesses
besides the person recording it, each confirming with their own password (and second
factor) through ``clinic.cosign``. The lot page links to it; the entry shows in the lot's
running balance like any other.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from django.db import transaction
from django.http import HttpRequest

from clinic.audit import Action, audit_record
from clinic.cosign import cosigner_errors
from clinic.models import User
from infusions.dea import Registrant, dea_number_problem, normalized_dea_number
from infusions.ledger import LEDGER_CAPABILITY, Errors, booked_movement, containers_in, lot_opened
from infusions.models import Destruction, Lot
from infusions.models.dea import DestructionMethod
from infusions.models.ledger import LedgerEntryKind


@transaction.atomic
def lot_destroy(
    *,
    actor: User,
    lot: Lot,
    amount_mg: Decimal | str | int,
    containers: int | str,
    reason: str,
    method: str,
    witness: User | None,
    witness_password: str,
    second_witness: User | None,
    second_witness_password: str,
    witness_otp: str = "",
    second_witness_otp: str = "",
    reverse_distributor: str = "",
    reverse_distributor_address: str = "",
    reverse_distributor_dea_number: str = "",
    on_site_method: str = "",
    occurred_at: datetime | None = None,
    request: HttpRequest | None = None,
) -> Destruction:
    locked, errors, amount, occurred_at = lot_opened(
        actor, lot, amount_mg, "amount_mg", "The amount destroyed", occurred_at
    )
    count = containers_in(containers, {})
    if count is None:
        errors.setdefault("containers", []).append(
            "Enter how many containers (vials, whole or partial) are destroyed: a whole "
            "number, e.g. 2."
        )
    reason = (reason or "").strip()
    if not reason:
        errors.setdefault("reason", []).append(
            "Say why the stock is destroyed (e.g. expired, vial broken, contaminated)."
        )
    details = {
        "reverse_distributor": (reverse_distributor or "").strip(),
        "reverse_distributor_address": (reverse_distributor_address or "").strip(),
        "reverse_distributor_dea_number": "",
        "on_site_method": (on_site_method or "").strip(),
    }
    if method == DestructionMethod.REVERSE_DISTRIBUTOR:
        _reverse_distributor(details, reverse_distributor_dea_number, errors)
    elif method == DestructionMethod.ON_SITE:
        if not details["on_site_method"]:
            errors.setdefault("on_site_method", []).append(
                "Say how the drug was made non-retrievable (e.g. a drug disposal container)."
            )
    else:
        errors.setdefault("method", []).append(
            "Choose how it is destroyed: by a reverse distributor or on site."
        )
    _witnesses(actor, witness, witness_password, witness_otp, "witness", errors, request)
    _witnesses(
        actor,
        second_witness,
        second_witness_password,
        second_witness_otp,
        "second_witness",
        errors,
        request,
    )
    if witness is not None and second_witness is not None and witness.pk == second_witness.pk:
        errors.setdefault("second_witness", []).append(
            "Destruction needs two different witnesses: choose someone else as the second."
        )
    entry = booked_movement(
        locked,
        lot,
        errors,
        kind=LedgerEntryKind.DESTROYED,
        amount=None if amount is None else -amount,
        recorded_by=actor,
        witness=witness,
        reason=reason,
        occurred_at=occurred_at,
        audit=("recorded ketamine destroyed (lot, amount, two witnesses)", request),
    )
    destruction = Destruction.objects.create(
        entry=entry,
        method=method,
        reason=reason,
        containers=count,
        second_witness=second_witness,
        **details,
    )
    audit_record(
        actor=actor,
        action=Action.CREATE,
        target=destruction,
        summary="recorded a DEA Form 41 destruction record",
        request=request,
    )
    return destruction


def _reverse_distributor(details: dict[str, str], dea_number: str, errors: Errors) -> None:
    if not details["reverse_distributor"]:
        errors.setdefault("reverse_distributor", []).append("Enter the reverse distributor's name.")
    if not details["reverse_distributor_address"]:
        errors.setdefault("reverse_distributor_address", []).append(
            "Enter the reverse distributor's address."
        )
    number = normalized_dea_number(dea_number)
    if problem := dea_number_problem(number, registrant=Registrant.SUPPLIER):
        errors.setdefault("reverse_distributor_dea_number", []).append(problem)
    details["reverse_distributor_dea_number"] = number


def _witnesses(
    actor: User,
    person: User | None,
    password: str,
    otp: str,
    field: str,
    errors: Errors,
    request: HttpRequest | None,
) -> None:
    for key, messages in cosigner_errors(
        actor=actor,
        cosigner=person,
        password=password,
        otp=otp,
        capability=LEDGER_CAPABILITY,
        field=field,
        what="saw the stock destroyed or handed over",
        who="another nurse or physician",
        request=request,
    ).items():
        errors.setdefault(key, []).extend(messages)
