"""A nurse on a tablet runs an infusion from the day board, and the board and the session
never disagree.

She checks the patient in on the board (the card changes in place), opens the session
from the card and passes the pre-infusion checks; the physician signs the dose order on
his own screen; back on the board the card says the infusion is ready to start and offers
"Start infusion", which she presses there. One high reading (186/112, HR 124) raises one
alert naming all three values, which she acknowledges once; she records the dose, moves
the patient to recovery from the board once the 40 minutes have run, and signs the
discharge checklist on the session.

After every step a second tab of hers reloads the board and the session and compares both
with the database: the card's status badge and next step, the session's state, the
appointment's status and the session's state in the database all tell the same story.
Screenshots of three moments go to /tmp/board-session-*.png for a look at what she saw.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import Locator, Page, expect

from conftest import PASSWORD
from infusions.models import InfusionSession, SessionAlert
from scheduling.models import Appointment, AppointmentStatus
from tests.browser.test_infusion_session import (
    enter_reading,
    fill_pre_infusion_checks,
    ines_infusion,
    sign_in,
)
from tests.clock import advance
from tests.second_factor import current_code, enrol_authenticator

pytestmark = pytest.mark.browser

TABLET = {"width": 820, "height": 1180}
SCREENSHOTS = Path(tempfile.gettempdir())
READY_TO_START = "Checks passed · ready to start"
# The appointment's status while its session is in each state.
STATUS_FOR_STATE = {
    "scheduled": AppointmentStatus.BOOKED,
    "checked_in": AppointmentStatus.CHECKED_IN,
    "pre_assessment_passed": AppointmentStatus.CHECKED_IN,
    "infusing": AppointmentStatus.INFUSING,
    "recovering": AppointmentStatus.RECOVERING,
    "discharged": AppointmentStatus.DISCHARGED,
}


@pytest.fixture
def appointment(nina, phil) -> Appointment:
    return ines_infusion(nina, phil)


def local_day(appointment: Appointment) -> str:
    return timezone.localtime(appointment.starts_at, appointment.location.tz).date().isoformat()


def board_url_of(appointment: Appointment) -> str:
    return (
        f"/staff/schedule/?location={appointment.location.public_id}&date={local_day(appointment)}"
    )


def card_of(page: Page, appointment: Appointment) -> Locator:
    return page.locator(f"#appointment-{appointment.public_id}")


def assert_board_and_session_agree(
    watcher: Page, appointment: Appointment, *, state: str, step: str
) -> None:
    """The database holds the session in ``state`` and the appointment in the matching
    status, and a fresh look at the board and at the session (in ``watcher``, a second
    tab) shows the same: the card's status badge, its next ``step``, the buttons it offers,
    and the session screen's state."""
    session = InfusionSession.objects.filter(appointment=appointment).first()
    appointment.refresh_from_db()
    assert (session.state if session else "scheduled") == state
    assert appointment.status == STATUS_FOR_STATE[state]

    watcher.goto(board_url_of(appointment))
    card = card_of(watcher, appointment)
    expect(card).to_have_attribute("data-status", appointment.status)
    expect(card.get_by_test_id("status")).to_have_text(appointment.get_status_display())
    expect(card.get_by_test_id("session-step")).to_have_text(step)
    # "Start infusion" only when the session may start; "Move to recovery" only while infusing.
    expect(card.locator('[data-action="start-infusion"]')).to_have_count(
        1 if step == READY_TO_START else 0
    )
    expect(card.locator('[data-action="recovery"]')).to_have_count(1 if state == "infusing" else 0)
    expect(card.locator('[data-action="discharge"]')).to_have_count(0)
    if session is None:
        return
    session_url = reverse("infusions:session", args=[session.public_id])
    expect(card.get_by_test_id("session-link")).to_have_attribute("href", session_url)
    watcher.goto(session_url)
    expect(watcher.get_by_test_id("session-state")).to_have_text(session.get_state_display())


def press_on_the_board(page: Page, appointment: Appointment, action: str, status: str) -> None:
    """Press a card's button; the card changes in place (HTMX), the page is not reloaded."""
    page.evaluate("window.stillTheSamePage = true")
    card = card_of(page, appointment)
    card.locator(f'[data-action="{action}"]').click()
    expect(card).to_have_attribute("data-status", status)
    expect(card.get_by_role("status")).to_contain_text("Done:")
    assert page.evaluate("window.stillTheSamePage === true"), "the board reloaded"


def test_a_nurse_runs_a_session_from_the_board_and_they_never_disagree(
    new_page: Callable[..., Page], nina, phil, appointment, settings
):
    settings.SESSION_IDLE_TIMEOUT = timedelta(
        hours=4
    )  # the clock jumps through the infusion and recovery
    tablet = new_page(viewport=TABLET, has_touch=True)
    sign_in(tablet, nina.email)
    watcher = tablet.context.new_page()  # her second tab, to compare the board and the session
    tablet.goto(board_url_of(appointment))
    card = card_of(tablet, appointment)
    expect(card.get_by_test_id("session-step")).to_have_text("Next: check in")
    assert_board_and_session_agree(watcher, appointment, state="scheduled", step="Next: check in")

    # She checks the patient in on the board.
    press_on_the_board(tablet, appointment, "check-in", "checked_in")
    expect(card.get_by_test_id("status")).to_have_text("Checked in")
    expect(card.get_by_test_id("session-step")).to_have_text("Next: pre-infusion checks")
    assert_board_and_session_agree(
        watcher, appointment, state="checked_in", step="Next: pre-infusion checks"
    )

    # She opens the session from the card: it is checked in already, no second check-in.
    card.get_by_test_id("session-link").click()
    expect(tablet.get_by_role("heading", level=1)).to_contain_text("Ines Moreau")
    expect(tablet.get_by_test_id("session-state")).to_have_text("Checked in")
    expect(tablet.get_by_test_id("move-checked_in")).to_have_count(0)

    fill_pre_infusion_checks(tablet, appointment)
    assert_board_and_session_agree(
        watcher, appointment, state="checked_in", step="Next: pre-infusion checks"
    )

    tablet.get_by_test_id("move-pre_assessment_passed").click()
    expect(tablet.get_by_test_id("session-state")).to_have_text("Pre-assessment passed")
    assert_board_and_session_agree(
        watcher,
        appointment,
        state="pre_assessment_passed",
        step="Checks passed · next: the dose order",
    )

    # The physician signs the dose order on his own screen.
    desk = new_page(viewport=TABLET)
    sign_in(desk, phil.email)
    desk.goto(tablet.url)
    order = desk.get_by_test_id("dose-order-form")
    order.get_by_label("Dose (mg/kg)").fill("0.5")
    order.get_by_label("Duration (minutes)").fill("40")
    order.get_by_label("Bag or syringe concentration (mg/mL)").fill("1")
    order.get_by_role("button", name="Sign the order").click()
    expect(desk.get_by_test_id("dose-total")).to_contain_text("36.3")
    assert_board_and_session_agree(
        watcher, appointment, state="pre_assessment_passed", step=READY_TO_START
    )

    # Back on the board (the breadcrumb keeps the day), she starts the infusion there.
    tablet.get_by_test_id("board-link").click()
    expect(tablet).to_have_url(re.compile(rf"/staff/schedule/\?.*date={local_day(appointment)}"))
    expect(card.get_by_test_id("session-step")).to_have_text(READY_TO_START)
    expect(card.locator('[data-action="start-infusion"]')).to_be_visible()
    card.scroll_into_view_if_needed()
    tablet.screenshot(path=SCREENSHOTS / "board-session-1-ready-to-start.png")
    press_on_the_board(tablet, appointment, "start-infusion", "infusing")
    expect(card.get_by_test_id("status")).to_have_text("Infusing")
    expect(card.get_by_test_id("session-step")).to_have_text("Infusion running · next: recovery")
    assert_board_and_session_agree(
        watcher, appointment, state="infusing", step="Infusion running · next: recovery"
    )

    # One high reading: one alert listing the three values out of range, acknowledged once.
    card.get_by_test_id("session-link").click()
    expect(tablet.get_by_test_id("session-state")).to_have_text("Infusing")
    enter_reading(tablet, systolic=186, diastolic=112, heart_rate=124)
    alert = tablet.get_by_test_id("open-alert")
    expect(alert).to_have_count(1)
    findings = alert.get_by_test_id("alert-findings")
    for value in ("186", "112", "124"):
        expect(findings).to_contain_text(value)
    alert.scroll_into_view_if_needed()
    tablet.screenshot(path=SCREENSHOTS / "board-session-2-one-alert.png")
    watcher.goto(board_url_of(appointment))
    expect(card_of(watcher, appointment).get_by_test_id("open-alerts")).to_contain_text(
        "1 open alert"
    )
    alert.get_by_role("button", name="Slow the infusion").click()
    expect(tablet.get_by_test_id("open-alert")).to_have_count(0)
    [acknowledged] = SessionAlert.objects.filter(session__appointment=appointment)
    assert (acknowledged.acknowledged_by, acknowledged.action) == (nina, "slow")
    assert_board_and_session_agree(
        watcher, appointment, state="infusing", step="Infusion running · next: recovery"
    )
    expect(card_of(watcher, appointment).get_by_test_id("open-alerts")).to_have_count(0)

    # The dose given, the rest wasted in front of the physician.
    given = tablet.get_by_test_id("dose-give-form")
    given.get_by_label("Lot").select_option(index=1)
    given.get_by_label("Drawn up (mg)").fill("50")
    given.get_by_label("Given (mg)").fill("36.3")
    given.get_by_label("Waste witnessed by").select_option(label=phil.full_name)
    given.get_by_label("Witness's password").fill(PASSWORD)
    # Phil signs in with an authenticator app, so he types its code too.
    given.get_by_label("Witness's 6-digit code").fill(current_code(enrol_authenticator(phil)))
    given.get_by_role("button", name="Record the dose given").click()
    expect(tablet.get_by_test_id("dose-administration")).to_contain_text("13.7")
    assert_board_and_session_agree(
        watcher, appointment, state="infusing", step="Infusion running · next: recovery"
    )

    # Once the 40 minutes have run, she moves the patient to recovery from the board.
    advance(40)
    tablet.get_by_test_id("board-link").click()
    press_on_the_board(tablet, appointment, "recovery", "recovering")
    expect(card.get_by_test_id("status")).to_have_text("Recovering")
    expect(card.get_by_test_id("session-step")).to_have_text(
        "Recovering · next: discharge checklist"
    )
    assert_board_and_session_agree(
        watcher, appointment, state="recovering", step="Recovering · next: discharge checklist"
    )

    # After the least recovery time she signs the discharge checklist on the session.
    advance(30)
    card.get_by_test_id("session-link").click()
    expect(tablet.get_by_test_id("session-state")).to_have_text("Recovering")
    # The high reading is still the latest: she takes another, and the discharge panel follows.
    expect(tablet.get_by_test_id("discharge-latest")).to_contain_text("186/112")
    enter_reading(tablet, systolic=136, diastolic=84, heart_rate=80)
    expect(tablet.get_by_test_id("discharge-latest")).to_contain_text("136/84")
    expect(tablet.get_by_test_id("discharge-unresolved")).to_have_count(0)
    assert_board_and_session_agree(
        watcher, appointment, state="recovering", step="Recovering · next: discharge checklist"
    )
    checklist = tablet.get_by_test_id("discharge-form")
    checklist.get_by_text("Vital signs are back near the patient's baseline").click()
    checklist.get_by_text("Alert and oriented").click()
    checklist.get_by_label("Modified Aldrete score").select_option("10")
    checklist.get_by_text("An adult escort is here to take the patient home").click()
    expect(checklist.get_by_label("Escort's name")).to_have_value("Paul Moreau")
    checklist.get_by_text("After-care instructions given").click()
    checklist.get_by_test_id("discharge-sign").click()
    expect(tablet.get_by_test_id("session-state")).to_have_text("Discharged")
    assert_board_and_session_agree(watcher, appointment, state="discharged", step="Gone home")

    tablet.get_by_test_id("board-link").click()
    expect(card.get_by_test_id("status")).to_have_text("Discharged")
    card.scroll_into_view_if_needed()
    tablet.screenshot(path=SCREENSHOTS / "board-session-3-discharged.png")
    # Nothing on the tablet scrolls sideways, and the nurse checked in once.
    assert tablet.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    assert appointment.status_changes.filter(to_status=AppointmentStatus.CHECKED_IN).count() == 1
