"""Each demo login signs in through the real login page and lands on its own home."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from django.core.management import call_command
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser

CLINICIAN_NAV = ["Home", "Schedule", "Patients", "Locations", "Ledger", "Outcomes"]
ADMIN_MENU = ["Staff accounts", "Consent forms", "Data export", "Audit log", "Django admin"]
# Each login: the role shown by the name, the menu bar's links, and the "Admin" menu's.
ROLE_NAVIGATION = {
    "frontdesk": ("Front desk", ["Home", "Schedule", "Patients", "Locations", "Billing"], []),
    "nurse": ("Nurse", CLINICIAN_NAV, []),
    "physician": ("Physician", CLINICIAN_NAV, []),
    "admin": ("Clinic admin", [*CLINICIAN_NAV, "Billing", "Content"], ADMIN_MENU),
    "editor": ("Content editor", ["Home", "Content"], []),
    "director": ("Physician, Clinic admin", [*CLINICIAN_NAV, "Billing", "Content"], ADMIN_MENU),
}


@pytest.fixture
def demo_clinic(settings) -> None:
    settings.DEBUG = True  # demo accounts exist, and may sign in, only in development
    call_command("seed_demo", verbosity=0)


@pytest.mark.parametrize("mailbox", list(ROLE_NAVIGATION))
def test_each_demo_login_sees_its_own_home(demo_clinic, settings, page: Page, mailbox):
    role_label, navigation, admin_menu = ROLE_NAVIGATION[mailbox]

    page.goto("/staff/login/")
    page.get_by_label("Email").fill(f"{mailbox}@{settings.DEMO_EMAIL_DOMAIN}")
    page.get_by_label("Password").fill(settings.DEMO_PASSWORD)
    page.get_by_role("button", name="Sign in").click()

    expect(page).to_have_url(re.compile(r"/staff/$"))
    expect(page.get_by_test_id("signed-in-as")).to_contain_text(role_label)
    expect(page.get_by_role("heading", level=1)).to_contain_text("Good to see you")
    links = page.get_by_test_id("staff-nav").get_by_role("link")
    assert links.all_inner_texts() == navigation
    if admin_menu:
        page.get_by_test_id("admin-menu").click()
        assert links.all_inner_texts() == [*navigation, *admin_menu]
    else:
        expect(page.get_by_test_id("admin-menu")).to_have_count(0)


def test_the_public_home_page_fits_a_phone_screen(demo_clinic, new_page: Callable[..., Page]):
    page = new_page(viewport={"width": 375, "height": 667}, is_mobile=True, has_touch=True)

    for url in ["/", "/staff/login/"]:
        page.goto(url)
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, f"{url} scrolls sideways by {overflow}px on a 375px-wide phone"


@pytest.mark.parametrize("width", [1024, 1280, 1440])
def test_the_longest_staff_menu_bar_fits_the_screen(
    demo_clinic, settings, new_page: Callable[..., Page], width
):
    # The medical director has every menu entry and two roles: the widest bar there is.
    page = new_page(viewport={"width": width, "height": 800})
    page.goto("/staff/login/")
    page.get_by_label("Email").fill(f"director@{settings.DEMO_EMAIL_DOMAIN}")
    page.get_by_label("Password").fill(settings.DEMO_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/staff/$"))

    overflow = page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0, f"the staff pages scroll sideways by {overflow}px at {width}px"
    sign_out = page.get_by_role("button", name="Sign out")
    box = sign_out.bounding_box()
    assert box is not None and box["x"] + box["width"] <= width
