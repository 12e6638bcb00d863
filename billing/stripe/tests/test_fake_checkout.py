"""The fake's Checkout page and its signed webhook delivery, end to end over HTTP, as a
browser test of the billing pages will use them."""

from __future__ import annotations

import threading
import urllib.error
import urllib.request
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlencode

import pytest

from billing.stripe import gateway
from billing.stripe.webhooks import WebhookRejected, parse_event


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


@pytest.fixture
def webhook_receiver():
    """A local endpoint that checks each delivery as the clinic's view will."""
    received: list[tuple[int, str]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            try:
                event = parse_event(body, self.headers.get("Stripe-Signature"))
            except WebhookRejected:
                received.append((400, ""))
                self.send_response(400)
            else:
                received.append((200, event.type))
                self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02})
    thread.start()
    host, port = server.server_address[:2]
    yield f"http://{host}:{port}/stripe/webhook/", received
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def _open_setup(fake_stripe) -> gateway.CheckoutSession:
    customer = gateway.ensure_customer(patient_ref="pt_1", idempotency_key="patient-1")
    return gateway.start_card_setup(
        customer_id=customer.id,
        currency="usd",
        success_url="https://clinic.test/card-saved/?session={CHECKOUT_SESSION_ID}",
        cancel_url="https://clinic.test/card-not-saved/",
        reference="consent-1",
        idempotency_key="consent-1",
        consent_text="A missed visit costs $100.",
    )


def test_the_checkout_page_saves_the_card_redirects_and_posts_signed_events(
    fake_stripe, webhook_receiver
):
    url, received = webhook_receiver
    fake_stripe.webhook_url = url
    session = _open_setup(fake_stripe)

    page = urllib.request.urlopen(session.url, timeout=10).read().decode()  # noqa: S310
    assert "A missed visit costs $100." in page
    assert '<label for="card">' in page

    opener = urllib.request.build_opener(_NoRedirect)
    with pytest.raises(urllib.error.HTTPError) as redirect:
        opener.open(session.url, data=urlencode({"card": "pm_card_visa"}).encode(), timeout=10)

    assert redirect.value.code == 303
    assert redirect.value.headers["Location"] == (
        f"https://clinic.test/card-saved/?session={session.id}"
    )
    assert received == [(200, "checkout.session.completed"), (200, "setup_intent.succeeded")]
    assert gateway.get_checkout(session.id).status == "complete"


def test_a_declined_card_on_the_checkout_page_leaves_the_session_open(fake_stripe):
    customer = gateway.ensure_customer(patient_ref="pt_1", idempotency_key="patient-1")
    session = gateway.start_checkout_payment(
        customer_id=customer.id,
        amount=Decimal("100.00"),
        currency="usd",
        description="Deposit: consultation",
        success_url="https://clinic.test/paid/",
        cancel_url="https://clinic.test/not-paid/",
        reference="deposit-1",
        idempotency_key="deposit-1",
    )
    form = urlencode({"card": "pm_card_chargeDeclinedInsufficientFunds"}).encode()

    with pytest.raises(urllib.error.HTTPError) as declined:
        urllib.request.urlopen(session.url, data=form, timeout=10)  # noqa: S310

    assert declined.value.code == 402
    assert "Your card has insufficient funds." in declined.value.read().decode()
    assert gateway.get_checkout(session.id).status == "open"
    assert fake_stripe.charges == []


def test_an_event_signed_with_the_wrong_secret_is_refused_by_the_receiver(
    fake_stripe, webhook_receiver
):
    url, received = webhook_receiver
    event = {"id": "evt_1", "object": "event", "type": "ping", "created": 1, "data": {}}

    status = fake_stripe.send_event(event, url, secret="whsec_not_ours")

    assert status == 400
    assert received == [(400, "")]
