"""Reading the controlled-substance ledger: a lot's balance worked out from its entries
(it must equal ``Lot.balance_mg``, which ``infusions.ledger`` keeps), every entry of a
period as CSV for inspections, two inventories reconciled lot by lot, and the DEA
inspection report of one location over a period (``inspection_report``, as a page, a CSV
and through the API)."""

from __future__ import annotations

import csv
import io
import itertools
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Count, Q, Sum

from clinic.models import Location, User
from infusions.dea import latest_registration
from infusions.ledger import MG_PLACES
from infusions.models import (
    DeaRegistration,
    Destruction,
    Inventory,
    LedgerEntry,
    LossIncident,
    Lot,
)
from infusions.models.dea import DestructionMethod
from infusions.models.ledger import LedgerEntryKind
from patients.models import Patient


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


# --- The DEA inspection report -------------------------------------------------------------

INSPECTION_MOVEMENTS = (
    LedgerEntryKind.RECEIPT,
    LedgerEntryKind.ADMINISTERED,
    LedgerEntryKind.WASTED,
    LedgerEntryKind.DESTROYED,
    LedgerEntryKind.ADJUSTMENT,
)


@dataclass(frozen=True)
class InspectionLine:
    """One ledger entry of the report, with the lot's balance once it is applied, in the
    order things happened (``occurred_at``): a back-dated entry takes its place by date."""

    entry: LedgerEntry
    balance_mg: Decimal

    @property
    def amount_mg(self) -> Decimal:
        """The amount moved, without its sign (what a record of a dose or waste says)."""
        return abs(self.entry.amount_mg)

    @property
    def patient_address(self) -> str:
        return patient_address(self.entry.patient) if self.entry.patient else ""

    @property
    def destruction(self) -> Destruction | None:
        return destruction_of(self.entry)

    @property
    def destruction_method(self) -> str:
        destruction = self.destruction
        return destruction_method(destruction) if destruction else ""


@dataclass(frozen=True)
class InspectionLot:
    """One lot over the report's period: its balance when the period starts, every entry
    with the running balance, and what each kind of entry moved in all."""

    lot: Lot
    opening_mg: Decimal
    lines: tuple[InspectionLine, ...]

    def _moved(self, kind: str) -> Decimal:
        total = sum(
            (line.entry.amount_mg for line in self.lines if line.entry.kind == kind),
            Decimal(0),
        )
        return total.quantize(MG_PLACES)

    @property
    def received_mg(self) -> Decimal:
        return self._moved(LedgerEntryKind.RECEIPT)

    @property
    def administered_mg(self) -> Decimal:
        return -self._moved(LedgerEntryKind.ADMINISTERED)

    @property
    def wasted_mg(self) -> Decimal:
        return -self._moved(LedgerEntryKind.WASTED)

    @property
    def destroyed_mg(self) -> Decimal:
        return -self._moved(LedgerEntryKind.DESTROYED)

    @property
    def adjusted_mg(self) -> Decimal:
        return self._moved(LedgerEntryKind.ADJUSTMENT)

    @property
    def closing_mg(self) -> Decimal:
        """The balance when the period ends: opening + receipts - administered - wasted -
        destroyed +/- adjustments."""
        return self.lines[-1].balance_mg if self.lines else self.opening_mg


@dataclass(frozen=True)
class InspectionInventory:
    """An inventory taken in the period, with each lot's count entry."""

    inventory: Inventory
    counts: tuple[LedgerEntry, ...]


@dataclass(frozen=True)
class InspectionReport:
    """What a DEA inspector asks to see of one registered location over a period (21 CFR
    1304.21-.22): its registration, every receipt, dose (the patient's name and address,
    the date, the amount, who gave it), waste, destruction, adjustment and inventory, the
    running balance of each lot, and the thefts or losses reported. ``inspection_report``
    builds it; the page, the CSV and the API read it."""

    location: Location
    registration: DeaRegistration | None
    start: date
    end: date
    lots: tuple[InspectionLot, ...]
    inventories: tuple[InspectionInventory, ...]
    incidents: tuple[LossIncident, ...]

    def lines_of(self, kind: str) -> list[InspectionLine]:
        """Every entry of ``kind`` at the location, in the order they happened."""
        lines = [line for lot in self.lots for line in lot.lines if line.entry.kind == kind]
        return sorted(lines, key=_line_order)

    @property
    def receipts(self) -> list[InspectionLine]:
        return self.lines_of(LedgerEntryKind.RECEIPT)

    @property
    def administrations(self) -> list[InspectionLine]:
        return self.lines_of(LedgerEntryKind.ADMINISTERED)

    @property
    def waste(self) -> list[InspectionLine]:
        return self.lines_of(LedgerEntryKind.WASTED)

    @property
    def destructions(self) -> list[InspectionLine]:
        return self.lines_of(LedgerEntryKind.DESTROYED)

    @property
    def adjustments(self) -> list[InspectionLine]:
        return self.lines_of(LedgerEntryKind.ADJUSTMENT)

    @property
    def is_empty(self) -> bool:
        return not (self.lots or self.inventories or self.incidents)

    def reconciliations(self) -> list[tuple[InspectionInventory, InspectionInventory, list]]:
        """Each pair of consecutive inventories in the period, reconciled lot by lot as
        ``inventories_reconciled`` does, from what the report has read (no query)."""
        pairs = []
        taken = self.inventories
        for opening, closing in itertools.pairwise(taken):
            pairs.append((opening, closing, self._reconciled(opening, closing)))
        return pairs

    def _reconciled(
        self, opening: InspectionInventory, closing: InspectionInventory
    ) -> list[LotReconciliation]:
        zero = Decimal(0).quantize(MG_PLACES)
        opened = {entry.lot_id: entry.counted_mg for entry in opening.counts}
        closed = {entry.lot_id: entry.counted_mg for entry in closing.counts}
        rows = []
        for section in self.lots:
            moved: dict[str, Decimal] = {}
            for line in section.lines:
                entry = line.entry
                if opening.inventory.taken_at < entry.occurred_at <= closing.inventory.taken_at:
                    moved[entry.kind] = moved.get(entry.kind, zero) + entry.amount_mg
            lot_id = section.lot.pk
            if lot_id not in opened and lot_id not in closed and not set(moved) - {"count"}:
                continue
            rows.append(
                LotReconciliation(
                    lot=section.lot,
                    opening_mg=opened.get(lot_id, zero),
                    received_mg=moved.get(LedgerEntryKind.RECEIPT, zero),
                    administered_mg=-moved.get(LedgerEntryKind.ADMINISTERED, zero),
                    wasted_mg=-moved.get(LedgerEntryKind.WASTED, zero),
                    destroyed_mg=-moved.get(LedgerEntryKind.DESTROYED, zero),
                    adjusted_mg=moved.get(LedgerEntryKind.ADJUSTMENT, zero),
                    closing_mg=closed.get(lot_id, zero),
                )
            )
        return rows


def _line_order(line: InspectionLine) -> tuple[datetime, datetime, int]:
    return (line.entry.occurred_at, line.entry.created_at, line.entry.pk)


def inspection_window(location: Location, start: date, end: date) -> tuple[datetime, datetime]:
    """From the start of ``start`` to the end of ``end`` on the location's calendar."""
    if end < start:
        raise ValidationError(
            {"end": ["The end date is before the start date: choose an end on or after it."]}
        )
    tz = location.tz
    return (
        datetime.combine(start, datetime.min.time(), tzinfo=tz),
        datetime.combine(end + timedelta(days=1), datetime.min.time(), tzinfo=tz),
    )


def inspection_report(*, location: Location, start: date, end: date) -> InspectionReport:
    """The inspection report of ``location`` from ``start`` to ``end`` (its own dates,
    inclusive). Six queries, however many doses: the lots (with their balance when the
    period starts), their entries in the period with the people, patients and destruction
    records joined in, the inventories, the loss incidents and their steps, and the
    registration. Nothing is left out for its age: records are kept and never deleted.

    It names patients (and their addresses): the caller audits it as an EXPORT."""
    begins, ends = inspection_window(location, start, end)
    zero = Decimal(0).quantize(MG_PLACES)
    in_period = Q(entries__occurred_at__gte=begins, entries__occurred_at__lt=ends)
    lots = list(
        Lot.objects.filter(location=location, received_at__lt=ends)
        .annotate(
            opening_mg=Sum(
                "entries__amount_mg", filter=Q(entries__occurred_at__lt=begins), default=zero
            ),
            moved=Count("entries", filter=in_period),
        )
        .filter(Q(opening_mg__gt=0) | Q(moved__gt=0))
        .order_by("expiry_date", "received_at", "id")
    )
    by_lot: dict[int, list[LedgerEntry]] = {lot.pk: [] for lot in lots}
    entries = (
        LedgerEntry.objects.filter(
            lot__in=list(by_lot), occurred_at__gte=begins, occurred_at__lt=ends
        )
        .select_related(
            "recorded_by",
            "witness",
            "patient",
            "corrects",
            "destruction__second_witness",
        )
        .order_by("occurred_at", "created_at", "id")
    )
    counts: dict[int, list[LedgerEntry]] = {}
    for entry in entries:
        by_lot[entry.lot_id].append(entry)
        if entry.inventory_id is not None:
            counts.setdefault(entry.inventory_id, []).append(entry)
    sections = []
    for lot in lots:
        lot.location = location
        balance = lot.opening_mg
        lines = []
        for entry in by_lot[lot.pk]:
            entry.lot = lot
            balance += entry.amount_mg
            lines.append(InspectionLine(entry=entry, balance_mg=balance))
        sections.append(InspectionLot(lot=lot, opening_mg=lot.opening_mg, lines=tuple(lines)))
    inventories = tuple(
        InspectionInventory(inventory=inventory, counts=tuple(counts.get(inventory.pk, ())))
        for inventory in Inventory.objects.filter(
            location=location, taken_at__gte=begins, taken_at__lt=ends
        )
        .select_related("counted_by", "witness")
        .order_by("taken_at", "id")
    )
    incidents = tuple(
        LossIncident.objects.filter(
            location=location, discovered_at__gte=begins, discovered_at__lt=ends
        )
        .select_related("lot", "reported_by")
        .prefetch_related("steps")
        .order_by("discovered_at", "id")
    )
    return InspectionReport(
        location=location,
        registration=latest_registration(location),
        start=start,
        end=end,
        lots=tuple(sections),
        inventories=inventories,
        incidents=incidents,
    )


INSPECTION_CSV_COLUMNS = [
    "section",
    "occurred_at",
    "lot_number",
    "product",
    "concentration_mg_per_ml",
    "amount_mg",
    "lot_balance_mg",
    "patient_name",
    "patient_address",
    "recorded_by",
    "witness",
    "second_witness",
    "supplier",
    "supplier_address",
    "supplier_dea_number",
    "container_volume_ml",
    "containers",
    "counted_mg",
    "discrepancy_mg",
    "method",
    "reason",
    "entry_id",
]


def inspection_csv(report: InspectionReport) -> str:
    """The report as one CSV file: a heading block (location, registration, period), then
    per lot its opening balance, every entry in the order it happened with the running
    balance, and its closing balance; then the inventories and the loss incidents. Times
    are the location's. Readable without the application; cells never start a formula."""
    tz = report.location.tz
    out = io.StringIO()
    writer = csv.writer(out)
    registration = report.registration
    writer.writerow(["DEA inspection report", _cell(report.location.name)])
    writer.writerow(["DEA registration", registration.number if registration else "none on record"])
    if registration is not None:
        writer.writerow(["Registrant", _cell(_staff_name(registration.registrant))])
    writer.writerow(["Period", f"{report.start.isoformat()} to {report.end.isoformat()}"])
    writer.writerow(["Time zone", report.location.time_zone])
    writer.writerow([])
    writer.writerow(INSPECTION_CSV_COLUMNS)
    blank = [""] * len(INSPECTION_CSV_COLUMNS)

    def row(**cells: object) -> list[object]:
        values = list(blank)
        for name, value in cells.items():
            values[INSPECTION_CSV_COLUMNS.index(name)] = value
        return values

    def when(moment: datetime) -> str:
        return moment.astimezone(tz).isoformat(timespec="seconds")

    for section in report.lots:
        lot = section.lot
        about_lot = {
            "lot_number": _cell(lot.lot_number),
            "product": _cell(lot.product_name),
            "concentration_mg_per_ml": lot.concentration_mg_per_ml,
        }
        writer.writerow(
            row(section="opening balance", lot_balance_mg=section.opening_mg, **about_lot)
        )
        for line in section.lines:
            writer.writerow(row(**_entry_cells(line, when), **about_lot))
        writer.writerow(
            row(section="closing balance", lot_balance_mg=section.closing_mg, **about_lot)
        )
    for taken in report.inventories:
        inventory = taken.inventory
        writer.writerow(
            row(
                section="inventory",
                occurred_at=when(inventory.taken_at),
                recorded_by=_cell(_staff_name(inventory.counted_by)),
                witness=_cell(_staff_name(inventory.witness)),
                method=inventory.get_time_of_day_display()
                + (" (initial inventory)" if inventory.is_initial else ""),
                reason="" if taken.counts else "nothing on hand",
            )
        )
    for incident in report.incidents:
        steps = "; ".join(
            f"{step.get_step_display()} {when(step.done_at)} ({step.reference})"
            for step in incident.steps.all()
        )
        writer.writerow(
            row(
                section=f"theft or loss: {incident.get_kind_display().lower()}",
                occurred_at=when(incident.discovered_at),
                lot_number=_cell(incident.lot.lot_number) if incident.lot else "",
                amount_mg="" if incident.amount_mg is None else incident.amount_mg,
                recorded_by=_cell(_staff_name(incident.reported_by)),
                reason=_cell(incident.description + (f" | {steps}" if steps else "")),
            )
        )
    return out.getvalue()


def _entry_cells(line: InspectionLine, when: Any) -> dict[str, object]:
    entry = line.entry
    lot = entry.lot
    cells: dict[str, object] = {
        "section": entry.kind,
        "occurred_at": when(entry.occurred_at),
        "amount_mg": entry.amount_mg,
        "lot_balance_mg": line.balance_mg,
        "recorded_by": _cell(_staff_name(entry.recorded_by)),
        "witness": _cell(_staff_name(entry.witness)) if entry.witness else "",
        "reason": _cell(entry.reason),
        "entry_id": entry.public_id,
    }
    if entry.patient is not None:
        cells["patient_name"] = _cell(entry.patient.legal_name)
        cells["patient_address"] = _cell(patient_address(entry.patient))
    if entry.kind == LedgerEntryKind.RECEIPT:
        cells.update(
            supplier=_cell(lot.supplier),
            supplier_address=_cell(lot.supplier_address or ""),
            supplier_dea_number=lot.supplier_dea_number or "",
            container_volume_ml="" if lot.container_volume_ml is None else lot.container_volume_ml,
            containers="" if lot.containers_received is None else lot.containers_received,
        )
    if entry.kind == LedgerEntryKind.COUNT:
        cells.update(counted_mg=entry.counted_mg, discrepancy_mg=entry.discrepancy_mg)
    destruction = destruction_of(entry)
    if destruction is not None:
        cells.update(
            second_witness=_cell(_staff_name(destruction.second_witness)),
            containers=destruction.containers,
            method=_cell(destruction_method(destruction)),
        )
    return cells


def destruction_of(entry: LedgerEntry) -> Destruction | None:
    """The Form 41 record of a ``destroyed`` entry (joined in by the report: no query)."""
    if entry.kind != LedgerEntryKind.DESTROYED:
        return None
    try:
        return entry.destruction
    except Destruction.DoesNotExist:
        return None


def destruction_method(destruction: Destruction) -> str:
    if destruction.method == DestructionMethod.REVERSE_DISTRIBUTOR:
        return (
            f"Reverse distributor {destruction.reverse_distributor}, "
            f"{destruction.reverse_distributor_address}, DEA "
            f"{destruction.reverse_distributor_dea_number}"
        )
    return f"On site: {destruction.on_site_method}"


def patient_address(patient: Patient) -> str:
    """The patient's address on one line, as the administration record gives it."""
    parts = [
        patient.address_line1,
        patient.address_line2,
        patient.city,
        " ".join(part for part in (patient.region, patient.postal_code) if part),
    ]
    return ", ".join(part for part in parts if part) or "no address on record"
