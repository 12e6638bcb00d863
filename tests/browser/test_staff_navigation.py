"""The staff bar every staff page shares, read by axe-core at a laptop's width (where its
links show in a row): no serious finding, its link colours included."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect

from tests.browser.staff import sign_in

LAPTOP = {"viewport": {"width": 1366, "height": 768}}
TABLET_UPRIGHT = {"viewport": {"width": 1024, "height": 1366}, "has_touch": True}


@pytest.mark.parametrize("persona", ["fran", "alice"])
def test_the_staff_bar_passes_axe_on_a_laptop(
    new_page: Callable[..., Page], request: pytest.FixtureRequest, persona: str
):
    page = new_page(**LAPTOP)
    sign_in(page, request.getfixturevalue(persona).email)
    expect(page.get_by_test_id("staff-nav")).to_be_visible()

    results = Axe().run(page, context="nav")

    serious = [
        f"{violation['id']}: {violation['help']}"
        for violation in results.response["violations"]
        if violation["impact"] in ("serious", "critical")
    ]
    assert serious == []


@pytest.mark.parametrize("persona", ["fran", "nina", "phil", "alice"])
def test_on_an_upright_tablet_no_staff_page_is_wider_than_the_screen(
    new_page: Callable[..., Page], request: pytest.FixtureRequest, persona: str
):
    page = new_page(**TABLET_UPRIGHT)
    sign_in(page, request.getfixturevalue(persona).email)

    for path in ["/staff/", "/staff/patients/"]:
        page.goto(path)
        expect(
            page.get_by_role("link", name="Sign out").or_(
                page.get_by_role("button", name="Sign out")
            )
        ).to_be_in_viewport()
        width = page.evaluate("document.scrollingElement.scrollWidth")
        assert width <= 1024, f"{path} is {width} px wide for {persona}"
