"""Webhook events: signatures checked with the official client, bodies read into ours."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from billing.stripe import gateway
from billing.stripe.webhooks import TOLERANCE_SECONDS, WebhookRejected, parse_event
from tests.fake_stripe import sign


@pytest.fixture
def succeeded(fake_stripe) -> dict:
    """The ``payment_intent.succeeded`` event of a charge the fake took."""
    customer = gateway.ensure_customer(patient_ref="pt_1", idempotency_key="patient-1")
    gateway.charge_saved_card(
        customer_id=customer.id,
        payment_method_id="pm_card_visa",
        amount=Decimal("120.00"),
        currency="usd",
        description="Infusion visit",
        reference="payment-7",
        idempotency_key="payment-7",
    )
    (event,) = [e for e in fake_stripe.events if e["type"] == "payment_intent.succeeded"]
    return event


def _body(event: dict) -> bytes:
    return json.dumps(event).encode()


def test_a_signed_event_is_read_into_ours(fake_stripe, succeeded):
    body = _body(succeeded)

    event = parse_event(body, fake_stripe.sign(body))

    intent = succeeded["data"]["object"]
    assert event.id == succeeded["id"]
    assert event.id.startswith("evt_")
    assert event.type == "payment_intent.succeeded"
    assert event.created == datetime.fromtimestamp(succeeded["created"], tz=UTC)
    assert (event.object_type, event.object_id) == ("payment_intent", intent["id"])
    assert event.payment_intent_id == intent["id"]
    assert (event.amount_minor, event.currency, event.status) == (12000, "usd", "succeeded")
    assert event.reference == "payment-7"
    assert event.customer_id == intent["customer"]
    assert event.livemode is False


def test_a_checkout_event_carries_the_session_total_and_the_saved_card(fake_stripe):
    customer = gateway.ensure_customer(patient_ref="pt_1", idempotency_key="patient-1")
    session = gateway.start_checkout_payment(
        customer_id=customer.id,
        amount=Decimal("75.50"),
        currency="usd",
        description="Deposit: consultation",
        success_url="https://clinic.test/paid/",
        cancel_url="https://clinic.test/not-paid/",
        reference="deposit-3",
        idempotency_key="deposit-3",
    )
    fake_stripe.complete_checkout(session.id)
    completed = next(e for e in fake_stripe.events if e["type"] == "checkout.session.completed")
    body = _body(completed)

    event = parse_event(body, fake_stripe.sign(body))

    assert (event.object_type, event.object_id) == ("checkout.session", session.id)
    assert event.amount_minor == 7550
    assert event.reference == "deposit-3"
    assert event.payment_intent_id == gateway.get_checkout(session.id).payment_intent_id


def test_an_event_signed_with_another_secret_is_rejected(fake_stripe, succeeded):
    body = _body(succeeded)

    with pytest.raises(WebhookRejected, match="does not match"):
        parse_event(body, sign(body, "whsec_someone_else"))


def test_a_stale_signature_is_rejected(fake_stripe, succeeded):
    body = _body(succeeded)
    now = int(time.time())

    with pytest.raises(WebhookRejected, match=f"more than {TOLERANCE_SECONDS} seconds old"):
        parse_event(body, fake_stripe.sign(body, timestamp=now - TOLERANCE_SECONDS - 5))
    assert parse_event(body, fake_stripe.sign(body, timestamp=now - TOLERANCE_SECONDS + 30))


def test_a_body_changed_after_signing_is_rejected(fake_stripe, succeeded):
    body = _body(succeeded)
    header = fake_stripe.sign(body)
    tampered = body.replace(b'"amount": 12000', b'"amount": 1')
    assert tampered != body

    with pytest.raises(WebhookRejected, match="does not match"):
        parse_event(tampered, header)


@pytest.mark.parametrize("header", [None, "", "t=notanumber,v1=abc", "v1=abc"])
def test_a_missing_or_garbled_header_is_rejected(fake_stripe, succeeded, header):
    with pytest.raises(WebhookRejected):
        parse_event(_body(succeeded), header)


def test_a_replayed_event_is_read_again_with_the_same_id_for_the_caller_to_skip(
    fake_stripe, succeeded
):
    """A signature cannot stop Stripe (or anyone holding a fresh copy) delivering an event
    twice: the caller records event ids (unique in the database) and skips one it has."""
    body = _body(succeeded)
    handled: set[str] = set()
    changes = []
    for timestamp in (int(time.time()) - 60, int(time.time())):
        event = parse_event(body, fake_stripe.sign(body, timestamp=timestamp))
        if event.id in handled:
            continue
        handled.add(event.id)
        changes.append(event.object_id)

    assert changes == [succeeded["data"]["object"]["id"]]


def test_a_signed_body_that_is_not_an_event_is_rejected(fake_stripe):
    body = b'{"object": "customer", "id": "cus_1"}'

    with pytest.raises(WebhookRejected, match="not a Stripe event"):
        parse_event(body, fake_stripe.sign(body))


def test_a_body_that_is_not_utf8_is_rejected(fake_stripe):
    with pytest.raises(WebhookRejected, match="not UTF-8"):
        parse_event(b"\xff\xfe", fake_stripe.sign(b"\xff\xfe"))


def test_without_a_webhook_secret_every_event_is_rejected(fake_stripe, settings, succeeded):
    settings.STRIPE_WEBHOOK_SECRET = ""
    body = _body(succeeded)

    with pytest.raises(WebhookRejected, match="No Stripe webhook secret is configured"):
        parse_event(body, sign(body, ""))
