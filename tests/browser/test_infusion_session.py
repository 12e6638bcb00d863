"""A nurse runs a whole infusion session on a tablet, from check-in to discharge.

She opens the session from the appointment, checks the patient in, records the
pre-infusion checks and vital signs, and passes the pre-assessment; a physician signs the
dose order from his own screen; she starts the infusion, enters readings on the flowsheet
(one raises a blood-pressure alert, which she acknowledges), records the dose given with
the rest wasted in front of a witness, ends the infusion and signs the discharge checklist.

The patient is cleared for infusions (approved screening, consent signed); the clinic has
a lot of ketamine in stock at the location.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from conftest import PASSWORD
from infusions.ledger import lot_receive
from infusions.models import DoseAdministration, InfusionSession, SessionAlert
from infusions.tests.factories import SUPPLIER, dea_registered
from patients.tests.factories import PatientFactory
from scheduling.models import AppointmentStatus
from scheduling.tests.test_booking import book, cleared_for_infusions, riverside_for
from tests.browser.staff import sign_in
from tests.clock import advance, travel_to
from tests.second_factor import current_code, enrol_authenticator

pytestmark = pytest.mark.browser

TABLET = {"width": 820, "height": 1180}
# What htmx marks while it asks, swaps and settles: none of them on the page, htmx is done.
HTMX_BUSY = ".htmx-request, .htmx-swapping, .htmx-settling, .htmx-added"


@pytest.fixture
def appointment(nina, phil):
    return ines_infusion(nina, phil)


def ines_infusion(nina, phil):
    """Ines Moreau's infusion at 09:00 next week at a Riverside with a lot of ketamine in
    stock, and the clock at 08:50 that day."""
    riverside = riverside_for(nina, phil)
    lot_receive(
        actor=nina,
        location=dea_registered(riverside),
        product_name="Ketamine HCl 50 mg/mL",
        concentration_mg_per_ml=Decimal(50),
        container_volume_ml=Decimal(10),
        containers_received=1,
        lot_number="KX-2001",
        expiry_date=timezone.localdate() + timedelta(days=365),
        supplier="Midwest Pharma Supply",
        **SUPPLIER,
        invoice_number="INV-2001",
    )
    patient = PatientFactory(legal_first_name="Ines", legal_last_name="Moreau")
    appointment = book(nina, cleared_for_infusions(phil, patient), riverside, "infusion", hour=9)
    travel_to(appointment.starts_at - timedelta(minutes=10))  # check-in is open
    return appointment


def state(page: Page):
    return page.get_by_test_id("session-state")


def fill_pre_infusion_checks(page: Page, appointment) -> None:
    """Identity, today's weight (72.5 kg), a negative pregnancy test, the escort, the last
    meal eight hours ago, and normal vital signs before the infusion."""
    checks = page.get_by_test_id("pre-form")
    checks.get_by_label("Identity confirmed").check()
    checks.get_by_label("Weight today (kg)").fill("72.5")
    checks.get_by_label("Pregnancy test today: negative").check()
    checks.get_by_label("An adult escort will take the patient home").check()
    checks.get_by_label("Escort's name").fill("Paul Moreau")
    last_ate = timezone.localtime(
        timezone.now() - timedelta(hours=8), appointment.location.tz
    ).strftime("%Y-%m-%dT%H:%M")
    # "Last ate" before a Spravato dose, "Last ate or drank (other than water)" before an IV.
    checks.get_by_label("Last ate").fill(last_ate)
    checks.get_by_role("button", name="Save the checks").click()
    expect(page.get_by_test_id("pre-done")).to_be_visible()
    vitals = page.get_by_test_id("pre-vitals-form")
    vitals.get_by_label("Systolic (mmHg)").fill("128")
    vitals.get_by_label("Diastolic (mmHg)").fill("82")
    vitals.get_by_label("Heart rate (/min)").fill("74")
    vitals.get_by_label("SpO2 (%)").fill("98")
    vitals.get_by_label("Respiratory rate (/min)").fill("14")
    vitals.get_by_label("Level of consciousness").select_option("1")
    vitals.get_by_role("button", name="Save the vital signs").click()
    expect(page.locator('[data-check="vitals"]')).to_have_attribute("data-done", "yes")


@contextmanager
def chart_redrawn(page: Page) -> Iterator[None]:
    """Wait, after the block saves a reading or an event or marks one in error, until the
    chart has asked for itself again (``?part=chart``, on the answer's session-records-changed)
    and htmx has swapped it in. A reload or another page straight after the save would
    otherwise race that request (Page.reload: "Not attached to an active page")."""
    with page.expect_response(lambda response: "part=chart" in response.url) as redraw:
        yield
    redraw.value.finished()
    expect(page.locator(HTMX_BUSY)).to_have_count(0)


def enter_reading(page: Page, *, systolic: int, diastolic: int, heart_rate: int) -> None:
    """Save a reading on the flowsheet; returns once the chart has redrawn itself with it."""
    form = page.get_by_test_id("reading-form")
    form.get_by_label("Systolic (mmHg)").fill(str(systolic))
    form.get_by_label("Diastolic (mmHg)").fill(str(diastolic))
    form.get_by_label("Heart rate (/min)").fill(str(heart_rate))
    form.get_by_label("SpO2 (%)").fill("98")
    form.get_by_label("Resp. rate (/min)").fill("14")
    form.get_by_text("2 – Relaxed or mildly dissociated").click()
    with chart_redrawn(page):
        form.get_by_test_id("save-reading").click()


def test_a_nurse_runs_a_whole_session_on_a_tablet(
    new_page: Callable[..., Page], nina, phil, appointment, settings
):
    # The clock jumps through the infusion and recovery: no idle sign-out meanwhile.
    settings.SESSION_IDLE_TIMEOUT = timedelta(hours=4)
    chair = new_page(viewport=TABLET)
    sign_in(chair, nina.email)

    # Open the session from the appointment, and check the patient in.
    chair.goto(f"/staff/schedule/appointments/{appointment.public_id}/")
    chair.get_by_test_id("open-session").click()
    expect(chair.get_by_role("heading", level=1)).to_contain_text("Ines Moreau")
    expect(state(chair)).to_have_text("Scheduled")
    chair.get_by_test_id("move-checked_in").click()
    expect(state(chair)).to_have_text("Checked in")

    # The pre-infusion checks, then the vital signs before the infusion.
    fill_pre_infusion_checks(chair, appointment)

    chair.reload()
    chair.get_by_test_id("move-pre_assessment_passed").click()
    expect(state(chair)).to_have_text("Pre-assessment passed")

    # The physician signs the dose order on his own screen: 0.5 mg/kg of 72.5 kg = 36.3 mg.
    desk = new_page(viewport=TABLET)
    sign_in(desk, phil.email)
    desk.goto(chair.url)
    order = desk.get_by_test_id("dose-order-form")
    order.get_by_label("Dose (mg/kg)").fill("0.5")
    order.get_by_label("Duration (minutes)").fill("40")
    order.get_by_label("Bag or syringe concentration (mg/mL)").fill("1")
    order.get_by_role("button", name="Sign the order").click()
    expect(desk.get_by_test_id("dose-total")).to_contain_text("36.3")

    # The nurse starts the infusion.
    chair.reload()
    expect(chair.get_by_test_id("dose-total")).to_contain_text("36.3")
    chair.get_by_test_id("move-infusing").click()
    expect(state(chair)).to_have_text("Infusing")

    # A reading over the alert limit raises an alert; she acknowledges it.
    chart = chair.locator("section#chart")
    expect(chart.get_by_test_id("chart-empty")).to_have_count(0)
    expect(chart.locator("figcaption")).to_contain_text("1 reading from")
    enter_reading(chair, systolic=184, diastolic=104, heart_rate=96)
    # The chart redraws itself with the reading, without a reload.
    expect(chart.locator("figcaption")).to_contain_text("2 readings from")
    alert = chair.get_by_test_id("open-alert")
    expect(alert).to_contain_text("184")
    alert.get_by_role("button", name="Slow the infusion").click()
    expect(chair.get_by_test_id("open-alert")).to_have_count(0)
    enter_reading(chair, systolic=142, diastolic=88, heart_rate=84)
    # The reading before the infusion and these two; the chart, swapped in whole by the first
    # redraw, still listens and redraws itself again (one chart, not one inside another).
    expect(chair.get_by_test_id("reading")).to_have_count(3)
    expect(chart.locator("figcaption")).to_contain_text("3 readings from")
    expect(chart).to_have_count(1)
    expect(chart).to_have_attribute("hx-trigger", "session-records-changed from:body")

    # A reading meant for the next chair is marked in error, from the keyboard: the row's
    # link opens the form in place, with the cursor in the reason box.
    enter_reading(chair, systolic=118, diastolic=76, heart_rate=70)
    expect(chair.get_by_test_id("reading")).to_have_count(4)
    expect(chart.locator("figcaption")).to_contain_text("4 readings from")
    chair.get_by_test_id("in-error-open").last.focus()
    chair.keyboard.press("Enter")
    reason = chair.get_by_label("Why is it wrong?")
    expect(reason).to_be_focused()
    reason.fill("Taken from the next chair's patient")
    with chart_redrawn(chair):
        reason.press("Enter")
    expect(chair.locator('[data-testid="reading"][data-in-error="true"]')).to_contain_text(
        "Taken from the next chair's patient"
    )
    # The chart leaves out the reading in error, without a reload.
    expect(chart.locator("figcaption")).to_contain_text("3 readings from")

    # The dose given, and the rest of what was drawn wasted in front of the physician.
    given = chair.get_by_test_id("dose-give-form")
    given.get_by_label("Lot").select_option(index=1)
    given.get_by_label("Drawn up (mg)").fill("50")
    given.get_by_label("Given (mg)").fill("36.3")
    given.get_by_label("Waste witnessed by").select_option(label=phil.full_name)
    given.get_by_label("Witness's password").fill(PASSWORD)
    # Phil signs in with an authenticator app, so he types its code too.
    given.get_by_label("Witness's 6-digit code").fill(current_code(enrol_authenticator(phil)))
    given.get_by_role("button", name="Record the dose given").click()
    expect(chair.get_by_test_id("dose-administration")).to_contain_text("13.7")

    # Recovery once the 40 minutes have run, then discharge after the least recovery time.
    advance(40)
    chair.reload()
    chair.get_by_test_id("move-recovering").click()
    expect(state(chair)).to_have_text("Recovering")
    advance(30)
    chair.reload()
    checklist = chair.get_by_test_id("discharge-form")
    # The checklist's boxes are large toggle buttons: the nurse taps their labels.
    checklist.get_by_text("Vital signs are back near the patient's baseline").click()
    checklist.get_by_text("Alert and oriented").click()
    checklist.get_by_label("Modified Aldrete score").select_option("10")
    checklist.get_by_text("An adult escort is here to take the patient home").click()
    expect(checklist.get_by_label("Escort's name")).to_have_value("Paul Moreau")
    checklist.get_by_text("After-care instructions given").click()
    checklist.get_by_test_id("discharge-sign").click()
    expect(state(chair)).to_have_text("Discharged")
    expect(chair.get_by_test_id("discharge-signed")).to_be_visible()

    # The record: every step kept, the alert acknowledged by the nurse, the drug accounted for.
    session = InfusionSession.objects.get(appointment=appointment)
    assert session.state == "discharged"
    session.appointment.refresh_from_db()
    assert session.appointment.status == AppointmentStatus.DISCHARGED
    [acknowledged] = SessionAlert.objects.filter(session=session)
    assert (acknowledged.acknowledged_by, acknowledged.action) == (nina, "slow")
    administration = DoseAdministration.objects.get(order__session=session)
    assert (administration.administered_mg, administration.wasted_mg) == (
        Decimal("36.3"),
        Decimal("13.7"),
    )
    assert administration.witness == phil
    # Nothing on the tablet scrolls sideways.
    assert chair.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
