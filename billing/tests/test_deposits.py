"""Booking online under a location's policy: a clinic admin sets what booking asks for (nothing,
a card on file, a deposit) and the fees; the booking page shows the policy, which must be
agreed to (kept with its wording); with a card or deposit asked, the time is held while the
patient is on Stripe's page (the fake), confirmed by the webhook or the return, released when
it expires; with no Stripe keys, nothing is asked but the agreement."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from billing.cards import CONSENT_METHOD_BOOKING
from billing.deposits import booking_holds_release_expired, booking_policy_set
from billing.models import (
    BookingHold,
    BookingHoldStatus,
    BookingPolicy,
    CardOnFile,
    FeeProposal,
    Invoice,
    Payment,
    PolicyAgreement,
    StripeEvent,
)
from clinic.messaging.registry import kind_named
from clinic.models import OutboxMessage
from scheduling.booking.offer import slot_value
from scheduling.booking_terms import BookingTerms
from scheduling.message_queue import CONFIRMATION
from scheduling.models import Appointment, AppointmentStatus
from scheduling.tests.factories import clinic_location
from scheduling.tests.test_booking import at, next_week
from scheduling.tests.test_public_booking import (  # noqa: F401 (the autouse fixture)
    booking_cache,
    details_url,
    form_data,
)

pytestmark = pytest.mark.django_db

HOOK = "/hooks/stripe/"


@pytest.fixture
def riverside(phil):
    """Chicago, open 08:00 to 18:00 every day, with Phil the physician on shift all day."""
    return clinic_location(name="Riverside", staff=[phil], chairs=1, phone="+13125550100")


POLICY = (
    "If you cannot come, please tell us at least 24 hours before. A missed visit costs "
    "75.00 USD; a cancellation within 24 hours costs 40.00 USD."
)


SHOWN = BookingTerms(policy=POLICY).digest  # the form carries the wording it showed


def set_policy(location, alice, requirement="nothing", deposit="", **fees) -> BookingPolicy:
    return booking_policy_set(
        actor=alice,
        location=location,
        requirement=requirement,
        deposit_amount=deposit,
        wording=fees.pop("wording", POLICY),
        no_show_fee=fees.pop("no_show_fee", "75.00"),
        late_cancel_fee=fees.pop("late_cancel_fee", "40.00"),
        late_cancel_hours=fees.pop("late_cancel_hours", "24"),
    )


def deliver(client, fake, event: dict) -> int:
    payload = json.dumps(event).encode()
    return client.post(
        HOOK,
        data=payload,
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=fake.sign(payload),
    ).status_code


def checkout_id(fake, page) -> str:
    html = page.content.decode()
    start = html.index(f"{fake.url}/checkout/pay/") + len(f"{fake.url}/checkout/pay/")
    return html[start : html.index('"', start)]


# --- The policy --------------------------------------------------------------------------


def test_a_clinic_admin_sets_the_policy_of_a_location(riverside, alice):
    policy = set_policy(riverside, alice, requirement="deposit", deposit="50")
    assert policy.deposit_amount == Decimal("50.00") and policy.no_show_fee == Decimal("75.00")
    assert policy.late_cancel_hours == 24 and policy.wording == POLICY


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"requirement": "deposit", "deposit": ""}, "deposit_amount", "A deposit is needed"),
        ({"wording": ""}, "wording", "a fee nobody was told about"),
        ({"late_cancel_hours": "0"}, "late_cancel_hours", "1 to 168"),
        ({"late_cancel_hours": "soon"}, "late_cancel_hours", "1 to 168"),
        ({"no_show_fee": "-5"}, "no_show_fee", ""),
        ({"requirement": "cash"}, "requirement", "Choose nothing, a card on file or a deposit"),
    ],
)
def test_a_bad_policy_is_refused_with_what_to_fix_and_nothing_saved(
    riverside, alice, change, field, words
):
    with pytest.raises(ValidationError) as refused:
        set_policy(riverside, alice, **change)
    assert field in refused.value.message_dict
    assert words in " ".join(refused.value.message_dict[field])
    assert not BookingPolicy.objects.exists()


def test_the_front_desk_may_not_set_the_policy(riverside, fran):
    with pytest.raises(PermissionDenied):
        set_policy(riverside, fran)


def test_the_policy_pages_are_for_clinic_admins(client, riverside, alice, fran):
    client.force_login(fran)
    assert client.get("/staff/billing/booking-policies/").status_code == 403
    client.force_login(alice)
    assert (
        "Nothing (no policy set)" in client.get("/staff/billing/booking-policies/").content.decode()
    )
    url = f"/staff/billing/booking-policies/{riverside.public_id}/"
    bad = client.post(
        url, {"requirement": "deposit", "deposit_amount": "", "late_cancel_hours": "24"}
    )
    assert bad.status_code == 400 and "A deposit is needed" in bad.content.decode()
    good = client.post(
        url,
        {
            "requirement": "card",
            "wording": POLICY,
            "no_show_fee": "75",
            "late_cancel_fee": "40",
            "late_cancel_hours": "24",
        },
    )
    assert good.status_code == 302
    assert BookingPolicy.objects.get(location=riverside).requirement == "card"


# --- Booking with no Stripe keys: the policy only -------------------------------------------


def test_the_booking_page_shows_the_policy_and_refuses_a_booking_not_agreeing(
    client, riverside, alice, settings
):
    settings.STRIPE_SECRET_KEY = ""
    set_policy(riverside, alice, requirement="card")  # off: no Stripe keys
    when = at(riverside, next_week(riverside), 10)
    page = client.get(details_url(riverside), {"start": slot_value(when)})
    html = page.content.decode()
    assert POLICY in html and "I have read the cancellation and no-show policy" in html
    assert "keep a card on file" not in html  # cards are off: nothing to give

    refused = client.post(details_url(riverside), form_data(when, policy_digest=SHOWN))
    assert refused.status_code == 200
    assert "tick the box to agree to it" in refused.content.decode()
    assert not Appointment.objects.exists() and not PolicyAgreement.objects.exists()

    done = client.post(
        details_url(riverside), form_data(when, agree_policy="on", policy_digest=SHOWN)
    )
    assert done.status_code == 302 and done["Location"].startswith("/book/confirmed/")
    agreement = PolicyAgreement.objects.get()
    assert agreement.wording == POLICY and agreement.no_show_fee == Decimal("75.00")
    assert agreement.appointment.status == AppointmentStatus.BOOKED
    assert not BookingHold.objects.exists()
    confirmation = OutboxMessage.objects.get(kind=CONFIRMATION, channel="email")
    rendered = kind_named(CONFIRMATION).render(confirmation)
    assert "The cancellation and no-show policy you agreed to when booking:" in rendered.body
    assert POLICY in rendered.body and POLICY in rendered.html


def test_a_location_without_a_policy_books_as_before(client, riverside):
    when = at(riverside, next_week(riverside), 10)
    assert (
        "booking-policy"
        not in client.get(details_url(riverside), {"start": slot_value(when)}).content.decode()
    )
    done = client.post(details_url(riverside), form_data(when))
    assert done.status_code == 302 and not PolicyAgreement.objects.exists()


# --- A card on file asked for: the time held on Stripe's page -------------------------------


def book_held(client, fake, riverside, alice, requirement="card", deposit=""):
    set_policy(riverside, alice, requirement=requirement, deposit=deposit)
    when = at(riverside, next_week(riverside), 10)
    page = client.post(
        details_url(riverside), form_data(when, agree_policy="on", policy_digest=SHOWN)
    )
    assert page.status_code == 200, page.content.decode()[:500]
    assert "Continue to the secure card page" in page.content.decode()
    return Appointment.objects.get(), checkout_id(fake, page)


def test_a_card_asked_for_holds_the_time_until_the_webhook_says_it_is_saved(
    client, fake_stripe, riverside, alice
):
    appointment, session_id = book_held(client, fake_stripe, riverside, alice)
    hold = BookingHold.objects.get(appointment=appointment)
    assert hold.status == BookingHoldStatus.WAITING and appointment.status == "booked"
    assert not OutboxMessage.objects.filter(kind=CONFIRMATION).exists()  # not yet
    assert fake_stripe.session(session_id)["mode"] == "setup"

    fake_stripe.complete_checkout(session_id, "pm_card_visa")
    for event in [e for e in fake_stripe.events if e["type"] == "checkout.session.completed"] * 3:
        assert deliver(client, fake_stripe, event) == 200

    hold.refresh_from_db()
    assert hold.status == BookingHoldStatus.CONFIRMED
    card = CardOnFile.objects.get(patient=appointment.patient)
    assert card.consent_method == CONSENT_METHOD_BOOKING and card.label == "Visa ending 4242"
    assert OutboxMessage.objects.filter(kind=CONFIRMATION).count() >= 1
    assert StripeEvent.objects.get().outcome.endswith("booking confirmed")

    back = client.get(f"/pay/booking/{hold.public_id}/done/")
    assert back.status_code == 302 and back["Location"].startswith("/book/confirmed/")


def test_the_return_from_stripe_confirms_the_booking_when_the_webhook_is_late(
    client, fake_stripe, riverside, alice
):
    _, session_id = book_held(client, fake_stripe, riverside, alice)
    hold = BookingHold.objects.get()
    waiting = client.get(f"/pay/booking/{hold.public_id}/done/")
    assert "Your time is held" in waiting.content.decode()

    fake_stripe.complete_checkout(session_id)
    back = client.get(f"/pay/booking/{hold.public_id}/done/")
    assert back.status_code == 302 and back["Location"].startswith("/book/confirmed/")
    assert BookingHold.objects.get().status == BookingHoldStatus.CONFIRMED


def test_a_deposit_is_paid_on_stripes_page_and_recorded_once(client, fake_stripe, riverside, alice):
    appointment, session_id = book_held(
        client, fake_stripe, riverside, alice, requirement="deposit", deposit="50"
    )
    assert fake_stripe.session(session_id)["mode"] == "payment"
    fake_stripe.complete_checkout(session_id)
    for event in fake_stripe.events * 3:  # replayed, in any order
        assert deliver(client, fake_stripe, event) == 200
    client.get(f"/pay/booking/{BookingHold.objects.get().public_id}/done/")

    payment = Payment.objects.get()
    assert payment.amount == Decimal("50.00") and payment.method == "card"
    invoice = Invoice.objects.get()
    assert invoice.status == "issued" and invoice.lines.get().description.startswith("Deposit")
    assert BookingHold.objects.get().deposit_payment == payment
    assert CardOnFile.objects.filter(patient=appointment.patient).exists()
    assert len(fake_stripe.charges) == 1


def test_a_hold_past_its_time_is_released_and_proposes_no_fee(
    client, fake_stripe, riverside, alice
):
    appointment, _ = book_held(client, fake_stripe, riverside, alice)
    BookingHold.objects.update(expires_at=timezone.now() - timedelta(minutes=1))
    assert booking_holds_release_expired() == 1
    assert booking_holds_release_expired() == 0  # twice releases nothing twice
    appointment.refresh_from_db()
    assert appointment.status == AppointmentStatus.CANCELLED
    assert BookingHold.objects.get().status == BookingHoldStatus.RELEASED
    assert not FeeProposal.objects.exists()
    page = client.get(f"/pay/booking/{BookingHold.objects.get().public_id}/done/")
    assert "This time was not booked" in page.content.decode()


def test_a_hold_whose_card_was_saved_but_not_heard_of_is_confirmed_not_released(
    client, fake_stripe, riverside, alice
):
    _, session_id = book_held(client, fake_stripe, riverside, alice)
    fake_stripe.complete_checkout(session_id)  # the webhook is lost
    BookingHold.objects.update(expires_at=timezone.now() - timedelta(minutes=1))
    assert booking_holds_release_expired() == 0
    assert BookingHold.objects.get().status == BookingHoldStatus.CONFIRMED


def test_stripe_out_of_reach_releases_the_time_and_says_so(client, fake_stripe, riverside, alice):
    set_policy(riverside, alice, requirement="card")
    fake_stripe.stop()
    when = at(riverside, next_week(riverside), 10)
    page = client.post(
        details_url(riverside), form_data(when, agree_policy="on", policy_digest=SHOWN)
    )
    assert "couldn&#x27;t open the secure card page" in page.content.decode()
    assert Appointment.objects.get().status == AppointmentStatus.CANCELLED
    assert BookingHold.objects.get().status == BookingHoldStatus.RELEASED


def test_an_unknown_hold_is_404(client):
    assert client.get(f"/pay/booking/{uuid.uuid4()}/done/").status_code == 404


def test_a_policy_changed_while_the_booker_read_it_is_shown_again_to_agree_to(
    client, riverside, alice, settings
):
    settings.STRIPE_SECRET_KEY = ""
    set_policy(riverside, alice)
    when = at(riverside, next_week(riverside), 10)
    set_policy(riverside, alice, wording="New words: a missed visit costs 75.00 USD.")
    page = client.post(
        details_url(riverside), form_data(when, agree_policy="on", policy_digest=SHOWN)
    )
    html = page.content.decode()
    assert "updated its cancellation and no-show policy while you were reading" in html
    assert "New words" in html and not Appointment.objects.exists()


def test_a_form_sent_twice_while_the_time_is_held_goes_to_the_card_page_again(
    client, fake_stripe, riverside, alice
):
    set_policy(riverside, alice, requirement="card")
    data = form_data(
        at(riverside, next_week(riverside), 10), agree_policy="on", policy_digest=SHOWN
    )
    first = client.post(details_url(riverside), data)
    again = client.post(details_url(riverside), data)
    assert "Continue to the secure card page" in first.content.decode()
    assert "Continue to the secure card page" in again.content.decode()
    assert Appointment.objects.count() == 1 and BookingHold.objects.get().status == "waiting"


def test_the_beat_task_releases_the_holds_past_their_time(client, fake_stripe, riverside, alice):
    from billing.tasks import release_expired_booking_holds
    from clinic.celery import app

    entry = app.conf.beat_schedule["release-booking-holds"]
    assert entry["task"] == "billing.tasks.release_expired_booking_holds"
    assert entry["schedule"] == timedelta(minutes=5)
    book_held(client, fake_stripe, riverside, alice)
    assert release_expired_booking_holds() == 0  # not yet
    BookingHold.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert release_expired_booking_holds() == 1


def test_the_deposit_comes_off_the_visits_invoice_when_it_is_issued(
    client, fake_stripe, riverside, alice, fran
):
    from billing.selectors import balance_of
    from billing.services import invoice_draft_for_visit, invoice_issue
    from billing.tests.factories import price

    price("consultation", riverside, "250.00")
    appointment, session_id = book_held(
        client, fake_stripe, riverside, alice, requirement="deposit", deposit="50"
    )
    fake_stripe.complete_checkout(session_id)
    client.get(f"/pay/booking/{BookingHold.objects.get().public_id}/done/")
    assert balance_of(appointment.patient).amount == Decimal("0.00")  # deposit charged, paid

    visit_invoice = invoice_draft_for_visit(appointment=appointment, actor=fran)
    invoice_issue(actor=fran, invoice=visit_invoice)
    credit = visit_invoice.credit_notes.get()
    assert credit.amount == Decimal("50.00") and credit.reason.startswith("Deposit paid")
    assert BookingHold.objects.get().deposit_credit == credit
    assert balance_of(appointment.patient).amount == Decimal("200.00")


def deposit_paid_and_visit_issued(
    client, fake, riverside, alice, fran, *, package: bool, issue: bool = True
):
    """Jordan books with a 50.00 deposit; a package covers her consultation (or it costs
    30.00, less than the deposit); the visit ends and its invoice is issued."""
    from billing.packages import package_sell
    from billing.services import invoice_issue
    from billing.tests.factories import price
    from billing.tests.package_factories import offer
    from billing.visits import draft_the_visit_invoice

    price("consultation", riverside, "30.00")
    appointment, session_id = book_held(
        client, fake, riverside, alice, requirement="deposit", deposit="50"
    )
    fake.complete_checkout(session_id)
    client.get(f"/pay/booking/{BookingHold.objects.get().public_id}/done/")
    if package:
        # Its invoice is issued when sold; paying it is not the point here.
        package_sell(actor=fran, patient=appointment.patient, offer=offer(), location=riverside)
    draft_the_visit_invoice(appointment=appointment, actor=fran)
    visit_invoice = Invoice.objects.get(appointment=appointment)
    return invoice_issue(actor=fran, invoice=visit_invoice) if issue else visit_invoice


def test_a_deposit_for_a_visit_a_package_covered_is_given_back_once_and_the_books_agree(
    client, fake_stripe, riverside, alice, fran
):
    from billing.deposits import deposit_give_back, deposit_unused
    from billing.selectors import balance_of, invoices_with_sums, settlement

    visit_invoice = deposit_paid_and_visit_issued(
        client, fake_stripe, riverside, alice, fran, package=True
    )
    patient = visit_invoice.patient
    hold = BookingHold.objects.get()
    assert hold.deposit_credit is None  # nothing to take it off: the visit charged 0.00
    before = balance_of(patient).amount  # the package's price, unpaid; the deposit settled
    assert before == Decimal("1200.00")
    assert deposit_unused(visit_invoice).amount == Decimal("50.00")

    with pytest.raises(PermissionDenied):
        deposit_give_back(actor=fran, invoice=visit_invoice)  # front desk: not a correction
    given = deposit_give_back(actor=alice, invoice=visit_invoice)

    assert given.amount == Decimal("50.00")
    refund = hold.deposit_payment.refunds.get()
    assert refund.amount == Decimal("50.00") and "package covered" in refund.reason
    assert refund.stripe_refund  # given back to the card
    deposit_invoice = invoices_with_sums(
        Invoice.objects.filter(pk=hold.deposit_payment.invoice_id)
    ).get()
    assert deposit_invoice.due == 0 and settlement(deposit_invoice) == "Credited"
    balance = balance_of(patient)
    assert balance.amount == before  # nothing was owed on the deposit either way
    assert balance.amount == balance.charges - balance.payments + balance.refunds - balance.credits
    assert deposit_unused(visit_invoice) is None
    with pytest.raises(ValidationError, match="No booking deposit is left"):
        deposit_give_back(actor=alice, invoice=visit_invoice)
    assert hold.deposit_payment.refunds.count() == 1


def test_the_part_of_a_deposit_a_cheaper_visit_did_not_use_is_given_back(
    client, fake_stripe, riverside, alice, fran
):
    from billing.deposits import deposit_give_back, deposit_unused
    from billing.selectors import balance_of

    visit_invoice = deposit_paid_and_visit_issued(
        client, fake_stripe, riverside, alice, fran, package=False
    )
    assert BookingHold.objects.get().deposit_credit.amount == Decimal("30.00")
    assert balance_of(visit_invoice.patient).amount == 0
    assert deposit_unused(visit_invoice).amount == Decimal("20.00")

    deposit_give_back(actor=alice, invoice=visit_invoice)
    assert BookingHold.objects.get().deposit_payment.refunds.get().amount == Decimal("20.00")
    assert balance_of(visit_invoice.patient).amount == 0


def test_the_invoice_page_prompts_to_give_back_an_unneeded_deposit_and_does_it_on_confirm(
    client, fake_stripe, riverside, alice, fran
):
    from billing.services import invoice_issue

    visit_invoice = deposit_paid_and_visit_issued(
        client, fake_stripe, riverside, alice, fran, package=True, issue=False
    )
    url = f"/staff/billing/invoices/{visit_invoice.public_id}/"
    client.force_login(fran)
    draft = client.get(url).content.decode()
    assert "A deposit of 50.00 USD was paid when booking this visit" in draft
    assert "was not needed" not in draft
    invoice_issue(actor=fran, invoice=visit_invoice)
    page = client.get(url).content.decode()
    assert "50.00 USD of the deposit paid when booking this visit was not needed" in page
    assert "a clinic admin gives it back" in page
    assert client.get(f"{url}give-back-deposit/").status_code == 403

    client.force_login(alice)
    assert "give-back-deposit/" in client.get(url).content.decode()
    confirm = client.post(f"{url}give-back-deposit/", {})
    assert "Give back 50.00 USD of the booking deposit" in confirm.content.decode()
    assert not BookingHold.objects.get().deposit_payment.refunds.exists()  # not before Confirm
    done = client.post(f"{url}give-back-deposit/", {"confirmed": "yes"}, follow=True)
    assert "50.00 USD of the booking deposit is given back" in done.content.decode()
    assert "was not needed" not in done.content.decode()
    assert BookingHold.objects.get().deposit_payment.refunds.count() == 1
