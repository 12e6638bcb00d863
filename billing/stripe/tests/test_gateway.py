"""The gateway against the fake Stripe, through the real ``stripe`` client over HTTP."""

from __future__ import annotations

from decimal import Decimal

import pytest

from billing.stripe import gateway
from billing.stripe.errors import (
    CardDeclined,
    CardNeedsAuthentication,
    IdempotencyConflict,
    PaymentProviderUnavailable,
    PaymentRefused,
    PaymentsMisconfigured,
    PaymentsOff,
)

PATIENT = "pt_3f9c2a7e"  # a patient's opaque public id
SUCCESS = "https://clinic.test/billing/card-saved/?session={CHECKOUT_SESSION_ID}"
CANCEL = "https://clinic.test/billing/card-not-saved/"


@pytest.fixture
def customer(fake_stripe) -> gateway.Customer:
    return gateway.ensure_customer(patient_ref=PATIENT, idempotency_key="patient-1")


@pytest.fixture
def saved_card(fake_stripe, customer) -> str:
    """The id of a card the patient saved through Checkout (a Visa)."""
    return _save_card(fake_stripe, customer, "pm_card_visa")


def _save_card(fake_stripe, customer: gateway.Customer, test_card: str) -> str:
    session = gateway.start_card_setup(
        customer_id=customer.id,
        currency="usd",
        success_url=SUCCESS,
        cancel_url=CANCEL,
        reference=f"consent-{test_card}",
        idempotency_key=f"consent-{test_card}",
    )
    fake_stripe.complete_checkout(session.id, test_card)
    method = gateway.get_checkout(session.id).payment_method_id
    assert method is not None
    return method


def _charge(customer: gateway.Customer, card: str, key: str = "payment-1", amount="120.00"):
    return gateway.charge_saved_card(
        customer_id=customer.id,
        payment_method_id=card,
        amount=Decimal(amount),
        currency="usd",
        description="Infusion visit",
        reference=key,
        idempotency_key=key,
    )


@pytest.fixture
def no_client_retries(monkeypatch):
    """The stripe client's own retries off, so a failure reaches the caller at once."""
    monkeypatch.setattr(gateway, "NETWORK_RETRIES", 0)


# --- Switched off ----------------------------------------------------------------------------


def test_it_is_off_without_a_secret_key(fake_stripe, settings):
    settings.STRIPE_SECRET_KEY = ""

    assert gateway.enabled() is False
    with pytest.raises(PaymentsOff, match="Card payments are off"):
        gateway.ensure_customer(patient_ref=PATIENT, idempotency_key="patient-1")
    assert fake_stripe.requests == []


def test_it_is_on_with_a_secret_key(fake_stripe):
    assert gateway.enabled() is True


def test_a_refused_key_is_reported_as_a_setting_to_fix(fake_stripe, settings):
    settings.STRIPE_SECRET_KEY = "sk_test_revoked"

    with pytest.raises(PaymentsMisconfigured, match="check STRIPE_SECRET_KEY"):
        gateway.ensure_customer(patient_ref=PATIENT, idempotency_key="patient-1")


# --- Customers --------------------------------------------------------------------------------


def test_it_makes_a_customer_knowing_only_our_patient_id(fake_stripe, customer):
    made = fake_stripe.get(customer.id)

    assert customer.id.startswith("cus_")
    assert made["metadata"] == {"chairside_patient": PATIENT}
    assert made["name"] is None
    assert made["email"] is None
    assert made["phone"] is None


def test_it_finds_the_patients_customer_again_rather_than_make_a_second(fake_stripe, customer):
    again = gateway.ensure_customer(patient_ref=PATIENT, idempotency_key="patient-1-later")

    assert again.id == customer.id
    assert len(fake_stripe.objects("customer")) == 1


def test_it_keeps_the_customer_we_stored(fake_stripe, customer):
    kept = gateway.ensure_customer(
        patient_ref=PATIENT, idempotency_key="patient-1", customer_id=customer.id
    )

    assert kept.id == customer.id
    assert [request.method for request in fake_stripe.requests][-1] == "GET"


def test_it_replaces_a_customer_deleted_in_stripes_dashboard(fake_stripe, customer):
    fake_stripe.delete_customer(customer.id)

    replaced = gateway.ensure_customer(
        patient_ref=PATIENT, idempotency_key="patient-1", customer_id=customer.id
    )

    assert replaced.id != customer.id
    assert fake_stripe.get(replaced.id)["metadata"] == {"chairside_patient": PATIENT}


# --- Checkout --------------------------------------------------------------------------------


def test_it_opens_checkout_to_save_a_card_with_the_policy_shown(fake_stripe, customer):
    session = gateway.start_card_setup(
        customer_id=customer.id,
        currency="USD",
        success_url=SUCCESS,
        cancel_url=CANCEL,
        reference="consent-7",
        idempotency_key="consent-7",
        consent_text="A missed visit without 24 hours' notice costs $100.",
    )

    sent = fake_stripe.get(session.id)
    assert session.id.startswith("cs_test_")
    assert session.url == f"{fake_stripe.url}/checkout/pay/{session.id}"
    assert (session.mode, session.status, session.reference) == ("setup", "open", "consent-7")
    assert session.customer_id == customer.id
    assert sent["currency"] == "usd"
    assert sent["custom_text"]["submit"]["message"].startswith("A missed visit")
    assert sent["setup_intent_data"]["metadata"] == {"chairside_reference": "consent-7"}


def test_the_card_saved_through_checkout_is_shown_by_brand_and_last_digits(fake_stripe, customer):
    card = _save_card(fake_stripe, customer, "pm_card_mastercard")

    shown = gateway.get_card(card)

    assert shown.brand == "mastercard"
    assert shown.last4 == "4444"
    assert shown.label.startswith("Mastercard ending 4444, expires 12/")
    assert fake_stripe.get(card)["customer"] == customer.id


def test_it_takes_a_payment_through_checkout(fake_stripe, customer):
    session = gateway.start_checkout_payment(
        customer_id=customer.id,
        amount=Decimal("150.00"),
        currency="usd",
        description="Deposit: consultation",
        success_url=SUCCESS,
        cancel_url=CANCEL,
        reference="deposit-9",
        idempotency_key="deposit-9",
        save_card=True,
    )
    assert (session.mode, session.amount_minor, session.amount) == (
        "payment",
        15000,
        Decimal("150.00"),
    )
    assert fake_stripe.get(session.id)["payment_intent_data"]["setup_future_usage"] == (
        "off_session"
    )

    fake_stripe.complete_checkout(session.id, "pm_card_visa")
    paid = gateway.get_checkout(session.id)

    assert (paid.status, paid.payment_status) == ("complete", "paid")
    assert paid.payment_intent_id is not None
    assert paid.payment_method_id is not None
    payment = gateway.get_payment(paid.payment_intent_id)
    assert payment.succeeded
    assert payment.amount_received == Decimal("150.00")
    assert payment.reference == "deposit-9"
    assert [charge.amount for charge in fake_stripe.charges] == [15000]


# --- Charging a saved card -------------------------------------------------------------------


def test_it_charges_a_saved_card_without_the_patient(fake_stripe, customer, saved_card):
    payment = _charge(customer, saved_card)

    assert payment.id.startswith("pi_")
    assert payment.succeeded
    assert (payment.amount_minor, payment.amount, payment.currency) == (
        12000,
        Decimal("120.00"),
        "usd",
    )
    assert payment.reference == "payment-1"
    sent = fake_stripe.requests[-1].params
    assert (sent["confirm"], sent["off_session"]) == ("true", "true")
    assert len(fake_stripe.charges) == 1


def test_it_charges_in_a_currency_without_minor_units(fake_stripe, customer):
    payment = gateway.charge_saved_card(
        customer_id=customer.id,
        payment_method_id="pm_card_visa",
        amount=Decimal("5000"),
        currency="JPY",
        description="Infusion visit",
        reference="payment-jp",
        idempotency_key="payment-jp",
    )

    assert fake_stripe.charges[0].amount == 5000
    assert payment.amount == Decimal("5000")


def test_a_retried_charge_with_the_same_key_charges_once(fake_stripe, customer, saved_card):
    first = _charge(customer, saved_card)
    again = _charge(customer, saved_card)

    assert again == first
    assert len(fake_stripe.charges) == 1
    assert fake_stripe.requests[-1].replayed


def test_an_answer_lost_on_the_way_back_is_retried_by_the_client_and_charges_once(
    fake_stripe, customer, saved_card
):
    fake_stripe.drop_next(1)

    payment = _charge(customer, saved_card)

    assert payment.succeeded
    charges = [r for r in fake_stripe.requests if r.path == "/v1/payment_intents"]
    assert len(charges) == 2
    assert charges[0].idempotency_key == charges[1].idempotency_key == "charge:payment-1"
    assert len(fake_stripe.charges) == 1


def test_a_lost_answer_is_an_error_to_retry_and_the_retry_charges_once(
    fake_stripe, customer, saved_card, no_client_retries
):
    fake_stripe.drop_next(1)

    with pytest.raises(PaymentProviderUnavailable, match="trying again never charges twice") as e:
        _charge(customer, saved_card)
    assert e.value.retryable
    payment = _charge(customer, saved_card)

    assert payment.succeeded
    assert len(fake_stripe.charges) == 1


def test_a_stripe_outage_is_an_error_to_retry_and_charges_nothing(
    fake_stripe, customer, saved_card
):
    fake_stripe.fail_next(1 + gateway.NETWORK_RETRIES)

    with pytest.raises(PaymentProviderUnavailable):
        _charge(customer, saved_card)

    assert fake_stripe.charges == []
    assert _charge(customer, saved_card).succeeded
    assert len(fake_stripe.charges) == 1


def test_stripe_unreachable_is_an_error_to_retry(
    fake_stripe, customer, saved_card, no_client_retries
):
    fake_stripe.stop()

    with pytest.raises(PaymentProviderUnavailable, match="Stripe could not be reached") as e:
        _charge(customer, saved_card)
    assert e.value.retryable


def test_a_key_reused_for_another_amount_is_refused_and_charges_nothing_more(
    fake_stripe, customer, saved_card
):
    _charge(customer, saved_card, amount="120.00")

    with pytest.raises(IdempotencyConflict, match="already sent to Stripe with different"):
        _charge(customer, saved_card, amount="80.00")

    assert [charge.amount for charge in fake_stripe.charges] == [12000]


@pytest.mark.parametrize(
    ("test_card", "message", "decline_code"),
    [
        ("pm_card_chargeDeclined", "The card was declined: the bank gave no reason.", None),
        (
            "pm_card_chargeDeclinedInsufficientFunds",
            "The card was declined: insufficient funds.",
            "insufficient_funds",
        ),
        (
            "pm_card_chargeDeclinedExpiredCard",
            "The card was declined: the card has expired.",
            "expired_card",
        ),
    ],
)
def test_a_declined_card_says_why_and_what_to_do(
    fake_stripe, customer, test_card, message, decline_code
):
    card = _save_card(fake_stripe, customer, test_card)

    with pytest.raises(CardDeclined) as declined:
        _charge(customer, card)

    assert str(declined.value).startswith(message)
    assert "Ask the patient for another card" in str(declined.value)
    assert not declined.value.retryable
    assert declined.value.payment_intent_id.startswith("pi_")
    if decline_code:
        assert declined.value.decline_code == decline_code
    assert fake_stripe.charges == []


def test_a_declined_charge_retried_with_its_key_gets_the_same_decline(fake_stripe, customer):
    card = _save_card(fake_stripe, customer, "pm_card_chargeDeclinedInsufficientFunds")
    with pytest.raises(CardDeclined) as first:
        _charge(customer, card)

    with pytest.raises(CardDeclined) as again:
        _charge(customer, card)

    assert again.value.payment_intent_id == first.value.payment_intent_id
    assert len(fake_stripe.objects("payment_intent")) == 1


def test_a_card_that_needs_the_patient_to_confirm_is_not_charged(fake_stripe, customer):
    card = _save_card(fake_stripe, customer, "pm_card_authenticationRequired")

    with pytest.raises(CardNeedsAuthentication, match="wants the patient to confirm"):
        _charge(customer, card)

    assert fake_stripe.charges == []


def test_an_amount_that_is_not_above_zero_is_refused_before_calling_stripe(fake_stripe, customer):
    with pytest.raises(ValueError, match="must be above zero"):
        _charge(customer, "pm_card_visa", amount="0.00")

    assert [r.path for r in fake_stripe.requests if r.method == "POST"] == ["/v1/customers"]


def test_a_write_without_an_idempotency_key_is_refused(fake_stripe, customer):
    with pytest.raises(ValueError, match="idempotency key derived from our record"):
        _charge(customer, "pm_card_visa", key=" ")


# --- Refunds -----------------------------------------------------------------------------------


@pytest.fixture
def payment(fake_stripe, customer, saved_card) -> gateway.Payment:
    return _charge(customer, saved_card, amount="100.00")


def _refund(payment: gateway.Payment, key: str, amount: str | None = None):
    return gateway.refund(
        payment_intent_id=payment.id,
        currency=payment.currency,
        amount=Decimal(amount) if amount is not None else None,
        reference=key,
        idempotency_key=key,
    )


def test_a_full_refund_gives_back_everything(fake_stripe, payment):
    refund = _refund(payment, "refund-1")

    assert refund.id.startswith("re_")
    assert (refund.status, refund.amount, refund.payment_intent_id) == (
        "succeeded",
        Decimal("100.00"),
        payment.id,
    )
    assert refund.reference == "refund-1"


def test_partial_refunds_give_back_up_to_what_was_paid(fake_stripe, payment):
    assert _refund(payment, "refund-1", "40.00").amount_minor == 4000
    assert _refund(payment, "refund-1", "40.00").amount_minor == 4000  # a retry: no new refund

    with pytest.raises(PaymentRefused, match="greater than unrefunded amount"):
        _refund(payment, "refund-2", "60.01")
    assert _refund(payment, "refund-3").amount == Decimal("60.00")
    with pytest.raises(PaymentRefused, match="has already been refunded"):
        _refund(payment, "refund-4", "1.00")

    assert sum(refund["amount"] for refund in fake_stripe.objects("refund")) == 10000


# --- Every write carries our key -------------------------------------------------------------


def test_every_write_carries_an_idempotency_key_of_ours(fake_stripe, customer, saved_card):
    gateway.start_checkout_payment(
        customer_id=customer.id,
        amount=Decimal("50.00"),
        currency="usd",
        description="Package: six infusions",
        success_url=SUCCESS,
        cancel_url=CANCEL,
        reference="package-1",
        idempotency_key="package-1",
    )
    payment = _charge(customer, saved_card)
    _refund(payment, "refund-1", "1.00")

    writes = [request for request in fake_stripe.requests if request.method == "POST"]
    assert [request.idempotency_key for request in writes] == [
        "customer:patient-1",
        "setup:consent-pm_card_visa",
        "checkout:package-1",
        "charge:payment-1",
        "refund:refund-1",
    ]


def test_an_unknown_card_is_refused_with_stripes_reason(fake_stripe):
    with pytest.raises(PaymentRefused, match="No such PaymentMethod: 'pm_gone'"):
        gateway.get_card("pm_gone")
