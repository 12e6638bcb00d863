"""The pieces of tests/fake_stripe.py that are about Stripe's formats rather than its
behaviour: test cards, ids, the form encoding of requests, error bodies, Checkout's page."""

from __future__ import annotations

import html
import json
import secrets
import string
from typing import Any

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
