"""Prices, invoices, credit notes, payments and refunds.

Money is ``Decimal`` with two places (``billing.money``), in ``settings.BILLING_CURRENCY``.

The books are append-only (ARCHITECTURE invariant 9), and the database holds that below the
services (migration ``0002_books_append_only``): an invoice is never deleted and, once
issued, its lines never change and it can only be voided; credit notes, payments and refunds
are never changed or deleted. A mistake is corrected by a new row: a credit note for an
invoice, a refund for a payment.

What an invoice or a patient owes is never stored: it follows from these rows
(``billing.selectors``): charges (the lines of issued invoices) - payments + refunds -
credits. So the "paid" and "partly paid" an invoice shows are read from its payments, not
kept beside them where the two could disagree; ``Invoice.status`` holds only what staff
decide (draft, issued, void).
"""

from __future__ import annotations

import uuid

from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from clinic.models import Location, User
from patients.models import Patient
from scheduling.models import Appointment, AppointmentType

AMOUNT = {"max_digits": 10, "decimal_places": 2}


class Price(models.Model):
    """What a kind of visit costs at a location from ``effective_from`` (a local date) on,
    until the next price of the same kind and location takes over. A visit is charged the
    price in effect on its local date; the invoice copies the amount, so a later price
    change never rewrites an invoice."""

    appointment_type = models.ForeignKey(
        AppointmentType, on_delete=models.PROTECT, related_name="+"
    )
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="prices")
    effective_from = models.DateField()
    amount = models.DecimalField(**AMOUNT)
    set_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    set_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["location", "appointment_type", "-effective_from"]
        constraints = [
            models.UniqueConstraint(
                fields=["appointment_type", "location", "effective_from"],
                name="one_price_per_type_location_day",
            ),
            models.CheckConstraint(condition=Q(amount__gte=0), name="price_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.appointment_type} at {self.location} from {self.effective_from}"


class InvoiceStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    ISSUED = "issued", "Issued"
    VOID = "void", "Void"


class Invoice(models.Model):
    """A bill to a patient, for a visit (``appointment``) when there is one: at most one per
    visit. Drafted when the visit ends, issued by the front desk (which gives it its number,
    one after the last, with no gaps), voided with a reason. Never deleted."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    # Given when issued: 1, 2, 3, … across the clinic.
    number = models.PositiveIntegerField(null=True, blank=True, unique=True)
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="invoices")
    appointment = models.OneToOneField(
        Appointment, null=True, blank=True, on_delete=models.PROTECT, related_name="invoice"
    )
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="invoices")
    currency = models.CharField(max_length=3)
    status = models.CharField(
        max_length=10, choices=InvoiceStatus.choices, default=InvoiceStatus.DRAFT
    )
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    issued_at = models.DateTimeField(null=True, blank=True)
    issued_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    voided_at = models.DateTimeField(null=True, blank=True)
    voided_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    void_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["patient", "-created_at", "-id"], name="invoice_patient_idx"),
        ]
        constraints = [
            # A number and an issue date go together, and an issued invoice has both.
            models.CheckConstraint(
                condition=Q(number__isnull=True, issued_at__isnull=True)
                | Q(number__isnull=False, issued_at__isnull=False),
                name="invoice_number_with_issue",
            ),
            models.CheckConstraint(
                condition=~Q(status="issued") | Q(issued_at__isnull=False),
                name="invoice_issued_has_number",
            ),
            models.CheckConstraint(
                condition=(Q(status="void") & Q(voided_at__isnull=False) & ~Q(void_reason=""))
                | (~Q(status="void") & Q(voided_at__isnull=True)),
                name="invoice_void_has_reason",
            ),
        ]

    def __str__(self) -> str:
        # No patient name: this shows in the audit log and the admin.
        return f"Invoice {self.number}" if self.number else "Draft invoice"

    @property
    def is_draft(self) -> bool:
        return self.status == InvoiceStatus.DRAFT

    @property
    def was_issued(self) -> bool:
        """Whether it ever charged the patient (issued, or voided after being issued)."""
        return self.issued_at is not None


class InvoiceLine(models.Model):
    """One charge on an invoice. ``amount`` is ``quantity`` x ``unit_amount``, copied from the
    price when the line was made: a price change never rewrites it. Lines change only while
    the invoice is a draft (a trigger refuses any other change)."""

    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="lines")
    description = models.CharField(max_length=200)
    # The CPT/HCPCS code the superbill will show; empty until the codes are set up.
    service_code = models.CharField(max_length=10, blank=True)
    quantity = models.PositiveSmallIntegerField(default=1)
    unit_amount = models.DecimalField(**AMOUNT)
    amount = models.DecimalField(**AMOUNT)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gte=1), name="line_quantity_positive"),
            models.CheckConstraint(condition=Q(unit_amount__gte=0), name="line_unit_not_negative"),
            models.CheckConstraint(
                condition=Q(amount=F("quantity") * F("unit_amount")), name="line_amount_is_product"
            ),
        ]

    def __str__(self) -> str:
        return self.description


class CreditNote(models.Model):
    """A correction of an issued invoice: it takes ``amount`` off what the invoice charges,
    never more than is still owed on it. Append-only."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="credit_notes")
    amount = models.DecimalField(**AMOUNT)
    reason = models.TextField()
    created_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="credit_positive"),
            models.CheckConstraint(condition=~Q(reason=""), name="credit_has_reason"),
        ]

    def __str__(self) -> str:
        return f"Credit note on invoice {self.invoice_id}"


class PaymentMethod(models.TextChoices):
    TERMINAL = "terminal", "Card (clinic's card terminal)"
    CASH = "cash", "Cash"
    CHEQUE = "cheque", "Cheque"
    # Taken through Stripe (billing.stripe), never typed in by staff.
    CARD = "card", "Card (online)"


# What staff may record by hand: the card terminal sits outside Chairside.
MANUAL_METHODS = (PaymentMethod.TERMINAL, PaymentMethod.CASH, PaymentMethod.CHEQUE)


class Payment(models.Model):
    """Money received for an issued invoice, never more than it still owes. Append-only: a
    mistake is put right with a refund."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="payments")
    method = models.CharField(max_length=10, choices=PaymentMethod.choices)
    amount = models.DecimalField(**AMOUNT)
    # The cheque's number or the terminal slip's reference, to find it again.
    reference = models.CharField(max_length=60, blank=True)
    taken_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    taken_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-taken_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="payment_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.get_method_display()} payment"


class Refund(models.Model):
    """Money given back from a payment, never more than is left of it. Append-only."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="refunds")
    amount = models.DecimalField(**AMOUNT)
    reason = models.TextField()
    refunded_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    refunded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["refunded_at", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="refund_positive"),
            models.CheckConstraint(condition=~Q(reason=""), name="refund_has_reason"),
        ]

    def __str__(self) -> str:
        return "Refund"
