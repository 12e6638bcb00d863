"""The billing reports: the daily close of a location and the aged balances. Reads only.

Each report is a fixed handful of queries however many rows it covers (the sums are summed
by the database, never row by row in Python), and reads the books as they were at a moment,
so a close printed tomorrow says what it said tonight: a payment taken, a refund given or a
credit note written after the close does not change it.

Who may read them: staff with VIEW_BILLING (the front desk and clinic admins). Staff are not
assigned to locations in Chairside, so the front desk may read the close of every location,
as they may open every location's invoices; nurses and physicians see a patient's balance
on the chart only, not the reports.

**Fees.** A fee (no-show or late cancel) is recognised from the data, not from a flag only
the fee work would set: it is an issued invoice line whose visit did not happen, i.e. the
invoice's appointment was marked a no-show or cancelled (``FEE_LINES``). A visit that did
not happen is charged nothing but a fee, so nothing else matches. If lines later get a kind
of their own, ``FEE_LINES`` is the one place to change.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import (
    Count,
    ExpressionWrapper,
    F,
    Min,
    OuterRef,
    Q,
    QuerySet,
    Sum,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from billing.models import (
    CreditNote,
    Invoice,
    InvoiceLine,
    InvoiceStatus,
    Payment,
    PaymentMethod,
    Refund,
)
from billing.selectors import MONEY, ZERO, _sum_of
from clinic.models import Location
from clinic.permissions import Capability, require
from clinic.selectors import locations_visible_to
from scheduling.models import AppointmentStatus

# A line is a fee when its invoice's visit did not happen (see the module's docstring).
FEE_LINES = Q(
    invoice__appointment__status__in=[AppointmentStatus.NO_SHOW, AppointmentStatus.CANCELLED]
)


def reports_locations(user: Any) -> QuerySet[Location]:
    """The locations whose reports ``user`` may read: 403 without billing access. Inactive
    locations are included for those who manage locations (a closed clinic's books still
    need closing)."""
    require(user, Capability.VIEW_BILLING)
    return locations_visible_to(user).order_by("name", "id")


def day_window(location: Location, day: date) -> tuple[datetime, datetime]:
    """The start and end (exclusive) of ``day`` on the location's clock, as aware moments:
    23 or 25 hours long on the days the clocks change."""
    start = datetime.combine(day, time.min, tzinfo=location.tz)
    end = datetime.combine(day + timedelta(days=1), time.min, tzinfo=location.tz)
    return start, end


def local_today(location: Location) -> date:
    return timezone.now().astimezone(location.tz).date()


# --- The daily close ---------------------------------------------------------------------------


@dataclass(frozen=True)
class MethodTotal:
    method: str
    label: str
    count: int
    total: Decimal


@dataclass(frozen=True)
class MoneyMove:
    """One payment or refund of the day, for the close's list (no patient data)."""

    at: datetime
    kind: str  # "Payment" or "Refund"
    method_label: str
    amount: Decimal
    invoice_number: int | None
    invoice_public_id: Any
    reference: str


@dataclass(frozen=True)
class DailyClose:
    location: Location
    day: date
    starts_at: datetime
    ends_at: datetime
    payments: list[MethodTotal]
    refunds: list[MethodTotal]
    invoices_issued: int
    invoiced: Decimal
    credit_notes: int
    credited: Decimal
    fees: int
    fees_total: Decimal
    outstanding_invoices: int
    outstanding_patients: int
    outstanding: Decimal
    moves: list[MoneyMove] = field(default_factory=list)

    @property
    def payments_total(self) -> Decimal:
        return sum((row.total for row in self.payments), Decimal("0.00"))

    @property
    def refunds_total(self) -> Decimal:
        return sum((row.total for row in self.refunds), Decimal("0.00"))

    @property
    def net_taken(self) -> Decimal:
        """Money in less money back: what the drawer, the bank and the terminal should show."""
        return self.payments_total - self.refunds_total

    @property
    def is_empty(self) -> bool:
        return not (self.payments or self.refunds or self.invoices_issued or self.credit_notes)


_METHOD_LABELS = dict(PaymentMethod.choices)


def _by_method(rows: list[dict[str, Any]]) -> list[MethodTotal]:
    """Totals in the order methods are listed (``PaymentMethod``), leaving out methods with
    nothing."""
    found = {row["method"]: row for row in rows}
    return [
        MethodTotal(
            method=method,
            label=_METHOD_LABELS[method],
            count=found[method]["count"],
            total=found[method]["total"],
        )
        for method in PaymentMethod.values
        if method in found
    ]


def daily_close(location: Location, day: date) -> DailyClose:
    """The close of ``location`` for ``day`` (its local day): seven queries, whatever the
    day held. Money is counted by when it moved (taken, refunded, credited, issued) within
    the local day; what is outstanding is every issued invoice of the location as it stood at
    the end of the day."""
    start, end = day_window(location, day)
    at_location = Q(invoice__location=location)
    payments = _by_method(
        list(
            Payment.objects.filter(at_location, taken_at__gte=start, taken_at__lt=end)
            .values("method")
            .annotate(count=Count("id"), total=Sum("amount"))
            .order_by()
        )
    )
    refunds = _by_method(
        list(
            Refund.objects.filter(
                payment__invoice__location=location, refunded_at__gte=start, refunded_at__lt=end
            )
            .values(method=F("payment__method"))
            .annotate(count=Count("id"), total=Sum("amount"))
            .order_by()
        )
    )
    issued = InvoiceLine.objects.filter(
        at_location, invoice__issued_at__gte=start, invoice__issued_at__lt=end
    ).aggregate(
        invoices=Count("invoice", distinct=True),
        invoiced=Coalesce(Sum("amount"), ZERO),
        fees=Count("id", filter=FEE_LINES),
        fees_total=Coalesce(Sum("amount", filter=FEE_LINES), ZERO),
    )
    credits = CreditNote.objects.filter(
        at_location, created_at__gte=start, created_at__lt=end
    ).aggregate(count=Count("id"), total=Coalesce(Sum("amount"), ZERO))
    outstanding = outstanding_at(location, end)
    return DailyClose(
        location=location,
        day=day,
        starts_at=start,
        ends_at=end,
        payments=payments,
        refunds=refunds,
        invoices_issued=issued["invoices"],
        invoiced=issued["invoiced"],
        credit_notes=credits["count"],
        credited=credits["total"],
        fees=issued["fees"],
        fees_total=issued["fees_total"],
        outstanding_invoices=outstanding["invoices"],
        outstanding_patients=outstanding["patients"],
        outstanding=outstanding["owed"],
        moves=_moves(location, start, end),
    )


def invoices_owing_at(moment: datetime) -> QuerySet[Invoice]:
    """Invoices issued before ``moment`` with what each still owed then (``due``), counting
    only the payments, refunds and credit notes made before it. A void after ``moment`` was
    still owed then (its credit note is dated when it was voided)."""
    return (
        Invoice.objects.filter(issued_at__lt=moment)
        .annotate(
            total=_sum_of(InvoiceLine.objects.filter(invoice=OuterRef("pk")), "invoice"),
            credited=_sum_of(
                CreditNote.objects.filter(invoice=OuterRef("pk"), created_at__lt=moment),
                "invoice",
            ),
            paid=_sum_of(
                Payment.objects.filter(invoice=OuterRef("pk"), taken_at__lt=moment), "invoice"
            ),
            refunded=_sum_of(
                Refund.objects.filter(payment__invoice=OuterRef("pk"), refunded_at__lt=moment),
                "payment__invoice",
            ),
        )
        .annotate(
            due=ExpressionWrapper(
                F("total") - F("credited") - F("paid") + F("refunded"), output_field=MONEY
            )
        )
        .filter(due__gt=0)
    )


def outstanding_at(location: Location, moment: datetime) -> dict[str, Any]:
    """How many invoices of ``location`` (and patients) owed money at ``moment``, and how
    much: one query."""
    return (
        invoices_owing_at(moment)
        .filter(location=location)
        .aggregate(
            invoices=Count("id"),
            patients=Count("patient", distinct=True),
            owed=Coalesce(Sum("due"), ZERO),
        )
    )


def _moves(location: Location, start: datetime, end: datetime) -> list[MoneyMove]:
    """The day's payments and refunds, in time order (two queries)."""
    moves = [
        MoneyMove(
            at=payment.taken_at,
            kind="Payment",
            method_label=payment.get_method_display(),
            amount=payment.amount,
            invoice_number=payment.invoice.number,
            invoice_public_id=payment.invoice.public_id,
            reference=payment.reference,
        )
        for payment in Payment.objects.filter(
            invoice__location=location, taken_at__gte=start, taken_at__lt=end
        )
        .select_related("invoice")
        .only("taken_at", "method", "amount", "reference", "invoice__number", "invoice__public_id")
    ]
    moves += [
        MoneyMove(
            at=refund.refunded_at,
            kind="Refund",
            method_label=refund.payment.get_method_display(),
            amount=refund.amount,
            invoice_number=refund.payment.invoice.number,
            invoice_public_id=refund.payment.invoice.public_id,
            reference="",
        )
        for refund in Refund.objects.filter(
            payment__invoice__location=location, refunded_at__gte=start, refunded_at__lt=end
        )
        .select_related("payment__invoice")
        .only(
            "refunded_at",
            "amount",
            "payment__method",
            "payment__invoice__number",
            "payment__invoice__public_id",
        )
    ]
    return sorted(moves, key=lambda move: move.at)


def daily_close_rows(close: DailyClose) -> list[list[str]]:
    """The close as CSV rows: the summary, then each payment and refund of the day. Invoice
    numbers only: no patient is named."""
    tz = close.location.tz
    rows: list[list[str]] = [
        ["Daily close", spreadsheet_text(close.location.name), close.day.isoformat()],
        ["Section", "Item", "Count", "Amount"],
    ]
    for row in close.payments:
        rows.append(["Payments", row.label, str(row.count), f"{row.total:.2f}"])
    rows.append(
        ["Payments", "Total", str(sum(r.count for r in close.payments)), _f(close.payments_total)]
    )
    for row in close.refunds:
        rows.append(["Refunds", row.label, str(row.count), f"{row.total:.2f}"])
    rows.append(
        ["Refunds", "Total", str(sum(r.count for r in close.refunds)), _f(close.refunds_total)]
    )
    rows += [
        ["Net taken", "Payments less refunds", "", _f(close.net_taken)],
        ["Invoices issued", "Invoices", str(close.invoices_issued), _f(close.invoiced)],
        ["Fees", "No-show and late-cancel fee lines", str(close.fees), _f(close.fees_total)],
        ["Credit notes", "Credit notes", str(close.credit_notes), _f(close.credited)],
        [
            "Outstanding at close",
            f"Invoices owing ({close.outstanding_patients} patients)",
            str(close.outstanding_invoices),
            _f(close.outstanding),
        ],
        [],
        ["Time", "Kind", "Method", "Amount", "Invoice", "Reference"],
    ]
    for move in close.moves:
        rows.append(
            [
                move.at.astimezone(tz).strftime("%Y-%m-%d %H:%M %Z"),
                move.kind,
                move.method_label,
                _f(move.amount if move.kind == "Payment" else -move.amount),
                str(move.invoice_number or ""),
                spreadsheet_text(move.reference),
            ]
        )
    return rows


def _f(amount: Decimal) -> str:
    return f"{amount:.2f}"


def spreadsheet_text(value: str) -> str:
    """Text typed by people (a cheque's reference, a name) as a spreadsheet shows it, never
    as a formula (CSV injection)."""
    if value and value[0] in "=+-@\t\r":
        return "'" + value
    return value


# --- Aged balances -----------------------------------------------------------------------------


@dataclass(frozen=True)
class AgeBucket:
    key: str
    label: str
    # Whole days since the oldest unpaid invoice was issued: from ``least`` to ``most``.
    least: int
    most: int | None


AGE_BUCKETS = (
    AgeBucket("current", "0–30 days", 0, 30),
    AgeBucket("31_60", "31–60 days", 31, 60),
    AgeBucket("61_90", "61–90 days", 61, 90),
    AgeBucket("over_90", "Over 90 days", 91, None),
)
AGED_SORTS = {"amount": ("-owed", "patient_id"), "age": ("oldest", "patient_id")}


def bucket_of(age_days: int) -> AgeBucket:
    for bucket in AGE_BUCKETS:
        if bucket.most is None or age_days <= bucket.most:
            return bucket
    raise AssertionError("unreachable")


def _bucket_filter(bucket: AgeBucket, now: datetime) -> Q:
    """Patients whose oldest unpaid invoice is ``bucket.least`` to ``bucket.most`` whole
    days old at ``now``."""
    condition = Q(oldest__lte=now - timedelta(days=bucket.least))
    if bucket.most is not None:
        condition &= Q(oldest__gt=now - timedelta(days=bucket.most + 1))
    return condition


def aged_balances(*, location: Location | None = None, sort: str = "amount") -> QuerySet[Any]:
    """One row per patient who owes money (on ``location``'s invoices, or on any): ``patient_id``,
    ``owed``, ``invoices`` (how many owe) and ``oldest`` (when the oldest of them was
    issued), sorted by ``sort`` ("amount", largest first, or "age", oldest first). A patient's
    balance is the sum of what their issued invoices still owe (``billing.selectors``)."""
    owing = invoices_owing_at(timezone.now()).filter(status=InvoiceStatus.ISSUED)
    if location is not None:
        owing = owing.filter(location=location)
    return (
        owing.values("patient_id")
        .annotate(owed=Sum("due"), invoices=Count("id"), oldest=Min("issued_at"))
        .order_by(*AGED_SORTS.get(sort, AGED_SORTS["amount"]))
    )


def aged_totals(rows: QuerySet[Any], now: datetime) -> list[dict[str, Any]]:
    """Per bucket: how many patients and how much they owe (one query)."""
    sums: dict[str, Any] = {}
    for bucket in AGE_BUCKETS:
        condition = _bucket_filter(bucket, now)
        sums[f"{bucket.key}_patients"] = Count("patient_id", filter=condition)
        sums[f"{bucket.key}_owed"] = Coalesce(Sum("owed", filter=condition), ZERO)
    found = rows.order_by().aggregate(**sums)
    return [
        {
            "bucket": bucket,
            "patients": found[f"{bucket.key}_patients"],
            "owed": found[f"{bucket.key}_owed"],
        }
        for bucket in AGE_BUCKETS
    ]


def age_in_days(issued_at: datetime, now: datetime) -> int:
    return max((now - issued_at).days, 0)
