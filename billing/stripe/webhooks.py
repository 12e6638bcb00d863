"""Events Stripe posts to the clinic: checked, then read into our own ``StripeEvent``.

``parse_event(body, signature_header)`` checks the ``Stripe-Signature`` header with the
official ``stripe.WebhookSignature.verify_header`` against ``STRIPE_WEBHOOK_SECRET``: an
HMAC-SHA256 of ``"<timestamp>.<body>"``, made no more than ``TOLERANCE_SECONDS`` (300)
ago. A body that is not signed by Stripe with our secret, changed after signing, or signed
too long ago raises ``WebhookRejected``; the view answers 400 and changes nothing. Pass the
body exactly as received (bytes): a body parsed and dumped again no longer matches.

What the signature does not stop is Stripe delivering an event again (it retries until we
answer 2xx, for up to three days) or delivering events out of order. So the caller, not
this module, makes handling idempotent:

1. in one transaction, insert the event's ``id`` into the table of received events, which
   has a unique constraint on it; if the id is already there, the event was handled:
   answer 200 and do nothing else;
2. act on the event in the same transaction, from the state of our own records (a
   ``payment_intent.succeeded`` for a payment already marked paid changes nothing), never
   from the order events arrive in;
3. answer 200 only after the commit, so a crash before it makes Stripe deliver again.

``created`` is when Stripe made the event, not when it arrived: compare it, not arrival
order, when two events speak of the same object.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import stripe
from django.conf import settings

from billing.stripe.gateway import REFERENCE_KEY

TOLERANCE_SECONDS = 300


class WebhookRejected(Exception):
    """The request is not an event from Stripe for this clinic: answer 400."""


@dataclass(frozen=True)
class StripeEvent:
    id: str  # evt_…: unique per event, the key for handling it once
    type: str  # e.g. "checkout.session.completed", "payment_intent.succeeded"
    created: datetime
    livemode: bool
    object_type: str  # "checkout.session", "payment_intent", "refund", "charge", ...
    object_id: str
    status: str | None
    # Integer minor units: the session's amount_total, the payment's or refund's amount.
    amount_minor: int | None
    currency: str | None
    metadata: Mapping[str, str] = field(default_factory=dict)
    customer_id: str | None = None
    payment_intent_id: str | None = None
    setup_intent_id: str | None = None
    payment_method_id: str | None = None

    @property
    def reference(self) -> str | None:
        """Our own record's reference, as the gateway put it in the metadata."""
        return self.metadata.get(REFERENCE_KEY)


def parse_event(
    body: bytes, signature_header: str | None, *, secret: str | None = None
) -> StripeEvent:
    """The event in ``body``, once its signature is checked (see the module docstring).

    ``secret`` defaults to ``settings.STRIPE_WEBHOOK_SECRET``.
    """
    secret = settings.STRIPE_WEBHOOK_SECRET if secret is None else secret
    if not secret:
        raise WebhookRejected("No Stripe webhook secret is configured (STRIPE_WEBHOOK_SECRET).")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise WebhookRejected("The body is not UTF-8 text.") from None
    try:
        stripe.WebhookSignature.verify_header(
            text, signature_header, secret, tolerance=TOLERANCE_SECONDS
        )
    except stripe.SignatureVerificationError as exc:
        raise WebhookRejected(_why(exc)) from None
    try:
        data = json.loads(text)
        return _event(data)
    except (ValueError, KeyError, TypeError, AttributeError):
        raise WebhookRejected("The body is signed but is not a Stripe event.") from None


def _why(exc: stripe.SignatureVerificationError) -> str:
    message = exc.user_message or ""
    if "timestamp outside the tolerance" in message.lower():
        return f"The signature is more than {TOLERANCE_SECONDS} seconds old."
    if "no stripe-signature header" in message.lower():
        return "The Stripe-Signature header is missing."
    return "The Stripe-Signature header does not match the body and our webhook secret."


def _event(data: dict[str, Any]) -> StripeEvent:
    if data.get("object") != "event":
        raise ValueError("not an event")
    obj = data["data"]["object"]
    object_type = obj["object"]
    amount = obj.get("amount_total" if object_type == "checkout.session" else "amount")
    metadata = obj.get("metadata") or {}
    return StripeEvent(
        id=_text(data["id"]),
        type=_text(data["type"]),
        created=datetime.fromtimestamp(int(data["created"]), tz=UTC),
        livemode=bool(data.get("livemode")),
        object_type=_text(object_type),
        object_id=_text(obj["id"]),
        status=obj.get("status"),
        amount_minor=int(amount) if amount is not None else None,
        currency=obj.get("currency"),
        metadata={str(key): str(value) for key, value in metadata.items()},
        customer_id=_ref(obj.get("customer")),
        payment_intent_id=obj["id"]
        if object_type == "payment_intent"
        else _ref(obj.get("payment_intent")),
        setup_intent_id=obj["id"]
        if object_type == "setup_intent"
        else _ref(obj.get("setup_intent")),
        payment_method_id=_ref(obj.get("payment_method")),
    )


def _text(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError("expected a string")
    return value


def _ref(value: Any) -> str | None:
    """An id, whether Stripe sent it as a string or as an expanded object."""
    if value is None or isinstance(value, str):
        return value
    return _text(value["id"])
