"""The pieces of tests/fake_stripe.py that are about Stripe's formats rather than its
behaviour: test cards, ids, the form encoding of requests, error bodies, Checkout's page."""

from __future__ import annotations

import hashlib
import hmac
import html
import json
import secrets
import string
import time
from typing import Any

# The API version of the pinned stripe package, which it sends and the fake echoes.
API_VERSION = "2026-10-28.endive"

# Stripe's test PaymentMethods: brand, last four digits, and how a charge ends
# (None, or the card error's code, decline_code and message, as Stripe words them).
TEST_CARDS: dict[str, tuple[str, str, tuple[str, str, str] | None]] = {
    "pm_card_visa": ("visa", "4242", None),
    "pm_card_mastercard": ("mastercard", "4444", None),
    "pm_card_amex": ("amex", "8431", None),
    "pm_card_chargeDeclined": (
        "visa",
        "0002",
        ("card_declined", "generic_decline", "Your card was declined."),
    ),
    "pm_card_chargeDeclinedInsufficientFunds": (
        "visa",
        "9995",
        ("card_declined", "insufficient_funds", "Your card has insufficient funds."),
    ),
    "pm_card_chargeDeclinedExpiredCard": (
        "visa",
        "0069",
        ("expired_card", "expired_card", "Your card has expired."),
    ),
    "pm_card_authenticationRequired": (
        "visa",
        "3184",
        (
            "authentication_required",
            "authentication_required",
            "Your card was declined. This transaction requires authentication.",
        ),
    ),
}

_ALPHABET = string.ascii_letters + string.digits


def new_id(prefix: str, length: int = 24) -> str:
    return prefix + "".join(secrets.choice(_ALPHABET) for _ in range(length))


class ApiError(Exception):
    """An error answer of Stripe's API: ``{"error": {...}}`` with its HTTP status."""

    def __init__(self, status: int, type: str, message: str, **fields: Any) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.fields = {"type": type, "message": message, **fields}

    def body(self) -> dict[str, Any]:
        return {"error": self.fields}

    @classmethod
    def missing(cls, kind: str, object_id: str, param: str) -> ApiError:
        name = {"payment_method": "PaymentMethod", "payment_intent": "payment_intent"}.get(
            kind, kind
        )
        return cls(
            404,
            "invalid_request_error",
            f"No such {name}: '{object_id}'",
            code="resource_missing",
            param=param,
            doc_url="https://stripe.com/docs/error-codes/resource-missing",
        )

    @classmethod
    def invalid(cls, param: str, message: str, code: str | None = None) -> ApiError:
        fields: dict[str, Any] = {"param": param}
        if code:
            fields["code"] = code
        return cls(400, "invalid_request_error", message, **fields)


def error_body(type: str, message: str) -> bytes:
    return json.dumps({"error": {"type": type, "message": message}}).encode()


def decode_form(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """Stripe's form encoding back into objects: ``metadata[a]=1`` is ``{"metadata":
    {"a": "1"}}``, ``expand[0]=x`` is ``{"expand": ["x"]}``. Values stay strings."""
    root: dict[str, Any] = {}
    for name, value in pairs:
        head, _, rest = name.partition("[")
        keys = [head] + (rest[:-1].split("][") if rest else [])
        node = root
        for key in keys[:-1]:
            node = node.setdefault(key, {})
        node[keys[-1]] = value
    return _lists(root)


def _lists(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    items = {key: _lists(value) for key, value in node.items()}
    if items and all(key.isdigit() for key in items):
        return [items[key] for key in sorted(items, key=int)]
    return items


def checkout_page(session: dict[str, Any], problem: str = "") -> str:
    """Checkout's page, reduced to a choice of test card (no card number is ever typed)."""
    if session["mode"] == "setup":
        action = "Save card"
    else:
        amount = session["amount_total"]
        action = f"Pay {amount} {session['currency'].upper()} (minor units)"
    message = (session.get("custom_text") or {}).get("submit", {}).get("message", "")
    options = "".join(f'<option value="{card}">{card}</option>' for card in TEST_CARDS)
    alert = f'<p role="alert">{html.escape(problem)}</p>' if problem else ""
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        "<title>Fake Stripe Checkout</title></head><body><main>"
        f"<h1>Fake Stripe Checkout</h1>{alert}"
        f'<form method="post" action="/checkout/pay/{html.escape(session["id"])}">'
        '<label for="card">Test card</label>'
        f'<select id="card" name="card">{options}</select>'
        f"<p>{html.escape(message)}</p>"
        f'<button type="submit">{html.escape(action)}</button></form>'
        f'<a href="{html.escape(session.get("cancel_url") or "")}">Cancel</a>'
        "</main></body></html>"
    )


def customer_object(params: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": new_id("cus_", 14),
        "object": "customer",
        "address": None,
        "balance": 0,
        "created": int(time.time()),
        "currency": None,
        "default_source": None,
        "delinquent": False,
        "description": params.get("description"),
        "email": params.get("email"),
        "invoice_settings": {"default_payment_method": None},
        "livemode": False,
        "metadata": params.get("metadata") or {},
        "name": params.get("name"),
        "phone": params.get("phone"),
    }


def payment_method_object(method_id: str, card: str, customer: str | None) -> dict[str, Any]:
    brand, last4, _ = TEST_CARDS[card]
    return {
        "id": method_id,
        "object": "payment_method",
        "allow_redisplay": "unspecified",
        "billing_details": {"address": None, "email": None, "name": None, "phone": None},
        "card": {
            "brand": brand,
            "display_brand": brand,
            "country": "US",
            "exp_month": 12,
            "exp_year": time.gmtime().tm_year + 3,
            "funding": "credit",
            "last4": last4,
        },
        "created": int(time.time()),
        "customer": customer,
        "livemode": False,
        "metadata": {},
        "type": "card",
        "test_card": card,  # not Stripe's: which behaviour the card has
    }


def event_object(kind: str, obj: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": new_id("evt_"),
        "object": "event",
        "api_version": API_VERSION,
        "created": int(time.time()),
        "data": {"object": json.loads(json.dumps(obj))},
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": kind,
    }


def sign(payload: bytes, secret: str, timestamp: int | None = None) -> str:
    """Stripe's ``Stripe-Signature``: ``t=<unix time>,v1=<HMAC-SHA256 of "t.payload">``.
    Written here, not taken from the ``stripe`` package, so the package's check is tested
    against an independent signer."""
    moment = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{moment}.".encode() + payload, hashlib.sha256)
    return f"t={moment},v1={digest.hexdigest()}"


def bad_key_message(given: str) -> str:
    if not given:
        return (
            "You did not provide an API key. You need to provide your API key in the "
            "Authorization header, using Bearer auth (e.g. 'Authorization: Bearer "
            "YOUR_SECRET_KEY')."
        )
    return f"Invalid API Key provided: {given[:8]}{'*' * 12}{given[-4:]}"


def idempotency_message(key: str) -> str:
    return (
        "Keys for idempotent requests can only be used with the same parameters they were "
        f"first used with. Try using a key other than '{key}' if you meant to execute a "
        "different request."
    )


def session_object(
    params: dict[str, Any],
    mode: str,
    customer: str | None,
    amount: int | None,
    currency: str | None,
    *,
    pay_url: str,
) -> dict[str, Any]:
    """A new, open Checkout Session; its ``url`` is the fake's page at ``pay_url``."""
    session_id = new_id("cs_test_", 58)
    created = int(time.time())
    return {
        "id": session_id,
        "object": "checkout.session",
        "amount_subtotal": amount,
        "amount_total": amount,
        "cancel_url": params.get("cancel_url"),
        "client_reference_id": params.get("client_reference_id"),
        "created": created,
        "currency": currency,
        "custom_text": params.get("custom_text") or {},
        "customer": customer,
        "expires_at": created + 24 * 3600,
        "livemode": False,
        "metadata": params.get("metadata") or {},
        "mode": mode,
        "payment_intent": None,
        "payment_intent_data": params.get("payment_intent_data") or {},
        "payment_method_types": params.get("payment_method_types") or ["card"],
        "payment_status": "unpaid" if mode == "payment" else "no_payment_required",
        "setup_intent": None,
        "setup_intent_data": params.get("setup_intent_data") or {},
        "status": "open",
        "success_url": params["success_url"],
        "url": f"{pay_url}/checkout/pay/{session_id}",
    }


def payment_intent_object(
    amount: int,
    currency: str,
    customer: str | None,
    method_id: str,
    metadata: dict[str, str],
    description: str | None,
) -> dict[str, Any]:
    """A PaymentIntent about to be confirmed (``status`` moves on when it is)."""
    intent_id = new_id("pi_")
    return {
        "id": intent_id,
        "object": "payment_intent",
        "amount": amount,
        "amount_capturable": 0,
        "amount_received": 0,
        "capture_method": "automatic",
        "client_secret": f"{intent_id}_secret_{new_id('', 25)}",
        "confirmation_method": "automatic",
        "created": int(time.time()),
        "currency": currency,
        "customer": customer,
        "description": description,
        "last_payment_error": None,
        "latest_charge": None,
        "livemode": False,
        "metadata": metadata,
        "payment_method": method_id,
        "payment_method_types": ["card"],
        "status": "requires_payment_method",
    }
