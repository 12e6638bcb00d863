"""A patient on a phone books a consultation for tomorrow morning, less than 24 hours ahead,
and a minute later moves it online with the manage link from the confirmation page: the
grace after booking online (ONLINE_CHANGE_GRACE_MINUTES) allows it, whatever the 24 hours'
notice says, and the confirmation and the manage page promise the same deadline.

The server's clock is set (time-machine; the live server runs in this process) to late
afternoon in Chicago, so "tomorrow at 8:00 AM" is always inside the notice period.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, time, timedelta

import pytest
import time_machine
from playwright.sync_api import Page, expect

from clinic.models import Location
from scheduling.models import Appointment, AppointmentStatus
from scheduling.tests.test_booking import at
from tests.browser.test_booking_flow import (
    CHICAGO,
    PHONE,
    booking_cache,  # noqa: F401 (an autouse fixture: this test's own cache)
    expect_page,
    riverside,  # noqa: F401 (a fixture)
    when_text,
)

pytestmark = pytest.mark.browser


def test_a_patient_books_for_tomorrow_on_a_phone_and_moves_it_online_a_minute_later(
    new_page: Callable[..., Page],
    riverside: Location,  # noqa: F811
    settings,
):
    settings.CANCEL_NOTICE_HOURS = 24
    settings.ONLINE_CHANGE_GRACE_MINUTES = 60
    booked_at = datetime.combine(
        datetime.now(CHICAGO).date() + timedelta(days=1), time(17), CHICAGO
    )
    tomorrow = booked_at.date() + timedelta(days=1)
    first, moved_to = when_text(tomorrow, time(8)), when_text(tomorrow, time(9, 30))
    # Booked at 5:00 PM: changeable online until 6:00 PM, though it starts in 15 hours.
    deadline = f"until {when_text(booked_at.date(), time(18))}."

    phone = new_page(**PHONE)
    with time_machine.travel(booked_at, tick=True):
        phone.goto(f"/book/{riverside.public_id}/?week=0")
        expect_page(phone, "Choose a time at Riverside")
        phone.get_by_role("link", name=first, exact=True).tap()

        expect_page(phone, "Your details")
        phone.get_by_label("First name").fill("Sam")
        phone.get_by_label("Last name").fill("Lee")
        phone.get_by_label("Date of birth").fill("1990-07-14")
        phone.get_by_label("Male", exact=True).tap()
        phone.get_by_role("textbox", name="Email").fill("sam.lee@example.com")
        phone.get_by_role("textbox", name="Mobile number").fill("(312) 555-0199")
        phone.get_by_label("What would you like help with?").select_option(label="Migraine")
        phone.get_by_role("button", name="Book this time").tap()

        expect_page(phone, "You're booked")
        expect(phone.get_by_test_id("booking-when")).to_have_text(first)
        promised = phone.get_by_test_id("change-deadline").inner_text()
        assert deadline in promised

    appointment = Appointment.objects.get(location=riverside)
    assert appointment.starts_at == at(riverside, tomorrow, 8)
    assert appointment.starts_at - appointment.created_at < timedelta(hours=24)

    # A minute later, still on the confirmation page, they change their mind.
    with time_machine.travel(booked_at + timedelta(minutes=1), tick=True):
        phone.get_by_test_id("manage-link").tap()
        expect_page(phone, "Your booking")
        assert phone.get_by_test_id("change-deadline").inner_text() == promised
        phone.get_by_role("link", name="Choose another time").tap()

        expect_page(phone, "Choose another time")
        phone.get_by_role("link", name=moved_to, exact=True).tap()

        expect_page(phone, "Move your appointment?")
        expect(phone.get_by_test_id("new-when")).to_have_text(moved_to)
        phone.get_by_role("button", name="Yes, move it").tap()

        expect_page(phone, "Your booking")
        expect(phone.get_by_role("status").first).to_contain_text(
            f"Your appointment has moved to {moved_to}."
        )
        expect(phone.get_by_test_id("booking-when")).to_have_text(moved_to)
        # Moving does not stretch the grace: the same deadline as before.
        assert phone.get_by_test_id("change-deadline").inner_text() == promised

    appointment.refresh_from_db()
    assert appointment.status == AppointmentStatus.BOOKED
    assert appointment.starts_at == at(riverside, tomorrow, 9, 30)
    assert Appointment.objects.count() == 1
