"""The front desk takes a visit's payment on a phone-sized screen: from the chart to the
draft invoice the consultation's end made, issue it, take the balance by the card terminal
after confirming, and see it paid; the invoice and payment pages pass axe-core with no
serious violations."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect

from billing.models import Payment
from billing.tests.factories import price, visit
from scheduling.services.status_changes import appointment_set_status
from tests.browser.staff import sign_in
from tests.browser.test_content import PHONE, serious_violations

pytestmark = pytest.mark.browser


def test_the_front_desk_takes_the_balance_of_a_consultation_on_a_phone(
    new_page: Callable[..., Page], fran
):
    consultation = visit("consultation", status="checked_in")
    price("consultation", consultation.location, "250.00")
    appointment_set_status(actor=fran, appointment=consultation, status="discharged")
    patient = consultation.patient
    page = new_page(**PHONE)
    sign_in(page, fran.email)

    page.goto(f"/staff/patients/{patient.public_id}/")
    expect(page.get_by_test_id("chart-balance")).to_contain_text("Nothing owed")
    page.get_by_role("link", name="Invoices and payments").click()
    page.get_by_role("link", name="Draft").click()
    expect(page.get_by_test_id("total")).to_have_text("250.00 USD")
    assert serious_violations(page) == []

    page.get_by_role("link", name="Issue").click()
    page.get_by_role("button", name="Issue the invoice").click()
    expect(page.get_by_test_id("state")).to_have_text("Unpaid")
    expect(page.get_by_test_id("due")).to_have_text("250.00 USD")

    page.get_by_role("link", name="Take a payment").click()
    expect(page.get_by_label("Amount")).to_have_value("250.00")  # the balance due
    page.get_by_label("Card (clinic's card terminal)").check()
    page.get_by_label("Reference (optional)").fill("T-4471")
    assert serious_violations(page) == []
    page.get_by_role("button", name=re.compile("Take the payment")).click()
    expect(page.get_by_test_id("confirm")).to_contain_text("Record 250.00 USD paid by card")
    assert not Payment.objects.exists()
    page.get_by_role("button", name=re.compile("^Confirm")).click()

    expect(page.get_by_role("status").first).to_contain_text("Took 250.00 USD")
    expect(page.get_by_test_id("state")).to_have_text("Paid")
    assert Payment.objects.get().reference == "T-4471"
    page.goto(f"/staff/patients/{patient.public_id}/")
    expect(page.get_by_test_id("chart-balance")).to_contain_text("Nothing owed")
