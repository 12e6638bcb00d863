"""Booking online where the location asks for a card on file, in a browser: on a phone, the
patient reads the cancellation policy, ticks to agree, books, saves a card on the fake
Stripe's page (which posts its signed webhooks to the live server) and comes back to "You're
booked". Then at the desk: another patient is marked a no-show, the fee is proposed on the
staff home, and the front desk waives it with a reason."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from billing.cards import CONSENT_METHOD_BOOKING
from billing.models import (
    BookingHold,
    BookingHoldStatus,
    CardOnFile,
    FeeProposal,
    PolicyAgreement,
)
from scheduling.models import Appointment, AppointmentStatus
from scheduling.tests.factories import AppointmentFactory, appointment_type
from tests.browser.billing_steps import (  # noqa: F401 (booking_cache: a fixture)
    AGREE,
    BOOK,
    POLICY,
    booking_cache,
    fill_in_the_booker,
    mark_a_no_show,
    save_a_card_on_stripes_page,
    waive_the_fee,
)
from tests.browser.staff import sign_in
from tests.browser.test_booking_flow import PHONE, expect_page, sideways_scroll, when_text

pytestmark = pytest.mark.browser

CHICAGO = ZoneInfo("America/Chicago")


def test_a_patient_books_with_a_card_on_file_and_a_no_show_fee_is_waived_at_the_desk(
    new_page: Callable[..., Page], live_server, fake_stripe, card_riverside, fran
):
    fake_stripe.webhook_url = f"{live_server.url}/hooks/stripe/"
    day = datetime.now(CHICAGO).date() + timedelta(days=3)
    chosen = when_text(day, time(10))

    phone = new_page(**PHONE)
    phone.goto(f"/book/{card_riverside.public_id}/")
    phone.get_by_role("link", name=chosen, exact=True).tap()

    expect_page(phone, "Your details")
    fill_in_the_booker(
        phone,
        first="Jordan",
        last="Rivera",
        email="jordan.rivera@example.com",
        mobile="(312) 555-0142",
    )
    policy = phone.get_by_test_id("booking-policy")
    expect(policy).to_contain_text(POLICY)
    expect(policy.get_by_test_id("payment-note")).to_contain_text("keep a card on file")
    assert sideways_scroll(phone) <= 0

    # Not agreeing: the form says what to do, and nothing is booked.
    phone.get_by_role("button", name=BOOK).tap()
    expect(phone.get_by_text("tick the box to agree to it")).to_be_visible()
    assert not Appointment.objects.exists()

    phone.get_by_role("checkbox", name=AGREE).tap()
    phone.get_by_role("button", name=BOOK).tap()

    expect_page(phone, "One more step")
    expect(phone.get_by_text(chosen)).to_be_visible()
    assert BookingHold.objects.get().status == BookingHoldStatus.WAITING
    phone.get_by_role("link", name="Continue to the secure card page").tap()

    save_a_card_on_stripes_page(phone)

    expect_page(phone, "You're booked")
    expect(phone.get_by_test_id("booking-when")).to_have_text(chosen)
    appointment = Appointment.objects.get(location=card_riverside)
    assert appointment.status == AppointmentStatus.BOOKED
    assert BookingHold.objects.get().status == BookingHoldStatus.CONFIRMED
    card = CardOnFile.objects.get(patient=appointment.patient)
    assert card.consent_method == CONSENT_METHOD_BOOKING
    agreement = PolicyAgreement.objects.get(appointment=appointment)
    assert agreement.wording == POLICY and agreement.no_show_fee == Decimal("75.00")

    # At the desk: another patient did not come to their consultation an hour ago.
    missed = AppointmentFactory(
        appointment_type=appointment_type("consultation"),
        location=card_riverside,
        starts_at=(timezone.now() - timedelta(hours=1)).replace(second=0, microsecond=0),
    )
    desk = new_page()
    sign_in(desk, fran.email)
    mark_a_no_show(desk, missed)
    waive_the_fee(
        desk,
        FeeProposal.objects.get().public_id,
        sentence="no-show fee of 75.00 USD",
        reason="First time; called right after",
    )

    expect(desk.get_by_test_id("no-open-fees")).to_be_visible()
    proposal = FeeProposal.objects.get()
    assert proposal.status == "waived" and proposal.waive_reason.startswith("First time")
    assert proposal.decided_by == fran
