"""Card payments through Stripe: saving a card on file with the patient's consent, charging
it for an issued invoice, paying an invoice on Stripe's Checkout page, and recording what
Stripe tells us (``billing.webhooks``).

The rule that keeps a card from being charged twice: a ``CardCharge`` is written and
committed *before* Stripe is asked, and its public id is the idempotency key. A retry after
a lost answer sends the same request with the same key, and Stripe answers it with the first
answer. The payment is recorded once, by whichever of the desk's answer, the webhook and the
return from Checkout comes first (``Payment.stripe_payment_intent`` is unique).

``billing.stripe`` is called with plain values only; its errors arrive as
``billing.stripe.errors.PaymentError`` and leave here as a ``ValidationError`` with the
gateway's message, having recorded nothing but the failed attempt.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils import timezone

from billing.messages import RECEIPT, receipt_key
from billing.models import (
    CardCharge,
    CardChargeKind,
    CardChargeStatus,
    CardOnFile,
    CardSetup,
    Invoice,
    InvoiceStatus,
    Payment,
    PaymentMethod,
    StripeCustomer,
)
from billing.money import format_amount, parse_amount
from billing.selectors import invoices_with_sums
from billing.stripe import gateway
from billing.stripe.errors import CardDeclined, PaymentError
from clinic.audit import Action, audit_record
from clinic.messaging.outbox import outbox_enqueue
from clinic.models import OutboxChannel, User
from clinic.permissions import Capability, require
from patients.models import Patient

# The card-on-file policy the patient reads on Stripe's page and agrees to by saving the
# card; kept, word for word, with the card.
CARD_ON_FILE_POLICY = (
    "By saving this card you allow the clinic to charge it, without asking you each time, "
    "for what you owe after a visit and for fees under the clinic's cancellation policy. "
    "You get a receipt by email for each charge, and you may ask the front desk to remove "
    "the card at any time."
)
CONSENT_METHOD_DESK = "Stripe's card page, opened at the front desk"
CONSENT_METHOD_LINK = "Stripe's card page, from a link the clinic sent"
CONSENT_METHOD_BOOKING = "Stripe's card page, when booking online"


def cards_enabled() -> bool:
    """Whether card payments are on (a Stripe secret key is configured)."""
    return gateway.enabled()


def _money(amount: Decimal) -> str:
    return format_amount(amount, settings.BILLING_CURRENCY)


def _refused(error: PaymentError) -> ValidationError:
    return ValidationError({"card": [error.message]})


def card_on_file(patient: Patient) -> CardOnFile | None:
    """The card the patient keeps on file now, if any."""
    return CardOnFile.objects.filter(patient=patient, removed_at__isnull=True).first()


# --- Saving a card ---------------------------------------------------------------------------


def _customer_id(patient: Patient) -> str:
    """The patient's Stripe Customer, made (and kept) the first time."""
    known = StripeCustomer.objects.filter(patient=patient).first()
    customer = gateway.ensure_customer(
        patient_ref=str(patient.public_id),
        idempotency_key=f"patient-{patient.public_id}",
        customer_id=known.customer_id if known else None,
    )
    if known is None:
        StripeCustomer.objects.get_or_create(patient=patient, defaults={"customer_id": customer.id})
    elif known.customer_id != customer.id:  # replaced: deleted in Stripe's dashboard
        known.customer_id = customer.id
        known.save(update_fields=["customer_id"])
    return customer.id


def card_setup_start(
    *,
    actor: User,
    patient: Patient,
    success_url: str,
    cancel_url: str,
    request: HttpRequest | None = None,
) -> str:
    """Open Stripe's page to save a card for ``patient`` at the desk; the page's address.
    ``success_url`` may hold ``{setup}``, replaced by the setup's public id."""
    require(actor, Capability.TAKE_PAYMENTS)
    setup = card_setup_open(
        patient=patient, requested_by=actor, success_url=success_url, cancel_url=cancel_url
    )
    audit_record(
        actor=actor,
        action=Action.CREATE,
        target=setup,
        summary=f"opened Stripe's page to save a card for patient {patient.public_id}",
        request=request,
    )
    return setup.checkout_url


def card_setup_open(
    *,
    patient: Patient,
    requested_by: User | None,
    success_url: str,
    cancel_url: str,
    wording: str = CARD_ON_FILE_POLICY,
) -> CardSetup:
    """The one way a card is saved, wherever it is asked for (the desk, a link sent to the
    patient, a booking online): a ``CardSetup`` with the card policy the patient agrees to,
    and Stripe's page in setup mode showing it, whose address is ``setup.checkout_url`` (not
    stored). Completed by ``card_setup_complete``. ``success_url`` may hold ``{setup}``.
    Raises ``ValidationError`` with Stripe's problem, having saved nothing."""
    setup = CardSetup(patient=patient, consent_wording=wording, requested_by=requested_by)
    try:
        setup.customer_id = _customer_id(patient)
        session = gateway.start_card_setup(
            customer_id=setup.customer_id,
            currency=settings.BILLING_CURRENCY,
            success_url=success_url.replace("{setup}", str(setup.public_id)),
            cancel_url=cancel_url,
            reference=str(setup.public_id),
            idempotency_key=str(setup.public_id),
            consent_text=wording,
        )
    except PaymentError as error:
        raise _refused(error) from None
    setup.checkout_session_id = session.id
    setup.save()
    setup.checkout_url = session.url or ""
    return setup


def card_setup_complete(
    setup: CardSetup, payment_method_id: str | None = None
) -> CardOnFile | None:
    """Save the card of a completed setup, once: from the webhook or the return from
    Checkout. Asks Stripe for the session (and the card's brand and digits). None while the
    patient has not finished on Stripe's page."""
    if setup.completed_at is not None:
        return getattr(setup, "card", None)
    if payment_method_id is None:
        session = gateway.get_checkout(setup.checkout_session_id or "")
        if session.status != "complete" or not session.payment_method_id:
            return None
        payment_method_id = session.payment_method_id
    card = gateway.get_card(payment_method_id)
    with transaction.atomic():
        locked = CardSetup.objects.select_for_update().get(pk=setup.pk)
        if locked.completed_at is not None:
            return CardOnFile.objects.filter(setup=locked).first()
        now = timezone.now()
        # The new card takes the place of the one kept before.
        CardOnFile.objects.filter(patient_id=locked.patient_id, removed_at__isnull=True).update(
            removed_at=now
        )
        saved = CardOnFile.objects.create(
            patient_id=locked.patient_id,
            setup=locked,
            customer_id=locked.customer_id,
            payment_method_id=card.id,
            brand=card.brand,
            last4=card.last4,
            exp_month=card.exp_month,
            exp_year=card.exp_year,
            consent_wording=locked.consent_wording,
            consent_method=_consent_method(locked),
            consent_at=now,
            consent_recorded_by=locked.requested_by,
        )
        locked.completed_at = now
        locked.save(update_fields=["completed_at"])
        audit_record(
            actor=None,
            action=Action.CREATE,
            target=saved,
            summary="saved a card on file with the patient's agreement to the card policy "
            f"(patient {locked.patient.public_id})",
        )
    setup.completed_at = locked.completed_at
    return saved


def _consent_method(setup: CardSetup) -> str:
    """How the patient came to Stripe's page: at the desk, by a link, or booking online."""
    if CardSetup.objects.filter(pk=setup.pk, link__isnull=False).exists():
        return CONSENT_METHOD_LINK
    if CardSetup.objects.filter(pk=setup.pk, booking_hold__isnull=False).exists():
        return CONSENT_METHOD_BOOKING
    return CONSENT_METHOD_DESK


@transaction.atomic
def card_remove(*, actor: User, card: CardOnFile, request: HttpRequest | None = None) -> CardOnFile:
    """Stop using a card on file (the row stays, with the consent it was saved under)."""
    require(actor, Capability.TAKE_PAYMENTS)
    locked = CardOnFile.objects.select_for_update().select_related("patient").get(pk=card.pk)
    if locked.removed_at is not None:
        raise ValidationError({"card": ["This card was removed already."]})
    locked.removed_at, locked.removed_by = timezone.now(), actor
    locked.save(update_fields=["removed_at", "removed_by"])
    audit_record(
        actor=actor,
        action=Action.UPDATE,
        target=locked,
        summary=f"removed the card on file of patient {locked.patient.public_id}",
        request=request,
    )
    return locked


# --- Charging the card on file ---------------------------------------------------------------


def _issued_and_owing(invoice: Invoice, amount: Decimal) -> Invoice:
    Invoice.objects.select_for_update().filter(pk=invoice.pk).values_list("pk").get()
    current = invoices_with_sums(Invoice.objects.filter(pk=invoice.pk)).get()
    if current.status != InvoiceStatus.ISSUED:
        raise ValidationError(
            {
                "invoice": [
                    f"This invoice is {current.get_status_display().lower()}: nothing to charge."
                ]
            }
        )
    if current.due <= 0:
        raise ValidationError({"amount": ["This invoice is paid in full: nothing is owed."]})
    if amount > current.due:
        raise ValidationError(
            {"amount": [f"This invoice owes {_money(current.due)}: charge that much at most."]}
        )
    return current


def pending_card_charge(invoice: Invoice) -> CardCharge | None:
    return CardCharge.objects.filter(
        invoice=invoice, kind=CardChargeKind.SAVED_CARD, status=CardChargeStatus.PENDING
    ).first()


def card_charge(
    *, actor: User, invoice: Invoice, amount: object, request: HttpRequest | None = None
) -> Payment:
    """Charge the patient's card on file ``amount`` for an issued invoice, and record the
    payment. A charge still waiting for Stripe's answer (a timeout) is sent again, with the
    same key, instead of a new one. A decline records nothing but the failed attempt and
    says why; Stripe out of reach leaves the charge waiting, to try again."""
    require(actor, Capability.TAKE_PAYMENTS)
    try:
        value = parse_amount(amount, currency=settings.BILLING_CURRENCY)
    except ValueError as exc:
        raise ValidationError({"amount": [str(exc)]}) from None
    with transaction.atomic():
        # The invoice's lock makes two clicks at once meet the same waiting charge.
        current = Invoice.objects.select_for_update().select_related("patient").get(pk=invoice.pk)
        charge = pending_card_charge(current)
        if charge is None:
            card = card_on_file(current.patient)
            if card is None:
                raise ValidationError({"card": ["This patient has no card on file."]})
            _issued_and_owing(current, value)
            charge = CardCharge.objects.create(
                invoice=current,
                kind=CardChargeKind.SAVED_CARD,
                card=card,
                amount=value,
                created_by=actor,
            )
            audit_record(
                actor=actor,
                action=Action.CREATE,
                target=charge,
                summary=f"asked Stripe to charge {_money(value)} to the card on file for "
                f"invoice {current.number} (patient {current.patient.public_id})",
                request=request,
            )
        elif charge.amount != value:
            raise ValidationError(
                {
                    "amount": [
                        f"A charge of {_money(charge.amount)} is still waiting for Stripe's "
                        "answer: send that one again first."
                    ]
                }
            )
    card = charge.card
    if card is None:  # refused by the database too (saved_card_charge_has_card)
        raise ValidationError({"card": ["This charge has no card: charge the card on file."]})
    try:
        answer = gateway.charge_saved_card(
            customer_id=card.customer_id,
            payment_method_id=card.payment_method_id,
            amount=charge.amount,
            currency=settings.BILLING_CURRENCY,
            description=f"Invoice {current.number}",
            reference=str(charge.public_id),
            idempotency_key=str(charge.public_id),
        )
    except CardDeclined as error:
        charge_failed(charge, error.message, payment_intent_id=error.payment_intent_id)
        raise _refused(error) from None
    except PaymentError as error:
        if error.retryable:
            raise ValidationError(
                {
                    "card": [
                        f"{error.message} Nothing more is charged by trying again: the same "
                        "charge is sent, and Stripe answers it once."
                    ]
                }
            ) from None
        charge_failed(charge, error.message)
        raise _refused(error) from None
    if not answer.succeeded:
        message = "Stripe did not take the payment: try again, or take it another way."
        charge_failed(charge, message, payment_intent_id=answer.id)
        raise ValidationError({"card": [message]})
    return charge_succeeded(
        charge, payment_intent_id=answer.id, amount=answer.amount_received, request=request
    )


def charge_failed(
    charge: CardCharge, message: str, *, payment_intent_id: str | None = None
) -> bool:
    """Mark a waiting charge declined (nothing recorded in the books); False if it was
    settled already (an event that arrives late changes nothing)."""
    with transaction.atomic():
        locked = CardCharge.objects.select_for_update().get(pk=charge.pk)
        if locked.status != CardChargeStatus.PENDING:
            return False
        locked.status = CardChargeStatus.FAILED
        locked.failure = message[:300]
        locked.settled_at = timezone.now()
        if payment_intent_id and locked.payment_intent_id is None:
            locked.payment_intent_id = payment_intent_id
        locked.save(update_fields=["status", "failure", "settled_at", "payment_intent_id"])
        # Whoever learnt of it (the desk's answer or Stripe's webhook), the books say so.
        audit_record(
            actor=None,
            action=Action.UPDATE,
            target=locked,
            summary=f"a card charge of {_money(locked.amount)} on invoice "
            f"{locked.invoice.number} failed: nothing was taken",
        )
    charge.status = locked.status
    return True


def charge_succeeded(
    charge: CardCharge,
    *,
    payment_intent_id: str,
    amount: Decimal,
    request: HttpRequest | None = None,
) -> Payment:
    """Record the payment of a charge Stripe took, once (whoever tells us first)."""
    with transaction.atomic():
        locked = (
            CardCharge.objects.select_for_update()
            .select_related("invoice__patient")
            .get(pk=charge.pk)
        )
        existing = Payment.objects.filter(stripe_payment_intent=payment_intent_id).first()
        if existing is not None:
            return existing
        invoice = locked.invoice
        Invoice.objects.select_for_update().filter(pk=invoice.pk).values_list("pk").get()
        try:
            with transaction.atomic():
                payment = Payment.objects.create(
                    invoice=invoice,
                    method=PaymentMethod.CARD,
                    amount=amount,
                    reference=payment_intent_id[:60],
                    taken_by=locked.created_by,
                    stripe_payment_intent=payment_intent_id,
                )
        except IntegrityError:
            existing = Payment.objects.filter(stripe_payment_intent=payment_intent_id).first()
            if existing is not None:
                return existing
            # The books refuse more than the invoice owes (paid another way meanwhile): the
            # charge stays waiting, on the invoice's page, for a refund at Stripe.
            raise ValidationError(
                {"amount": ["Stripe took more than this invoice now owes: refund the card."]}
            ) from None
        locked.status = CardChargeStatus.SUCCEEDED
        locked.payment = payment
        locked.payment_intent_id = payment_intent_id
        locked.failure = ""
        locked.settled_at = timezone.now()
        locked.save(
            update_fields=["status", "payment", "payment_intent_id", "failure", "settled_at"]
        )
        audit_record(
            actor=locked.created_by,
            action=Action.CREATE,
            target=payment,
            summary=f"took {_money(amount)} by card (Stripe) on invoice {invoice.number} for "
            f"patient {invoice.patient.public_id}",
            request=request,
        )
        outbox_enqueue(
            key=receipt_key(payment),
            kind=RECEIPT,
            channel=OutboxChannel.EMAIL,
            patient=invoice.patient,
            location=invoice.location,
            context={"payment": str(payment.public_id)},
        )
    charge.status = CardChargeStatus.SUCCEEDED
    return payment


# --- Paying on Stripe's Checkout page at the desk --------------------------------------------


def checkout_start(
    *,
    actor: User,
    invoice: Invoice,
    amount: object,
    success_url: str,
    cancel_url: str,
    request: HttpRequest | None = None,
) -> str:
    """Open Stripe's page for the patient to pay ``amount`` of an issued invoice by card at
    the desk; the page's address. ``success_url`` may hold ``{charge}``."""
    require(actor, Capability.TAKE_PAYMENTS)
    try:
        value = parse_amount(amount, currency=settings.BILLING_CURRENCY)
    except ValueError as exc:
        raise ValidationError({"amount": [str(exc)]}) from None
    with transaction.atomic():
        current = _issued_and_owing(invoice, value)
        charge = CardCharge.objects.create(
            invoice=current, kind=CardChargeKind.CHECKOUT, amount=value, created_by=actor
        )
    patient = current.patient
    try:
        session = gateway.start_checkout_payment(
            customer_id=_customer_id(patient),
            amount=value,
            currency=settings.BILLING_CURRENCY,
            description=f"Invoice {current.number}",
            success_url=success_url.replace("{charge}", str(charge.public_id)),
            cancel_url=cancel_url,
            reference=str(charge.public_id),
            idempotency_key=str(charge.public_id),
        )
    except PaymentError as error:
        charge_failed(charge, error.message)
        raise _refused(error) from None
    CardCharge.objects.filter(pk=charge.pk).update(checkout_session_id=session.id)
    audit_record(
        actor=actor,
        action=Action.UPDATE,
        target=current,
        summary=f"opened Stripe's page to pay {_money(value)} by card (patient "
        f"{patient.public_id})",
        request=request,
    )
    return session.url or ""


def checkout_settle(charge: CardCharge) -> Payment | None:
    """On the return from Checkout: record the payment if the patient paid (once)."""
    if charge.payment_id is not None:
        return charge.payment
    session = gateway.get_checkout(charge.checkout_session_id or "")
    if session.payment_status != "paid" or not session.payment_intent_id:
        return None
    return charge_succeeded(
        charge, payment_intent_id=session.payment_intent_id, amount=session.amount or charge.amount
    )
