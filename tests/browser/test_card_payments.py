"""Cards through the fake Stripe, in a browser: the front desk opens Stripe's page from the
patient's billing page, the patient saves a card there (the fake posts its signed webhooks
to the live server), the billing page shows "Visa ending 4242"; the front desk charges it
for an issued invoice after confirming; the answer is lost on the way back, and the webhook
records the payment, once."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect

from billing.models import CardOnFile, Payment, StripeEvent
from billing.stripe import gateway
from billing.tests.factories import issued
from tests.browser.billing_steps import save_a_card_on_stripes_page
from tests.browser.staff import sign_in

pytestmark = pytest.mark.browser


def test_a_card_saved_on_stripes_page_is_charged_and_the_webhook_records_it(
    new_page: Callable[..., Page], live_server, fake_stripe, fran, monkeypatch
):
    fake_stripe.webhook_url = f"{live_server.url}/hooks/stripe/"
    monkeypatch.setattr(gateway, "NETWORK_RETRIES", 0)  # a lost answer reaches the desk
    invoice = issued(lines=["250.00"])
    patient = invoice.patient
    page = new_page()
    sign_in(page, fran.email)

    page.goto(f"/staff/billing/patients/{patient.public_id}/")
    expect(page.get_by_test_id("card-on-file")).to_contain_text("No card on file")
    page.get_by_role("button", name="Save a card on Stripe's page").click()
    expect(page.get_by_test_id("policy")).to_contain_text("By saving this card")
    page.get_by_role("link", name="Open Stripe's page").click()

    save_a_card_on_stripes_page(page)

    expect(page).to_have_url(re.compile(rf"/staff/billing/patients/{patient.public_id}/$"))
    expect(page.get_by_test_id("card-on-file")).to_contain_text("Visa ending 4242")
    assert CardOnFile.objects.get().consent_wording.startswith("By saving this card")
    assert StripeEvent.objects.get(type="checkout.session.completed").outcome.startswith(
        "card saved"
    )

    page.goto(f"/staff/billing/invoices/{invoice.public_id}/")
    page.get_by_role("link", name="Charge the card on file").click()
    expect(page.get_by_label("Amount to charge")).to_have_value("250.00")  # what is owed
    page.get_by_role("button", name=re.compile("Charge the card")).click()
    expect(page.get_by_test_id("confirm")).to_contain_text("Charge 250.00 USD to Visa ending 4242")
    fake_stripe.drop_next(1)  # Stripe charges the card; its answer never arrives
    page.get_by_role("button", name=re.compile("^Confirm")).click()

    expect(page.get_by_role("alert").first).to_contain_text("Nothing more is charged")
    assert not Payment.objects.exists() and len(fake_stripe.charges) == 1

    (succeeded,) = [e for e in fake_stripe.events if e["type"] == "payment_intent.succeeded"]
    for _ in range(3):  # Stripe delivers, and delivers again
        assert fake_stripe.send_event(succeeded) == 200
    page.goto(f"/staff/billing/invoices/{invoice.public_id}/")
    expect(page.get_by_test_id("state")).to_have_text("Paid")
    expect(page.get_by_test_id("invoice-payments")).to_contain_text("Card (online)")
    assert Payment.objects.get().stripe_payment_intent == succeeded["data"]["object"]["id"]
    assert len(fake_stripe.charges) == 1
