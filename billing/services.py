"""Writes to the books: prices, invoices and their lines, credit notes, payments, refunds.

Each action checks who may do it, then the input (a ``ValidationError`` keyed by field says
what to fix, and nothing is written), locks the invoice (or payment) it changes, writes, and
records an audit event naming the patient by opaque id only. The database refuses the same
things underneath (``billing.models``, migration ``0002_books_append_only``).
"""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import Max
from django.http import HttpRequest
from django.utils import timezone

from billing.invoice_hooks import invoice_issued
from billing.messages import RECEIPT, receipt_key
from billing.models import (
    MANUAL_METHODS,
    CardCharge,
    CreditNote,
    Invoice,
    InvoiceLine,
    InvoiceStatus,
    PackageUse,
    Payment,
    PaymentMethod,
    Price,
    Refund,
)
from billing.money import format_amount, parse_amount
from billing.selectors import invoices_with_sums, price_in_effect, visit_date
from billing.stripe import gateway
from billing.stripe.errors import PaymentError
from clinic.audit import Action, audit_record
from clinic.messaging.outbox import outbox_enqueue
from clinic.models import Location, OutboxChannel, User
from clinic.permissions import Capability, require
from scheduling.models import Appointment, AppointmentType

# The longest reason kept for a void, a credit note or a refund.
REASON_MAX = 500
DESCRIPTION_MAX = InvoiceLine._meta.get_field("description").max_length
# Invoice numbers are given one at a time: this transaction-level advisory lock's key.
_NUMBERING_LOCK = 0x62696C6C  # "bill"


def _amount(value: object, field: str, *, allow_zero: bool = False) -> Decimal:
    try:
        return parse_amount(value, currency=settings.BILLING_CURRENCY, allow_zero=allow_zero)
    except ValueError as exc:
        raise ValidationError({field: [str(exc)]}) from None


def _reason(value: str, what: str) -> str:
    reason = (value or "").strip()
    if not reason:
        raise ValidationError({"reason": [f"Write why {what}: it stays with the books."]})
    if len(reason) > REASON_MAX:
        raise ValidationError(
            {"reason": [f"Shorten the reason to {REASON_MAX} characters or fewer."]}
        )
    return reason


def _money(amount: Decimal) -> str:
    return format_amount(amount, settings.BILLING_CURRENCY)


def _locked(invoice: Invoice) -> Invoice:
    """The invoice, locked for this transaction, with its sums as they are now."""
    Invoice.objects.select_for_update().filter(pk=invoice.pk).values_list("pk").get()
    return invoices_with_sums(Invoice.objects.filter(pk=invoice.pk)).get()


def _refresh(invoice: Invoice, current: Invoice) -> None:
    for field in Invoice._meta.concrete_fields:
        setattr(invoice, field.attname, getattr(current, field.attname))


# --- Prices ----------------------------------------------------------------------------------


@transaction.atomic
def price_set(
    *,
    actor: User,
    appointment_type: AppointmentType,
    location: Location,
    amount: object,
    effective_from: date,
    request: HttpRequest | None = None,
) -> Price:
    """Set what ``appointment_type`` costs at ``location`` from ``effective_from`` on (a new
    price, or a new amount for a price already starting that day). Invoices already made
    keep the amounts they copied."""
    require(actor, Capability.MANAGE_PRICES)
    amount = _amount(amount, "amount", allow_zero=True)
    if not date(2000, 1, 1) <= effective_from <= date(2100, 12, 31):
        raise ValidationError(
            {"effective_from": ["Enter the day the price starts, between 2000 and 2100."]}
        )
    price, created = Price.objects.select_for_update().get_or_create(
        appointment_type=appointment_type,
        location=location,
        effective_from=effective_from,
        defaults={"amount": amount, "set_by": actor},
    )
    if not created:
        price.amount, price.set_by, price.set_at = amount, actor, timezone.now()
        price.save(update_fields=["amount", "set_by", "set_at"])
    audit_record(
        actor=actor,
        action=Action.CREATE if created else Action.UPDATE,
        target=price,
        summary=f"set the price to {_money(amount)}",
        request=request,
    )
    return price


# --- Invoices --------------------------------------------------------------------------------


def invoice_draft_for_visit(*, appointment: Appointment, actor: User | None) -> Invoice:
    """The visit's invoice: a draft made now with the visit's price on it, or the one it
    already has (one per visit). With no price set for the visit's kind, location and day,
    the draft has no line, and its page tells the front desk so. Called, in the transaction
    that ends the visit, by ``scheduling.visit_end`` (``billing.visits``)."""
    existing = Invoice.objects.filter(appointment=appointment).first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            invoice = Invoice.objects.create(
                patient_id=appointment.patient_id,
                appointment=appointment,
                location_id=appointment.location_id,
                currency=settings.BILLING_CURRENCY,
                created_by=actor if actor is not None and actor.is_authenticated else None,
            )
    except IntegrityError:  # made by a request that committed first
        return Invoice.objects.get(appointment=appointment)
    price = price_in_effect(appointment)
    if price is not None:
        _add_price_line(invoice, appointment, price)
    audit_record(
        actor=actor,
        action=Action.CREATE,
        target=invoice,
        summary=f"drafted the invoice for a visit of patient {appointment.patient.public_id}"
        + ("" if price is not None else " with no price set"),
    )
    return invoice


def _add_price_line(invoice: Invoice, appointment: Appointment, price: Price) -> InvoiceLine:
    kind = appointment.appointment_type
    return InvoiceLine.objects.create(
        invoice=invoice,
        description=f"{kind.name} on {visit_date(appointment):%b %-d, %Y}",
        quantity=1,
        unit_amount=price.amount,
        amount=price.amount,
    )


@transaction.atomic
def invoice_add_visit_price(
    *, actor: User, invoice: Invoice, request: HttpRequest | None = None
) -> InvoiceLine:
    """Put the visit's price on a draft that was made before one was set."""
    require(actor, Capability.TAKE_PAYMENTS)
    current = _locked(invoice)
    _require_draft(current)
    appointment = current.appointment
    if appointment is None:
        raise ValidationError({"invoice": ["This invoice is for no visit: add a line instead."]})
    if current.lines.exists():
        raise ValidationError(
            {"invoice": ["This draft has lines already: remove them first to start again."]}
        )
    price = price_in_effect(appointment)
    if price is None:
        raise ValidationError(
            {
                "invoice": [
                    f"There is still no price for a {appointment.appointment_type.name.lower()} "
                    f"at {appointment.location.name} on {visit_date(appointment):%b %-d, %Y}. "
                    "A clinic admin sets it under Prices; or add a line by hand."
                ]
            }
        )
    line = _add_price_line(current, appointment, price)
    _audit_invoice(actor, current, f"added the visit's price, {_money(price.amount)}", request)
    return line


@transaction.atomic
def invoice_add_line(
    *,
    actor: User,
    invoice: Invoice,
    description: str,
    quantity: int,
    unit_amount: object,
    service_code: str = "",
    request: HttpRequest | None = None,
) -> InvoiceLine:
    """Add a line to a draft: ``quantity`` x ``unit_amount``."""
    require(actor, Capability.TAKE_PAYMENTS)
    current = _locked(invoice)
    _require_draft(current)
    errors: dict[str, list[str]] = {}
    description = (description or "").strip()
    if not description:
        errors["description"] = ["Say what the line is for, e.g. “Infusion, extra 20 minutes”."]
    elif len(description) > DESCRIPTION_MAX:
        errors["description"] = [f"Shorten the description to {DESCRIPTION_MAX} characters."]
    if isinstance(quantity, bool) or not isinstance(quantity, int) or not 1 <= quantity <= 99:
        errors["quantity"] = ["Enter a quantity from 1 to 99."]
    try:
        unit = _amount(unit_amount, "unit_amount", allow_zero=True)
    except ValidationError as exc:
        errors.update(exc.message_dict)
        unit = Decimal(0)
    service_code = (service_code or "").strip().upper()
    if len(service_code) > 10:
        errors["service_code"] = ["A service code (CPT or HCPCS) is at most 10 characters."]
    if not errors and unit * quantity > Decimal("99999999.99"):
        errors["quantity"] = ["That line comes to too much: lower the quantity or the amount."]
    if errors:
        raise ValidationError(errors)
    line = InvoiceLine.objects.create(
        invoice=current,
        description=description,
        service_code=service_code,
        quantity=quantity,
        unit_amount=unit,
        amount=unit * quantity,
    )
    _audit_invoice(actor, current, f"added a line of {_money(line.amount)}", request)
    return line


@transaction.atomic
def invoice_remove_line(
    *, actor: User, invoice: Invoice, line_id: int, request: HttpRequest | None = None
) -> None:
    """Take a line off a draft."""
    require(actor, Capability.TAKE_PAYMENTS)
    current = _locked(invoice)
    _require_draft(current)
    line = current.lines.filter(pk=line_id).first()
    if line is None:
        raise ValidationError({"invoice": ["That line is not on this draft any more."]})
    # A visit covered by a package: taking its line off gives the visit back to the package.
    given_back = PackageUse.objects.filter(line=line, released_at__isnull=True).update(
        released_at=timezone.now(),
        released_by=actor,
        release_reason="The covered line was taken off the draft: the visit is charged instead.",
    )
    line.delete()
    what = f"removed a line of {_money(line.amount)}"
    _audit_invoice(
        actor,
        current,
        what + (" and gave its visit back to the package" if given_back else ""),
        request,
    )


@transaction.atomic
def invoice_issue(*, actor: User, invoice: Invoice, request: HttpRequest | None = None) -> Invoice:
    """Issue a draft: it gets the next invoice number and charges the patient. Its lines
    never change again (a correction is a credit note)."""
    require(actor, Capability.TAKE_PAYMENTS)
    current = _locked(invoice)
    _require_draft(current)
    if not current.lines.exists():
        raise ValidationError(
            {"invoice": ["This draft has no lines: add the visit's price or a line first."]}
        )
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_NUMBERING_LOCK])
    last = Invoice.objects.aggregate(last=Max("number"))["last"] or 0
    current.number = last + 1
    current.status = InvoiceStatus.ISSUED
    current.issued_at = timezone.now()
    current.issued_by = actor
    current.save(update_fields=["number", "status", "issued_at", "issued_by"])
    _audit_invoice(actor, current, f"issued it for {_money(current.total)}", request)
    # E.g. a deposit paid when booking the visit online comes off it (billing.deposits).
    invoice_issued(invoice=current, actor=actor, request=request)
    _refresh(invoice, current)
    return current


@transaction.atomic
def invoice_void(
    *, actor: User, invoice: Invoice, reason: str, request: HttpRequest | None = None
) -> Invoice:
    """Void an invoice, saying why. A draft simply never charges; an issued invoice is
    credited for what it still charges (a credit note, in the same transaction), once any
    money taken for it has been refunded. A visit a package covered goes back to the package
    (the database does it with the void, migration ``0007_packages``); a package's own invoice
    is voided only while none of its visits is used."""
    require(actor, Capability.CORRECT_BILLING)
    reason = _reason(reason, "the invoice is void")
    current = _locked(invoice)
    if current.status == InvoiceStatus.VOID:
        raise ValidationError({"invoice": ["This invoice is void already."]})
    if PackageUse.objects.filter(package__invoice=current, released_at__isnull=True).exists():
        raise ValidationError(
            {
                "invoice": [
                    "This invoice sold a package some of whose visits have been used: void "
                    "those visits' invoices first (which gives the visits back), or write a "
                    "credit note for part of the package."
                ]
            }
        )
    if current.status == InvoiceStatus.ISSUED:
        net_paid = current.paid - current.refunded
        if net_paid > 0:
            raise ValidationError(
                {
                    "invoice": [
                        f"{_money(net_paid)} has been paid on this invoice: refund it first, "
                        "then void the invoice (or write a credit note for part of it)."
                    ]
                }
            )
        if current.due > 0:
            credit = CreditNote.objects.create(
                invoice=current, amount=current.due, reason=reason, created_by=actor
            )
            # The credit is a money move of its own: it takes the amount off the balance.
            _audit_credit(actor, current, credit, "voiding the invoice", request)
    current.status = InvoiceStatus.VOID
    current.voided_at = timezone.now()
    current.voided_by = actor
    current.void_reason = reason
    current.save(update_fields=["status", "voided_at", "voided_by", "void_reason"])
    _audit_invoice(actor, current, "voided it with a reason", request)
    _refresh(invoice, current)
    return current


@transaction.atomic
def credit_note_create(
    *,
    actor: User,
    invoice: Invoice,
    amount: object,
    reason: str,
    request: HttpRequest | None = None,
) -> CreditNote:
    """Take ``amount`` off what an issued invoice charges, saying why; never more than it
    still owes (refund a payment first to credit what was paid)."""
    require(actor, Capability.CORRECT_BILLING)
    amount = _amount(amount, "amount")
    reason = _reason(reason, "the invoice is credited")
    current = _locked(invoice)
    if current.status != InvoiceStatus.ISSUED:
        raise ValidationError(
            {"invoice": [f"Only an issued invoice is credited; this one is {current.status}."]}
        )
    if amount > current.due:
        raise ValidationError(
            {
                "amount": [
                    f"This invoice owes {_money(current.due)}: credit that much at most "
                    "(refund a payment first to give money back)."
                ]
            }
        )
    credit = CreditNote.objects.create(
        invoice=current, amount=amount, reason=reason, created_by=actor
    )
    _audit_credit(actor, current, credit, "with a reason", request)
    return credit


# --- Payments and refunds --------------------------------------------------------------------


@transaction.atomic
def payment_take(
    *,
    actor: User,
    invoice: Invoice,
    method: str,
    amount: object,
    reference: str = "",
    public_id: uuid.UUID | None = None,
    request: HttpRequest | None = None,
) -> Payment:
    """Record money received at the desk for an issued invoice: by the clinic's card
    terminal, cash or cheque, never more than the invoice still owes. The patient's receipt
    is queued by email in the same transaction (``billing.messages``; sent on their email
    consent).

    ``public_id``, when the caller chooses it (the API's ``id``), makes the request safe to
    send again: a payment already recorded with that id for the same invoice, method, amount
    and reference is returned as it is, and nothing is written twice."""
    require(actor, Capability.TAKE_PAYMENTS)
    errors: dict[str, list[str]] = {}
    if method not in MANUAL_METHODS:
        errors["method"] = ["Choose how the patient paid: card terminal, cash or cheque."]
    try:
        amount = _amount(amount, "amount")
    except ValidationError as exc:
        errors.update(exc.message_dict)
    reference = (reference or "").strip()
    if len(reference) > 60:
        errors["reference"] = ["Shorten the reference to 60 characters or fewer."]
    if errors:
        raise ValidationError(errors)
    current = _locked(invoice)
    if public_id is not None:
        # Checked with the invoice locked: the same request sent twice at once waits here.
        earlier = Payment.objects.filter(public_id=public_id).first()
        if earlier is not None:
            same = (earlier.invoice_id, earlier.method, earlier.amount, earlier.reference)
            if same == (current.pk, method, amount, reference):
                return earlier
            raise ValidationError(
                {"id": ["Another payment has this id already: send a new id for a new payment."]}
            )
    if current.status != InvoiceStatus.ISSUED:
        what = "Issue it first." if current.status == InvoiceStatus.DRAFT else "Nothing is owed."
        raise ValidationError(
            {"invoice": [f"This invoice is {current.get_status_display().lower()}: {what}"]}
        )
    if current.due <= 0:
        raise ValidationError({"amount": ["This invoice is paid in full: nothing is owed."]})
    if amount > current.due:
        raise ValidationError(
            {"amount": [f"This invoice owes {_money(current.due)}: take that much at most."]}
        )
    waiting = CardCharge.objects.filter(invoice=current, status="pending", kind="saved_card")
    if waiting.exists():
        raise ValidationError(
            {
                "amount": [
                    "A charge of the card on file is waiting for Stripe's answer: send it "
                    "again from the invoice's page first, so the patient never pays twice."
                ]
            }
        )
    payment = Payment.objects.create(
        invoice=current,
        method=method,
        amount=amount,
        reference=reference,
        taken_by=actor,
        **({"public_id": public_id} if public_id is not None else {}),
    )
    audit_record(
        actor=actor,
        action=Action.CREATE,
        target=payment,
        summary=f"took {_money(amount)} ({payment.get_method_display()}) on invoice "
        f"{current.number} for patient {current.patient.public_id}",
        request=request,
    )
    outbox_enqueue(
        key=receipt_key(payment),
        kind=RECEIPT,
        channel=OutboxChannel.EMAIL,
        patient=current.patient,
        location=current.location,
        context={"payment": str(payment.public_id)},
    )
    return payment


@transaction.atomic
def refund_make(
    *,
    actor: User,
    payment: Payment,
    amount: object,
    reason: str,
    public_id: uuid.UUID | None = None,
    request: HttpRequest | None = None,
) -> Refund:
    """Give back ``amount`` of a payment (the same way it was paid), saying why; never more
    than is left of it. With ``public_id`` chosen by the caller (the API's ``id``), a refund
    already made with that id of the same payment and amount is returned as it is; for a
    card, that id is also Stripe's idempotency key."""
    require(actor, Capability.CORRECT_BILLING)
    amount = _amount(amount, "amount")
    reason = _reason(reason, "the money goes back")
    locked = (
        Payment.objects.select_for_update().select_related("invoice__patient").get(pk=payment.pk)
    )
    if public_id is not None:
        earlier = Refund.objects.filter(public_id=public_id).first()
        if earlier is not None:
            if (earlier.payment_id, earlier.amount) == (locked.pk, amount):
                return earlier
            raise ValidationError(
                {"id": ["Another refund has this id already: send a new id for a new refund."]}
            )
    left = locked.amount - sum(r.amount for r in locked.refunds.all())
    if amount > left:
        raise ValidationError(
            {
                "amount": [
                    f"{_money(left)} is left of this payment: refund that much at most."
                    if left > 0
                    else "This payment has been refunded in full."
                ]
            }
        )
    public_id = public_id or uuid.uuid4()
    stripe_refund = None
    if locked.method == PaymentMethod.CARD:
        # Given back at Stripe first, while the payment is locked (so two refunds at once
        # never give back more than was paid); the webhook's notice of it then finds it.
        stripe_refund = _card_refund(locked, amount, public_id)
    refund = Refund.objects.create(
        public_id=public_id,
        payment=locked,
        amount=amount,
        reason=reason,
        refunded_by=actor,
        stripe_refund=stripe_refund,
    )
    invoice = locked.invoice
    audit_record(
        actor=actor,
        action=Action.CREATE,
        target=refund,
        summary=f"refunded {_money(amount)} of a {locked.get_method_display()} payment on "
        f"invoice {invoice.number} for patient {invoice.patient.public_id}, with a reason",
        request=request,
    )
    return refund


def _card_refund(payment: Payment, amount: Decimal, public_id: uuid.UUID) -> str:
    try:
        made = gateway.refund(
            payment_intent_id=payment.stripe_payment_intent or "",
            amount=amount,
            currency=settings.BILLING_CURRENCY,
            reference=str(public_id),
            idempotency_key=str(public_id),
        )
    except PaymentError as error:
        raise ValidationError({"amount": [error.message]}) from None
    if made.status not in ("succeeded", "pending"):
        raise ValidationError(
            {"amount": ["Stripe did not make the refund: try again, or give it back another way."]}
        )
    return made.id


# --- Helpers ---------------------------------------------------------------------------------


def _require_draft(invoice: Invoice) -> None:
    if invoice.status != InvoiceStatus.DRAFT:
        raise ValidationError(
            {
                "invoice": [
                    f"This invoice is {invoice.get_status_display().lower()}: its lines no longer "
                    "change. Correct it with a credit note."
                ]
            }
        )


def _audit_invoice(actor: User, invoice: Invoice, what: str, request: HttpRequest | None) -> None:
    audit_record(
        actor=actor,
        action=Action.UPDATE,
        target=invoice,
        summary=f"{what} (patient {invoice.patient.public_id})",
        request=request,
    )


def _audit_credit(
    actor: User, invoice: Invoice, credit: CreditNote, how: str, request: HttpRequest | None
) -> None:
    audit_record(
        actor=actor,
        action=Action.CREATE,
        target=credit,
        summary=f"credited {_money(credit.amount)} on invoice {invoice.number}, {how} "
        f"(patient {invoice.patient.public_id})",
        request=request,
    )
