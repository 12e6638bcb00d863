"""Browser tests: Playwright driving the system's Chromium against a live Django server.

One Chromium runs for the whole session; every test gets a fresh context (its own
cookies and storage) and page. When a test fails, a screenshot of each of its pages
is saved under ``test-artifacts/`` (git ignores it) for a look at what the user saw; with
``BROWSER_SCREENSHOTS=always``, for every test.

Every test in this folder is marked ``browser``: the root ``conftest.py`` skips it when
Chromium is missing, or fails it under ``REQUIRE_SERVICES=1``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

# Playwright's sync API runs an event loop in this thread; Django would then refuse the
# ORM calls the tests make around it (seeding data, checking rows), which are safe here.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Page,
    Playwright,
    sync_playwright,
)

from tests.browser.billing_steps import card_riverside  # noqa: F401 (a fixture)
from tests.fake_stripe import fake_stripe  # noqa: F401 (the fixture, for the card tests)
from tests.services import chromium_path

HERE = Path(__file__).resolve().parent
ARTIFACTS = HERE.parent.parent / "test-artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
TIMEOUT_MS = 10_000
# BROWSER_SCREENSHOTS=always keeps the last screen of every test, not only of failed ones: for
# looking at what a walk through the day ends on (README, "Running tests").
KEEP_SCREENSHOTS = os.environ.get("BROWSER_SCREENSHOTS") == "always"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in Path(item.path).resolve().parents:
            item.add_marker(pytest.mark.browser)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Any:
    # Keep each phase's report on the item, so fixtures can tell at teardown whether it failed.
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="session", autouse=True)
def _end_sessions_left_by_playwright_tests(
    django_db_setup: None, django_db_blocker: Any
) -> Iterator[None]:
    # While Playwright's loop runs, Django keeps connections per asyncio context rather than
    # per thread, so some that browser tests open are not the ones pytest-django closes. Left
    # open, they stop the test database from being dropped at the end of the run. This
    # fixture depends on django_db_setup, so it tears down before the database is dropped.
    yield
    from django.db import connection

    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
    connection.close()


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    chromium = playwright.chromium.launch(executable_path=str(chromium_path()), args=CHROMIUM_ARGS)
    yield chromium
    chromium.close()


@pytest.fixture
def new_page(
    request: pytest.FixtureRequest, browser: Browser, live_server: Any
) -> Iterator[Callable[..., Page]]:
    """Open a page in a fresh browser context on the live server; relative URLs work.

    Keyword arguments go to ``browser.new_context`` (e.g. ``viewport=...``).
    """
    contexts = []
    violations: list[str] = []

    def open_page(**context_args: Any) -> Page:
        context = browser.new_context(base_url=live_server.url, **context_args)
        context.set_default_timeout(TIMEOUT_MS)
        _watch_for_csp_violations(context, violations)
        contexts.append(context)
        return context.new_page()

    yield open_page

    failed = any(
        getattr(getattr(request.node, f"report_{when}", None), "failed", False)
        for when in ("setup", "call")
    )
    for number, context in enumerate(contexts):
        if failed or KEEP_SCREENSHOTS:
            _save_screenshots(request.node.nodeid, number, context.pages)
        context.close()
    if violations and not failed:
        pytest.fail(
            "The page broke the Content-Security-Policy (move inline script or style to "
            "static/js or static/css, see clinic/settings/__init__.py):\n" + "\n".join(violations)
        )


@pytest.fixture
def page(new_page: Callable[..., Page]) -> Page:
    return new_page()


# Chromium reports a blocked inline script or style on the console; the listener also
# catches what it reports only as an event (a blocked style attribute set by a library).
_REPORT_CSP_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (event) => {
  console.error(
    `Content Security Policy violation: ${event.violatedDirective} blocked ` +
      `${event.blockedURI || "inline"} at ${event.sourceFile}:${event.lineNumber}`
  );
});
"""


def _watch_for_csp_violations(context: BrowserContext, violations: list[str]) -> None:
    context.add_init_script(_REPORT_CSP_VIOLATIONS)

    def on_console(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text:
            violations.append(f"{message.page.url if message.page else '?'}: {message.text}")

    context.on("console", on_console)


def _save_screenshots(nodeid: str, number: int, pages: list[Page]) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", nodeid).strip("_")
    for index, page in enumerate(pages):
        path = ARTIFACTS / f"{stem}-{number}-{index}.png"
        try:
            page.screenshot(path=str(path), full_page=True)
        except Exception as exc:  # a crashed page must not hide the test's own failure
            print(f"Could not save a screenshot to {path}: {exc}")
        else:
            print(f"Screenshot of the failed test: {path}")
