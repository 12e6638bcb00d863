"""The day board fits the screens a clinic has: a 1366 px laptop at the front desk shows
the whole 08:00-18:00 day without sideways scrolling, and a nurse's tablet (820 px, held
upright) shows it as a list by time whose buttons are big enough for a thumb.

The day is like the demo clinic's: four chairs busy from opening to the end of the
afternoon, consultations and follow-ups with the physician, one cancellation. Each step
saves a screenshot (SCREENSHOTS) for a look at what staff see.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from patients.tests.factories import PatientFactory
from scheduling.models import AppointmentStatus
from scheduling.tests.factories import AppointmentFactory, appointment_type
from scheduling.tests.test_booking import at, next_week, riverside_for
from tests.browser.staff import sign_in

pytestmark = pytest.mark.browser

LAPTOP = {"width": 1366, "height": 768}
TABLET = {"width": 820, "height": 1180}
NAMES = [
    *("Ines Moreau", "Jordan Rivera", "Priya Natarajan", "Sam O'Connell", "Lena Fischer"),
    *("Marcus Hill", "Aiko Tanaka", "Grace Okafor", "Tomás Alvarez", "Hannah Berg"),
    *("Omar Haddad", "Chloe Martin", "Ruth Abernathy-Long", "Diego Santos", "Mei Chen"),
    *("Noah Williams", "Ava Kowalski", "Liam Byrne", "Zara Ahmed", "Felix Wagner"),
    *("Nora Lindqvist", "Ethan Brooks", "Maya Patel", "Isaac Green"),
]
# Where the screenshots go (/tmp/board-*.png here), for a look at what staff see.
SCREENSHOTS = Path(tempfile.gettempdir())


@pytest.fixture
def busy_day(nina, phil):
    names = iter(NAMES)

    def patient():
        first, last = next(names).split(" ", 1)
        return PatientFactory(legal_first_name=first, legal_last_name=last)

    riverside = riverside_for(nina, phil, chairs=4)
    day = next_week(riverside)
    infusion, booster = appointment_type("infusion"), appointment_type("booster")
    starts = {
        "Chair 1": [(8, 0), (9, 30), (11, 0), (12, 30), (14, 0), (15, 30)],
        "Chair 2": [(8, 30), (10, 0), (11, 30), (13, 0), (14, 30), (16, 0)],
        "Chair 3": [(9, 0), (11, 15), (13, 30), (16, 30)],
        "Chair 4": [(10, 0), (12, 0), (15, 0)],
    }
    for chair in riverside.chairs.all():
        for number, (hour, minute) in enumerate(starts[chair.name]):
            AppointmentFactory(
                location=riverside,
                appointment_type=booster if number % 3 == 2 else infusion,
                chair=chair,
                clinician=nina,
                patient=patient(),
                starts_at=at(riverside, day, hour, minute),
            )
    for hour, kind in [(9, "consultation"), (11, "follow_up"), (14, "consultation")]:
        AppointmentFactory(
            location=riverside,
            appointment_type=appointment_type(kind),
            clinician=phil,
            patient=patient(),
            starts_at=at(riverside, day, hour),
        )
    late = AppointmentFactory(
        location=riverside,
        appointment_type=appointment_type("consultation"),
        clinician=phil,
        patient=patient(),
        starts_at=at(riverside, day, 17),
    )
    AppointmentFactory(
        location=riverside,
        appointment_type=appointment_type("consultation"),
        clinician=phil,
        patient=patient(),
        starts_at=at(riverside, day, 10),
        status=AppointmentStatus.CANCELLED,
        cancel_reason="Patient unwell",
    )
    return f"/staff/schedule/?location={riverside.public_id}&date={day.isoformat()}", late


def scrolls_sideways(page: Page) -> bool:
    return page.evaluate(
        "document.documentElement.scrollWidth > document.documentElement.clientWidth"
    )


def card_of(page: Page, appointment):
    return page.locator(f"#appointment-{appointment.public_id}")


def test_a_busy_day_fits_a_laptop_screen(new_page: Callable[..., Page], nina, busy_day):
    url, late = busy_day
    page = new_page(viewport=LAPTOP)
    sign_in(page, nina.email)

    page.goto(url)

    expect(page.get_by_test_id("chair-grid")).to_be_visible()
    page.screenshot(path=SCREENSHOTS / "board-laptop.png")
    page.screenshot(path=SCREENSHOTS / "board-laptop-full.png", full_page=True)
    assert not scrolls_sideways(page)
    # The end of the afternoon, once scrolled down to, is on screen, not off to the right.
    last_infusion = page.get_by_test_id("appointment").filter(has_text="16:30")
    for card in (last_infusion, card_of(page, late)):
        card.scroll_into_view_if_needed()
        expect(card).to_be_in_viewport()
        box = card.bounding_box()
        assert box is not None
        assert box["x"] >= 0 and box["x"] + box["width"] <= LAPTOP["width"]
    expect(card_of(page, late)).to_contain_text("17:00")
    page.screenshot(path=SCREENSHOTS / "board-laptop-afternoon.png")


def test_a_nurse_uses_the_board_on_a_tablet_held_upright(
    new_page: Callable[..., Page], nina, busy_day
):
    url, _ = busy_day
    page = new_page(viewport=TABLET, has_touch=True)
    sign_in(page, nina.email)

    page.goto(url)

    page.screenshot(path=SCREENSHOTS / "board-tablet.png")
    page.screenshot(path=SCREENSHOTS / "board-tablet-full.png", full_page=True)
    assert not scrolls_sideways(page)
    buttons = page.locator("main").locator("button:visible, a.btn:visible")
    assert buttons.count() > 20
    for button in buttons.all():
        box = button.bounding_box()
        assert box is not None
        assert box["height"] >= 44, f"{button.inner_text()!r} is {box['height']} px high"
        assert box["x"] + box["width"] <= TABLET["width"], f"{button.inner_text()!r} is off-screen"
    # Each card says which chair it is in, since the chairs are no longer columns.
    first = page.get_by_test_id("chair-grid").locator("td").first
    expect(first).to_contain_text("Chair 1")
    expect(first).to_contain_text("08:00")

    page.get_by_role("link", name="Next day →").click()

    expect(page).to_have_url(re.compile(r"date=\d{4}-\d{2}-\d{2}"))
    assert not scrolls_sideways(page)


def test_the_tablet_held_sideways_shows_the_list_two_or_three_across(
    new_page: Callable[..., Page], nina, busy_day
):
    url, _ = busy_day
    page = new_page(viewport={"width": 1180, "height": 820}, has_touch=True)
    sign_in(page, nina.email)

    page.goto(url)

    page.screenshot(path=SCREENSHOTS / "board-tablet-landscape.png")
    assert not scrolls_sideways(page)
    buttons = page.locator("main").locator("button:visible, a.btn:visible")
    assert all(button.bounding_box()["height"] >= 44 for button in buttons.all())
