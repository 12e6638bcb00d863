"""Steps the billing browser tests share: a location whose policy asks for a card on file, a
patient's online booking up to Stripe's page, saving the card there, marking a no-show and
waiving the fee it proposes, printing a superbill. Each step asserts what the person doing it
would see; the tests assert what happened in the books."""

from __future__ import annotations

import re
import uuid

import pytest
from playwright.sync_api import Page, expect

from billing.deposits import booking_policy_set
from clinic.models import Location
from scheduling.models import Appointment
from scheduling.tests.factories import clinic_location

POLICY = (
    "Please tell us at least 24 hours before if you cannot come. A missed consultation costs "
    "75.00 USD, and cancelling within 24 hours costs 40.00 USD."
)
AGREE = "I have read the cancellation and no-show policy above and agree to it."
BOOK = "Book and continue to the card page"


@pytest.fixture(autouse=True)
def booking_cache(settings) -> None:
    """A cache of the test's own: rate limits and form nonces never carry over."""
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": f"billing-steps-{uuid.uuid4()}",
        }
    }


@pytest.fixture
def card_riverside(phil, alice) -> Location:
    """Riverside (Chicago, Phil on shift), whose policy asks for a card on file when booking
    online: a missed consultation costs 75.00 USD, a late cancel 40.00 USD."""
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


def fill_in_the_booker(
    phone: Page,
    *,
    first: str,
    last: str,
    email: str,
    mobile: str,
    born: str = "1984-03-27",
) -> None:
    """On "Your details": who is booking, and what they would like help with."""
    phone.get_by_label("First name").fill(first)
    phone.get_by_label("Last name").fill(last)
    phone.get_by_label("Date of birth").fill(born)
    phone.get_by_label("Female", exact=True).tap()
    phone.get_by_role("textbox", name="Email").fill(email)
    phone.get_by_role("textbox", name="Mobile number").fill(mobile)
    phone.get_by_label("What would you like help with?").select_option(
        label="Something else, or not sure"
    )


def agree_and_book(phone: Page) -> None:
    """Tick to agree to the policy and book: the page asks for the card next."""
    phone.get_by_role("checkbox", name=AGREE).tap()
    phone.get_by_role("button", name=BOOK).tap()
    expect(phone.get_by_role("heading", level=1)).to_have_text("One more step")


def save_a_card_on_stripes_page(page: Page) -> None:
    """On the fake Stripe's Checkout (setup mode): read the consent, save a Visa."""
    expect(page.get_by_role("heading", name="Fake Stripe Checkout")).to_be_visible()
    expect(page.get_by_text("By saving this card you allow the clinic")).to_be_visible()
    page.get_by_label("Test card").select_option("pm_card_visa")
    page.get_by_role("button", name="Save card").click()


def mark_a_no_show(desk: Page, appointment: Appointment) -> None:
    """The front desk confirms the patient did not come."""
    desk.goto(f"/staff/schedule/appointments/{appointment.public_id}/no-show/")
    desk.get_by_label("Yes, the patient did not come").check()
    desk.get_by_role("button", name="Mark a no-show").click()
    expect(desk).not_to_have_url(re.compile(r"/no-show/$"))


def waive_the_fee(desk: Page, fee_id: uuid.UUID, *, sentence: str, reason: str) -> None:
    """From the staff home's fee panel to the fees page, waive the fee ``fee_id`` (which the
    panel and the confirmation call ``sentence``, e.g. "no-show fee of 75.00 USD"): refused
    without a reason, then waived with ``reason`` after confirming."""
    desk.goto("/staff/")
    panel = desk.get_by_test_id("home-fees")
    expect(panel).to_contain_text(sentence)
    panel.get_by_role("link", name="All fees").click()
    desk.get_by_test_id(f"fee-{fee_id}").get_by_role("link", name="Waive…").click()

    desk.get_by_role("button", name=re.compile("^Waive the fee")).click()
    expect(desk.get_by_text("Say why the fee is waived")).to_be_visible()
    desk.get_by_label("Why the fee is waived").fill(reason)
    desk.get_by_role("button", name=re.compile("^Waive the fee")).click()
    expect(desk.get_by_test_id("confirm")).to_contain_text(f"Waive the {sentence}")
    desk.get_by_role("button", name=re.compile("^Confirm")).click()
    expect(desk.get_by_test_id("decided-fees")).to_contain_text("waived")


def print_the_superbill(page: Page) -> None:
    """Printed, the superbill leaves the navigation and the buttons out, and Chromium's own
    print to PDF makes a document of it on A4 and on Letter."""
    page.emulate_media(media="print")
    expect(page.get_by_test_id("superbill")).to_be_visible()
    expect(page.get_by_test_id("print-button")).to_be_hidden()
    expect(page.locator("body > header")).to_be_hidden()
    expect(page.get_by_role("navigation", name="Breadcrumb")).to_be_hidden()
    for paper in ("A4", "Letter"):
        pdf = page.pdf(format=paper, print_background=False)
        assert pdf.startswith(b"%PDF") and len(pdf) > 5_000
    page.emulate_media(media="screen")
