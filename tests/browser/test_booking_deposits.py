"""Booking online where the location asks for a card on file, in a browser: on a phone, the
patient reads the cancellation policy, ticks to agree, books, saves a card on the fake
Stripe's page (which posts its signed webhooks to the live server) and comes back to "You're
booked". Then at the desk: another patient is marked a no-show, the fee is proposed on the
staff home, and the front desk waives it with a reason."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from datetime import datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from billing.cards import CONSENT_METHOD_BOOKING
from billing.deposits import booking_policy_set
from billing.models import (
    BookingHold,
    BookingHoldStatus,
    CardOnFile,
    FeeProposal,
    PolicyAgreement,
)
from clinic.models import Location
from scheduling.models import Appointment, AppointmentStatus
from scheduling.tests.factories import AppointmentFactory, appointment_type, clinic_location
from tests.browser.staff import sign_in
from tests.browser.test_booking_flow import PHONE, expect_page, sideways_scroll, when_text

pytestmark = pytest.mark.browser

CHICAGO = ZoneInfo("America/Chicago")
POLICY = (
    "Please tell us at least 24 hours before if you cannot come. A missed consultation costs "
    "75.00 USD, and cancelling within 24 hours costs 40.00 USD."
)


@pytest.fixture(autouse=True)
def booking_cache(settings) -> None:
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": f"booking-deposits-{uuid.uuid4()}",
        }
    }


@pytest.fixture
def riverside(phil, alice) -> Location:
    location = clinic_location(name="Riverside", staff=[phil], chairs=1, phone="+13125550100")
    booking_policy_set(
        actor=alice,
        location=location,
        requirement="card",
        deposit_amount="",
        wording=POLICY,
        no_show_fee="75.00",
        late_cancel_fee="40.00",
        late_cancel_hours="24",
    )
    return location


def test_a_patient_books_with_a_card_on_file_and_a_no_show_fee_is_waived_at_the_desk(
    new_page: Callable[..., Page], live_server, fake_stripe, riverside, fran
):
    fake_stripe.webhook_url = f"{live_server.url}/hooks/stripe/"
    day = datetime.now(CHICAGO).date() + timedelta(days=3)
    chosen = when_text(day, time(10))

    phone = new_page(**PHONE)
    phone.goto(f"/book/{riverside.public_id}/")
    phone.get_by_role("link", name=chosen, exact=True).tap()

    expect_page(phone, "Your details")
    phone.get_by_label("First name").fill("Jordan")
    phone.get_by_label("Last name").fill("Rivera")
    phone.get_by_label("Date of birth").fill("1984-03-27")
    phone.get_by_label("Female", exact=True).tap()
    phone.get_by_role("textbox", name="Email").fill("jordan.rivera@example.com")
    phone.get_by_role("textbox", name="Mobile number").fill("(312) 555-0142")
    phone.get_by_label("What would you like help with?").select_option(
        label="Something else, or not sure"
    )
    policy = phone.get_by_test_id("booking-policy")
    expect(policy).to_contain_text(POLICY)
    expect(policy.get_by_test_id("payment-note")).to_contain_text("keep a card on file")
    assert sideways_scroll(phone) <= 0

    # Not agreeing: the form says what to do, and nothing is booked.
    phone.get_by_role("button", name="Book and continue to the card page").tap()
    expect(phone.get_by_text("tick the box to agree to it")).to_be_visible()
    assert not Appointment.objects.exists()

    phone.get_by_role(
        "checkbox", name="I have read the cancellation and no-show policy above and agree to it."
    ).tap()
    phone.get_by_role("button", name="Book and continue to the card page").tap()

    expect_page(phone, "One more step")
    expect(phone.get_by_text(chosen)).to_be_visible()
    assert BookingHold.objects.get().status == BookingHoldStatus.WAITING
    phone.get_by_role("link", name="Continue to the secure card page").tap()

    expect(phone.get_by_role("heading", name="Fake Stripe Checkout")).to_be_visible()
    expect(phone.get_by_text("By saving this card you allow the clinic")).to_be_visible()
    phone.get_by_label("Test card").select_option("pm_card_visa")
    phone.get_by_role("button", name="Save card").tap()

    expect_page(phone, "You're booked")
    expect(phone.get_by_test_id("booking-when")).to_have_text(chosen)
    appointment = Appointment.objects.get(location=riverside)
    assert appointment.status == AppointmentStatus.BOOKED
    assert BookingHold.objects.get().status == BookingHoldStatus.CONFIRMED
    card = CardOnFile.objects.get(patient=appointment.patient)
    assert card.consent_method == CONSENT_METHOD_BOOKING
    agreement = PolicyAgreement.objects.get(appointment=appointment)
    assert agreement.wording == POLICY and agreement.no_show_fee == Decimal("75.00")

    # At the desk: another patient did not come to their consultation an hour ago.
    missed = AppointmentFactory(
        appointment_type=appointment_type("consultation"),
        location=riverside,
        starts_at=(timezone.now() - timedelta(hours=1)).replace(second=0, microsecond=0),
    )
    desk = new_page()
    sign_in(desk, fran.email)
    desk.goto(f"/staff/schedule/appointments/{missed.public_id}/no-show/")
    desk.get_by_label("Yes, the patient did not come").check()
    desk.get_by_role("button", name="Mark a no-show").click()
    expect(desk).not_to_have_url(re.compile(r"/no-show/$"))

    desk.goto("/staff/")
    panel = desk.get_by_test_id("home-fees")
    expect(panel).to_contain_text("no-show fee of 75.00 USD")
    panel.get_by_role("link", name="All fees").click()
    row = desk.get_by_test_id(f"fee-{FeeProposal.objects.get().public_id}")
    row.get_by_role("link", name="Waive…").click()

    desk.get_by_role("button", name=re.compile("^Waive the fee")).click()
    expect(desk.get_by_text("Say why the fee is waived")).to_be_visible()
    desk.get_by_label("Why the fee is waived").fill("First time; called right after")
    desk.get_by_role("button", name=re.compile("^Waive the fee")).click()
    expect(desk.get_by_test_id("confirm")).to_contain_text("Waive the no-show fee of 75.00 USD")
    desk.get_by_role("button", name=re.compile("^Confirm")).click()

    expect(desk.get_by_test_id("no-open-fees")).to_be_visible()
    expect(desk.get_by_test_id("decided-fees")).to_contain_text("waived")
    proposal = FeeProposal.objects.get()
    assert proposal.status == "waived" and proposal.waive_reason.startswith("First time")
    assert proposal.decided_by == fran
