"""The front desk closes the day on a tablet: from the staff menu's Billing to the day's
close (the takings by method), the day before, and who owes by age; each page passes
axe-core with no serious violations."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from billing.services import payment_take
from billing.tests.factories import issued
from scheduling.tests.factories import LocationFactory
from tests.browser.staff import sign_in
from tests.browser.test_content import serious_violations

pytestmark = pytest.mark.browser

TABLET = {"viewport": {"width": 820, "height": 1180}, "has_touch": True}


def test_the_front_desk_reads_the_daily_close_and_the_aged_balances_on_a_tablet(
    new_page: Callable[..., Page], fran
):
    location = LocationFactory(name="Lakeview", time_zone="America/Chicago")
    invoice = issued(location=location, lines=["300"])
    payment_take(actor=fran, invoice=invoice, method="cheque", amount="120", reference="Chq 88")
    page = new_page(**TABLET)
    sign_in(page, fran.email)

    page.get_by_role("button", name="Open the menu").click()  # folded on a tablet
    page.get_by_test_id("staff-nav").get_by_role("link", name="Billing").click()
    page.get_by_role("link", name="Daily close").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Lakeview")
    expect(page.get_by_test_id("takings")).to_contain_text("Cheque")
    expect(page.get_by_test_id("net-taken")).to_have_text("120.00 USD")
    expect(page.get_by_test_id("outstanding")).to_have_text("180.00 USD")
    assert serious_violations(page) == []

    page.get_by_test_id("previous-day").click()
    expect(page.get_by_test_id("empty-day")).to_be_visible()
    expect(page.get_by_test_id("next-day")).to_be_visible()

    page.get_by_role("link", name="Who owes, by age").click()
    expect(page.get_by_test_id("bucket-current")).to_have_text("180.00 USD")
    expect(page.get_by_test_id("aged")).to_contain_text(invoice.patient.display_name)
    assert serious_violations(page) == []
    assert timezone.now() - invoice.issued_at < timedelta(days=1)
