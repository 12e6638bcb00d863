"""The whole billing journey of a visit, in one browser story: a patient books a consultation
online on a phone at a location whose policy asks for a card on file and saves the card on
the fake Stripe's page (its signed webhooks reach the live server); on the day of the visit
the front desk checks her in, the visit ends, its invoice is issued and the front desk takes
the balance by charging the card on file; the invoice is paid, and its superbill lists the
coded service and what was paid, and prints. Then another patient at the location misses
their consultation: the no-show fee is proposed, and the front desk waives it with a reason."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from billing.codes import practice_details_set
from billing.models import (
    BookingHold,
    BookingHoldStatus,
    CardCharge,
    CardOnFile,
    FeeProposal,
    Invoice,
    Payment,
    PaymentMethod,
)
from billing.selectors import balance_of
from billing.tests.factories import price
from scheduling.models import Appointment, AppointmentStatus
from scheduling.tests.factories import AppointmentFactory, appointment_type
from tests.browser.billing_steps import (  # noqa: F401 (booking_cache: a fixture)
    agree_and_book,
    booking_cache,
    fill_in_the_booker,
    mark_a_no_show,
    print_the_superbill,
    save_a_card_on_stripes_page,
    waive_the_fee,
)
from tests.browser.staff import sign_in
from tests.browser.test_booking_flow import PHONE, expect_page, when_text
from tests.clock import travel_to

pytestmark = pytest.mark.browser

CHICAGO = ZoneInfo("America/Chicago")
TABLET = {"viewport": {"width": 820, "height": 1180}, "has_touch": True}


def test_a_visit_booked_online_with_a_card_is_paid_at_discharge_and_its_superbill_printed(
    new_page: Callable[..., Page], live_server, fake_stripe, card_riverside, fran, alice
):
    fake_stripe.webhook_url = f"{live_server.url}/hooks/stripe/"
    price("consultation", card_riverside, "250.00")
    practice_details_set(
        actor=alice,
        location=None,
        practice_name="Calm Waters Infusions",
        npi="1234567893",
        tax_id="12-3456789",
        place_of_service="11",
    )
    day = datetime.now(CHICAGO).date() + timedelta(days=3)
    chosen = when_text(day, time(10))

    # Jordan books on her phone and saves a card on Stripe's page.
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
    agree_and_book(phone)
    phone.get_by_role("link", name="Continue to the secure card page").tap()
    save_a_card_on_stripes_page(phone)
    expect_page(phone, "You're booked")
    expect(phone.get_by_test_id("booking-when")).to_have_text(chosen)

    consultation = Appointment.objects.get(location=card_riverside)
    patient = consultation.patient
    assert consultation.status == AppointmentStatus.BOOKED
    assert BookingHold.objects.get(appointment=consultation).status == BookingHoldStatus.CONFIRMED
    card = CardOnFile.objects.get(patient=patient)
    assert card.label == "Visa ending 4242"
    assert fake_stripe.charges == []  # a card on file is kept, not charged, when booking

    # The day of the visit: the front desk checks Jordan in on a tablet.
    travel_to(consultation.starts_at - timedelta(minutes=10))
    desk = new_page(**TABLET)
    sign_in(desk, fran.email)
    desk.goto(f"/staff/schedule/appointments/{consultation.public_id}/")
    desk.get_by_role("button", name=re.compile("^Check in")).click()
    expect(desk.get_by_role("link", name=re.compile("^Undo check-in"))).to_be_visible()
    consultation.refresh_from_db()
    assert consultation.status == AppointmentStatus.CHECKED_IN

    # The consultation takes place; the front desk (signed out meanwhile for inactivity, so
    # signing in again) ends the visit, and its draft invoice is made.
    travel_to(consultation.ends_at)
    sign_in(desk, fran.email)
    desk.goto(f"/staff/schedule/appointments/{consultation.public_id}/")
    desk.get_by_role("link", name=re.compile("^End the visit")).click()
    desk.get_by_label("Yes, the consultation has taken place and the patient is leaving").check()
    desk.get_by_role("button", name="End the visit").click()
    expect(desk).not_to_have_url(re.compile(r"/end-visit/"))
    consultation.refresh_from_db()
    assert consultation.status == AppointmentStatus.DISCHARGED
    invoice = Invoice.objects.get(appointment=consultation)
    assert invoice.status == "draft"

    # The invoice is issued for the consultation's price.
    desk.goto(f"/staff/schedule/appointments/{consultation.public_id}/")
    desk.get_by_test_id("visit-invoice").click()
    expect(desk.get_by_test_id("state")).to_have_text("Draft")
    expect(desk.get_by_test_id("total")).to_have_text("250.00 USD")
    desk.get_by_role("link", name="Issue", exact=True).click()
    expect(desk.get_by_role("heading", level=1)).to_have_text("Issue this invoice for 250.00 USD?")
    desk.get_by_role("button", name="Issue the invoice").click()
    expect(desk.get_by_test_id("state")).to_have_text("Unpaid")
    expect(desk.get_by_test_id("due")).to_have_text("250.00 USD")

    # The balance is taken by charging the card saved when booking, after confirming.
    desk.get_by_role("link", name="Charge the card on file").click()
    expect(desk.get_by_test_id("card")).to_contain_text("Visa ending 4242")
    expect(desk.get_by_label("Amount to charge")).to_have_value("250.00")
    desk.get_by_role("button", name=re.compile("Charge the card")).click()
    expect(desk.get_by_test_id("confirm")).to_contain_text("Charge 250.00 USD to Visa ending 4242")
    assert fake_stripe.charges == []  # nothing before confirming
    desk.get_by_role("button", name=re.compile("^Confirm")).click()

    expect(desk.get_by_test_id("state")).to_have_text("Paid")
    expect(desk.get_by_test_id("due")).to_have_text("0.00 USD")
    expect(desk.get_by_test_id("invoice-payments")).to_contain_text("Card (online)")
    payment = Payment.objects.get(invoice=invoice)
    assert (payment.method, payment.amount) == (PaymentMethod.CARD, Decimal("250.00"))
    assert len(fake_stripe.charges) == 1
    charge = CardCharge.objects.get(invoice=invoice)
    assert (charge.status, charge.card, charge.payment) == ("succeeded", card, payment)
    assert balance_of(patient).amount == 0

    # The superbill of the visit: the practice, the coded service, what was paid; printed.
    desk.get_by_role("link", name="Superbill").click()
    expect(desk.get_by_test_id("practice")).to_contain_text("NPI: 1234567893")
    expect(desk.get_by_test_id("patient")).to_contain_text("Rivera")
    expect(desk.get_by_test_id("dates-of-service")).to_contain_text(str(day.year))
    expect(desk.get_by_test_id("services")).to_contain_text("99204")
    expect(desk.get_by_test_id("superbill-charges")).to_have_text("250.00 USD")
    expect(desk.get_by_test_id("superbill-paid")).to_have_text("250.00 USD")
    expect(desk.get_by_test_id("superbill-due")).to_have_text("0.00 USD")
    print_the_superbill(desk)

    # Later that day, another patient booked at Riverside did not come an hour ago.
    missed = AppointmentFactory(
        appointment_type=appointment_type("consultation"),
        location=card_riverside,
        starts_at=(timezone.now() - timedelta(hours=1)).replace(second=0, microsecond=0),
    )
    mark_a_no_show(desk, missed)
    missed.refresh_from_db()
    assert missed.status == AppointmentStatus.NO_SHOW
    fee = FeeProposal.objects.get(appointment=missed)
    assert (fee.status, fee.amount) == ("open", Decimal("75.00"))

    waive_the_fee(
        desk, fee.public_id, sentence="no-show fee of 75.00 USD", reason="Car broke down; called"
    )
    expect(desk.get_by_test_id("no-open-fees")).to_be_visible()
    fee.refresh_from_db()
    assert (fee.status, fee.decided_by) == ("waived", fran)
    assert fee.waive_reason == "Car broke down; called"
    assert not Invoice.objects.filter(patient=missed.patient).exists()  # nothing charged
    assert len(fake_stripe.charges) == 1
