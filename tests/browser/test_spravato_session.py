"""A nurse runs a Spravato (esketamine) session on a tablet, under the REMS.

She opens the session of the patient's Spravato session appointment, checks the patient in,
records the checks before the dose with the blood pressure, records the patient's REMS
enrolment, and the 56 mg dose with each device's lot. About 40 minutes later the page asks
for the blood pressure; she takes it on the flowsheet and assesses sedation, dissociation and
respiratory depression until they resolve. At 1 h 59 min discharge is refused; at 2 h it is
signed, and the Patient Monitoring Form is complete and printed.

The patient is cleared for infusions; the location is certified as a REMS setting and holds
esketamine devices.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from infusions.models import EsketamineDose, InfusionSession, RemsMonitoringForm
from infusions.tests.rems_factories import certified, esketamine_stock
from patients.tests.factories import PatientFactory
from scheduling.tests.test_booking import book, cleared_for_infusions, riverside_for
from tests.browser.staff import sign_in
from tests.browser.test_infusion_session import TABLET, enter_reading, fill_pre_infusion_checks
from tests.clock import travel_to

pytestmark = pytest.mark.browser


@pytest.fixture
def appointment(nina, phil):
    """Ravi Shah's Spravato session appointment at 09:00 next week at a certified Riverside with 12
    esketamine devices, and the clock at 08:50 that day."""
    riverside = riverside_for(nina, phil)
    esketamine_stock(riverside, nina)
    certified(riverside, phil)
    patient = PatientFactory(legal_first_name="Ravi", legal_last_name="Shah")
    appointment = book(nina, cleared_for_infusions(phil, patient), riverside, "spravato", hour=9)
    travel_to(appointment.starts_at - timedelta(minutes=10))
    return appointment


def state(page: Page):
    return page.get_by_test_id("session-state")


def at(dose: EsketamineDose, minutes: int) -> None:
    travel_to(dose.given_at + timedelta(minutes=minutes))


def assess(page: Page, *, sedation: str, dissociation: str) -> None:
    """Record an assessment; returns once the page shows it (the clock moves and the page
    reloads next: neither may race the form's answer)."""
    rows = page.locator('[data-testid="rems-assessments"] tbody tr')
    before = rows.count()
    form = page.get_by_test_id("rems-assessment-form")
    form.locator(f'input[name="sedation"][value="{sedation}"]').check()
    form.locator(f'input[name="dissociation"][value="{dissociation}"]').check()
    form.locator('input[name="respiratory_depression"][value="absent"]').check()
    form.get_by_role("button", name="Record the assessment").click()
    expect(rows).to_have_count(before + 1)


def fill_discharge(page: Page) -> None:
    checklist = page.get_by_test_id("discharge-form")
    checklist.get_by_text("Vital signs are back near the patient's baseline").click()
    checklist.get_by_text("Alert and oriented").click()
    checklist.get_by_label("Modified Aldrete score").select_option("10")
    checklist.get_by_text("An adult escort is here to take the patient home").click()
    checklist.get_by_text("After-care instructions given").click()
    checklist.get_by_test_id("discharge-sign").click()


def test_a_nurse_runs_a_spravato_session_on_a_tablet(
    new_page: Callable[..., Page], nina, appointment, settings
):
    settings.SESSION_IDLE_TIMEOUT = timedelta(hours=4)
    chair = new_page(viewport=TABLET)
    sign_in(chair, nina.email)

    # A Spravato session, checked in, past its checks (the blood pressure before the dose).
    chair.goto(f"/staff/schedule/appointments/{appointment.public_id}/")
    chair.get_by_test_id("open-session").click()
    expect(chair.get_by_role("heading", level=1)).to_contain_text("Spravato session")
    expect(chair.get_by_test_id("rems-not-enrolled")).to_be_visible()
    chair.get_by_test_id("move-checked_in").click()
    expect(state(chair)).to_have_text("Checked in")
    fill_pre_infusion_checks(chair, appointment)
    chair.reload()
    chair.get_by_test_id("move-pre_assessment_passed").click()
    expect(state(chair)).to_have_text("Pre-assessment passed")

    # The dose is refused until the patient's REMS enrolment is recorded.
    dose_form = chair.get_by_test_id("rems-dose-form")
    dose_form.get_by_label("56 mg: 2 devices").check()
    dose_form.get_by_label("Device 1: lot number").select_option(index=1)
    dose_form.get_by_label("Device 2: lot number").select_option(index=1)
    dose_form.get_by_role("button", name="Record the dose").click()
    expect(chair.get_by_text("not enrolled in the Spravato REMS").first).to_be_visible()
    enrol = chair.get_by_test_id("rems-enrol-form")
    enrol.get_by_label("REMS patient ID").fill("PT-55012")
    enrol.get_by_label("Enrolment date").fill(timezone.localdate().isoformat())
    enrol.get_by_role("button", name="Record the enrolment").click()
    expect(chair.get_by_test_id("rems-enrolment")).to_contain_text("PT-55012")

    dose_form = chair.get_by_test_id("rems-dose-form")
    dose_form.get_by_label("56 mg: 2 devices").check()
    dose_form.get_by_label("Device 1: lot number").select_option(index=1)
    dose_form.get_by_label("Device 2: lot number").select_option(index=1)
    dose_form.get_by_role("button", name="Record the dose").click()
    expect(chair.get_by_test_id("rems-dose")).to_contain_text("56 mg (2 devices)")
    expect(chair.get_by_test_id("rems-dose")).to_contain_text("SPR-2607")
    expect(state(chair)).to_have_text("Recovering")
    dose = EsketamineDose.objects.get(session__appointment=appointment)

    # About 40 minutes later the page asks for the blood pressure; she takes it.
    at(dose, 39)
    chair.reload()
    expect(chair.get_by_test_id("rems-bp-due")).to_be_visible()
    enter_reading(chair, systolic=136, diastolic=86, heart_rate=80)
    chair.reload()
    expect(chair.get_by_test_id("rems-bp-after")).to_contain_text("136/86")

    # Sedated and dissociated at first; all resolved by 100 minutes.
    at(dose, 60)
    chair.reload()
    assess(chair, sedation="present", dissociation="present")
    expect(chair.get_by_test_id("rems-assessments")).to_contain_text("Present")
    at(dose, 100)
    chair.reload()
    assess(chair, sedation="absent", dissociation="absent")

    # 1 h 59 min: the blood pressure before discharge, and discharge refused.
    at(dose, 119)
    chair.reload()
    enter_reading(chair, systolic=124, diastolic=80, heart_rate=72)
    chair.reload()
    fill_discharge(chair)
    # The refusal itself (wait for it: the clock must not move on before it is answered).
    refusal = chair.get_by_test_id("discharge-errors")
    expect(refusal).to_contain_text("at least 2 h of monitoring")
    expect(refusal).to_contain_text("1 h 59 min")
    expect(state(chair)).to_have_text("Recovering")

    # 2 h: allowed.
    at(dose, 120)
    chair.reload()
    fill_discharge(chair)
    expect(state(chair)).to_have_text("Discharged")
    session = InfusionSession.objects.get(appointment=appointment)
    assert session.state == "discharged"

    # The Patient Monitoring Form, complete, printed.
    chair.get_by_test_id("rems-form-link").click()
    form = chair.get_by_test_id("rems-form")
    expect(form).to_contain_text("PT-55012")
    expect(chair.get_by_test_id("f-lots")).to_have_text("SPR-2607, SPR-2607")
    expect(chair.get_by_test_id("f-bps")).to_contain_text("136/86")
    expect(chair.get_by_test_id("f-bps")).to_contain_text("124/80")
    expect(chair.get_by_test_id("rems-form-missing")).to_have_count(0)
    chair.evaluate("window.__printed = 0; window.print = () => { window.__printed += 1; }")
    chair.get_by_test_id("print-button").click()
    assert chair.evaluate("window.__printed") >= 1
    chair.emulate_media(media="print")
    expect(chair.get_by_test_id("print-button")).to_be_hidden()
    expect(form).to_be_visible()
    assert chair.pdf()[:4] == b"%PDF"
    chair.emulate_media(media="screen")
    assert chair.evaluate("document.documentElement.scrollWidth <= window.innerWidth")

    # Marked submitted: it leaves the tracker.
    submit = chair.get_by_test_id("rems-submit-form")
    submit.get_by_label("Date submitted to the REMS").fill(
        timezone.now().astimezone(appointment.location.tz).date().isoformat()
    )
    submit.get_by_role("button", name="Mark submitted").click()
    expect(chair.get_by_test_id("rems-form-submitted")).to_be_visible()
    assert RemsMonitoringForm.objects.get(session=session).submitted_by == nina
