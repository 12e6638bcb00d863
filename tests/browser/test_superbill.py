"""The front desk prints a superbill: from the issued invoice of a consultation to its
superbill, which names the practice, the patient, the diagnoses and the coded service; printed
(print media, then Chromium's own print to PDF) it leaves the navigation and the buttons out;
the page passes axe-core with no serious violations."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect

from billing.codes import practice_details_set
from billing.services import invoice_issue
from billing.tests.factories import price, visit
from scheduling.services.status_changes import appointment_set_status
from tests.browser.billing_steps import print_the_superbill
from tests.browser.staff import sign_in
from tests.browser.test_content import serious_violations

pytestmark = pytest.mark.browser

TABLET = {"viewport": {"width": 820, "height": 1180}, "has_touch": True}


def test_the_front_desk_prints_the_superbill_of_a_consultation(
    new_page: Callable[..., Page], fran, alice
):
    consultation = visit("consultation", status="checked_in")
    price("consultation", consultation.location, "250.00")
    appointment_set_status(actor=fran, appointment=consultation, status="discharged")
    invoice = invoice_issue(actor=fran, invoice=consultation.invoice)
    practice_details_set(
        actor=alice,
        location=None,
        practice_name="Calm Waters Infusions",
        npi="1234567893",
        tax_id="12-3456789",
        place_of_service="11",
    )
    page = new_page(**TABLET)
    sign_in(page, fran.email)

    page.goto(f"/staff/billing/invoices/{invoice.public_id}/")
    page.get_by_role("link", name="Superbill").click()
    expect(page.get_by_test_id("practice")).to_contain_text("NPI: 1234567893")
    expect(page.get_by_test_id("patient")).to_contain_text(consultation.patient.legal_name)
    expect(page.get_by_test_id("diagnoses")).to_contain_text("F33.2")
    expect(page.get_by_test_id("services")).to_contain_text("99204")
    expect(page.get_by_test_id("superbill-charges")).to_have_text("250.00 USD")
    expect(page.get_by_test_id("print-button")).to_be_visible()
    assert serious_violations(page) == []

    print_the_superbill(page)


def test_a_clinic_admin_codes_a_condition_on_a_tablet(new_page: Callable[..., Page], alice):
    page = new_page(**TABLET)
    sign_in(page, alice.email)

    page.goto("/staff/locations/")
    page.get_by_role("link", name="Superbill codes").click()
    expect(page.get_by_test_id("service-codes-infusion")).to_contain_text("96366")
    assert serious_violations(page) == []
    page.get_by_role("link", name="Change the code for Cluster headache").click()
    page.get_by_label("ICD-10-CM code").fill("G4")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("a dot and up to four")).to_be_visible()
    expect(page.get_by_label("ICD-10-CM code")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("Description")).to_have_attribute("aria-invalid", "true")
    assert serious_violations(page) == []
    page.get_by_label("ICD-10-CM code").fill("G44.009")
    page.get_by_label("Description").fill("Cluster headache syndrome, unspecified, not intractable")
    page.get_by_role("button", name="Save").click()

    expect(page.get_by_role("status").first).to_contain_text("cluster headache")
    expect(page.get_by_test_id("diagnosis-codes")).to_contain_text("G44.009")
