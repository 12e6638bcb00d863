"""The front desk sells a package on a tablet: from the patient's billing page, choose the
induction series, read what will happen, confirm, take the payment on the invoice that opens;
a visit of the kind then ends at no charge, and the chart shows what is left. The sell page
and the liability report pass axe-core with no serious violations."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect

from billing.models import PatientPackage
from billing.tests.factories import price
from billing.tests.package_factories import offer, visit_of
from patients.tests.factories import PatientFactory
from scheduling.services.status_changes import appointment_set_status
from scheduling.tests.factories import LocationFactory
from tests.browser.staff import sign_in
from tests.browser.test_content import serious_violations

pytestmark = pytest.mark.browser

TABLET = {"viewport": {"width": 820, "height": 1180}}


def test_the_front_desk_sells_a_package_and_the_chart_shows_what_is_left(
    new_page: Callable[..., Page], fran, alice
):
    riverside = LocationFactory(name="Riverside")
    price("consultation", riverside, "250.00")
    offer("Six consultations", amount="1200.00")
    patient = PatientFactory()
    page = new_page(**TABLET)
    sign_in(page, fran.email)

    page.goto(f"/staff/billing/patients/{patient.public_id}/")
    expect(page.get_by_test_id("no-packages")).to_be_visible()
    page.get_by_test_id("sell-package").click()
    page.get_by_label(re.compile("Six consultations")).check()
    page.get_by_label("Sold at").select_option(label="Riverside")
    assert serious_violations(page) == []
    page.get_by_role("button", name=re.compile("Sell the package")).click()
    expect(page.get_by_test_id("confirm")).to_contain_text("for 1,200.00 USD")
    assert not PatientPackage.objects.exists()
    page.get_by_role("button", name=re.compile("^Confirm")).click()

    expect(page.get_by_role("status").first).to_contain_text("Sold “Six consultations”")
    expect(page.get_by_test_id("due")).to_have_text("1,200.00 USD")
    page.get_by_role("link", name="Take a payment").click()
    page.get_by_label("Cash").check()
    page.get_by_role("button", name=re.compile("Take the payment")).click()
    page.get_by_role("button", name=re.compile("^Confirm")).click()
    expect(page.get_by_test_id("state")).to_have_text("Paid")

    consultation = visit_of(patient, riverside)
    appointment_set_status(actor=fran, appointment=consultation, status="discharged")
    page.goto(f"/staff/patients/{patient.public_id}/")
    expect(page.get_by_test_id("chart-balance")).to_contain_text("Nothing owed")
    expect(page.get_by_test_id("packages-left")).to_contain_text("5 of 6")
    page.goto(f"/staff/billing/patients/{patient.public_id}/")
    expect(page.get_by_test_id("invoices")).to_contain_text("covered by a package")

    admin_page = new_page(**TABLET)
    sign_in(admin_page, alice.email)
    admin_page.goto("/staff/billing/reports/packages/")
    expect(admin_page.get_by_test_id("unearned-total")).to_have_text("1,000.00 USD")
    assert serious_violations(admin_page) == []
