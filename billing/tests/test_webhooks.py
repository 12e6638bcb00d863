"""Stripe's webhook: a bad signature is 400 and stores nothing; each event is kept by its id
and acted on once, in the transaction that keeps it; replays and events out of order change
the books once."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from billing.cards import card_charge, card_setup_start, checkout_start
from billing.models import (
    CardCharge,
    CardOnFile,
    CardSetup,
    Payment,
    Refund,
    StripeEvent,
)
from billing.services import refund_make
from billing.tests.factories import issued
from patients.tests.factories import PatientFactory

pytestmark = pytest.mark.django_db

HOOK = "/hooks/stripe/"


@pytest.fixture
def no_client_retries(monkeypatch):
    """The stripe client's own retries off, so a lost answer reaches the desk at once."""
    from billing.stripe import gateway

    monkeypatch.setattr(gateway, "NETWORK_RETRIES", 0)


def deliver(client, fake, event: dict, *, secret: str | None = None) -> int:
    payload = json.dumps(event).encode()
    answer = client.post(
        HOOK,
        data=payload,
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=fake.sign(payload, secret=secret),
    )
    return answer.status_code


def events_of(fake, kind: str) -> list[dict]:
    return [event for event in fake.events if event["type"] == kind]


def saved_card(fake, fran, patient, card: str = "pm_card_visa") -> CardOnFile:
    """A card saved through Checkout, the webhook telling us."""
    card_setup_start(
        actor=fran, patient=patient, success_url="https://clinic.test/ok", cancel_url="https://x"
    )
    setup = CardSetup.objects.get(patient=patient, completed_at__isnull=True)
    fake.complete_checkout(setup.checkout_session_id, card)
    (completed,) = [
        e
        for e in events_of(fake, "checkout.session.completed")
        if e["data"]["object"]["id"] == setup.checkout_session_id
    ]
    assert deliver_ok(fake, completed)
    return CardOnFile.objects.get(patient=patient, removed_at__isnull=True)


def deliver_ok(fake, event) -> bool:
    from django.test import Client

    return deliver(Client(), fake, event) == 200


def test_a_bad_signature_is_400_and_stores_nothing(client, fake_stripe, fran, no_client_retries):
    invoice = issued(lines=["200.00"])
    saved_card(fake_stripe, fran, invoice.patient)
    fake_stripe.drop_next(1)  # Stripe charges; the answer is lost
    with pytest.raises(ValidationError):
        card_charge(actor=fran, invoice=invoice, amount="200.00")
    (succeeded,) = events_of(fake_stripe, "payment_intent.succeeded")
    before = StripeEvent.objects.count()

    assert deliver(client, fake_stripe, succeeded, secret="whsec_not_ours") == 400
    tampered = json.dumps(succeeded).encode()
    answer = client.post(
        HOOK,
        data=tampered.replace(b"20000", b"90000"),
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=fake_stripe.sign(tampered),
    )
    assert answer.status_code == 400
    assert client.post(HOOK, data=tampered, content_type="application/json").status_code == 400
    assert StripeEvent.objects.count() == before
    assert not Payment.objects.exists()


def test_a_lost_answer_is_recorded_by_the_webhook_once_and_a_retry_never_charges_twice(
    client, fake_stripe, fran, no_client_retries
):
    invoice = issued(lines=["200.00"])
    saved_card(fake_stripe, fran, invoice.patient)
    fake_stripe.drop_next(1)
    with pytest.raises(ValidationError, match="Nothing more is charged by trying again"):
        card_charge(actor=fran, invoice=invoice, amount="200.00")
    assert CardCharge.objects.get().status == "pending" and not Payment.objects.exists()

    (succeeded,) = events_of(fake_stripe, "payment_intent.succeeded")
    for _ in range(3):
        assert deliver(client, fake_stripe, succeeded) == 200
    payment = Payment.objects.get()
    assert payment.method == "card" and payment.amount == Decimal("200.00")
    assert payment.stripe_payment_intent == succeeded["data"]["object"]["id"]
    assert CardCharge.objects.get().status == "succeeded"

    # The desk's retry is answered by Stripe's first answer: no second charge, no second row.
    with pytest.raises(ValidationError, match="paid in full"):
        card_charge(actor=fran, invoice=invoice, amount="200.00")
    assert len(fake_stripe.charges) == 1 and Payment.objects.count() == 1
    assert StripeEvent.objects.filter(event_id=succeeded["id"]).count() == 1


def test_a_retry_after_a_timeout_sends_the_same_charge(fake_stripe, fran, no_client_retries):
    invoice = issued(lines=["200.00"])
    saved_card(fake_stripe, fran, invoice.patient)
    fake_stripe.drop_next(1)
    with pytest.raises(ValidationError):
        card_charge(actor=fran, invoice=invoice, amount="200.00")

    payment = card_charge(actor=fran, invoice=invoice, amount="200.00")

    assert len(fake_stripe.charges) == 1
    assert payment.stripe_payment_intent == fake_stripe.charges[0].payment_intent
    keys = {r.idempotency_key for r in fake_stripe.requests if r.path == "/v1/payment_intents"}
    assert len(keys) == 1


def test_a_failure_that_arrives_after_the_success_changes_nothing(client, fake_stripe, fran):
    invoice = issued(lines=["200.00"])
    saved_card(fake_stripe, fran, invoice.patient)
    card_charge(actor=fran, invoice=invoice, amount="200.00")
    (succeeded,) = events_of(fake_stripe, "payment_intent.succeeded")
    failed = json.loads(json.dumps(succeeded))
    failed["id"], failed["type"] = "evt_latefailure", "payment_intent.payment_failed"
    failed["data"]["object"]["status"] = "requires_payment_method"

    assert deliver(client, fake_stripe, failed) == 200
    assert deliver(client, fake_stripe, succeeded) == 200

    assert CardCharge.objects.get().status == "succeeded"
    assert Payment.objects.count() == 1


def test_a_saved_card_arrives_once_however_often_the_event_does(client, fake_stripe, fran):
    patient = PatientFactory()
    card = saved_card(fake_stripe, fran, patient)
    (completed,) = events_of(fake_stripe, "checkout.session.completed")
    for _ in range(2):
        assert deliver(client, fake_stripe, completed) == 200
    (other,) = events_of(fake_stripe, "setup_intent.succeeded")
    assert deliver(client, fake_stripe, other) == 200  # kept, not acted on

    assert CardOnFile.objects.get() == card
    assert card.label == "Visa ending 4242" and card.last4 == "4242"
    assert card.consent_wording.startswith("By saving this card")
    assert card.consent_recorded_by == fran
    assert StripeEvent.objects.get(event_id=other["id"]).outcome == "not handled"


def test_checkout_payment_events_out_of_order_record_one_payment(client, fake_stripe, fran):
    invoice = issued(lines=["150.00"])
    checkout_start(
        actor=fran,
        invoice=invoice,
        amount="150.00",
        success_url="https://clinic.test/ok",
        cancel_url="https://clinic.test/no",
    )
    charge = CardCharge.objects.get()
    fake_stripe.complete_checkout(charge.checkout_session_id, "pm_card_mastercard")
    (completed,) = events_of(fake_stripe, "checkout.session.completed")
    (succeeded,) = events_of(fake_stripe, "payment_intent.succeeded")

    for event in (succeeded, completed, succeeded, completed, completed):
        assert deliver(client, fake_stripe, event) == 200

    payment = Payment.objects.get()
    assert payment.amount == Decimal("150.00") and payment.method == "card"
    assert StripeEvent.objects.count() == 2


def test_a_refund_made_here_goes_to_stripe_and_its_notice_changes_nothing(
    client, fake_stripe, fran, alice
):
    invoice = issued(lines=["200.00"])
    saved_card(fake_stripe, fran, invoice.patient)
    payment = card_charge(actor=fran, invoice=invoice, amount="200.00")

    refund_make(actor=alice, payment=payment, amount="50.00", reason="Session cut short")
    with pytest.raises(ValidationError, match=r"150\.00 USD is left"):
        refund_make(actor=alice, payment=payment, amount="150.01", reason="Too much")
    (notice,) = events_of(fake_stripe, "refund.created")
    for _ in range(3):
        assert deliver(client, fake_stripe, notice) == 200

    refund = Refund.objects.get()
    assert refund.amount == Decimal("50.00") and refund.refunded_by == alice
    assert refund.stripe_refund == notice["data"]["object"]["id"]
    assert notice["data"]["object"]["metadata"]["chairside_reference"] == str(refund.public_id)
    assert notice["data"]["object"]["amount"] == 5000


def test_a_refund_made_in_stripes_dashboard_is_recorded_from_its_notice(client, fake_stripe, fran):
    from billing.stripe import gateway

    invoice = issued(lines=["200.00"])
    saved_card(fake_stripe, fran, invoice.patient)
    payment = card_charge(actor=fran, invoice=invoice, amount="200.00")
    gateway.refund(
        payment_intent_id=payment.stripe_payment_intent,
        currency="USD",
        reference="dashboard",
        idempotency_key="dashboard-1",
    )
    (notice,) = events_of(fake_stripe, "refund.created")
    later = dict(notice, id="evt_refundupdated", type="refund.updated")

    for event in (notice, later, notice):
        assert deliver(client, fake_stripe, event) == 200

    refund = Refund.objects.get()
    assert refund.amount == Decimal("200.00") and refund.refunded_by is None
    assert "Stripe" in refund.reason


def test_a_stripe_outage_leaves_the_invoice_owing_and_the_charge_waiting_to_retry(
    fake_stripe, fran, no_client_retries
):
    invoice = issued(lines=["200.00"])
    saved_card(fake_stripe, fran, invoice.patient)
    fake_stripe.fail_next(1)

    with pytest.raises(ValidationError, match="Nothing more is charged by trying again"):
        card_charge(actor=fran, invoice=invoice, amount="200.00")

    assert not Payment.objects.exists() and not fake_stripe.charges
    assert CardCharge.objects.get().status == "pending"
    invoice.refresh_from_db()
    assert invoice.status == "issued"
    payment = card_charge(actor=fran, invoice=invoice, amount="200.00")
    assert payment.amount == Decimal("200.00") and len(fake_stripe.charges) == 1


def test_an_event_stripe_cannot_be_asked_about_is_503_stores_nothing_and_comes_again(
    client, fake_stripe, fran, no_client_retries
):
    patient = PatientFactory()
    card_setup_start(
        actor=fran, patient=patient, success_url="https://clinic.test/ok", cancel_url="https://x"
    )
    setup = CardSetup.objects.get()
    fake_stripe.complete_checkout(setup.checkout_session_id, "pm_card_visa")
    (completed,) = events_of(fake_stripe, "checkout.session.completed")
    fake_stripe.fail_next(1)

    assert deliver(client, fake_stripe, completed) == 503
    assert not StripeEvent.objects.exists() and not CardOnFile.objects.exists()

    assert deliver(client, fake_stripe, completed) == 200
    assert CardOnFile.objects.get().last4 == "4242"
