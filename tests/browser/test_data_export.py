"""The clinic admin's data export page in a real browser: reached from the admin menu,
accessible (axe-core) on a laptop and a phone, and an export started, downloaded and
deleted from it."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect

from interop.fhir import bulk
from interop.models import ExportJob, ExportStatus
from patients.tests.factories import PatientFactory
from tests.browser.staff import sign_in
from tests.browser.test_content import PHONE


def serious_violations(page: Page) -> list[str]:
    """axe-core's serious and critical findings inside the page's main content. (The staff
    navigation bar's link colours are the shared header's, not this page's.)"""
    results = Axe().run(page, context="#main")
    return [
        f"{violation['id']} ({violation['impact']}): {violation['help']}"
        for violation in results.response["violations"]
        if violation["impact"] in ("serious", "critical")
    ]


@pytest.fixture(autouse=True)
def _export_runs_at_once(settings, tmp_path, monkeypatch):
    # The live server runs in this process: the export runs when its request commits.
    settings.FHIR_EXPORT_DIR = tmp_path / "exports"
    monkeypatch.setattr(bulk.run_fhir_export, "delay", bulk.run_fhir_export)


@pytest.mark.parametrize("context_args", [{}, PHONE], ids=["laptop", "phone"])
def test_an_admin_exports_the_clinic_downloads_a_file_and_deletes_them(
    new_page: Callable[..., Page], alice, context_args: dict
):
    PatientFactory.create_batch(2)
    page = new_page(**context_args)
    sign_in(page, alice.email)

    page.goto("/staff/data-export/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Data export")
    expect(page.get_by_test_id("empty-state")).to_be_visible()
    assert serious_violations(page) == []

    page.get_by_role("button", name="Start an export").click()
    expect(page.get_by_text("The export has started.")).to_be_visible()
    expect(page.get_by_text("Ready to download")).to_be_visible()
    link = page.get_by_role("link", name="Patient.ndjson")
    with page.expect_download() as download:
        link.click()
    assert download.value.suggested_filename == "Patient.ndjson"
    assert serious_violations(page) == []

    page.get_by_role("link", name="Delete files").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Delete the export's files?")
    page.get_by_role("button", name="Delete the files").click()
    expect(page.get_by_text("The export is cancelled and its files are deleted.")).to_be_visible()
    assert ExportJob.objects.get().status == ExportStatus.CANCELLED
