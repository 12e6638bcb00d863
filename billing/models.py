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
    # A card payment's Stripe PaymentIntent (pi_…): recorded once, whoever learns of it first
    # (the desk's answer, the webhook, the return from Checkout).
    stripe_payment_intent = models.CharField(max_length=255, null=True, blank=True, unique=True)

    class Meta:
        ordering = ["-taken_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="payment_positive"),
            models.CheckConstraint(
                condition=Q(method="card", stripe_payment_intent__isnull=False)
                | (~Q(method="card") & Q(stripe_payment_intent__isnull=True)),
                name="payment_card_has_stripe_intent",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_method_display()} payment"


class Refund(models.Model):
    """Money given back from a payment, never more than is left of it. Append-only."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="refunds")
    amount = models.DecimalField(**AMOUNT)
    reason = models.TextField()
    # No one when the refund was made in Stripe's dashboard and learnt of by its webhook.
    refunded_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    refunded_at = models.DateTimeField(default=timezone.now)
    # A card payment's refund at Stripe (re_…), recorded once.
    stripe_refund = models.CharField(max_length=255, null=True, blank=True, unique=True)

    class Meta:
        ordering = ["refunded_at", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="refund_positive"),
            models.CheckConstraint(condition=~Q(reason=""), name="refund_has_reason"),
        ]

    def __str__(self) -> str:
        return "Refund"


# --- Cards, through Stripe (billing.cards, billing.webhooks) ---------------------------------


class StripeEvent(models.Model):
    """An event Stripe posted to the webhook, kept by its id: the insert of this row and
    what the event changes happen in one transaction, so a replay finds the id and changes
    nothing twice. ``outcome`` says what was done, with ids only (no patient data)."""

    event_id = models.CharField(max_length=255, unique=True)
    type = models.CharField(max_length=100)
    created_at_stripe = models.DateTimeField()
    received_at = models.DateTimeField(default=timezone.now)
    processed_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-received_at", "-id"]

    def __str__(self) -> str:
        return f"{self.type} {self.event_id}"


class StripeCustomer(models.Model):
    """The patient's Customer at Stripe, which their saved cards belong to. Stripe knows the
    patient by their opaque public id only."""

    patient = models.OneToOneField(Patient, on_delete=models.PROTECT, related_name="+")
    customer_id = models.CharField(max_length=255, unique=True)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return self.customer_id


class CardSetup(models.Model):
    """A request to save a card: a Checkout page in setup mode, opened at the desk, showing
    the card-on-file policy (``consent_wording``) the patient agrees to by saving the card.
    Completed once, by whichever of the webhook and the return from Checkout comes first."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="+")
    customer_id = models.CharField(max_length=255)
    checkout_session_id = models.CharField(max_length=255, null=True, blank=True, unique=True)
    consent_wording = models.TextField()
    requested_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    requested_at = models.DateTimeField(default=timezone.now)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-requested_at", "-id"]

    def __str__(self) -> str:
        return "Card setup"


class CardOnFile(models.Model):
    """A card the patient saved at Stripe for later charges, with the policy they agreed to
    (wording, when, how, who asked them), as contact consent is kept. We hold Stripe's ids
    and what may be shown (brand, last four digits, expiry), never the number. At most one
    card in use per patient; a removed card keeps its row."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="cards_on_file")
    setup = models.OneToOneField(
        CardSetup, null=True, blank=True, on_delete=models.PROTECT, related_name="card"
    )
    customer_id = models.CharField(max_length=255)
    payment_method_id = models.CharField(max_length=255)
    brand = models.CharField(max_length=30)
    last4 = models.CharField(max_length=4)
    exp_month = models.PositiveSmallIntegerField(null=True, blank=True)
    exp_year = models.PositiveSmallIntegerField(null=True, blank=True)
    consent_wording = models.TextField()
    consent_method = models.CharField(max_length=120)
    consent_at = models.DateTimeField()
    consent_recorded_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    added_at = models.DateTimeField(default=timezone.now)
    removed_at = models.DateTimeField(null=True, blank=True)
    removed_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["-added_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["patient"],
                condition=Q(removed_at__isnull=True),
                name="one_card_in_use_per_patient",
            ),
            models.CheckConstraint(condition=~Q(consent_wording=""), name="card_has_consent"),
        ]

    def __str__(self) -> str:
        return self.label

    @property
    def label(self) -> str:
        """e.g. "Visa ending 4242"."""
        brand = self.brand.replace("_", " ").title() if self.brand != "amex" else "Amex"
        return f"{brand} ending {self.last4}"


class CardChargeKind(models.TextChoices):
    SAVED_CARD = "saved_card", "Card on file"
    CHECKOUT = "checkout", "Card on Stripe's page"


class CardChargeStatus(models.TextChoices):
    PENDING = "pending", "Waiting for Stripe"
    SUCCEEDED = "succeeded", "Paid"
    FAILED = "failed", "Declined"


class CardCharge(models.Model):
    """One attempt to take money by card for an invoice, written before Stripe is asked:
    its ``public_id`` is the idempotency key, so asking again after a lost answer is answered
    with the first answer and never charges twice. Settled once: by the desk's answer, the
    webhook, or the return from Checkout, whichever comes first; the payment it made is
    ``payment``."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="card_charges")
    kind = models.CharField(max_length=12, choices=CardChargeKind.choices)
    card = models.ForeignKey(
        CardOnFile, null=True, blank=True, on_delete=models.PROTECT, related_name="charges"
    )
    amount = models.DecimalField(**AMOUNT)
    status = models.CharField(
        max_length=10, choices=CardChargeStatus.choices, default=CardChargeStatus.PENDING
    )
    payment_intent_id = models.CharField(max_length=255, null=True, blank=True, unique=True)
    checkout_session_id = models.CharField(max_length=255, null=True, blank=True, unique=True)
    failure = models.CharField(max_length=300, blank=True)
    payment = models.OneToOneField(
        Payment, null=True, blank=True, on_delete=models.PROTECT, related_name="card_charge"
    )
    created_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    settled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="card_charge_positive"),
            # One card-on-file charge waits for Stripe at a time per invoice: a second click
            # sends the first again rather than charging twice.
            models.UniqueConstraint(
                fields=["invoice"],
                condition=Q(status="pending", kind="saved_card"),
                name="one_pending_saved_card_charge",
            ),
            models.CheckConstraint(
                condition=~Q(kind="saved_card") | Q(card__isnull=False),
                name="saved_card_charge_has_card",
            ),
            models.CheckConstraint(
                condition=Q(status="succeeded", payment__isnull=False)
                | (~Q(status="succeeded") & Q(payment__isnull=True)),
                name="card_charge_paid_has_payment",
            ),
        ]

    def __str__(self) -> str:
        return f"Card charge ({self.status})"


# --- Booking online: the location's policy, the agreement, the held time, the fees ----------
# (billing.deposits, billing.fees, billing.card_links)


class BookingRequirement(models.TextChoices):
    NOTHING = "nothing", "Nothing"
    CARD = "card", "A card on file"
    DEPOSIT = "deposit", "A deposit"


class BookingPolicy(models.Model):
    """What booking a consultation online at a location asks for (nothing, a card on file, a
    deposit), and its no-show and late-cancel fees with the wording the booker agrees to.
    One per location; a location without one asks nothing. Edited by clinic admins."""

    location = models.OneToOneField(Location, on_delete=models.PROTECT, related_name="+")
    requirement = models.CharField(
        max_length=10, choices=BookingRequirement.choices, default=BookingRequirement.NOTHING
    )
    deposit_amount = models.DecimalField(null=True, blank=True, **AMOUNT)
    wording = models.TextField(blank=True)
    no_show_fee = models.DecimalField(default=0, **AMOUNT)
    late_cancel_fee = models.DecimalField(default=0, **AMOUNT)
    late_cancel_hours = models.PositiveSmallIntegerField(default=24)
    updated_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=~Q(requirement="deposit") | Q(deposit_amount__gt=0),
                name="booking_policy_deposit_has_amount",
            ),
            models.CheckConstraint(
                condition=Q(no_show_fee__gte=0, late_cancel_fee__gte=0),
                name="booking_policy_fees_not_negative",
            ),
            models.CheckConstraint(
                condition=Q(late_cancel_hours__gte=1, late_cancel_hours__lte=168),
                name="booking_policy_window_range",
            ),
            # A fee nobody was told about is never proposed.
            models.CheckConstraint(
                condition=Q(no_show_fee=0, late_cancel_fee=0) | ~Q(wording=""),
                name="booking_policy_fees_have_wording",
            ),
        ]

    def __str__(self) -> str:
        return f"Booking policy of {self.location}"


class PolicyAgreement(models.Model):
    """The booker's agreement to a location's policy when booking online: the exact wording
    they read, the fees and window it set, and when. One per booking; never changed."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    appointment = models.OneToOneField(
        Appointment, on_delete=models.PROTECT, related_name="policy_agreement"
    )
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="+")
    wording = models.TextField()
    no_show_fee = models.DecimalField(**AMOUNT)
    late_cancel_fee = models.DecimalField(**AMOUNT)
    late_cancel_hours = models.PositiveSmallIntegerField()
    method = models.CharField(max_length=120)
    agreed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-agreed_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=~Q(wording=""), name="agreement_has_wording"),
        ]

    def __str__(self) -> str:
        return "Policy agreement"


class BookingHoldStatus(models.TextChoices):
    WAITING = "waiting", "Waiting for the card"
    CONFIRMED = "confirmed", "Confirmed"
    RELEASED = "released", "Released"


class BookingHold(models.Model):
    """An online booking held while the booker saves a card (``card_setup``) or pays a
    deposit (``deposit_charge``) on Stripe's page: confirmed once, by the webhook or the
    return from Stripe, or released (the appointment cancelled) when ``expires_at`` passes
    (``billing.tasks.release_expired_booking_holds``). A deposit is recorded in the books as
    an invoice of its own, paid by card (``deposit_payment``), and comes off the visit's
    invoice as a credit note when that is issued (``deposit_credit``)."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    appointment = models.OneToOneField(
        Appointment, on_delete=models.PROTECT, related_name="booking_hold"
    )
    requirement = models.CharField(max_length=10, choices=BookingRequirement.choices)
    amount = models.DecimalField(null=True, blank=True, **AMOUNT)
    status = models.CharField(
        max_length=10, choices=BookingHoldStatus.choices, default=BookingHoldStatus.WAITING
    )
    # Stripe's page: setup mode for a card, payment mode (keeping the card) for a deposit.
    card_setup = models.OneToOneField(
        CardSetup, null=True, blank=True, on_delete=models.PROTECT, related_name="booking_hold"
    )
    deposit_payment = models.OneToOneField(
        Payment, null=True, blank=True, on_delete=models.PROTECT, related_name="booking_hold"
    )
    # The deposit taken off the visit's invoice when it is issued (billing.deposits).
    deposit_credit = models.OneToOneField(
        CreditNote, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    settled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["expires_at", "id"]
        indexes = [models.Index(fields=["status", "expires_at"], name="booking_hold_due_idx")]
        constraints = [
            models.CheckConstraint(
                condition=Q(requirement__in=["card", "deposit"]), name="booking_hold_requirement"
            ),
            models.CheckConstraint(
                condition=~Q(requirement="deposit") | Q(amount__gt=0),
                name="booking_hold_deposit_amount",
            ),
            models.CheckConstraint(
                condition=Q(status="waiting", settled_at__isnull=True)
                | (~Q(status="waiting") & Q(settled_at__isnull=False)),
                name="booking_hold_settled_once",
            ),
        ]

    def __str__(self) -> str:
        return f"Booking hold ({self.status})"


class FeeKind(models.TextChoices):
    NO_SHOW = "no_show", "No-show fee"
    LATE_CANCEL = "late_cancel", "Late-cancel fee"


class FeeProposalStatus(models.TextChoices):
    OPEN = "open", "Open"
    CHARGED = "charged", "Charged"
    WAIVED = "waived", "Waived"
    WITHDRAWN = "withdrawn", "Withdrawn"


class FeeProposal(models.Model):
    """A no-show or late-cancel fee that the location's policy proposes to the front desk,
    which charges it (an invoice, paid at the desk or from the card on file) or waives it
    with a reason. One per appointment (the database refuses a second); undoing the no-show
    or the cancellation withdraws an open one, and doing it again opens it again."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    appointment = models.OneToOneField(
        Appointment, on_delete=models.PROTECT, related_name="fee_proposal"
    )
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="+")
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=12, choices=FeeKind.choices)
    amount = models.DecimalField(**AMOUNT)
    status = models.CharField(
        max_length=10, choices=FeeProposalStatus.choices, default=FeeProposalStatus.OPEN
    )
    proposed_at = models.DateTimeField(default=timezone.now)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    waive_reason = models.TextField(blank=True)
    invoice = models.OneToOneField(
        Invoice, null=True, blank=True, on_delete=models.PROTECT, related_name="fee_proposal"
    )

    class Meta:
        ordering = ["proposed_at", "id"]
        indexes = [models.Index(fields=["status", "proposed_at"], name="fee_proposal_open_idx")]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="fee_proposal_positive"),
            models.CheckConstraint(
                condition=~Q(status="waived") | (~Q(waive_reason="") & Q(decided_by__isnull=False)),
                name="fee_waived_has_reason",
            ),
            models.CheckConstraint(
                condition=~Q(status="charged") | Q(invoice__isnull=False),
                name="fee_charged_has_invoice",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ({self.status})"


class CardLink(models.Model):
    """A link staff send the patient to save a card on file from their phone. The URL holds
    a signature of ``public_id`` (``billing.card_links``), made again when the message is
    written, so no usable link sits in the outbox. The patient reads the card policy, agrees,
    and saves the card on Stripe's page (``setup``). Expires; replaced by a newer one; used
    once the card is saved."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="+")
    sent_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    setup = models.OneToOneField(
        CardSetup, null=True, blank=True, on_delete=models.PROTECT, related_name="link"
    )

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return "Card link"


# --- The superbill (billing.superbill, billing.codes) ----------------------------------------


class PlaceOfService(models.TextChoices):
    """The CMS place-of-service codes a ketamine clinic bills from (the two-digit code a
    superbill and a CMS-1500 claim carry)."""

    OFFICE = "11", "11 Office"
    OUTPATIENT_HOSPITAL = "22", "22 On-campus outpatient hospital"
    OFF_CAMPUS_OUTPATIENT_HOSPITAL = "19", "19 Off-campus outpatient hospital"
    AMBULATORY_SURGICAL_CENTER = "24", "24 Ambulatory surgical center"
    TELEHEALTH = "10", "10 Telehealth in the patient's home"
    TELEHEALTH_ELSEWHERE = "02", "02 Telehealth elsewhere"
    MENTAL_HEALTH_CLINIC = "53", "53 Community mental health center"


class PracticeDetails(models.Model):
    """What the superbill says about who billed: the practice's name, address, NPI, tax id
    (EIN) and place of service. One clinic-wide row (``location`` empty) and, where a
    location bills differently (its own NPI, a hospital-based place of service), a row for
    that location whose filled-in fields override the clinic-wide ones; an empty field
    means "as the clinic". The address, when no row gives one, is the location's own.
    ``billing.codes.practice_details_set`` validates (the NPI's check digit, the EIN's
    form) and audits; the checks below refuse the forms the database can see."""

    location = models.OneToOneField(
        Location,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="practice_details",
    )
    practice_name = models.CharField(max_length=200, blank=True)
    # Lines of the billing address; empty: the location's address.
    address = models.TextField(blank=True)
    npi = models.CharField("NPI", max_length=10, blank=True)
    tax_id = models.CharField("tax id (EIN)", max_length=10, blank=True)
    place_of_service = models.CharField(max_length=2, choices=PlaceOfService.choices, blank=True)
    updated_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name_plural = "practice details"
        constraints = [
            models.UniqueConstraint(
                fields=["location"],
                condition=Q(location__isnull=True),
                nulls_distinct=False,
                name="one_clinic_wide_practice_details",
            ),
            models.CheckConstraint(
                condition=Q(npi="") | Q(npi__regex=r"^[12][0-9]{9}$"),
                name="practice_npi_ten_digits",
            ),
            models.CheckConstraint(
                condition=Q(tax_id="") | Q(tax_id__regex=r"^[0-9]{2}-[0-9]{7}$"),
                name="practice_tax_id_is_ein",
            ),
            models.CheckConstraint(
                condition=Q(place_of_service="") | Q(place_of_service__regex=r"^[0-9]{2}$"),
                name="practice_place_of_service_two_digits",
            ),
        ]

    def __str__(self) -> str:
        return f"Practice details for {self.location}" if self.location_id else "Practice details"


class UnitsRule(models.TextChoices):
    """How many units of a service code a visit bills (``billing.codes.units_for``)."""

    PER_VISIT = "per_visit", "One per visit"
    INFUSION_FIRST_HOUR = "infusion_first_hour", "Infusion, first hour (over 15 minutes run)"
    INFUSION_ADDITIONAL_HOUR = (
        "infusion_additional_hour",
        "Infusion, each additional hour (over 30 minutes into it)",
    )
    PER_SCORED_QUESTIONNAIRE = "per_scored_questionnaire", "One per scored questionnaire"
    PER_DRUG_GIVEN = "per_drug_given", "One per infusion given (the drug)"


class ServiceCode(models.Model):
    """A CPT or HCPCS code a kind of visit is billed with on the superbill, and how its units
    are counted. Data clinic admins edit (*Billing → Superbill codes*); the defaults are in
    migration ``0006_superbill_defaults`` and the README. ``position`` orders a visit's codes;
    the first active one carries the visit's price (``billing.superbill``). A code no longer
    used is switched off, not deleted, so that the history of who changed what stays."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    appointment_type = models.ForeignKey(
        AppointmentType, on_delete=models.PROTECT, related_name="+"
    )
    code = models.CharField(max_length=5)
    description = models.CharField(max_length=200)
    units_rule = models.CharField(
        max_length=30, choices=UnitsRule.choices, default=UnitsRule.PER_VISIT
    )
    position = models.PositiveSmallIntegerField(default=0)
    is_active = models.BooleanField(default=True)
    updated_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["appointment_type_id", "position", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["appointment_type", "code"], name="one_service_code_per_visit_kind"
            ),
            # CPT (five digits, or four and F/T/U) or HCPCS level II (a letter and four digits).
            models.CheckConstraint(
                condition=Q(code__regex=r"^([0-9]{4}[0-9FTU]|[A-V][0-9]{4})$"),
                name="service_code_is_cpt_or_hcpcs",
            ),
            models.CheckConstraint(condition=~Q(description=""), name="service_code_described"),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.description}"


class DiagnosisCode(models.Model):
    """The ICD-10-CM code the superbill gives a condition the patient is treated for
    (``Patient.conditions`` holds ``clinic.conditions.Condition`` keys). Data clinic admins
    edit; a condition with no row is shown uncoded, asking an admin to add it."""

    condition = models.CharField(max_length=30, unique=True)
    code = models.CharField("ICD-10-CM code", max_length=8)
    description = models.CharField(max_length=200)
    updated_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["code"]
        constraints = [
            # A letter, two characters, then optionally a dot and one to four more.
            models.CheckConstraint(
                condition=Q(code__regex=r"^[A-Z][0-9][0-9A-Z](\.[0-9A-Z]{1,4})?$"),
                name="diagnosis_code_is_icd10cm",
            ),
            models.CheckConstraint(condition=~Q(description=""), name="diagnosis_code_described"),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.description}"


# --- Packages (billing.packages) -------------------------------------------------------------


class PackageOffer(models.Model):
    """A series of visits of one kind sold together at a package price, e.g. "Induction
    series of six infusions". Clinic admins define it; its kind of visit and its number of
    visits never change (a different series is a new offer: a trigger holds this), its price
    is effective-dated (``PackagePrice``), and it is retired when it is no longer sold. A
    package sold copies the name, the visits and the price, so nothing done to the offer
    afterwards rewrites what was sold. Sold at ``locations``, or at every location when it
    names none."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=120)
    appointment_type = models.ForeignKey(
        AppointmentType, on_delete=models.PROTECT, related_name="+"
    )
    visits = models.PositiveSmallIntegerField()
    locations = models.ManyToManyField(Location, blank=True, related_name="+")
    created_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    retired_at = models.DateTimeField(null=True, blank=True)
    retired_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(visits__gte=1) & Q(visits__lte=50), name="offer_visits_1_to_50"
            ),
            models.CheckConstraint(condition=~Q(name=""), name="offer_has_name"),
            models.UniqueConstraint(
                fields=["name"],
                condition=Q(retired_at__isnull=True),
                name="one_offer_on_sale_per_name",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class PackagePrice(models.Model):
    """What a package offer costs from ``effective_from`` (the local date of the sale) on,
    until the next price of the offer takes over. The package sold copies the amount."""

    offer = models.ForeignKey(PackageOffer, on_delete=models.PROTECT, related_name="prices")
    effective_from = models.DateField()
    amount = models.DecimalField(**AMOUNT)
    set_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    set_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["offer", "-effective_from"]
        constraints = [
            models.UniqueConstraint(
                fields=["offer", "effective_from"], name="one_package_price_per_day"
            ),
            models.CheckConstraint(condition=Q(amount__gt=0), name="package_price_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.offer} from {self.effective_from}"


class PatientPackage(models.Model):
    """A package sold to a patient: ``visits`` visits of the offer's kind, bought for
    ``price`` on the issued invoice ``invoice`` (paid like any invoice). Name, visits and price
    are copied from the offer when sold. Append-only; voiding the sale invoice voids the package
    (refused by the database while any of its visits is used)."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="packages")
    offer = models.ForeignKey(PackageOffer, on_delete=models.PROTECT, related_name="sold")
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="+")
    name = models.CharField(max_length=120)
    visits = models.PositiveSmallIntegerField()
    price = models.DecimalField(**AMOUNT)
    invoice = models.OneToOneField(Invoice, on_delete=models.PROTECT, related_name="package")
    sold_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    sold_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["sold_at", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(visits__gte=1), name="package_visits_positive"),
            models.CheckConstraint(condition=Q(price__gte=0), name="package_price_not_negative"),
        ]

    def __str__(self) -> str:
        return self.name


class PackageUse(models.Model):
    """One visit of a package used: the visit ``appointment`` whose draft invoice ``invoice``
    has the line ``line`` priced at zero, covered by the package. At most one per visit while
    it stands; the database refuses more uses than visits bought. Given back (``released_at``,
    with who and why) when the visit's end is undone, its covered line is removed, or its
    invoice is voided; never deleted."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    package = models.ForeignKey(PatientPackage, on_delete=models.PROTECT, related_name="uses")
    appointment = models.ForeignKey(Appointment, on_delete=models.PROTECT, related_name="+")
    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="package_uses")
    line = models.ForeignKey(
        InvoiceLine, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    used_at = models.DateTimeField(default=timezone.now)
    used_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    released_at = models.DateTimeField(null=True, blank=True)
    released_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    release_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["used_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["appointment"],
                condition=Q(released_at__isnull=True),
                name="one_package_use_per_visit",
            ),
            models.CheckConstraint(
                condition=Q(released_at__isnull=True, release_reason="")
                | (Q(released_at__isnull=False) & ~Q(release_reason="")),
                name="package_use_release_has_reason",
            ),
        ]

    def __str__(self) -> str:
        return "Package visit"
