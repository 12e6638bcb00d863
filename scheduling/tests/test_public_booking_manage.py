"""The manage link a patient gets after booking online: seeing the booking, cancelling and
moving it within the clinic's rules, and every way a link can fail (too late, expired,
altered) — a clear page, never a 500."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.core import signing
from django.utils import timezone

from clinic.messaging.registry import Rendered, kind_named
from clinic.models import OutboxMessage
from patients.models import Channel
from patients.tests.factories import CommunicationConsentFactory, PatientFactory
from scheduling.booking.manage import manage_link, manage_token
from scheduling.booking.offer import slot_value
from scheduling.message_queue import CANCELLED, MOVED
from scheduling.models import Appointment, AppointmentStatus, WaitlistEntry
from scheduling.tests import test_public_booking
from scheduling.tests.factories import AppointmentFactory, appointment_type
from scheduling.tests.test_booking import at, next_week

# The booking tests' fixtures: a cache of each test's own (autouse) and Riverside.
booking_cache = test_public_booking.booking_cache
riverside = test_public_booking.riverside


@pytest.fixture
def patient(db):
    patient = PatientFactory(email="sam.lee@example.com")
    CommunicationConsentFactory(patient=patient, channel=Channel.EMAIL, granted=True)
    return patient


def online(location, starts_at, patient, clinician, **fields) -> Appointment:
    """A consultation booked online at ``starts_at``."""
    return AppointmentFactory(
        location=location,
        patient=patient,
        clinician=clinician,
        appointment_type=appointment_type("consultation"),
        starts_at=starts_at,
        source=Appointment.Source.ONLINE,
        **fields,
    )


@pytest.fixture
def appointment(riverside, patient, phil) -> Appointment:
    return online(riverside, at(riverside, next_week(riverside), 10), patient, phil)


@pytest.fixture
def token(appointment) -> str:
    return manage_token(appointment)


def manage_url(token: str, action: str = "") -> str:
    return f"/book/manage/{token}/" + (f"{action}/" if action else "")


def queued_emails(kind: str) -> list[tuple[OutboxMessage, Rendered]]:
    """The emails of ``kind`` waiting in the outbox, written as the worker will write them."""
    rows = OutboxMessage.objects.filter(kind=kind, channel="email").select_related("patient")
    return [(row, kind_named(kind).render(row)) for row in rows]


@pytest.fixture
def on_commit(django_capture_on_commit_callbacks):
    def run(call):
        with django_capture_on_commit_callbacks(execute=True):
            return call()

    return run


# --- Seeing the booking ----------------------------------------------------------------------


def test_the_link_shows_the_booking_with_ways_to_change_it(client, token, riverside):
    response = client.get(manage_url(token))
    assert response.status_code == 200
    page = response.content.decode()
    day = next_week(riverside)
    assert f"{day:%A}, {day:%B} {day.day}, {day.year}, 10:00 AM C" in page
    assert "America/Chicago" in page and "1 River St" in page and "+13125550100" in page
    assert f'href="{manage_url(token, "cancel")}"' in page
    assert f'href="{manage_url(token, "reschedule")}"' in page
    assert f'href="/book/manage/{token}/calendar.ics"' in page
    assert '<meta name="robots" content="noindex, nofollow">' in page
    assert response["Cache-Control"].startswith("max-age=0")


def test_the_confirmation_of_a_cancelled_booking_shows_the_booking_as_it_is(
    client, appointment, token, fran
):
    from scheduling.services.status_changes import appointment_cancel

    appointment_cancel(actor=fran, appointment=appointment, reason="clinic closed")
    response = client.get(f"/book/confirmed/{token}/")
    assert response.status_code == 302
    assert response["Location"] == manage_url(token)
    page = client.get(manage_url(token)).content.decode()
    assert "This appointment is cancelled." in page
    assert "Cancel this appointment" not in page and "Choose another time" not in page
    assert 'href="/book/"' in page


# --- Cancelling -------------------------------------------------------------------------------


def test_the_patient_cancels_after_confirming(client, appointment, token, on_commit):
    page = client.get(manage_url(token, "cancel")).content.decode()
    assert "Cancel your appointment?" in page and "Yes, cancel it" in page
    appointment.refresh_from_db()
    assert appointment.status == AppointmentStatus.BOOKED, "a GET changes nothing"

    response = on_commit(
        lambda: client.post(manage_url(token, "cancel"), {"note": "feeling better"}, follow=True)
    )
    assert response.redirect_chain == [(manage_url(token), 302)]
    assert "Your appointment is cancelled." in response.content.decode()
    appointment.refresh_from_db()
    assert appointment.status == AppointmentStatus.CANCELLED
    assert appointment.cancel_reason == "cancelled by the patient online: feeling better"
    [(row, message)] = queued_emails(CANCELLED)
    assert row.patient == appointment.patient and row.patient.email == "sam.lee@example.com"
    assert "is cancelled" in message.subject
    assert "STATUS:CANCELLED" in message.attachments[0][1]


def test_a_cancel_without_a_reason_says_who_cancelled(client, appointment, token):
    client.post(manage_url(token, "cancel"), {"note": "  "})
    appointment.refresh_from_db()
    assert appointment.cancel_reason == "cancelled by the patient online"


def test_a_cancel_frees_the_time_for_the_waitlist(client, appointment, token, riverside):
    waiting = WaitlistEntry.objects.create(
        patient=PatientFactory(),
        location=riverside,
        appointment_type=appointment.appointment_type,
    )
    client.post(manage_url(token, "cancel"), {})
    waiting.refresh_from_db()
    assert waiting.state == WaitlistEntry.State.OFFERED


def test_no_email_about_a_cancel_without_consent_to_email(
    client,
    riverside,
    phil,
    on_commit,
):
    quiet = online(riverside, at(riverside, next_week(riverside), 11), PatientFactory(), phil)
    on_commit(lambda: client.post(manage_url(manage_token(quiet), "cancel"), {}))
    quiet.refresh_from_db()
    assert quiet.status == AppointmentStatus.CANCELLED
    assert not OutboxMessage.objects.filter(patient=quiet.patient).exists()


def test_a_long_reason_is_refused_and_changes_nothing(client, appointment, token):
    response = client.post(manage_url(token, "cancel"), {"note": "x" * 300})
    assert response.status_code == 200
    assert "Please keep the reason to 167 characters" in response.content.decode()
    appointment.refresh_from_db()
    assert appointment.status == AppointmentStatus.BOOKED


# --- Moving ---------------------------------------------------------------------------------


def test_the_patient_moves_the_booking_to_another_free_time(
    client,
    appointment,
    token,
    riverside,
    on_commit,
):
    new_time = at(riverside, next_week(riverside), 14, 30)
    page = client.get(manage_url(token, "reschedule") + "?week=1").content.decode()
    assert "Choose another time" in page
    assert f"{manage_url(token, 'reschedule')}?start={slot_value(new_time)}" in page
    # Its own time is not offered as a new one... but the times around it are free for it.
    assert f"?start={slot_value(appointment.starts_at)}" not in page

    confirm = client.get(f"{manage_url(token, 'reschedule')}?start={slot_value(new_time)}")
    assert confirm.status_code == 200
    assert "Move your appointment?" in confirm.content.decode()
    appointment.refresh_from_db()
    assert appointment.starts_at != new_time, "a GET changes nothing"

    response = on_commit(
        lambda: client.post(manage_url(token, "reschedule"), {"starts_at": slot_value(new_time)})
    )
    assert response.status_code == 302
    appointment.refresh_from_db()
    assert appointment.starts_at == new_time
    assert appointment.status == AppointmentStatus.BOOKED
    new_token = re.fullmatch(r"/book/manage/([^/]+)/", response["Location"]).group(1)
    assert manage_link(new_token).appointment == appointment
    page = client.get(response["Location"]).content.decode()
    assert "Your appointment has moved to" in page and "2:30 PM" in page
    [(_row, message)] = queued_emails(MOVED)
    assert "has moved" in message.subject and "2:30 PM" in message.subject
    assert "2:30 PM" in message.body
    assert "http://testserver/book/manage/" in message.body


def test_a_move_to_a_time_just_taken_offers_the_nearest_ones(
    client,
    appointment,
    token,
    riverside,
    phil,
):
    wanted = at(riverside, next_week(riverside), 15)
    online(riverside, wanted, PatientFactory(), phil)
    response = client.post(manage_url(token, "reschedule"), {"starts_at": slot_value(wanted)})
    assert response.status_code == 409
    page = response.content.decode()
    assert "Sorry, that time was just taken. Please choose another time." in page
    assert f"?start={slot_value(at(riverside, next_week(riverside), 15, 45))}" in page
    appointment.refresh_from_db()
    assert appointment.starts_at == at(riverside, next_week(riverside), 10)


@pytest.mark.parametrize("value", ["", "garbage", "2020-01-01T10:00Z"])
def test_a_move_to_a_bad_time_is_refused_and_changes_nothing(client, appointment, token, value):
    before = appointment.starts_at
    response = client.post(manage_url(token, "reschedule"), {"starts_at": value}, follow=True)
    assert response.status_code == 200
    page = response.content.decode()
    assert "could not be read" in page or "That time has passed" in page
    appointment.refresh_from_db()
    assert appointment.starts_at == before


def test_choosing_a_time_outside_the_hours_goes_back_to_the_list(client, token, riverside):
    evening = at(riverside, next_week(riverside), 19)
    response = client.get(
        f"{manage_url(token, 'reschedule')}?start={slot_value(evening)}", follow=True
    )
    assert response.redirect_chain == [(manage_url(token, "reschedule"), 302)]
    assert "Riverside does not offer a consultation at that time" in response.content.decode()


# --- Too late, expired, altered ------------------------------------------------------------------


@pytest.fixture
def soon(riverside, patient, phil) -> Appointment:
    """Inside the 24 hours' notice, booked long enough ago that the grace after booking
    online (ONLINE_CHANGE_GRACE_MINUTES) is over."""
    starts_at = (timezone.now() + timedelta(hours=3)).replace(second=0, microsecond=0)
    return online(
        riverside, starts_at, patient, phil, created_at=timezone.now() - timedelta(days=2)
    )


def test_inside_the_notice_period_the_patient_is_asked_to_call(client, soon):
    token = manage_token(soon)
    page = client.get(manage_url(token)).content.decode()
    assert (
        "Appointments can be changed online up to 24 hours before they start, or in the first "
        "60 minutes after booking online."
    ) in page
    assert "Call Riverside on +13125550100 to change this one." in page
    assert "Cancel this appointment" not in page and "Choose another time" not in page

    for method in (client.get, client.post):
        response = method(manage_url(token, "cancel"), follow=True)
        assert response.redirect_chain == [(manage_url(token), 302)]
        assert "Call Riverside on +13125550100" in response.content.decode()
    response = client.get(manage_url(token, "reschedule"), follow=True)
    assert response.redirect_chain == [(manage_url(token), 302)]
    soon.refresh_from_db()
    assert soon.status == AppointmentStatus.BOOKED


def test_a_move_posted_inside_the_notice_period_is_refused(client, soon, riverside):
    token = manage_token(soon)
    later = at(riverside, next_week(riverside), 11)
    client.post(manage_url(token, "reschedule"), {"starts_at": slot_value(later)})
    soon.refresh_from_db()
    assert soon.starts_at != later


def test_a_link_to_an_appointment_that_is_over_has_expired(client, riverside, patient, phil):
    past = online(riverside, timezone.now() - timedelta(hours=2), patient, phil)
    token = manage_token(past)
    for url in (
        manage_url(token),
        manage_url(token, "cancel"),
        f"/book/manage/{token}/calendar.ics",
    ):
        response = client.get(url)
        assert response.status_code == 410
        assert "This link has expired because the appointment it was for is over" in (
            response.content.decode()
        )
    assert "+13125550100" in response.content.decode()


def test_a_very_old_link_has_expired(client, token, monkeypatch):
    real_time = signing.time.time
    monkeypatch.setattr(signing.time, "time", lambda: real_time() + 401 * 24 * 60 * 60)
    response = client.get(manage_url(token))
    assert response.status_code == 410


@pytest.mark.parametrize(
    "make_bad",
    [
        lambda token: token[:-3] + ("aaa" if not token.endswith("aaa") else "bbb"),
        lambda token: "x" + token,
        lambda token: "not-a-token",
        lambda token: signing.dumps(
            {"a": "not-a-uuid"}, salt="chairside.scheduling.booking.manage"
        ),
        lambda token: signing.dumps({"a": "0" * 32}, salt="chairside.scheduling.booking.manage"),
        lambda token: signing.dumps(["a"], salt="chairside.scheduling.booking.manage"),
        lambda token: signing.dumps({"a": "x"}, salt="another.salt"),
    ],
)
def test_an_altered_or_made_up_link_is_not_found(client, token, make_bad):
    bad = make_bad(token)
    for url in (
        manage_url(bad),
        manage_url(bad, "cancel"),
        manage_url(bad, "reschedule"),
        f"/book/manage/{bad}/calendar.ics",
        f"/book/confirmed/{bad}/",
    ):
        response = client.get(url)
        assert response.status_code == 404, url
        assert "This link is not valid" in response.content.decode()


def test_a_link_cannot_reach_an_appointment_booked_by_staff(client, riverside, patient, phil):
    by_staff = AppointmentFactory(
        location=riverside,
        patient=patient,
        clinician=phil,
        appointment_type=appointment_type("consultation"),
        starts_at=at(riverside, next_week(riverside), 12),
    )
    response = client.post(manage_url(manage_token(by_staff), "cancel"), {})
    assert response.status_code == 404
    by_staff.refresh_from_db()
    assert by_staff.status == AppointmentStatus.BOOKED


# --- The calendar file ------------------------------------------------------------------------


def test_the_calendar_file_downloads(client, appointment, token):
    response = client.get(f"/book/manage/{token}/calendar.ics")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="consultation.ics"'
    content = response.content.decode()
    assert content.startswith("BEGIN:VCALENDAR\r\n")
    assert f"UID:{appointment.public_id}@testserver\r\n" in content
    assert "STATUS:CONFIRMED" in content
