"""A nurse plans a patient's induction course from the chart, moves one proposed infusion to
another free time, books all six in one step, and finds the first on the day board, where
checking the patient in changes the card in place.

The patient is cleared for infusions (an approved screening decision and the consent form
signed); the clinic is open Monday to Saturday with two chairs and the nurse on shift.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, time, timedelta

import pytest
from playwright.sync_api import Page, expect

from clinic.models import Location
from patients.models import Patient
from patients.tests.factories import PatientFactory
from scheduling.availability import slot_is_free
from scheduling.models import Appointment, AppointmentStatus, TreatmentCourse
from scheduling.tests.factories import appointment_type, clinic_location
from scheduling.tests.test_booking import at, cleared_for_infusions
from tests.browser.staff import sign_in
from tests.clock import travel_to

pytestmark = pytest.mark.browser

MONDAY_TO_SATURDAY = range(6)
COUNT = 6
MOVED = 2  # the infusion the nurse moves
MOVED_TO = time(11, 30)  # later the same day: the planner proposes opening time


@pytest.fixture
def riverside(nina) -> Location:
    return clinic_location(name="Riverside", chairs=2, staff=[nina], weekdays=MONDAY_TO_SATURDAY)


@pytest.fixture
def patient(phil, riverside) -> Patient:
    patient = PatientFactory(legal_first_name="Maya", legal_last_name="Okafor")
    patient.preferred_location = riverside
    patient.save(update_fields=["preferred_location"])
    return cleared_for_infusions(phil, patient)


def proposed(page: Page, number: int) -> tuple[date, time]:
    row = page.get_by_test_id(f"infusion-{number}")
    day = row.get_by_label(f"Infusion {number}: date").input_value()
    at_time = row.get_by_label(f"Infusion {number}: time").input_value()
    return date.fromisoformat(day), time.fromisoformat(at_time)


def test_a_nurse_plans_an_induction_course_and_checks_the_patient_in_on_the_day_board(
    new_page: Callable[..., Page], nina, riverside, patient: Patient
):
    desk = new_page()
    sign_in(desk, nina.email)
    desk.get_by_test_id("staff-nav").get_by_role("link", name="Patients").click()
    desk.get_by_role("link", name="Okafor, Maya").click()
    expect(desk.get_by_role("heading", level=1)).to_have_text("Maya Okafor")
    desk.get_by_role("link", name="Plan a course").click()

    # The settings come filled in with the clinic's defaults; planning proposes six times.
    expect(desk.get_by_role("heading", level=1)).to_have_text("Plan a treatment course")
    settings = desk.get_by_test_id("course-settings")
    expect(settings.get_by_label("Number of infusions")).to_have_value(str(COUNT))
    settings.get_by_role("button", name="Plan the infusions").click()

    proposal = desk.get_by_test_id("proposal")
    expect(proposal.get_by_role("heading", name="Proposed infusions")).to_be_visible()
    expect(proposal.get_by_role("listitem").filter(has_text="Infusion")).to_have_count(COUNT)
    plan = [proposed(desk, number) for number in range(1, COUNT + 1)]
    days = [day for day, _ in plan]
    assert days == sorted(days) and len(set(days)) == COUNT
    assert all(day.weekday() in MONDAY_TO_SATURDAY for day in days)

    # The nurse moves one infusion to a time the planner did not use, which is free.
    moved_day, planned_time = plan[MOVED - 1]
    assert planned_time != MOVED_TO
    moved_at = at(riverside, moved_day, MOVED_TO.hour, MOVED_TO.minute)
    infusion = appointment_type("infusion")
    assert slot_is_free(
        location=riverside, appointment_type=infusion, starts_at=moved_at, patient=patient
    )
    proposal.get_by_label(f"Infusion {MOVED}: time").fill(f"{MOVED_TO:%H:%M}")
    proposal.get_by_role("button", name=f"Confirm and book all {COUNT} infusions").click()

    # One step books them all: the course page shows its progress and the six infusions.
    expect(desk.get_by_role("heading", level=1)).to_have_text("Treatment course")
    expect(desk.get_by_test_id("progress")).to_have_text(f"0 of {COUNT}")
    rows = desk.get_by_test_id("course-appointment")
    expect(rows).to_have_count(COUNT)
    expect(rows.nth(MOVED - 1)).to_contain_text(
        f"{moved_day:%a} {moved_day.day} {moved_day:%b %Y}, {MOVED_TO:%H:%M}"
    )
    for number in range(COUNT):
        expect(rows.nth(number)).to_contain_text("Booked")

    course = TreatmentCourse.objects.get(patient=patient)
    assert course.location == riverside
    assert course.planned_infusions == COUNT
    booked = list(course.appointments.order_by("starts_at"))
    assert [one.status for one in booked] == [AppointmentStatus.BOOKED] * COUNT
    assert booked[MOVED - 1].starts_at == moved_at
    assert [one.starts_at for one in booked] == [
        at(riverside, day, when.hour, when.minute)
        for day, when in [*plan[: MOVED - 1], (moved_day, MOVED_TO), *plan[MOVED:]]
    ]
    first = booked[0]

    # The morning of the first infusion: the nurse signs in again and opens the day board.
    travel_to(first.starts_at - timedelta(minutes=10))
    sign_in(desk, nina.email)
    desk.get_by_test_id("staff-nav").get_by_role("link", name="Schedule").click()
    expect(desk.get_by_role("heading", level=1)).to_have_text("Schedule")
    chooser = desk.get_by_role("form", name="Choose the location and day")
    chooser.get_by_label("Location", exact=True).select_option(label="Riverside")
    chooser.get_by_label("Date", exact=True).fill(days[0].isoformat())
    chooser.get_by_role("button", name="Show").click()
    expect(desk.get_by_test_id("board-day")).to_contain_text(f"{days[0]:%a} {days[0].day}")
    card = desk.get_by_test_id("chair-grid").get_by_test_id("appointment")
    expect(card).to_have_count(1)
    expect(card).to_contain_text("Maya Okafor")
    expect(card).to_contain_text(f"{plan[0][1]:%H:%M}")
    expect(card.get_by_test_id("status")).to_have_text("Booked")

    # Checking in swaps the card in place: the page itself is not loaded again.
    desk.evaluate("window.boardNotReloaded = true")
    card.get_by_role("button", name="Check in").click()
    expect(card.get_by_test_id("status")).to_have_text("Checked in")
    expect(card.get_by_role("status")).to_contain_text("Maya Okafor: checked in.")
    # The board follows the session: its next step, and no "Start infusion" before the
    # pre-infusion checks and a signed dose order.
    expect(card.get_by_test_id("session-step")).to_have_text("Next: pre-infusion checks")
    expect(card.get_by_role("button", name="Start infusion")).to_have_count(0)
    assert desk.evaluate("window.boardNotReloaded === true")

    first.refresh_from_db()
    assert first.status == AppointmentStatus.CHECKED_IN
    assert Appointment.objects.filter(course=course, status=AppointmentStatus.BOOKED).count() == (
        COUNT - 1
    )
