"""The DEA records on a clinic tablet: Phil (a physician) takes the inventory of Lakeview with
Nina (a nurse) as his witness, then opens the inspection report, finds the count in it, and
downloads the CSV. Accessible (axe-core) and without sideways scrolling at tablet width."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import Page, expect

from conftest import PASSWORD
from infusions.models import Inventory
from infusions.tests.factories import dea_registered
from infusions.tests.test_ledger import receive
from scheduling.tests.factories import LocationFactory
from tests.browser.staff import sign_in
from tests.browser.test_data_export import serious_violations

TABLET = {"width": 820, "height": 1180}


def no_sideways_scrolling(page: Page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_a_physician_takes_an_inventory_then_prints_and_downloads_the_inspection_report(
    new_page: Callable[..., Page], nina, phil, tmp_path: Path
):
    location = dea_registered(LocationFactory(name="Lakeview", time_zone="America/Chicago"))
    lot = receive(nina, location, lot_number="KX-7001")  # 500 mg
    page = new_page(viewport=TABLET, has_touch=True)
    sign_in(page, phil.email)

    page.goto("/staff/ledger/inventories/")
    page.get_by_role("link", name="Take the inventory of Lakeview").click()
    page.get_by_label("Lot KX-7001: counted (mg)").fill("500")
    page.get_by_label("At close of business").check()
    page.get_by_label("Witness", exact=True).select_option(str(nina.public_id))
    page.get_by_label("Witness's password").fill(PASSWORD)
    page.get_by_label(re.compile("We counted every lot listed")).check()
    page.get_by_role("button", name="Record the inventory").click()
    expect(page.get_by_text("Recorded the inventory of Lakeview")).to_be_visible()
    inventory = Inventory.objects.get(location=location)
    assert (inventory.counted_by, inventory.witness) == (phil, nina)

    # From the inventory to the day's report, then to the last 30 days from the ledger's tab.
    page.get_by_role("link", name="See this day in the inspection report").click()
    report = page.get_by_test_id("inspection-report")
    expect(report).to_contain_text("counted by Phil Physician, witnessed by Nina Nurse")
    page.goto("/staff/ledger/")
    page.get_by_role("link", name="Inspection report").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("DEA inspection report")
    expect(page.get_by_label("Location")).to_have_value(str(location.public_id))
    page.get_by_role("button", name="Show the report").click()
    expect(report).to_be_visible()
    expect(report.get_by_test_id(f"balance-{lot.lot_number}")).to_contain_text("500.000")
    expect(report).to_contain_text("counted by Phil Physician, witnessed by Nina Nurse")
    expect(report.get_by_role("button", name="Print")).to_be_visible()
    assert no_sideways_scrolling(page)
    assert serious_violations(page) == []

    with page.expect_download() as download:
        report.get_by_test_id("download-csv").click()
    assert download.value.suggested_filename.startswith("dea-inspection-")
    saved = tmp_path / "report.csv"
    download.value.save_as(saved)
    text = saved.read_text()
    assert text.startswith("DEA inspection report,Lakeview")
    assert "KX-7001" in text
    assert "Phil Physician <phil@clinic.test>,Nina Nurse <nina@clinic.test>" in text
