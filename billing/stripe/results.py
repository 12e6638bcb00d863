"""What the gateway returns: our own frozen dataclasses, never Stripe's objects."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from billing.stripe.money import from_minor_units


@dataclass(frozen=True)
class Customer:
    id: str
    patient_ref: str


@dataclass(frozen=True)
class CheckoutSession:
    """A Stripe-hosted page where the patient enters a card (we never see the number)."""

    id: str
    url: str | None
    mode: str  # "setup" (save a card) or "payment"
    status: str  # "open", "complete" or "expired"
    payment_status: str  # "unpaid", "paid" or "no_payment_required"
    reference: str
    customer_id: str | None
    currency: str | None
    amount_minor: int | None
    payment_intent_id: str | None = None
    setup_intent_id: str | None = None
    # The card saved or paid with, once the patient has finished (from ``get_checkout``).
    payment_method_id: str | None = None
    expires_at: datetime | None = None

    @property
    def amount(self) -> Decimal | None:
        if self.amount_minor is None or self.currency is None:
            return None
        return from_minor_units(self.amount_minor, self.currency)


@dataclass(frozen=True)
class Payment:
    """A PaymentIntent: one attempt to take an amount from a card."""

    id: str
    status: str  # "succeeded", "processing", "requires_payment_method", "canceled", ...
    amount_minor: int
    amount_received_minor: int
    currency: str
    customer_id: str | None
    payment_method_id: str | None
    reference: str | None
    metadata: Mapping[str, str] = field(default_factory=dict)

    @property
    def succeeded(self) -> bool:
        return self.status == "succeeded"

    @property
    def amount(self) -> Decimal:
        return from_minor_units(self.amount_minor, self.currency)

    @property
    def amount_received(self) -> Decimal:
        return from_minor_units(self.amount_received_minor, self.currency)


@dataclass(frozen=True)
class Refund:
    id: str
    status: str  # "succeeded", "pending", "failed", "canceled", "requires_action"
    amount_minor: int
    currency: str
    payment_intent_id: str | None
    reference: str | None

    @property
    def amount(self) -> Decimal:
        return from_minor_units(self.amount_minor, self.currency)


@dataclass(frozen=True)
class CardOnFile:
    """What staff and the patient may see of a saved card."""

    id: str
    brand: str
    last4: str
    exp_month: int | None
    exp_year: int | None

    @property
    def label(self) -> str:
        """e.g. "Visa ending 4242, expires 08/2030"."""
        brand = _BRAND_NAMES.get(self.brand, self.brand.replace("_", " ").title())
        label = f"{brand} ending {self.last4}"
        if self.exp_month and self.exp_year:
            label += f", expires {self.exp_month:02d}/{self.exp_year}"
        return label


_BRAND_NAMES = {
    "amex": "American Express",
    "cartes_bancaires": "Cartes Bancaires",
    "diners": "Diners Club",
    "discover": "Discover",
    "eftpos_au": "eftpos",
    "jcb": "JCB",
    "mastercard": "Mastercard",
    "unionpay": "UnionPay",
    "visa": "Visa",
}
