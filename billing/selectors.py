"""Reads of the books, and who may read them.

One access function per protected entity, used by pages, the API and tasks alike:
``billing_patient_for`` (a patient's invoices and payments), ``invoice_for``, ``payment_for``
and ``prices_for``; ``balance_for`` gives a patient's balance to anyone who may see it (the
chart shows it to clinicians, who get no further).

What is owed is never stored (``billing.models``): ``invoices_with_sums`` reads each
invoice's total, credits, payments and refunds beside it, and ``balance_of`` is the one
place the patient's balance is computed: charges (the lines of issued invoices) - payments +
refunds - credits, in one query however long the history.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import cache
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import (
    DecimalField,
    ExpressionWrapper,
    F,
    OuterRef,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.expressions import RawSQL
from django.db.models.functions import Coalesce
from django.http import Http404

from billing.models import (
    CreditNote,
    Invoice,
    InvoiceLine,
    InvoiceStatus,
    Payment,
    Price,
    Refund,
)
from clinic.permissions import Capability, require, user_can
from patients.models import Patient
from patients.selectors import patient_for
from scheduling.models import Appointment

MONEY = DecimalField(max_digits=14, decimal_places=2)
ZERO = Value(Decimal("0.00"), output_field=MONEY)


def _sum_of(queryset: QuerySet[Any], group_by: str, field: str = "amount") -> Coalesce:
    """``SUM(field)`` of ``queryset``'s rows for the outer row, 0 when there are none."""
    total = queryset.values(group_by).annotate(total=Sum(field)).values("total")[:1]
    return Coalesce(Subquery(total, output_field=MONEY), ZERO)


# --- What is owed ----------------------------------------------------------------------------


def invoices_with_sums(queryset: QuerySet[Invoice]) -> QuerySet[Invoice]:
    """``queryset`` with each invoice's ``total`` (its lines), ``credited``, ``paid`` and
    ``refunded``, and ``due`` (total - credited - paid + refunded), in the same query."""
    return queryset.annotate(
        total=_sum_of(InvoiceLine.objects.filter(invoice=OuterRef("pk")), "invoice"),
        credited=_sum_of(CreditNote.objects.filter(invoice=OuterRef("pk")), "invoice"),
        paid=_sum_of(Payment.objects.filter(invoice=OuterRef("pk")), "invoice"),
        refunded=_sum_of(
            Refund.objects.filter(payment__invoice=OuterRef("pk")), "payment__invoice"
        ),
    ).annotate(
        due=ExpressionWrapper(
            F("total") - F("credited") - F("paid") + F("refunded"), output_field=MONEY
        )
    )


def settlement(invoice: Invoice) -> str:
    """What staff read as the invoice's state: Draft, Void, Unpaid, Partly paid, Paid,
    Credited or No charge, from its status and (for an issued one) the sums
    ``invoices_with_sums`` read."""
    if invoice.status != InvoiceStatus.ISSUED:
        return invoice.get_status_display()
    if invoice.total == 0:
        return "No charge"
    net_paid = invoice.paid - invoice.refunded
    if invoice.due <= 0:
        return "Paid" if net_paid > 0 else "Credited"
    return "Partly paid" if net_paid > 0 or invoice.credited > 0 else "Unpaid"


@dataclass(frozen=True)
class Balance:
    charges: Decimal
    payments: Decimal
    refunds: Decimal
    credits: Decimal

    @property
    def amount(self) -> Decimal:
        """What the patient owes (negative: what the clinic owes them)."""
        return self.charges - self.payments + self.refunds - self.credits

    @property
    def in_favour(self) -> Decimal:
        """What the clinic owes the patient (0 unless the balance is below zero)."""
        return max(-self.amount, Decimal(0))


BALANCE_PARTS = ("charges", "payments", "refunds", "credits")


def with_balance(patients: QuerySet[Patient]) -> QuerySet[Patient]:
    """``patients`` with each one's balance parts (``balance_charges``, ``balance_payments``,
    ``balance_refunds``, ``balance_credits``) in the same query: the patient chart reads its
    patient with them (``patients.views.chart.chart_patient``) instead of asking again. For
    a query of patients itself, not a subquery of another (the parts name its table)."""
    return patients.annotate(**_balance_parts())


# Each balance part: one kind of amount summed over the patient's invoices (0.00 when there
# is none), for the row of ``patients_patient`` it is read beside.
_BALANCE_SQL = {
    "balance_charges": """SELECT COALESCE(SUM(l.amount), 0.00) FROM billing_invoiceline l
        JOIN billing_invoice i ON i.id = l.invoice_id
        WHERE i.patient_id = patients_patient.id AND i.issued_at IS NOT NULL""",
    "balance_payments": """SELECT COALESCE(SUM(p.amount), 0.00) FROM billing_payment p
        JOIN billing_invoice i ON i.id = p.invoice_id
        WHERE i.patient_id = patients_patient.id""",
    "balance_refunds": """SELECT COALESCE(SUM(r.amount), 0.00) FROM billing_refund r
        JOIN billing_payment p ON p.id = r.payment_id
        JOIN billing_invoice i ON i.id = p.invoice_id
        WHERE i.patient_id = patients_patient.id""",
    "balance_credits": """SELECT COALESCE(SUM(c.amount), 0.00) FROM billing_creditnote c
        JOIN billing_invoice i ON i.id = c.invoice_id
        WHERE i.patient_id = patients_patient.id""",
}


@cache
def _balance_parts() -> dict[str, RawSQL]:
    """The expressions of ``with_balance``, written as SQL once: built as querysets (a
    grouped sum each) and compiled for every chart, they cost ~3 ms of its Python, more
    than the rest of its patient's query. No value in them."""
    return {name: RawSQL(sql, [], output_field=MONEY) for name, sql in _BALANCE_SQL.items()}  # noqa: S611


def balance_of(patient: Patient) -> Balance:
    """The patient's balance: charges - payments + refunds - credits, in one query (none
    when ``patient`` was read ``with_balance``). Charges are the lines of invoices that were
    issued (a voided one was credited in full when it was voided, so it adds nothing)."""
    names = [f"balance_{part}" for part in BALANCE_PARTS]
    if all(hasattr(patient, name) for name in names):
        row = {part: getattr(patient, f"balance_{part}") for part in BALANCE_PARTS}
    else:
        row = with_balance(Patient.objects.filter(pk=patient.pk)).values(*names).get()
        row = {part: row[f"balance_{part}"] for part in BALANCE_PARTS}
    return Balance(**row)


# --- Access ----------------------------------------------------------------------------------


def balance_for(user: Any, patient: Patient) -> Balance | None:
    """The balance of a patient ``user`` already has, if they may see it (None otherwise)."""
    if not user_can(user, Capability.VIEW_BALANCE):
        return None
    return balance_of(patient)


def can_see_billing(user: Any) -> bool:
    return user_can(user, Capability.VIEW_BILLING)


def billing_patient_for(user: Any, public_id: uuid.UUID | str) -> Patient:
    """The patient whose invoices and payments ``user`` may see: 403 without billing access
    (clinicians see the balance on the chart, not the books), 404 if there is none."""
    require(user, Capability.VIEW_BILLING)
    return patient_for(user, public_id)


def invoice_for(
    user: Any,
    public_id: uuid.UUID | str,
    *,
    to_take_payment: bool = False,
    to_correct: bool = False,
) -> Invoice:
    """One invoice, with its sums, if ``user`` may see it (and take a payment or issue it,
    or correct it: refund, credit, void). Raises PermissionDenied or Http404."""
    require(user, Capability.VIEW_BILLING)
    if to_take_payment:
        require(user, Capability.TAKE_PAYMENTS)
    if to_correct:
        require(user, Capability.CORRECT_BILLING)
    try:
        return invoices_with_sums(
            Invoice.objects.select_related(
                "patient", "location", "appointment__appointment_type", "appointment__location"
            ).filter(public_id=public_id)
        ).get()
    except (Invoice.DoesNotExist, ValueError, ValidationError):
        raise Http404("No invoice has that id.") from None


def payment_for(user: Any, invoice: Invoice, public_id: uuid.UUID | str) -> Payment:
    """One payment of ``invoice`` (which ``invoice_for`` gave ``user``), to refund: 403 for
    anyone who may not correct the books, 404 if the invoice has no such payment. Its
    ``refunded`` is what has been given back of it already."""
    require(user, Capability.CORRECT_BILLING)
    try:
        return (
            Payment.objects.filter(invoice=invoice, public_id=public_id)
            .annotate(refunded=_sum_of(Refund.objects.filter(payment=OuterRef("pk")), "payment"))
            .get()
        )
    except (Payment.DoesNotExist, ValueError, ValidationError):
        raise Http404("This invoice has no payment with that id.") from None


def prices_for(user: Any) -> QuerySet[Price]:
    """The price list, newest first within each kind and location, for clinic admins."""
    require(user, Capability.MANAGE_PRICES)
    return Price.objects.select_related("appointment_type", "location").order_by(
        "location__name", "location_id", "appointment_type_id", "-effective_from"
    )


# --- Lists for pages -------------------------------------------------------------------------


def patient_invoices(patient: Patient) -> QuerySet[Invoice]:
    """The patient's invoices, newest first, with their sums and visits."""
    return invoices_with_sums(
        Invoice.objects.filter(patient=patient).select_related(
            "location", "appointment__appointment_type"
        )
    ).order_by("-created_at", "-id")


def patient_payments(patient: Patient) -> QuerySet[Payment]:
    """The patient's payments, newest first, with what was refunded of each."""
    return (
        Payment.objects.filter(invoice__patient=patient)
        .select_related("invoice", "taken_by")
        .annotate(refunded=_sum_of(Refund.objects.filter(payment=OuterRef("pk")), "payment"))
        .order_by("-taken_at", "-id")
    )


def price_in_effect(appointment: Appointment) -> Price | None:
    """The price of ``appointment``'s kind at its location on its local date, if one is set."""
    return (
        Price.objects.filter(
            appointment_type_id=appointment.appointment_type_id,
            location_id=appointment.location_id,
            effective_from__lte=visit_date(appointment),
        )
        .order_by("-effective_from")
        .first()
    )


def visit_date(appointment: Appointment) -> date:
    """The visit's date where it happens."""
    return appointment.starts_at.astimezone(appointment.location.tz).date()


# --- Lists for the API -----------------------------------------------------------------------


def invoices_visible_to(user: Any) -> QuerySet[Invoice]:
    """Every invoice ``user`` may read (none without billing access), newest first, with its
    sums, patient, location and visit joined in; lines are prefetched by the caller."""
    if not can_see_billing(user):
        return Invoice.objects.none()
    return invoices_with_sums(
        Invoice.objects.select_related("patient", "location", "appointment__appointment_type")
    ).order_by("-created_at", "-id")


def payments_visible_to(user: Any) -> QuerySet[Payment]:
    """Every payment ``user`` may read (none without billing access), newest first, with what
    was refunded of each."""
    if not can_see_billing(user):
        return Payment.objects.none()
    return (
        Payment.objects.select_related("invoice__patient", "taken_by")
        .annotate(refunded=_sum_of(Refund.objects.filter(payment=OuterRef("pk")), "payment"))
        .order_by("-taken_at", "-id")
    )


def refunds_visible_to(user: Any) -> QuerySet[Refund]:
    """Every refund ``user`` may read (none without billing access), newest first."""
    if not can_see_billing(user):
        return Refund.objects.none()
    return Refund.objects.select_related("payment__invoice__patient", "refunded_by").order_by(
        "-refunded_at", "-id"
    )
