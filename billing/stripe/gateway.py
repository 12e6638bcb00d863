"""Outgoing calls to Stripe, through the official ``stripe`` package.

Each function is one Stripe request (two for ``ensure_customer``), takes plain values and
returns one of our frozen dataclasses, never a Stripe object. Nothing here touches the
database or a request: the billing services call these inside ``transaction.on_commit`` or
from a Celery task, and record what comes back.

Idempotency. Every write takes ``idempotency_key``, which the caller derives from its own
record (for example the payment's public id), so that sending the same request again after
a timeout, a crash or a worker restart is answered with the first answer instead of
charging twice. The key is namespaced by the operation here (``charge:<key>``), so one
record may use its id for, say, a checkout and a refund. Stripe keeps keys for 24 hours;
past that a retry is a new request, so a caller that finds its record unsettled a day later
asks Stripe what happened (``get_payment``) before trying again.

Money. Functions take ``Decimal`` amounts with their currency and convert them in
``billing.stripe.money``; results carry integer minor units (``amount_minor``) and the
same amount as ``Decimal`` (``amount``).

Errors. Every error of the ``stripe`` package becomes one of ``billing.stripe.errors``,
with a message for staff. With no secret key configured (``enabled()`` is False), every
function raises ``PaymentsOff`` without calling anyone.

What Stripe is told. No names, emails, diagnoses or treatments: customers carry our
opaque patient id in their metadata, payments our opaque reference and the description
the caller gives (a line such as "Deposit: consultation", never a condition).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import stripe
from django.conf import settings

from billing.stripe.errors import PaymentRefused, PaymentsOff, translated_errors
from billing.stripe.money import to_minor_units
from billing.stripe.results import CardOnFile, CheckoutSession, Customer, Payment, Refund

# Metadata keys on Stripe objects: how a webhook finds our record again.
PATIENT_KEY = "chairside_patient"
REFERENCE_KEY = "chairside_reference"
# Stripe's own retries of a request that failed on the network or with a 5xx, with the
# same idempotency key (so safe), backing off from half a second.
NETWORK_RETRIES = 2
# Seconds to wait for each answer. Stripe's own default is 80; a charge made while a page
# waits should fail well before gunicorn gives up on the page.
TIMEOUT_SECONDS = 20
MAX_KEY_LENGTH = 255  # Stripe's limit for an Idempotency-Key


# --- Configuration -------------------------------------------------------------------------


def enabled() -> bool:
    """Whether card payments are on: a Stripe secret key is configured."""
    return bool(settings.STRIPE_SECRET_KEY)


def _client() -> stripe.StripeClient:
    if not enabled():
        raise PaymentsOff(
            "Card payments are off: no Stripe secret key is configured (STRIPE_SECRET_KEY). "
            "Take the payment another way."
        )
    return _client_for(settings.STRIPE_SECRET_KEY, settings.STRIPE_API_BASE, NETWORK_RETRIES)


@functools.lru_cache(maxsize=4)
def _client_for(api_key: str, api_base: str, retries: int) -> stripe.StripeClient:
    # One client per key and address, kept: its HTTP client holds a connection pool per
    # thread, so a Celery worker reuses connections to Stripe.
    return stripe.StripeClient(
        api_key,
        base_addresses={"api": api_base},
        max_network_retries=retries,
        http_client=stripe.RequestsClient(timeout=TIMEOUT_SECONDS),
    )


def _options(operation: str, idempotency_key: str) -> dict[str, Any]:
    key = (idempotency_key or "").strip()
    if not key:
        raise ValueError(f"{operation}: an idempotency key derived from our record is required.")
    namespaced = f"{operation}:{key}"
    if len(namespaced) > MAX_KEY_LENGTH:
        raise ValueError(f"{operation}: the idempotency key is longer than Stripe accepts.")
    return {"idempotency_key": namespaced}


def _metadata(reference: str, extra: Mapping[str, str] | None) -> dict[str, str]:
    if not reference:
        raise ValueError("A reference to our own record is required, for the webhook to find.")
    return {**(extra or {}), REFERENCE_KEY: reference}


# --- Customers -----------------------------------------------------------------------------


def ensure_customer(
    *, patient_ref: str, idempotency_key: str, customer_id: str | None = None
) -> Customer:
    """The Stripe Customer for a patient, made if there is none yet.

    ``patient_ref`` is the patient's opaque public id, the only thing Stripe learns about
    them. Pass the ``customer_id`` we stored earlier, if any: it is checked (a customer
    deleted in Stripe's dashboard is replaced). Without one, Stripe is searched by the
    metadata first, so a customer made by a call whose answer was lost more than a day ago
    (past the idempotency key) is found rather than made twice.
    """
    client = _client()
    with translated_errors():
        if customer_id:
            try:
                found = client.v1.customers.retrieve(customer_id).to_dict()
            except stripe.InvalidRequestError as exc:
                if exc.code != "resource_missing":
                    raise
            else:
                if not found.get("deleted"):
                    return Customer(id=found["id"], patient_ref=patient_ref)
        else:
            query = f"metadata['{PATIENT_KEY}']:'{_search_literal(patient_ref)}'"
            matches = client.v1.customers.search({"query": query, "limit": 1}).to_dict()
            for match in matches["data"]:
                return Customer(id=match["id"], patient_ref=patient_ref)
        # A replacement gets a key of its own: the first key would replay the deleted one.
        operation = f"customer-after-{customer_id}" if customer_id else "customer"
        made = client.v1.customers.create(
            {"metadata": {PATIENT_KEY: patient_ref}},
            _options(operation, idempotency_key),
        ).to_dict()
    return Customer(id=made["id"], patient_ref=patient_ref)


def _search_literal(value: str) -> str:
    # Stripe's search language quotes with single quotes and escapes them with a backslash.
    return value.replace("\\", "\\\\").replace("'", "\\'")


# --- Checkout: the patient enters a card on Stripe's page -----------------------------------


def start_card_setup(
    *,
    customer_id: str,
    currency: str,
    success_url: str,
    cancel_url: str,
    reference: str,
    idempotency_key: str,
    consent_text: str = "",
    metadata: Mapping[str, str] | None = None,
) -> CheckoutSession:
    """A Checkout Session in ``setup`` mode: the patient saves a card for later charges.

    ``consent_text`` (what the patient agrees to, such as the no-show fee policy) is shown
    above the button; the agreement itself is recorded by the caller. ``success_url`` may
    hold ``{CHECKOUT_SESSION_ID}``, which Stripe replaces with the session's id.
    """
    meta = _metadata(reference, metadata)
    params: dict[str, Any] = {
        "mode": "setup",
        "currency": currency.lower(),
        "customer": customer_id,
        "payment_method_types": ["card"],
        "success_url": success_url,
        "cancel_url": cancel_url,
        "client_reference_id": reference,
        "metadata": meta,
        "setup_intent_data": {"metadata": meta},
    }
    if consent_text:
        params["custom_text"] = {"submit": {"message": consent_text}}
    client = _client()
    with translated_errors():
        session = client.v1.checkout.sessions.create(params, _options("setup", idempotency_key))
    return _checkout_session(session.to_dict())


def start_checkout_payment(
    *,
    customer_id: str,
    amount: Decimal,
    currency: str,
    description: str,
    success_url: str,
    cancel_url: str,
    reference: str,
    idempotency_key: str,
    save_card: bool = False,
    metadata: Mapping[str, str] | None = None,
) -> CheckoutSession:
    """A Checkout Session in ``payment`` mode, for an amount (a deposit, an invoice, a
    package). With ``save_card`` the card is also kept for charges without the patient
    present (their consent recorded by the caller)."""
    minor = _positive_minor_units(amount, currency)
    meta = _metadata(reference, metadata)
    payment_intent_data: dict[str, Any] = {"metadata": meta, "description": description}
    if save_card:
        payment_intent_data["setup_future_usage"] = "off_session"
    params: dict[str, Any] = {
        "mode": "payment",
        "customer": customer_id,
        "payment_method_types": ["card"],
        "line_items": [
            {
                "quantity": 1,
                "price_data": {
                    "currency": currency.lower(),
                    "unit_amount": minor,
                    "product_data": {"name": description},
                },
            }
        ],
        "success_url": success_url,
        "cancel_url": cancel_url,
        "client_reference_id": reference,
        "metadata": meta,
        "payment_intent_data": payment_intent_data,
    }
    client = _client()
    with translated_errors():
        session = client.v1.checkout.sessions.create(params, _options("checkout", idempotency_key))
    return _checkout_session(session.to_dict())


def get_checkout(session_id: str) -> CheckoutSession:
    """A Checkout Session as it is now, with the card the patient used (once complete)."""
    client = _client()
    with translated_errors():
        session = client.v1.checkout.sessions.retrieve(
            session_id, {"expand": ["setup_intent", "payment_intent"]}
        )
    return _checkout_session(session.to_dict())


def _checkout_session(session: dict[str, Any]) -> CheckoutSession:
    setup_intent, setup_pm = _expanded(session.get("setup_intent"))
    payment_intent, payment_pm = _expanded(session.get("payment_intent"))
    expires_at = session.get("expires_at")
    return CheckoutSession(
        id=session["id"],
        url=session.get("url"),
        mode=session["mode"],
        status=session.get("status") or "open",
        payment_status=session.get("payment_status") or "unpaid",
        reference=(session.get("metadata") or {}).get(REFERENCE_KEY, ""),
        customer_id=_id_of(session.get("customer")),
        currency=session.get("currency"),
        amount_minor=session.get("amount_total"),
        payment_intent_id=payment_intent,
        setup_intent_id=setup_intent,
        payment_method_id=setup_pm or payment_pm,
        expires_at=datetime.fromtimestamp(expires_at, tz=UTC) if expires_at else None,
    )


def _expanded(value: Any) -> tuple[str | None, str | None]:
    """(id, payment method id) of a field that is an id or an expanded intent."""
    if value is None or isinstance(value, str):
        return value, None
    return value["id"], _id_of(value.get("payment_method"))


def _id_of(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return value["id"]


# --- Charging a saved card, and refunds ------------------------------------------------------


def charge_saved_card(
    *,
    customer_id: str,
    payment_method_id: str,
    amount: Decimal,
    currency: str,
    description: str,
    reference: str,
    idempotency_key: str,
    metadata: Mapping[str, str] | None = None,
) -> Payment:
    """Charge a card saved with the patient's consent, without them present (a visit, a
    fee). A decline raises ``CardDeclined``; a card whose bank wants the patient to confirm
    raises ``CardNeedsAuthentication`` (send them a payment link instead)."""
    params: dict[str, Any] = {
        "amount": _positive_minor_units(amount, currency),
        "currency": currency.lower(),
        "customer": customer_id,
        "payment_method": payment_method_id,
        "payment_method_types": ["card"],
        "confirm": True,
        "off_session": True,
        "description": description,
        "metadata": _metadata(reference, metadata),
    }
    client = _client()
    with translated_errors():
        intent = client.v1.payment_intents.create(params, _options("charge", idempotency_key))
    return _payment(intent.to_dict())


def get_payment(payment_intent_id: str) -> Payment:
    client = _client()
    with translated_errors():
        intent = client.v1.payment_intents.retrieve(payment_intent_id).to_dict()
    return _payment(intent)


def _payment(intent: dict[str, Any]) -> Payment:
    metadata = dict(intent.get("metadata") or {})
    return Payment(
        id=intent["id"],
        status=intent["status"],
        amount_minor=intent["amount"],
        amount_received_minor=intent.get("amount_received") or 0,
        currency=intent["currency"],
        customer_id=_id_of(intent.get("customer")),
        payment_method_id=_id_of(intent.get("payment_method")),
        reference=metadata.get(REFERENCE_KEY),
        metadata=metadata,
    )


def refund(
    *,
    payment_intent_id: str,
    currency: str,
    reference: str,
    idempotency_key: str,
    amount: Decimal | None = None,
    metadata: Mapping[str, str] | None = None,
) -> Refund:
    """Give back ``amount`` of a payment, or all of what is left of it with no amount."""
    params: dict[str, Any] = {
        "payment_intent": payment_intent_id,
        "metadata": _metadata(reference, metadata),
    }
    if amount is not None:
        params["amount"] = _positive_minor_units(amount, currency)
    client = _client()
    with translated_errors():
        made = client.v1.refunds.create(params, _options("refund", idempotency_key)).to_dict()
    return Refund(
        id=made["id"],
        status=made["status"],
        amount_minor=made["amount"],
        currency=made["currency"],
        payment_intent_id=_id_of(made.get("payment_intent")),
        reference=(made.get("metadata") or {}).get(REFERENCE_KEY),
    )


def get_card(payment_method_id: str) -> CardOnFile:
    """The brand, last four digits and expiry of a saved card, for display."""
    client = _client()
    with translated_errors():
        method = client.v1.payment_methods.retrieve(payment_method_id).to_dict()
    card = method.get("card")
    if card is None:
        raise PaymentRefused(f"{payment_method_id} is not a card.")
    return CardOnFile(
        id=method["id"],
        brand=card.get("brand") or "unknown",
        last4=card.get("last4") or "????",
        exp_month=card.get("exp_month"),
        exp_year=card.get("exp_year"),
    )


def _positive_minor_units(amount: Decimal, currency: str) -> int:
    minor = to_minor_units(amount, currency)
    if minor <= 0:
        raise ValueError(f"{amount} {currency.upper()}: an amount to charge must be above zero.")
    return minor
