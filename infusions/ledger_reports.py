"""Reading the controlled-substance ledger: a lot's balance worked out from its entries
(it must equal ``Lot.balance_mg``, which ``infusions.ledger`` keeps), every entry of a
period as CSV for inspections, and two inventories reconciled lot by lot."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db.models import Sum

from clinic.models import User
from infusions.ledger import MG_PLACES
from infusions.models import Inventory, LedgerEntry, Lot
from infusions.models.ledger import LedgerEntryKind


def lot_balance_from_entries(lot: Lot) -> Decimal:
    """The lot's balance worked out from its entries (one query): should equal balance_mg."""
    total = LedgerEntry.objects.filter(lot=lot).aggregate(total=Sum("amount_mg"))["total"]
    return total if total is not None else Decimal(0).quantize(MG_PLACES)


CSV_COLUMNS = [
    "entry_id",
    "location",
    "product",
    "concentration_mg_per_ml",
    "lot_number",
    "lot_expiry",
    "supplier",
    "supplier_address",
    "supplier_dea_number",
    "container_volume_ml",
    "containers_received",
    "invoice_number",
    "kind",
    "occurred_at",
    "recorded_at",
    "amount_mg",
    "balance_after_mg",
    "counted_mg",
    "discrepancy_mg",
    "patient_id",
    "patient_name",
    "patient_date_of_birth",
    "recorded_by",
    "witness",
    "reason",
    "session_id",
    "corrects_entry_id",
]


def ledger_csv(*, start: date, end: date) -> str:
    """Every ledger entry that occurred from ``start`` to ``end`` (inclusive), as CSV.

    For inspections: readable without the application. Dates are each location's local
    dates and times are shown in its time zone. Rows are grouped by lot in the order they
    were recorded, so ``balance_after_mg`` reads as a running balance. The caller audits
    the export (``Action.EXPORT``): the file names patients.
    """
    if end < start:
        raise ValidationError(
            {"end": ["The end date is before the start date: choose an end on or after it."]}
        )
    # A day in any time zone lies within a day either side of the same UTC day.
    window_start = datetime.combine(start - timedelta(days=1), datetime.min.time(), UTC)
    window_end = datetime.combine(end + timedelta(days=2), datetime.min.time(), UTC)
    entries = (
        LedgerEntry.objects.filter(occurred_at__gte=window_start, occurred_at__lt=window_end)
        .select_related("lot__location", "recorded_by", "witness", "patient", "corrects", "session")
        .order_by("lot__location__name", "lot__received_at", "lot_id", "created_at", "id")
    )
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for entry in entries:
        lot = entry.lot
        tz = lot.location.tz
        occurred = entry.occurred_at.astimezone(tz)
        if not start <= occurred.date() <= end:
            continue
        patient = entry.patient
        writer.writerow(
            [
                entry.public_id,
                _cell(lot.location.name),
                _cell(lot.product_name),
                lot.concentration_mg_per_ml,
                _cell(lot.lot_number),
                lot.expiry_date.isoformat(),
                _cell(lot.supplier),
                _cell(lot.supplier_address or ""),
                lot.supplier_dea_number or "",
                "" if lot.container_volume_ml is None else lot.container_volume_ml,
                "" if lot.containers_received is None else lot.containers_received,
                _cell(lot.invoice_number),
                entry.kind,
                occurred.isoformat(timespec="seconds"),
                entry.created_at.astimezone(tz).isoformat(timespec="seconds"),
                entry.amount_mg,
                entry.balance_after_mg,
                "" if entry.counted_mg is None else entry.counted_mg,
                "" if entry.discrepancy_mg is None else entry.discrepancy_mg,
                patient.public_id if patient else "",
                _cell(f"{patient.legal_first_name} {patient.legal_last_name}") if patient else "",
                patient.date_of_birth.isoformat() if patient else "",
                _cell(_staff_name(entry.recorded_by)),
                _cell(_staff_name(entry.witness)) if entry.witness else "",
                _cell(entry.reason),
                entry.session.public_id if entry.session else "",
                entry.corrects.public_id if entry.corrects else "",
            ]
        )
    return out.getvalue()


def _staff_name(user: User) -> str:
    return f"{user.full_name} <{user.email}>"


def _cell(value: str) -> str:
    """Text as a spreadsheet shows it, never as a formula (CSV injection)."""
    if value and value[0] in "=+-@\t\r":
        return "'" + value
    return value


# --- Reconciling two inventories -----------------------------------------------------------


@dataclass(frozen=True)
class LotReconciliation:
    """One lot between two inventories: what the first counted, every movement in between
    by kind, and what the second counted (0 for a lot it had no count of: none was left)."""

    lot: Lot
    opening_mg: Decimal
    received_mg: Decimal
    administered_mg: Decimal
    wasted_mg: Decimal
    destroyed_mg: Decimal
    adjusted_mg: Decimal
    closing_mg: Decimal

    @property
    def expected_mg(self) -> Decimal:
        return (
            self.opening_mg
            + self.received_mg
            - self.administered_mg
            - self.wasted_mg
            - self.destroyed_mg
            + self.adjusted_mg
        )

    @property
    def balanced(self) -> bool:
        return self.expected_mg == self.closing_mg


def inventories_reconciled(*, opening: Inventory, closing: Inventory) -> list[LotReconciliation]:
    """For every lot at the location: opening count + receipts - administered - wasted -
    destroyed +/- adjustments, against the closing count (three queries).

    Movements are those that occurred after the opening inventory's time, up to and
    including the closing one's: so the adjustments that booked the opening count's
    differences (at its time) are already in the opening count, and those booking the
    closing count's differences are in the movements. Counts move nothing.
    """
    if opening.location_id != closing.location_id or closing.taken_at <= opening.taken_at:
        raise ValidationError(
            {"closing": ["Choose a later inventory of the same location to reconcile with."]}
        )
    counted = {
        (entry.inventory_id, entry.lot_id): entry.counted_mg
        for entry in LedgerEntry.objects.filter(inventory__in=[opening, closing])
    }
    sums: dict[tuple[int, str], Decimal] = {
        (row["lot_id"], row["kind"]): row["total"]
        for row in LedgerEntry.objects.filter(
            lot__location_id=opening.location_id,
            occurred_at__gt=opening.taken_at,
            occurred_at__lte=closing.taken_at,
        )
        .exclude(kind=LedgerEntryKind.COUNT)
        .values("lot_id", "kind")
        .annotate(total=Sum("amount_mg"))
    }
    lot_ids = {lot_id for (_, lot_id) in counted} | {lot_id for (lot_id, _) in sums}
    zero = Decimal(0).quantize(MG_PLACES)
    rows = []
    for lot in Lot.objects.filter(pk__in=lot_ids).order_by("expiry_date", "received_at", "id"):

        def moved(kind: str, lot: Lot = lot) -> Decimal:
            return sums.get((lot.pk, kind), zero)

        rows.append(
            LotReconciliation(
                lot=lot,
                opening_mg=counted.get((opening.pk, lot.pk), zero),
                received_mg=moved(LedgerEntryKind.RECEIPT),
                administered_mg=-moved(LedgerEntryKind.ADMINISTERED),
                wasted_mg=-moved(LedgerEntryKind.WASTED),
                destroyed_mg=-moved(LedgerEntryKind.DESTROYED),
                adjusted_mg=moved(LedgerEntryKind.ADJUSTMENT),
                closing_mg=counted.get((closing.pk, lot.pk), zero),
            )
        )
    return rows
