"""The card pages: the front desk saves a card on Stripe's page (the patient agreeing to the
card policy), charges it for an issued invoice after confirming, or has the patient pay on
Stripe's page; a decline says why and records nothing; a clinic admin refunds a card payment
to the card; with no Stripe keys, no card button shows and the rest works."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest

from billing.models import CardCharge, CardOnFile, Payment, Refund
from billing.tests.factories import issued
from patients.tests.factories import PatientFactory

pytestmark = pytest.mark.django_db


def invoice_page(invoice, action: str = "") -> str:
    return f"/staff/billing/invoices/{invoice.public_id}/" + (f"{action}/" if action else "")


def billing_page(patient) -> str:
    return f"/staff/billing/patients/{patient.public_id}/"


def checkout_link(fake, answer) -> str:
    """The session id behind the page's link to Stripe's page."""
    assert answer.status_code == 200
    found = re.search(
        rf'href="{re.escape(fake.url)}/checkout/pay/([^"]+)"', answer.content.decode()
    )
    assert found, "no link to Stripe's page"
    return found.group(1)


def save_card(client, fake, patient, card: str = "pm_card_visa") -> CardOnFile:
    opened = client.post(billing_page(patient) + "card/")
    assert "by saving it, agree to the clinic" in opened.content.decode()
    session_id = checkout_link(fake, opened)
    fake.complete_checkout(session_id, card)  # the patient saves the card on Stripe's page
    done_url = fake.session(session_id)["success_url"]
    back = client.get(done_url.removeprefix("http://testserver"))
    assert back.status_code == 302 and back.url == billing_page(patient)
    return CardOnFile.objects.get(patient=patient, removed_at__isnull=True)


def test_the_front_desk_saves_a_card_on_stripes_page_and_the_billing_page_shows_it(
    client, fake_stripe, fran
):
    patient = PatientFactory()
    client.force_login(fran)
    before = client.get(billing_page(patient)).content.decode()
    assert "No card on file" in before and "By saving this card you allow the clinic" in before

    card = save_card(client, fake_stripe, patient)

    session = fake_stripe.objects("checkout.session")[0]
    assert session["custom_text"]["submit"]["message"] == card.consent_wording
    shown = client.get(billing_page(patient)).content.decode()
    assert "Visa ending 4242" in shown and "Remove the card" in shown
    assert card.consent_method.startswith("Stripe's card page") and card.consent_recorded_by == fran


def test_the_front_desk_charges_the_card_on_file_after_confirming(client, fake_stripe, fran):
    invoice = issued(lines=["250.00"])
    client.force_login(fran)
    card = save_card(client, fake_stripe, invoice.patient)

    page = client.get(invoice_page(invoice)).content.decode()
    assert "Charge the card on file" in page
    form = client.get(invoice_page(invoice, "charge-card")).content.decode()
    assert 'value="250.00"' in form and "Visa ending 4242" in form
    confirm = client.post(invoice_page(invoice, "charge-card"), {"amount": "100.00"})
    assert "Charge 100.00 USD to Visa ending 4242" in confirm.content.decode()
    assert not fake_stripe.charges and not CardCharge.objects.exists()

    done = client.post(
        invoice_page(invoice, "charge-card"), {"amount": "100.00", "confirmed": "yes"}
    )

    assert done.status_code == 302
    payment = Payment.objects.get()
    assert payment.method == "card" and payment.amount == Decimal("100.00")
    assert fake_stripe.charges[0].amount == 10000
    assert fake_stripe.charges[0].payment_method == card.payment_method_id
    shown = client.get(invoice_page(invoice)).content.decode()
    assert "Charged 100.00 USD to Visa ending 4242." in shown
    assert 'data-testid="due">150.00 USD<' in shown


def test_a_declined_card_says_why_and_records_nothing(client, fake_stripe, fran):
    invoice = issued(lines=["250.00"])
    client.force_login(fran)
    save_card(client, fake_stripe, invoice.patient, "pm_card_chargeDeclinedInsufficientFunds")

    answer = client.post(
        invoice_page(invoice, "charge-card"), {"amount": "250.00", "confirmed": "yes"}
    )

    assert answer.status_code == 400
    assert "insufficient funds" in answer.content.decode().lower()
    assert not Payment.objects.exists() and not fake_stripe.charges
    assert CardCharge.objects.get().status == "failed"


def test_more_than_is_owed_is_refused_and_charges_nothing(client, fake_stripe, fran):
    invoice = issued(lines=["250.00"])
    client.force_login(fran)
    save_card(client, fake_stripe, invoice.patient)

    answer = client.post(
        invoice_page(invoice, "charge-card"), {"amount": "250.01", "confirmed": "yes"}
    )

    assert answer.status_code == 400
    assert "owes 250.00 USD: charge that much at most" in answer.content.decode()
    assert not fake_stripe.charges and not CardCharge.objects.exists()


def test_the_patient_pays_on_stripes_page_at_the_desk(client, fake_stripe, fran):
    invoice = issued(lines=["80.00"])
    client.force_login(fran)

    opened = client.post(invoice_page(invoice, "pay-by-card"), {"amount": "80.00"})
    assert "they pay 80.00 USD for invoice" in opened.content.decode()
    session_id = checkout_link(fake_stripe, opened)
    fake_stripe.complete_checkout(session_id, "pm_card_amex")
    back = client.get(fake_stripe.session(session_id)["success_url"])

    assert back.status_code == 302 and back.url == invoice_page(invoice)
    payment = Payment.objects.get()
    assert payment.method == "card" and payment.amount == Decimal("80.00")
    assert "Took 80.00 USD by card." in client.get(back.url).content.decode()


def test_a_clinic_admin_refunds_a_card_payment_to_the_card_in_part_then_in_full(
    client, fake_stripe, fran, alice
):
    invoice = issued(lines=["200.00"])
    client.force_login(fran)
    save_card(client, fake_stripe, invoice.patient)
    client.post(invoice_page(invoice, "charge-card"), {"amount": "200.00", "confirmed": "yes"})
    payment = Payment.objects.get()
    client.force_login(alice)
    refund_url = invoice_page(invoice) + f"payments/{payment.public_id}/refund/"

    for amount in ("50.00", "150.00"):
        done = client.post(
            refund_url, {"amount": amount, "reason": "Visit cut short", "confirmed": "yes"}
        )
        assert done.status_code == 302

    assert [r.amount for r in Refund.objects.order_by("id")] == [Decimal(50), Decimal(150)]
    assert sorted(r["amount"] for r in fake_stripe.objects("refund")) == [5000, 15000]
    assert all(r.stripe_refund for r in Refund.objects.all())
    more = client.post(refund_url, {"amount": "0.01", "reason": "Again", "confirmed": "yes"})
    assert more.status_code == 400 and "refunded in full" in more.content.decode()


def test_with_no_stripe_keys_no_card_button_shows_and_cash_still_works(client, fran, settings):
    settings.STRIPE_SECRET_KEY = ""
    settings.STRIPE_WEBHOOK_SECRET = ""
    invoice = issued(lines=["90.00"])
    client.force_login(fran)

    patient_page = client.get(billing_page(invoice.patient)).content.decode()
    assert "Card payments are off" in patient_page and "save-card" not in patient_page
    page = client.get(invoice_page(invoice)).content.decode()
    assert "Card payments are off" in page
    assert "Charge the card on file" not in page and "Pay by card" not in page
    refused = client.get(invoice_page(invoice, "pay-by-card"))
    assert refused.status_code == 302
    assert client.post(billing_page(invoice.patient) + "card/").status_code == 302
    assert (
        client.post("/hooks/stripe/", data=b"{}", content_type="application/json").status_code
        == 400
    )

    client.post(
        invoice_page(invoice, "pay"), {"method": "cash", "amount": "90.00", "confirmed": "yes"}
    )
    assert Payment.objects.get().method == "cash"
