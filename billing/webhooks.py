"""What Stripe's events change, each once.

``receive(event)`` runs in one transaction: it inserts the event's id into
``StripeEvent`` (unique) and acts on it. A replay finds the id and does nothing; two
deliveries at once wait on the unique index, and the second finds the first. What an event
does is decided from our own records, never from the order events arrive in: a payment is
recorded once per PaymentIntent, a card once per setup, a refund once per Stripe refund; a
failure that arrives after the success changes nothing.

Events handled (the ones to subscribe to in Stripe's dashboard, README "Configuration"):
``checkout.session.completed``, ``payment_intent.succeeded``,
``payment_intent.payment_failed``, ``refund.created``, ``refund.updated``. Others are kept
and answered 200, doing nothing.
"""

from __future__ import annotations

import uuid

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from billing.cards import card_setup_complete, charge_failed, charge_succeeded
from billing.deposits import booking_hold_for_setup, booking_hold_settle
from billing.models import CardCharge, CardChargeStatus, CardSetup, Payment, Refund, StripeEvent
from billing.stripe.money import from_minor_units
from billing.stripe.webhooks import StripeEvent as Event
from clinic.audit import Action, audit_record

HANDLED = (
    "checkout.session.completed",
    "payment_intent.succeeded",
    "payment_intent.payment_failed",
    "refund.created",
    "refund.updated",
)
REFUND_REASON = "Refunded at Stripe (recorded from Stripe's notice)."


def receive(event: Event) -> bool:
    """Record and act on ``event``; False if it had been received already (a replay).
    A ``PaymentError`` (Stripe out of reach while reading a session) undoes everything, so
    Stripe's next delivery tries again."""
    with transaction.atomic():
        try:
            with transaction.atomic():
                row = StripeEvent.objects.create(
                    event_id=event.id, type=event.type, created_at_stripe=event.created
                )
        except IntegrityError:
            return False
        row.outcome = _act(event)[:300]
        row.processed_at = timezone.now()
        row.save(update_fields=["outcome", "processed_at"])
    return True


def _act(event: Event) -> str:
    if event.type == "checkout.session.completed":
        return _checkout_completed(event)
    if event.type == "payment_intent.succeeded":
        return _payment_succeeded(event)
    if event.type == "payment_intent.payment_failed":
        return _payment_failed(event)
    if event.type in ("refund.created", "refund.updated"):
        return _refund(event)
    return "not handled"


def _by_reference(model, reference: str | None):
    try:
        public_id = uuid.UUID(reference or "")
    except ValueError:
        return None
    return model.objects.filter(public_id=public_id).first()


def _checkout_completed(event: Event) -> str:
    session_id = event.object_id
    setup = CardSetup.objects.filter(checkout_session_id=session_id).first()
    if setup is not None:
        card = card_setup_complete(setup)
        if card is None:
            return "setup not complete yet"
        hold = booking_hold_for_setup(setup)
        if hold is not None:  # a time booked online, held for this card (billing.deposits)
            confirmed = booking_hold_settle(hold)
            return f"card saved ({card.public_id}); booking " + (
                "confirmed" if confirmed else "not confirmed (released)"
            )
        return f"card saved ({card.public_id})"
    charge = CardCharge.objects.filter(checkout_session_id=session_id).first()
    if charge is None:
        charge = _by_reference(CardCharge, event.reference)
    if charge is None:
        return "no setup or charge of ours"
    if not event.payment_intent_id or event.amount_minor is None or not event.currency:
        return "no payment in the session"
    return _settle(charge, event.payment_intent_id, event.amount_minor, event.currency)


def _settle(charge: CardCharge, intent_id: str, amount_minor: int, currency: str) -> str:
    try:
        payment = charge_succeeded(
            charge, payment_intent_id=intent_id, amount=from_minor_units(amount_minor, currency)
        )
    except ValidationError:
        return "the invoice refused the payment"
    return f"payment recorded ({payment.public_id})"


def _payment_succeeded(event: Event) -> str:
    intent_id = event.payment_intent_id or event.object_id
    if Payment.objects.filter(stripe_payment_intent=intent_id).exists():
        return "payment known already"
    charge = _by_reference(CardCharge, event.reference)
    if charge is None or event.amount_minor is None or not event.currency:
        return "no charge of ours"
    if charge.status == CardChargeStatus.FAILED and charge.payment_intent_id not in (
        None,
        intent_id,
    ):
        return "charge settled by another attempt"
    return _settle(charge, intent_id, event.amount_minor, event.currency)


def _payment_failed(event: Event) -> str:
    charge = _by_reference(CardCharge, event.reference)
    if charge is None:
        return "no charge of ours"
    changed = charge_failed(
        charge, "The card was declined.", payment_intent_id=event.payment_intent_id
    )
    return "charge marked declined" if changed else "charge settled already"


def _refund(event: Event) -> str:
    refund_id = event.object_id
    if Refund.objects.filter(stripe_refund=refund_id).exists():
        return "refund known already"
    if event.status not in ("succeeded", "pending"):
        return f"refund {event.status}: not recorded"
    if event.amount_minor is None or not event.currency or not event.payment_intent_id:
        return "refund without an amount or payment"
    payment = (
        Payment.objects.select_for_update()
        .select_related("invoice__patient")
        .filter(stripe_payment_intent=event.payment_intent_id)
        .first()
    )
    if payment is None:
        return "no payment of ours"
    if Refund.objects.filter(stripe_refund=refund_id).exists():  # recorded while we waited
        return "refund known already"
    amount = from_minor_units(event.amount_minor, event.currency)
    left = payment.amount - sum(r.amount for r in payment.refunds.all())
    if amount > left:
        return "refund larger than what is left of the payment: not recorded"
    public_id = uuid.uuid4()
    try:
        wanted = uuid.UUID(event.reference or "")
        if not Refund.objects.filter(public_id=wanted).exists():
            public_id = wanted
    except ValueError:
        pass
    refund = Refund.objects.create(
        public_id=public_id,
        payment=payment,
        amount=amount,
        reason=REFUND_REASON,
        refunded_by=None,
        stripe_refund=refund_id,
    )
    invoice = payment.invoice
    audit_record(
        actor=None,
        action=Action.CREATE,
        target=refund,
        summary=f"recorded a card refund made at Stripe on invoice {invoice.number} for "
        f"patient {invoice.patient.public_id}",
    )
    return f"refund recorded ({refund.public_id})"
