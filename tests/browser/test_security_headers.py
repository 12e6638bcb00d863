"""The Content-Security-Policy in a real Chromium: the pages built by libraries (the API
docs, the Django admin) run under it, and the browser tests' own watch for violations
(tests/browser/conftest.py) does see one."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import _watch_for_csp_violations
from tests.browser.staff import sign_in


def test_the_api_docs_render_under_the_policy(page: Page, alice):
    sign_in(page, alice.email)

    page.goto("/api/docs/")

    expect(page.get_by_text("Chairside API").first).to_be_visible()
    expect(page.locator(".opblock").first).to_be_visible()


def test_the_django_admin_works_under_the_policy(page: Page, alice):
    sign_in(page, alice.email)

    page.goto("/admin/")
    expect(page.get_by_role("heading", name="Clinic data")).to_be_visible()
    page.goto("/admin/clinic/auditevent/")
    expect(page.locator("#changelist")).to_be_visible()


def test_the_watch_reports_a_blocked_inline_style(browser: Browser, live_server: Any, db):
    context = browser.new_context(base_url=live_server.url)
    violations: list[str] = []
    _watch_for_csp_violations(context, violations)
    page = context.new_page()

    page.goto("/")
    page.evaluate("document.body.insertAdjacentHTML('beforeend', '<p style=\"color: red\">x</p>')")
    page.wait_for_timeout(200)
    context.close()

    assert violations, "an inline style attribute was not reported"
    assert "style-src" in violations[0]
