"""Booking a consultation from the public site: locations, free times, the details form, and
everything that can go wrong with it (honeypot, rate limits, a time just taken, a double
submit, bad input). The manage link is in test_public_booking_manage.py, the .ics in
test_ics.py; both use the helpers at the top of this file.
"""

from __future__ import annotations

import re
import threading
import uuid
from datetime import date, datetime, time, timedelta

import pytest
from django.db import connection
from django.test import Client

from clinic.messaging.registry import Rendered, kind_named
from clinic.models import AuditEvent, Location, OutboxMessage
from patients.models import Channel, CommunicationConsent, Patient, SexAtBirth
from patients.tests.factories import CommunicationConsentFactory, PatientFactory
from scheduling.booking import submit
from scheduling.booking.booker import consent_wording
from scheduling.booking.manage import manage_link
from scheduling.booking.offer import slot_value
from scheduling.message_queue import CONFIRMATION
from scheduling.models import Appointment, AppointmentStatus
from scheduling.services.free_time import SlotTaken
from scheduling.tests.factories import AppointmentFactory, appointment_type, clinic_location
from scheduling.tests.test_booking import at, next_week

# --- Shared helpers --------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def booking_cache(settings):
    """A cache of this test's own, so rate limits and nonces never leak between tests."""
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": f"public-booking-{uuid.uuid4()}",
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


def details_url(location: Location) -> str:
    return f"/book/{location.public_id}/details/"


def form_data(when: datetime, **overrides: object) -> dict[str, object]:
    """A complete, valid booking form for ``when``; ``None`` leaves a field out."""
    data: dict[str, object] = {
        "starts_at": slot_value(when),
        "nonce": f"nonce-{uuid.uuid4().hex}",
        "legal_first_name": "Jordan",
        "legal_last_name": "Rivera",
        "date_of_birth": "1984-03-27",
        "sex_at_birth": SexAtBirth.FEMALE,
        "email": "jordan.rivera@example.com",
        "mobile": "(312) 555-0142",
        "condition": "trd",
        "consent_sms": "on",
        "consent_email": "on",
        "website": "",
    }
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


def token_of(response) -> str:
    match = re.fullmatch(r"/book/confirmed/([^/]+)/", response["Location"])
    assert match, response["Location"]
    return match.group(1)


def booked(response) -> Appointment:
    return manage_link(token_of(response)).appointment


@pytest.fixture
def post_booking(client, django_capture_on_commit_callbacks):
    """Post a booking form and run what waits for the commit (the email)."""

    def post(location: Location, starts_at: datetime, **overrides: object):
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(details_url(location), form_data(starts_at, **overrides))

    return post


def confirmation_emails() -> list[tuple[OutboxMessage, Rendered]]:
    """The confirmation emails waiting in the outbox, oldest first, written as the worker
    will write them (the worker sends them to the patient's address on record)."""
    rows = (
        OutboxMessage.objects.filter(kind=CONFIRMATION, channel="email")
        .select_related("patient")
        .order_by("id")
    )
    return [(row, kind_named(CONFIRMATION).render(row)) for row in rows]


def ten_am(location: Location, day: date | None = None) -> datetime:
    return at(location, day or next_week(location), 10)


# --- Choosing a location and a time ---------------------------------------------------------


def test_it_lists_active_locations_with_address_phone_and_hours(
    client, riverside, django_assert_num_queries
):
    clinic_location(name="Lakeview", weekdays=range(5), opens_at=time(7))
    clinic_location(name="Old Town", is_active=False)
    with django_assert_num_queries(4):
        response = client.get("/book/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "Riverside" in page and "Lakeview" in page
    assert "Old Town" not in page
    assert "1 River St" in page and "+13125550100" in page
    assert "Mon–Sun: 8:00 AM – 6:00 PM" in page
    assert "Mon–Fri: 7:00 AM – 6:00 PM" in page and "Sat–Sun: Closed" in page
    assert f'href="/book/{riverside.public_id}/"' in page


def test_it_says_so_when_no_location_takes_bookings(client, db):
    response = client.get("/book/")
    assert response.status_code == 200
    assert "Online booking is not open at any of our locations" in response.content.decode()


def test_it_lists_free_times_by_local_day_in_the_location_zone(client, riverside):
    day = next_week(riverside)
    response = client.get(f"/book/{riverside.public_id}/?week=1")
    assert response.status_code == 200
    page = response.content.decode()
    assert "America/Chicago" in page
    heading = f"{day:%A}, {day:%B} {day.day}, {day.year}"
    assert heading in page
    # 08:00 to 17:15 (the last 45 minutes that end by closing), every 15 minutes.
    assert ">8:00 AM<" in page and ">5:15 PM<" in page and ">5:30 PM<" not in page
    assert f'href="/book/{riverside.public_id}/details/?start={slot_value(ten_am(riverside))}"' in (
        page
    )


def test_it_leaves_out_taken_times(client, riverside, phil):
    AppointmentFactory(
        location=riverside,
        appointment_type=appointment_type("consultation"),
        clinician=phil,
        starts_at=ten_am(riverside),
    )
    page = client.get(f"/book/{riverside.public_id}/?week=1").content.decode()
    assert f"start={slot_value(ten_am(riverside))}" not in page
    assert f"start={slot_value(at(riverside, next_week(riverside), 10, 45))}" in page


def test_it_pages_through_the_booking_horizon_a_week_at_a_time(client, riverside, settings):
    settings.BOOKING_HORIZON_DAYS = 30
    today = riverside.local_now().date()
    first = client.get(f"/book/{riverside.public_id}/").content.decode()
    assert "Week 1 of 5" in first and "?week=1" in first and "?week=-1" not in first
    last = client.get(f"/book/{riverside.public_id}/?week=4").content.decode()
    assert "Week 5 of 5" in last and "?week=5" not in last
    last_day = today + timedelta(days=30)
    assert f"{last_day:%A}, {last_day:%B} {last_day.day}" in last
    assert "Week 5 of 5" in client.get(f"/book/{riverside.public_id}/?week=99").content.decode()
    assert "Week 1 of 5" in client.get(f"/book/{riverside.public_id}/?week=x").content.decode()


def test_the_time_list_runs_the_same_queries_however_busy_the_week(
    client, riverside, phil, django_assert_num_queries
):
    with django_assert_num_queries(7):
        client.get(f"/book/{riverside.public_id}/?week=1")
    consultation = appointment_type("consultation")
    day = next_week(riverside)
    for offset in range(6):
        for hour in (9, 11, 14):
            AppointmentFactory(
                location=riverside,
                appointment_type=consultation,
                clinician=phil,
                starts_at=at(riverside, day + timedelta(days=offset), hour),
            )
    with django_assert_num_queries(7):
        response = client.get(f"/book/{riverside.public_id}/?week=1")
    assert f"start={slot_value(at(riverside, day, 9))}" not in response.content.decode()


def test_an_unknown_or_closed_location_is_not_found(client, riverside):
    riverside.is_active = False
    riverside.save(update_fields=["is_active"])
    assert client.get(f"/book/{riverside.public_id}/").status_code == 404
    assert client.get(f"/book/{uuid.uuid4()}/").status_code == 404
    assert client.get(f"/book/{uuid.uuid4()}/details/?start=x").status_code == 404


def test_it_says_so_when_consultations_cannot_be_booked_online(client, riverside):
    consultation = appointment_type("consultation")
    consultation.bookable_online = False
    consultation.save(update_fields=["bookable_online"])
    response = client.get(f"/book/{riverside.public_id}/")
    assert "Online booking is not available right now" in response.content.decode()
    assert "+13125550100" in response.content.decode()


# --- The details form ----------------------------------------------------------------------


def test_the_details_form_shows_the_chosen_time_and_each_consent_wording(client, riverside):
    starts_at = ten_am(riverside)
    response = client.get(f"{details_url(riverside)}?start={slot_value(starts_at)}")
    assert response.status_code == 200
    page = response.content.decode()
    day = next_week(riverside)
    assert f"{day:%A}, {day:%B} {day.day}, {day.year}, 10:00 AM C" in page
    assert "America/Chicago" in page
    assert consent_wording(Channel.SMS) in page
    assert consent_wording(Channel.EMAIL) in page
    # Two separate boxes, neither ticked.
    assert re.search(r'<input type="checkbox" name="consent_sms"(?![^>]*checked)', page)
    assert re.search(r'<input type="checkbox" name="consent_email"(?![^>]*checked)', page)
    # The honeypot: out of sight, named for screen readers, skipped by Tab.
    assert '<div class="visually-hidden">' in page
    assert "Leave this field empty" in page
    assert re.search(r'<input type="text" name="website"[^>]*tabindex="-1"', page)
    assert 'name="nonce"' in page


def test_the_details_form_sends_an_unavailable_time_back_to_the_list(client, riverside, phil):
    AppointmentFactory(
        location=riverside,
        appointment_type=appointment_type("consultation"),
        clinician=phil,
        starts_at=ten_am(riverside),
    )
    for start in [
        "nonsense",
        "2020-01-01T15:00Z",
        slot_value(at(riverside, next_week(riverside), 20)),
    ]:
        response = client.get(f"{details_url(riverside)}?start={start}", follow=True)
        assert response.redirect_chain == [(f"/book/{riverside.public_id}/", 302)]
        assert "That time can&#x27;t be booked any more" in response.content.decode()


def test_a_new_visitor_books_a_consultation(riverside, phil, post_booking, client):
    starts_at = ten_am(riverside)
    response = post_booking(riverside, starts_at)
    assert response.status_code == 302
    appointment = booked(response)
    assert appointment.starts_at == starts_at
    assert appointment.source == Appointment.Source.ONLINE
    assert appointment.status == AppointmentStatus.BOOKED
    assert appointment.created_by is None
    assert appointment.clinician == phil
    patient = appointment.patient
    assert (patient.legal_first_name, patient.legal_last_name) == ("Jordan", "Rivera")
    assert patient.date_of_birth == date(1984, 3, 27)
    assert patient.email == "jordan.rivera@example.com"
    assert patient.mobile == "+13125550142"
    assert patient.conditions == ["trd"]
    assert patient.preferred_location == riverside

    page = client.get(response["Location"]).content.decode()
    assert "You're booked" in page
    day = next_week(riverside)
    assert f"{day:%A}, {day:%B} {day.day}, {day.year}, 10:00 AM C" in page
    assert "We have emailed these details" in page
    assert "1 River St" in page and "+13125550100" in page
    assert f"/book/manage/{token_of(response)}/" in page
    assert f"/book/manage/{token_of(response)}/calendar.ics" in page

    assert AuditEvent.objects.filter(object_id=str(patient.public_id), action="create").exists()
    assert AuditEvent.objects.filter(object_id=str(appointment.public_id), action="create").exists()


def test_the_confirmation_email_is_minimal_with_an_ics_and_the_manage_link(
    riverside, post_booking, settings
):
    settings.CLINIC_NAME = "Riverbend Wellness"
    response = post_booking(riverside, ten_am(riverside))
    appointment = booked(response)
    [(row, message)] = confirmation_emails()
    assert row.appointment == appointment
    assert row.patient.email == "jordan.rivera@example.com"
    day = next_week(riverside)
    when = f"{day:%A}, {day:%B} {day.day}, {day.year}, 10:00 AM C"
    assert when in message.subject and when in message.body
    html = message.html
    assert when in html
    for text in (message.body, html):
        assert "Riverbend Wellness" in text
        assert "1 River St" in text and "+13125550100" in text
        assert "America/Chicago" in text
        assert "http://testserver/book/manage/" in text
        # Nothing clinical: no condition, no drug, no name.
        for word in ("depression", "ketamine", "Jordan", "Rivera", "infusion"):
            assert word.lower() not in text.lower()
    name, content, mimetype = message.attachments[0]
    assert (name, mimetype) == ("consultation.ics", "text/calendar")
    assert f"UID:{appointment.public_id}@testserver" in content
    assert "BEGIN:VTIMEZONE" in content


def test_no_email_is_sent_without_consent_to_email(riverside, post_booking, client):
    response = post_booking(riverside, ten_am(riverside), consent_email=None)
    assert response.status_code == 302
    assert confirmation_emails() == []
    assert not OutboxMessage.objects.filter(channel="email").exists(), "no reminders either"
    page = client.get(response["Location"]).content.decode()
    assert "You chose not to get emails from us, so nothing was emailed" in page


@pytest.mark.parametrize(
    "typed",
    ["(312) 555-0142", "312-555-0142", "312.555.0142", "1 312 555 0142", "+1 312 555 0142"],
)
def test_it_accepts_the_usual_ways_of_writing_a_us_mobile(riverside, post_booking, typed):
    response = post_booking(riverside, ten_am(riverside), mobile=typed)
    assert booked(response).patient.mobile == "+13125550142"


def test_it_records_each_consent_with_its_wording(riverside, post_booking):
    response = post_booking(riverside, ten_am(riverside), consent_sms=None)
    patient = booked(response).patient
    rows = {row.channel: row for row in CommunicationConsent.objects.filter(patient=patient)}
    assert rows[Channel.EMAIL].granted is True
    assert rows[Channel.EMAIL].wording == consent_wording(Channel.EMAIL)
    assert rows[Channel.EMAIL].method == "online booking form"
    assert rows[Channel.EMAIL].recorded_by is None
    # Not ticked: recorded once as not given, with the wording the patient was shown.
    assert rows[Channel.SMS].granted is False
    assert rows[Channel.SMS].wording == consent_wording(Channel.SMS)


# --- Known and unknown bookers ---------------------------------------------------------------


@pytest.fixture
def jordan(db) -> Patient:
    """Jordan Rivera, already a patient, with consent to both channels on file."""
    patient = PatientFactory(
        legal_first_name="Jordan",
        legal_last_name="Rivera",
        date_of_birth=date(1984, 3, 27),
        email="jordan.rivera@example.com",
        mobile="+13125550142",
    )
    CommunicationConsentFactory(patient=patient, channel=Channel.EMAIL, granted=True)
    CommunicationConsentFactory(patient=patient, channel=Channel.SMS, granted=True)
    return patient


def test_a_known_patient_is_matched_by_email_date_of_birth_and_last_name(
    riverside, post_booking, jordan
):
    response = post_booking(
        riverside, ten_am(riverside), legal_last_name="RIVERA", mobile="(773) 555-0100"
    )
    assert booked(response).patient == jordan
    assert Patient.objects.count() == 1
    jordan.refresh_from_db()
    assert jordan.mobile == "+13125550142", "a known record is not overwritten"


def test_a_known_patient_is_matched_by_mobile_and_has_blanks_filled_in(
    riverside, post_booking, jordan
):
    jordan.email = ""
    jordan.save(update_fields=["email"])
    response = post_booking(riverside, ten_am(riverside), email="Jordan.R@Example.com")
    assert booked(response).patient == jordan
    jordan.refresh_from_db()
    assert jordan.email == "jordan.r@example.com"


def test_another_date_of_birth_is_another_patient(riverside, post_booking, jordan):
    response = post_booking(riverside, ten_am(riverside), date_of_birth="1985-03-27")
    assert booked(response).patient != jordan
    assert Patient.objects.count() == 2


def test_known_consent_is_recorded_only_when_it_changes(riverside, post_booking, jordan):
    CommunicationConsentFactory(patient=jordan, channel=Channel.SMS, granted=False)
    post_booking(riverside, ten_am(riverside), consent_email=None)
    rows = CommunicationConsent.objects.filter(patient=jordan)
    # SMS given again (it had been withdrawn); email already given, and an unticked box
    # does not withdraw it.
    assert rows.count() == 4
    latest = rows.order_by("-recorded_at", "-id").first()
    assert (latest.channel, latest.granted) == (Channel.SMS, True)
    assert latest.wording == consent_wording(Channel.SMS)


def _same_apart_from_tokens(text: str) -> str:
    text = text.replace("\r\n ", "")  # unfold .ics lines
    text = re.sub(r"/book/(manage|confirmed)/[^/\s\"]+/", r"/book/\1/TOKEN/", text)
    text = re.sub(r'"X-CSRFToken": "[^"]+"', "CSRF", text)
    return re.sub(r"UID:[^\r\n]+|DTSTAMP:[^\r\n]+|SEQUENCE:[^\r\n]+", "", text)


def test_known_and_unknown_bookers_get_identical_responses_and_emails(
    riverside, post_booking, client, jordan, fran
):
    """Whether the booker was already a patient shows nowhere: Jordan (known) books a time,
    staff cancel it, then a stranger books the same time; apart from the tokens, every byte
    they were sent is the same."""
    from scheduling.services.status_changes import appointment_cancel

    starts_at = ten_am(riverside)
    known = post_booking(riverside, starts_at)
    known_page = client.get(known["Location"])
    assert booked(known).patient == jordan
    # Written now, as the worker would within a minute: once cancelled it is not sent.
    [(_, first)] = confirmation_emails()
    appointment_cancel(actor=fran, appointment=booked(known), reason="test")

    unknown = post_booking(riverside, starts_at, email="sam.lee@example.com", mobile="+13125550177")
    unknown_page = client.get(unknown["Location"])
    assert booked(unknown).patient != jordan
    assert Patient.objects.count() == 2

    assert known.status_code == unknown.status_code == 302
    assert known.content == unknown.content
    assert _same_apart_from_tokens(known["Location"]) == _same_apart_from_tokens(
        unknown["Location"]
    )
    assert known_page.status_code == unknown_page.status_code == 200
    assert _same_apart_from_tokens(known_page.content.decode()) == _same_apart_from_tokens(
        unknown_page.content.decode()
    )
    (_, second) = confirmation_emails()[1]
    assert first.subject == second.subject
    assert _same_apart_from_tokens(first.body) == _same_apart_from_tokens(second.body)
    assert _same_apart_from_tokens(first.html) == _same_apart_from_tokens(second.html)
    assert _same_apart_from_tokens(first.attachments[0][1]) == _same_apart_from_tokens(
        second.attachments[0][1]
    )


# --- The honeypot and rate limits ---------------------------------------------------------------


def test_a_filled_honeypot_looks_like_a_booking_but_books_nothing(riverside, post_booking, client):
    response = post_booking(riverside, ten_am(riverside), website="http://spam.example")
    assert response.status_code == 302
    assert response["Location"].startswith("/book/confirmed/")
    page = client.get(response["Location"])
    assert page.status_code == 200
    assert "You're booked" in page.content.decode()
    assert Patient.objects.count() == 0
    assert Appointment.objects.count() == 0
    assert CommunicationConsent.objects.count() == 0
    assert OutboxMessage.objects.count() == 0
    # Its links lead nowhere.
    manage = re.search(r'href="(/book/manage/[^"]+/)"', page.content.decode()).group(1)
    assert client.get(manage).status_code == 404


def test_it_limits_bookings_from_one_address_to_five_an_hour(riverside, post_booking):
    for number in range(5):
        response = post_booking(
            riverside,
            ten_am(riverside),
            email=f"person{number}@example.com",
            mobile=f"+1312555020{number}",
            website="bot",
        )
        assert response.status_code == 302
    response = post_booking(
        riverside, ten_am(riverside), email="sixth@example.com", mobile="+13125550299"
    )
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    text = response.content.decode()
    assert "There have been 5 booking attempts from your internet connection in the last hour" in (
        text
    )
    assert "call Riverside on +13125550100" in text
    assert "Nothing was booked" in text
    assert Appointment.objects.count() == 0


def test_the_address_limit_counts_real_bookings_and_spares_other_addresses(
    riverside, client, settings, django_capture_on_commit_callbacks
):
    settings.BOOKING_LIMIT_PER_IP_PER_HOUR = 2
    day = next_week(riverside)
    for number in range(2):
        response = client.post(
            details_url(riverside),
            form_data(
                at(riverside, day, 9 + number),
                email=f"p{number}@example.com",
                mobile=f"+1312555030{number}",
            ),
        )
        assert response.status_code == 302
    refused = client.post(
        details_url(riverside),
        form_data(at(riverside, day, 12), email="p3@example.com", mobile="+13125550303"),
    )
    assert refused.status_code == 429
    elsewhere = client.post(
        details_url(riverside),
        form_data(at(riverside, day, 12), email="p3@example.com", mobile="+13125550303"),
        REMOTE_ADDR="203.0.113.9",
    )
    assert elsewhere.status_code == 302
    assert Appointment.objects.count() == 3


def test_behind_a_proxy_each_visitor_has_an_address_limit_of_their_own(riverside, client, settings):
    # Every request comes from the proxy (REMOTE_ADDR 10.0.0.2); the proxy names the visitor.
    settings.TRUSTED_PROXY_COUNT = 1
    settings.BOOKING_LIMIT_PER_IP_PER_HOUR = 2
    day = next_week(riverside)

    def book(hour: int, number: int, forwarded_for: str):
        return client.post(
            details_url(riverside),
            form_data(
                at(riverside, day, hour),
                email=f"visitor{number}@example.com",
                mobile=f"+1312555040{number}",
            ),
            REMOTE_ADDR="10.0.0.2",
            HTTP_X_FORWARDED_FOR=forwarded_for,
        )

    assert book(9, 0, "198.51.100.1").status_code == 302
    assert book(10, 1, "198.51.100.1").status_code == 302
    assert book(11, 2, "198.51.100.1").status_code == 429
    # Another visitor behind the same proxy is not held back by the first one's bookings.
    assert book(11, 3, "198.51.100.2").status_code == 302
    # Nor does the first escape the limit by sending an address of its own choosing: the
    # proxy appends the real one, and only that one is believed.
    assert book(12, 4, "203.0.113.99, 198.51.100.1").status_code == 429
    assert Appointment.objects.count() == 3


def test_it_limits_bookings_for_one_email_or_mobile_to_three_a_day(riverside, client):
    for number in range(3):
        response = client.post(
            details_url(riverside),
            form_data(ten_am(riverside), website="bot"),
            REMOTE_ADDR=f"203.0.113.{number}",
        )
        assert response.status_code == 302
    same_email = client.post(
        details_url(riverside),
        form_data(ten_am(riverside), mobile="+13125550999"),
        REMOTE_ADDR="203.0.113.50",
    )
    same_mobile = client.post(
        details_url(riverside),
        form_data(ten_am(riverside), email="other@example.com"),
        REMOTE_ADDR="203.0.113.51",
    )
    for response in (same_email, same_mobile):
        assert response.status_code == 429
        assert (
            "This email address or mobile number has been used for 3 booking attempts in the "
            "last 24 hours" in response.content.decode()
        )
    assert Appointment.objects.count() == 0


def test_an_invalid_form_uses_up_no_attempt(riverside, client, settings):
    settings.BOOKING_LIMIT_PER_IP_PER_HOUR = 1
    for _ in range(3):
        response = client.post(details_url(riverside), form_data(ten_am(riverside), email="x"))
        assert response.status_code == 200
    assert client.post(details_url(riverside), form_data(ten_am(riverside))).status_code == 302


# --- A time just taken, a double submit ---------------------------------------------------


def test_a_time_taken_meanwhile_is_refused_with_the_nearest_times_and_a_link_to_all(
    riverside, phil, client
):
    """The refusal shows the nearest free times and links to the week of the time asked
    for, without drawing that week: a crowd asking for one time is answered quickly."""
    starts_at = ten_am(riverside)
    AppointmentFactory(
        location=riverside,
        appointment_type=appointment_type("consultation"),
        clinician=phil,
        starts_at=starts_at,
    )
    patients = Patient.objects.count()
    response = client.post(details_url(riverside), form_data(starts_at))
    assert response.status_code == 409
    page = response.content.decode()
    assert "Sorry, that time was just taken. Please choose another time." in page
    assert "The nearest free times" in page
    for alternative in (
        at(riverside, next_week(riverside), 9, 15),
        at(riverside, next_week(riverside), 10, 45),
    ):
        assert f"start={slot_value(alternative)}" in page
    assert page.count("start=") == 3
    assert f'href="/book/{riverside.public_id}/?week=1"' in page
    assert "Choose another time at Riverside" in page
    assert Patient.objects.count() == patients
    assert CommunicationConsent.objects.count() == 0
    assert Appointment.objects.count() == 1


def test_a_refusal_with_no_free_time_nearby_links_to_every_free_time(
    riverside, client, monkeypatch
):
    def taken(**_: object) -> None:
        raise SlotTaken("Not free", [])

    monkeypatch.setattr(submit, "free_slot_or_refuse", taken)
    response = client.post(details_url(riverside), form_data(ten_am(riverside)))
    assert response.status_code == 409
    page = response.content.decode()
    assert "Sorry, that time was just taken. Please choose another time." in page
    assert (
        f'There are no other free times nearby: <a href="/book/{riverside.public_id}/?week=1">'
        "see all free times</a> and choose another week, or call Riverside on"
    ) in page
    assert "The nearest free times" not in page


def test_the_same_form_sent_twice_books_once(riverside, post_booking):
    data = {"nonce": "one-form"}
    first = post_booking(riverside, ten_am(riverside), **data)
    second = post_booking(riverside, ten_am(riverside), **data)
    assert first.status_code == second.status_code == 302
    assert booked(first) == booked(second)
    assert Appointment.objects.count() == 1
    assert Patient.objects.count() == 1
    assert len(confirmation_emails()) == 1


@pytest.mark.django_db(transaction=True)
def test_the_same_form_sent_twice_at_once_books_once(phil):
    riverside = clinic_location(name="Riverside", staff=[phil], chairs=1)
    data = form_data(ten_am(riverside), nonce="double-click")
    barrier = threading.Barrier(2)
    responses = []

    def submit() -> None:
        try:
            barrier.wait()
            responses.append(Client().post(details_url(riverside), data))
        finally:
            connection.close()

    threads = [threading.Thread(target=submit) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [response.status_code for response in responses] == [302, 302]
    assert booked(responses[0]) == booked(responses[1])
    assert Appointment.objects.count() == 1
    assert Patient.objects.count() == 1


# --- Bad input ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"email": "jordan@"}, "email", "Enter a valid email address, e.g. name@example.com."),
        ({"mobile": "555-0142"}, "mobile", "Enter your mobile number with its area code"),
        ({"mobile": "call me"}, "mobile", "Enter your mobile number with its area code"),
        ({"date_of_birth": "2999-01-01"}, "date_of_birth", "The date of birth is in the future"),
        ({"date_of_birth": "1984-02-30"}, "date_of_birth", "Enter your date of birth as a real"),
        ({"legal_first_name": ""}, "legal_first_name", "Enter your first name"),
        ({"sex_at_birth": "robot"}, "sex_at_birth", "Choose the sex recorded at your birth"),
        ({"condition": "flu"}, "condition", "Choose the main reason for your visit from"),
        ({"condition": ""}, "condition", "Choose the main reason for your visit"),
    ],
)
def test_bad_details_are_shown_next_to_their_field_and_save_nothing(
    riverside, client, change, field, message
):
    response = client.post(details_url(riverside), form_data(ten_am(riverside), **change))
    assert response.status_code == 200
    form = response.context["form"]
    assert any(message in error for error in form.errors[field]), form.errors
    page = response.content.decode()
    assert f'aria-describedby="id_{field}_error' in page or f"error_1_id_{field}" in page
    assert Patient.objects.count() == 0
    assert Appointment.objects.count() == 0
    assert CommunicationConsent.objects.count() == 0


@pytest.mark.parametrize(
    ("starts_at", "message"),
    [
        (lambda loc: loc.local_now() - timedelta(days=1), "That time has passed"),
        (lambda loc: at(loc, next_week(loc), 20), "Riverside does not offer a consultation"),
        (lambda loc: at(loc, next_week(loc), 17, 30), "Riverside does not offer a consultation"),
        (lambda loc: at(loc, next_week(loc), 10, 7), "Riverside does not offer a consultation"),
        (
            lambda loc: at(loc, loc.local_now().date() + timedelta(days=60), 10),
            "Online booking is open for the next 30 days",
        ),
    ],
)
def test_a_time_that_cannot_be_booked_is_a_field_error(riverside, client, starts_at, message):
    response = client.post(
        details_url(riverside),
        form_data(starts_at(riverside), email="bad@", mobile="12", date_of_birth="2999-01-01"),
    )
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert any(message in error for error in errors["starts_at"]), errors
    # The other problems are shown at the same time.
    assert {"email", "mobile", "date_of_birth"} <= set(errors)
    assert 'data-testid="starts-at-error"' in response.content.decode()
    assert Patient.objects.count() == 0
    assert Appointment.objects.count() == 0


def test_a_time_outside_the_clinicians_shifts_is_a_field_error(riverside, client, post_booking):
    riverside.shifts.update(ends_at=time(12))
    response = post_booking(riverside, at(riverside, next_week(riverside), 14))
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert "outside the physicians' shifts" in errors["starts_at"][0]
    assert Patient.objects.count() == 0


@pytest.mark.parametrize("value", ["", "tomorrow", "2026-13-45T10:00Z", "2026-03-09T10:00"])
def test_a_tampered_time_is_a_field_error(riverside, client, value):
    response = client.post(details_url(riverside), form_data(ten_am(riverside), starts_at=value))
    assert response.status_code == 200
    assert response.context["form"].errors["starts_at"] == [
        "That appointment time could not be read. Please choose a time from the list again."
    ]
    assert Patient.objects.count() == 0


def test_a_tampered_nonce_still_books_once(riverside, post_booking):
    response = post_booking(riverside, ten_am(riverside), nonce="<script>" * 20)
    assert response.status_code == 302
    assert Appointment.objects.count() == 1


def test_the_form_keeps_what_was_typed_after_an_error(riverside, client):
    response = client.post(details_url(riverside), form_data(ten_am(riverside), email="x@"))
    page = response.content.decode()
    assert 'value="Jordan"' in page and 'value="Rivera"' in page
    assert "10:00 AM" in page
