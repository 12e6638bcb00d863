"""Until when a patient may move or cancel a booking online: up to CANCEL_NOTICE_HOURS
before it starts or, for a booking made online, in the ONLINE_CHANGE_GRACE_MINUTES after it
was made, whatever the notice rule says, but never once it has started. The confirmation
and the manage page show the same deadline, on the location's clock."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from patients.tests.factories import PatientFactory
from scheduling.booking.manage import manage_token
from scheduling.models import Appointment, AppointmentStatus
from scheduling.services.book_and_reschedule import appointment_reschedule
from scheduling.services.online_changes import (
    appointment_online_change_deadline,
    appointment_patient_may_change,
)
from scheduling.services.status_changes import appointment_cancel
from scheduling.tests import test_public_booking
from scheduling.tests.factories import AppointmentFactory, appointment_type

booking_cache = test_public_booking.booking_cache
riverside = test_public_booking.riverside

# A Tuesday morning in Chicago (CST, UTC-6), on the minute.
BOOKED_AT = datetime(2026, 11, 3, 15, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)
CALL = "Call Riverside on +13125550100"


@pytest.fixture(autouse=True)
def rules(settings):
    settings.CANCEL_NOTICE_HOURS = 24
    settings.ONLINE_CHANGE_GRACE_MINUTES = 60


def booking(location, *, starts_in: timedelta, source=Appointment.Source.ONLINE, **fields):
    """A consultation made at BOOKED_AT, starting ``starts_in`` later."""
    return AppointmentFactory(
        location=location,
        patient=PatientFactory(),
        appointment_type=appointment_type("consultation"),
        starts_at=BOOKED_AT + starts_in,
        created_at=BOOKED_AT,
        source=source,
        **fields,
    )


def may_change_at(appointment: Appointment, moment: datetime) -> tuple[bool, str]:
    with time_machine.travel(moment, tick=False):
        return appointment_patient_may_change(appointment)


# --- The rule, at its boundaries ------------------------------------------------------------


def test_a_booking_less_than_a_day_ahead_can_be_changed_until_the_grace_ends(riverside):
    appointment = booking(riverside, starts_in=timedelta(hours=5))
    grace_end = BOOKED_AT + timedelta(minutes=60)

    assert appointment_online_change_deadline(appointment) == grace_end
    assert may_change_at(appointment, BOOKED_AT + MINUTE) == (True, "")
    assert may_change_at(appointment, grace_end - MINUTE) == (True, "")
    for moment in (grace_end, grace_end + MINUTE):
        allowed, why = may_change_at(appointment, moment)
        assert not allowed
        assert why == (
            "Appointments can be changed online up to 24 hours before they start, or in the "
            f"first 60 minutes after booking online. {CALL} to change this one."
        )


def test_a_booking_further_ahead_can_be_changed_until_the_notice_limit(riverside):
    appointment = booking(riverside, starts_in=timedelta(hours=48))
    notice_limit = appointment.starts_at - timedelta(hours=24)

    assert appointment_online_change_deadline(appointment) == notice_limit
    assert may_change_at(appointment, notice_limit - MINUTE) == (True, "")
    assert not may_change_at(appointment, notice_limit)[0]
    assert not may_change_at(appointment, notice_limit + MINUTE)[0]


def test_the_grace_applies_whatever_the_notice_rule_says(riverside, settings):
    settings.CANCEL_NOTICE_HOURS = 168
    appointment = booking(riverside, starts_in=timedelta(days=3))

    assert may_change_at(appointment, BOOKED_AT + timedelta(minutes=59)) == (True, "")
    assert not may_change_at(appointment, BOOKED_AT + timedelta(minutes=60))[0]


def test_the_grace_never_reaches_past_the_start(riverside):
    appointment = booking(riverside, starts_in=timedelta(minutes=30))
    starts_at = appointment.starts_at

    assert appointment_online_change_deadline(appointment) == starts_at
    assert may_change_at(appointment, starts_at - MINUTE) == (True, "")
    for moment in (starts_at, starts_at + MINUTE):
        assert may_change_at(appointment, moment) == (
            False,
            f"This appointment has started, so it can't be changed online. {CALL}.",
        )


def test_the_grace_counts_whole_minutes_from_when_the_booking_was_made(riverside):
    appointment = booking(riverside, starts_in=timedelta(hours=5))
    appointment.created_at = BOOKED_AT + timedelta(seconds=42)

    # Shown as "until 10:00 AM", so it is exactly 10:00 AM.
    assert appointment_online_change_deadline(appointment) == BOOKED_AT + timedelta(minutes=60)


def test_a_booking_made_by_staff_has_no_grace(riverside):
    appointment = booking(riverside, starts_in=timedelta(hours=5), source=Appointment.Source.STAFF)

    assert appointment_online_change_deadline(appointment) == appointment.starts_at - timedelta(
        hours=24
    )
    assert may_change_at(appointment, BOOKED_AT + MINUTE) == (
        False,
        f"Appointments can be changed online up to 24 hours before they start. {CALL} to "
        "change this one.",
    )


def test_no_grace_when_the_clinic_turns_it_off(riverside, settings):
    settings.ONLINE_CHANGE_GRACE_MINUTES = 0
    appointment = booking(riverside, starts_in=timedelta(hours=5))

    allowed, why = may_change_at(appointment, BOOKED_AT + MINUTE)

    assert not allowed
    assert "after booking online" not in why


def test_moving_a_booking_does_not_extend_its_grace(riverside, phil):
    # Wednesday 08:00, less than a day ahead: the grace decides, whenever the test runs.
    appointment = booking(riverside, starts_in=timedelta(hours=23), clinician=phil)
    later = appointment.starts_at + timedelta(hours=1)

    with time_machine.travel(BOOKED_AT + 10 * MINUTE, tick=False):
        appointment_reschedule(actor=None, appointment=appointment, starts_at=later)

    appointment.refresh_from_db()
    assert appointment_online_change_deadline(appointment) == BOOKED_AT + timedelta(minutes=60)


def test_a_cancelled_booking_has_no_deadline(riverside, fran):
    appointment = booking(riverside, starts_in=timedelta(hours=48))
    appointment_cancel(actor=fran, appointment=appointment, reason="clinic closed")

    assert appointment_online_change_deadline(appointment) is None


# --- The pages say the same thing ----------------------------------------------------------------


def deadline_sentence(page: str) -> str:
    match = re.search(r'<p data-testid="change-deadline">(.*?)</p>', page, re.S)
    assert match, "no deadline on the page"
    return match.group(1)


def test_the_confirmation_and_the_manage_page_show_the_same_deadline_in_local_time(
    client, riverside
):
    appointment = booking(riverside, starts_in=timedelta(hours=5))
    token = manage_token(appointment)

    with time_machine.travel(BOOKED_AT + MINUTE, tick=False):
        confirmed = client.get(f"/book/confirmed/{token}/").content.decode()
        manage = client.get(f"/book/manage/{token}/").content.decode()

    sentence = deadline_sentence(confirmed)
    assert sentence == deadline_sentence(manage)
    # 16:00 UTC is 10:00 AM in Chicago.
    assert (
        "You can change or cancel this booking online until <strong>Tuesday, November 3, "
        "2026, 10:00 AM CST</strong>."
    ) in sentence
    assert "Choose another time" in manage and "Cancel this appointment" in manage


def test_after_the_deadline_both_pages_say_why_not_and_offer_no_change(client, riverside):
    appointment = booking(riverside, starts_in=timedelta(hours=5))
    token = manage_token(appointment)

    with time_machine.travel(BOOKED_AT + timedelta(minutes=60), tick=False):
        confirmed = client.get(f"/book/confirmed/{token}/").content.decode()
        manage = client.get(f"/book/manage/{token}/").content.decode()
        refused = client.post(f"/book/manage/{token}/cancel/", follow=True)

    for page in (confirmed, manage):
        assert 'data-testid="change-deadline"' not in page
        assert "in the first 60 minutes after booking online" in page
    assert "Cancel this appointment" not in manage
    assert refused.redirect_chain == [(f"/book/manage/{token}/", 302)]
    appointment.refresh_from_db()
    assert appointment.status == AppointmentStatus.BOOKED


def test_within_the_grace_the_patient_cancels_a_booking_for_today(client, riverside):
    appointment = booking(riverside, starts_in=timedelta(hours=5))
    token = manage_token(appointment)

    with time_machine.travel(BOOKED_AT + timedelta(minutes=59), tick=False):
        response = client.post(f"/book/manage/{token}/cancel/", {"note": ""}, follow=True)

    assert "Your appointment is cancelled." in response.content.decode()
    appointment.refresh_from_db()
    assert appointment.status == AppointmentStatus.CANCELLED
