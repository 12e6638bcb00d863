"""A new visitor books a consultation from the public site on a phone, then cancels it with
the manage link from the confirmation page.

They tap through as a person would: the home page, the locations, a free time (shown on the
clinic's clock, with the zone named), the details form filled in by its labels. They agree
to text messages but not to email, so nothing is emailed and the confirmation page is where
the manage link is. Every page fits the phone's width.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Locator, Page, expect

from clinic.models import Location, OutboxMessage
from patients.models import Channel, CommunicationConsent, Patient
from scheduling.availability import slot_is_free
from scheduling.booking.booker import consent_wording
from scheduling.models import Appointment, AppointmentStatus
from scheduling.tests.factories import appointment_type, clinic_location
from scheduling.tests.test_booking import at

pytestmark = pytest.mark.browser

PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
CHICAGO = ZoneInfo("America/Chicago")


@pytest.fixture(autouse=True)
def booking_cache(settings) -> None:
    """A cache of this test's own: rate limits and form nonces never carry over from an
    earlier run (the default cache is shared and outlives the test)."""
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": f"booking-flow-{uuid.uuid4()}",
        }
    }


@pytest.fixture
def riverside(phil) -> Location:
    """Chicago, open 08:00 to 18:00 every day, with Phil the physician on shift all day."""
    return clinic_location(
        name="Riverside",
        staff=[phil],
        chairs=1,
        address_line1="1 River St",
        postal_code="60601",
        phone="+13125550100",
    )


def sideways_scroll(page: Page) -> int:
    return page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )


def expect_page(page: Page, heading: str | re.Pattern[str]) -> None:
    """The page with this main heading is showing, and it does not scroll sideways."""
    expect(page.get_by_role("heading", level=1)).to_have_text(heading)
    overflow = sideways_scroll(page)
    assert overflow <= 0, f"“{heading}” scrolls sideways by {overflow}px on a 390px phone"


def visible_area(field: Locator) -> float:
    """How many square pixels of ``field`` can be seen: its box, cut down by every ancestor
    that clips what overflows it."""
    return field.evaluate(
        """element => {
            let {left, top, right, bottom} = element.getBoundingClientRect();
            for (let box = element.parentElement; box; box = box.parentElement) {
                const style = getComputedStyle(box);
                if (style.overflow === "visible" && style.clip === "auto") continue;
                const clip = box.getBoundingClientRect();
                left = Math.max(left, clip.left);
                top = Math.max(top, clip.top);
                right = Math.min(right, clip.right);
                bottom = Math.min(bottom, clip.bottom);
            }
            return Math.max(right - left, 0) * Math.max(bottom - top, 0);
        }"""
    )


def when_text(day: date, at_time: time) -> str:
    """How the booking pages name a time, written out here: "Monday, November 2, 2026,
    10:00 AM CST"."""
    zone = datetime.combine(day, at_time, CHICAGO).tzname()
    return f"{day:%A}, {day:%B} {day.day}, {day.year}, {at_time:%-I:%M %p} {zone}"


def test_a_visitor_books_a_consultation_on_a_phone_and_cancels_it_with_the_manage_link(
    new_page: Callable[..., Page], riverside: Location, phil
):
    # Three days ahead, well outside the 24 hours' notice a cancellation needs.
    day = datetime.now(CHICAGO).date() + timedelta(days=3)
    chosen = when_text(day, time(10))
    starts_at = at(riverside, day, 10)
    consultation = appointment_type("consultation")

    phone = new_page(**PHONE)
    phone.goto("/")
    assert sideways_scroll(phone) <= 0
    phone.get_by_role("link", name="Request a consultation").tap()

    expect_page(phone, "Book a consultation")
    riverside_card = phone.get_by_role("region", name="Riverside")
    expect(riverside_card).to_contain_text("1 River St")
    expect(riverside_card).to_contain_text("America/Chicago")
    riverside_card.get_by_role("link", name="See free times at Riverside").tap()

    # The free times are on the clinic's clock, and the page says which clock that is.
    expect_page(phone, "Choose a time at Riverside")
    expect(phone.get_by_text("Times are shown in the clinic's local time")).to_contain_text(
        "America/Chicago"
    )
    day_times = phone.get_by_role("region", name=re.compile(rf"^{day:%A}, {day:%B} {day.day}, "))
    expect(day_times.get_by_role("heading")).to_contain_text(
        datetime.combine(day, time(12), CHICAGO).tzname() or ""
    )
    ten_am = day_times.get_by_role("link", name=chosen, exact=True)
    expect(ten_am).to_have_text("10:00 AM")
    ten_am.tap()

    expect_page(phone, "Your details")
    expect(phone.get_by_test_id("chosen-time")).to_contain_text(chosen)
    expect(phone.get_by_test_id("chosen-time")).to_contain_text("America/Chicago")

    # The honeypot is for bots: a person neither sees it nor reaches it with Tab.
    honeypot = phone.get_by_label("Leave this field empty")
    assert visible_area(honeypot) <= 1
    expect(honeypot).to_have_attribute("tabindex", "-1")

    phone.get_by_label("First name").fill("Jordan")
    phone.get_by_label("Last name").fill("Rivera")
    phone.get_by_label("Date of birth").fill("1984-03-27")
    phone.get_by_label("Female", exact=True).tap()
    phone.get_by_role("textbox", name="Email").fill("jordan.rivera@example.com")
    phone.get_by_role("textbox", name="Mobile number").fill("(312) 555-0142")
    phone.get_by_label("What would you like help with?").select_option(
        label="Treatment-resistant depression"
    )
    # Each box has its own wording beside it, and the booker agrees to texts only.
    sms_wording = consent_wording(Channel.SMS)
    email_wording = consent_wording(Channel.EMAIL)
    expect(phone.get_by_text(sms_wording, exact=True)).to_be_visible()
    expect(phone.get_by_text(email_wording, exact=True)).to_be_visible()
    sms_box = phone.get_by_role("checkbox", name=sms_wording)
    email_box = phone.get_by_role("checkbox", name=email_wording)
    sms_box.tap()
    expect(sms_box).to_be_checked()
    expect(email_box).not_to_be_checked()
    assert sideways_scroll(phone) <= 0
    phone.get_by_role("button", name="Book this time").tap()

    expect_page(phone, "You're booked")
    expect(phone.get_by_test_id("booking-when")).to_have_text(chosen)
    expect(phone.get_by_test_id("not-emailed")).to_be_visible()
    # Texts only: the confirmation by text, and no email of any kind.
    assert not OutboxMessage.objects.filter(channel="email").exists()
    assert OutboxMessage.objects.filter(kind="consultation_confirmation", channel="sms").exists()

    appointment = Appointment.objects.select_related("patient").get(location=riverside)
    assert appointment.status == AppointmentStatus.BOOKED
    assert appointment.starts_at == starts_at
    assert appointment.source == Appointment.Source.ONLINE
    assert appointment.clinician == phil
    patient: Patient = appointment.patient
    assert (patient.legal_first_name, patient.legal_last_name) == ("Jordan", "Rivera")
    assert patient.date_of_birth == date(1984, 3, 27)
    assert patient.mobile == "+13125550142"
    assert patient.conditions == ["trd"]
    consents = {c.channel: c for c in CommunicationConsent.objects.filter(patient=patient)}
    assert consents[Channel.SMS].granted is True
    assert consents[Channel.SMS].wording == sms_wording
    assert consents[Channel.EMAIL].granted is False
    assert not slot_is_free(location=riverside, appointment_type=consultation, starts_at=starts_at)

    # The calendar file is on the clinic's clock, with the zone's rules in it.
    ics_url = phone.get_by_role("link", name="Add to my calendar (.ics)").get_attribute("href")
    assert ics_url
    calendar = phone.request.get(ics_url)
    assert calendar.status == 200
    assert calendar.headers["content-type"].startswith("text/calendar")
    ics = calendar.text()
    assert "BEGIN:VTIMEZONE" in ics and "TZID:America/Chicago" in ics
    assert f"DTSTART;TZID=America/Chicago:{day:%Y%m%d}T100000" in ics

    # Later, the manage link from the confirmation page: they cancel.
    phone.get_by_test_id("manage-link").tap()
    expect_page(phone, "Your booking")
    expect(phone.get_by_test_id("booking-when")).to_have_text(chosen)
    phone.get_by_role("link", name="Cancel this appointment").tap()

    expect_page(phone, "Cancel your appointment?")
    phone.get_by_label("Reason (optional)").fill("Found a clinic nearer home")
    phone.get_by_role("button", name="Yes, cancel it").tap()

    expect_page(phone, "Your booking")
    expect(phone.get_by_test_id("cancelled")).to_have_text("This appointment is cancelled.")
    expect(phone.get_by_role("link", name="Cancel this appointment")).to_have_count(0)
    expect(phone.get_by_role("link", name="Book another consultation")).to_be_visible()

    appointment.refresh_from_db()
    assert appointment.status == AppointmentStatus.CANCELLED
    assert appointment.cancel_reason == (
        "cancelled by the patient online: Found a clinic nearer home"
    )
    # The time is free again, for the next visitor too.
    assert slot_is_free(location=riverside, appointment_type=consultation, starts_at=starts_at)
    phone.goto(f"/book/{riverside.public_id}/")
    expect(phone.get_by_role("link", name=chosen, exact=True)).to_be_visible()
