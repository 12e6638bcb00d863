"""What the patient writes in "Tell us a little more" when booking online: kept on the
appointment (``booking_note``) and shown to the staff who may see the appointment (the
appointment page, the chart's appointments, the API), never on a page the patient sees, in a
log, the audit log or a URL, and not on the board. Words that raise a safety alert are for
the clinicians only, as the alert's are. The triage itself is test_booking_triage.py's."""

from __future__ import annotations

import logging
from datetime import date

import pytest
from django.core.exceptions import ValidationError

from clinic.models import AuditEvent, Location
from patients.models import SafetyAlert
from scheduling.booking.booker import BookingDetails
from scheduling.booking.offer import slot_value
from scheduling.booking.submit import booking_submit
from scheduling.models import Appointment
from scheduling.selectors import booking_note_for
from scheduling.tests import test_public_booking
from scheduling.tests.factories import AppointmentFactory, appointment_type, clinic_location
from scheduling.tests.test_booking import at, next_week
from scheduling.tests.test_public_booking import (
    booked,
    confirmation_emails,
    details_url,
    form_data,
    ten_am,
    token_of,
)

# The booking tests' fixtures: a cache of each test's own (autouse) and posting a booking.
booking_cache = test_public_booking.booking_cache
post_booking = test_public_booking.post_booking

NOTE = "Ten years of depression; two medications have not helped. Mornings are hardest."
WORDS = "Suicidal thoughts most nights since the spring"


@pytest.fixture
def riverside(phil) -> Location:
    """The booking tests' Riverside, with an on-call address for the safety alert."""
    return clinic_location(
        name="Riverside",
        staff=[phil],
        chairs=1,
        address_line1="1 River St",
        postal_code="60601",
        phone="+13125550100",
        on_call_email="oncall@riverside.test",
    )


def detail_url(appointment: Appointment) -> str:
    return f"/staff/schedule/appointments/{appointment.public_id}/"


def chart_url(appointment: Appointment) -> str:
    return f"/staff/patients/{appointment.patient.public_id}/"


def api_url(appointment: Appointment) -> str:
    return f"/api/v1/appointments/{appointment.public_id}/"


# --- Keeping it ------------------------------------------------------------------------------


def test_it_keeps_what_the_patient_wrote_with_the_appointment(post_booking, riverside):
    response = post_booking(riverside, ten_am(riverside), reason=f"  {NOTE}\n\n")

    assert response.status_code == 302
    assert booked(response).booking_note == NOTE


def test_a_booking_without_a_note_keeps_nothing(client, post_booking, riverside, fran):
    response = post_booking(riverside, ten_am(riverside))
    appointment = booked(response)
    client.force_login(fran)

    assert appointment.booking_note == ""
    assert booking_note_for(fran, appointment) is None
    assert 'data-testid="booking-note"' not in client.get(detail_url(appointment)).content.decode()


def test_a_note_too_long_is_explained_and_nothing_is_booked(client, riverside):
    response = client.post(details_url(riverside), form_data(ten_am(riverside), reason="x" * 501))

    assert response.status_code == 200
    assert "Please keep this to 500 characters (it has 501)" in response.content.decode()
    assert not Appointment.objects.exists()


def test_the_booking_service_refuses_a_note_too_long_too(riverside):
    details = BookingDetails(
        legal_first_name="Jordan",
        legal_last_name="Rivera",
        date_of_birth=date(1984, 3, 27),
        sex_at_birth="female",
        email="jordan.rivera@example.com",
        mobile="+13125550142",
        condition="trd",
        consent_sms=False,
        consent_email=False,
        reason="x" * 501,
    )

    with pytest.raises(ValidationError) as refused:
        booking_submit(
            location=riverside,
            appointment_type=appointment_type("consultation"),
            starts_at=ten_am(riverside),
            details=details,
            nonce="",
            base_url="https://clinic.example.org",
        )

    assert "Please keep this to 500 characters" in refused.value.message_dict["reason"][0]
    assert not Appointment.objects.exists()


def test_it_stays_out_of_logs_the_audit_log_and_urls(client, post_booking, riverside, fran, caplog):
    caplog.set_level(logging.DEBUG)
    response = post_booking(riverside, ten_am(riverside), reason=NOTE)
    appointment = booked(response)
    client.force_login(fran)
    client.get(detail_url(appointment))
    client.get(chart_url(appointment))

    summaries = " ".join(AuditEvent.objects.values_list("summary", flat=True))
    assert "medications" not in summaries
    assert "medications" not in caplog.text
    assert "medications" not in response["Location"]


# --- Staff read it ---------------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["fran", "nina", "phil", "alice"])
def test_staff_who_see_the_schedule_read_it_on_the_appointment_page(
    client, post_booking, riverside, persona, request
):
    appointment = booked(post_booking(riverside, ten_am(riverside), reason=NOTE))
    client.force_login(request.getfixturevalue(persona))

    page = client.get(detail_url(appointment)).content.decode()

    assert "What the patient wrote when booking" in page
    assert "Ten years of depression; two medications have not helped." in page


def test_the_chart_shows_it_with_the_appointment_and_the_date_it_was_written(
    client, post_booking, riverside, fran
):
    appointment = booked(post_booking(riverside, ten_am(riverside), reason=NOTE))
    client.force_login(fran)

    page = client.get(chart_url(appointment)).content.decode()

    note = page.index('data-testid="booking-note"')
    assert page.index('id="appointments"') < note
    assert "Ten years of depression" in page[note:]
    written = appointment.created_at.astimezone(riverside.tz)
    assert f"({written.day} {written:%b %Y})" in page[note:]


def test_the_board_does_not_show_it(client, post_booking, riverside, fran):
    appointment = booked(post_booking(riverside, ten_am(riverside), reason=NOTE))
    client.force_login(fran)
    day = appointment.starts_at.astimezone(riverside.tz).date()

    page = client.get(
        "/staff/schedule/", {"location": str(riverside.public_id), "date": day.isoformat()}
    ).content.decode()

    assert appointment.patient.display_name in page
    assert "Ten years of depression" not in page


def test_staff_who_may_not_see_the_schedule_are_not_shown_it(client, post_booking, riverside, edie):
    appointment = booked(post_booking(riverside, ten_am(riverside), reason=NOTE))
    client.force_login(edie)

    assert booking_note_for(edie, appointment) is None
    assert client.get(detail_url(appointment)).status_code == 403


def test_a_staff_booking_has_no_note(client, riverside, phil, fran):
    appointment = AppointmentFactory(
        location=riverside, appointment_type=appointment_type("consultation"), clinician=phil
    )
    client.force_login(fran)

    page = client.get(detail_url(appointment)).content.decode()

    assert appointment.booking_note == ""
    assert "What the patient wrote when booking" not in page


# --- Words that raised a safety alert -----------------------------------------------------------


def test_words_that_raised_a_safety_alert_are_for_the_clinicians(
    client, post_booking, riverside, fran, phil
):
    appointment = booked(post_booking(riverside, ten_am(riverside), reason=WORDS))
    assert SafetyAlert.objects.get().appointment == appointment  # the triage, as before

    client.force_login(phil)
    assert WORDS in client.get(detail_url(appointment)).content.decode()

    client.force_login(fran)
    for url in (detail_url(appointment), chart_url(appointment)):
        page = client.get(url).content.decode()
        assert 'data-testid="booking-note-withheld"' in page
        assert "uicidal" not in page and "spring" not in page

    assert booking_note_for(fran, appointment).withheld
    assert booking_note_for(phil, appointment).text == WORDS


# --- Not on any page the patient sees ------------------------------------------------------------


def test_no_page_or_email_the_patient_sees_shows_it(client, post_booking, riverside):
    response = post_booking(
        riverside, ten_am(riverside), reason=NOTE, consent_email="on", consent_sms=None
    )
    token = token_of(response)
    day = next_week(riverside)
    move_to = slot_value(at(riverside, day, 14))

    pages = [
        client.get(response["Location"]),
        client.get(f"/book/manage/{token}/"),
        client.get(f"/book/manage/{token}/cancel/"),
        client.get(f"/book/manage/{token}/reschedule/"),
        client.get(f"/book/manage/{token}/reschedule/", {"start": move_to}),
        client.get(f"/book/manage/{token}/calendar.ics"),
    ]

    assert [page.status_code for page in pages] == [200] * len(pages)
    for page in pages:
        assert "medications" not in page.content.decode()
        assert "What the patient wrote" not in page.content.decode()
    [(_, email)] = confirmation_emails()
    assert "medications" not in email.subject + email.body


# --- The API --------------------------------------------------------------------------------------


def test_the_api_shows_it_read_only_to_schedule_staff(client, post_booking, riverside, fran):
    appointment = booked(post_booking(riverside, ten_am(riverside), reason=NOTE))
    client.force_login(fran)

    detail = client.get(api_url(appointment)).json()
    listed = client.get("/api/v1/appointments/", {"patient": str(appointment.patient.public_id)})

    assert detail["booking_note"] == NOTE
    assert [row["booking_note"] for row in listed.json()["results"]] == [NOTE]


def test_the_api_keeps_words_that_raised_an_alert_for_the_clinicians(
    client, post_booking, riverside, fran, phil
):
    appointment = booked(post_booking(riverside, ten_am(riverside), reason=WORDS))
    list_url = f"/api/v1/appointments/?patient={appointment.patient.public_id}"

    client.force_login(fran)
    assert client.get(api_url(appointment)).json()["booking_note"] == ""
    assert client.get(list_url).json()["results"][0]["booking_note"] == ""

    client.force_login(phil)
    assert client.get(api_url(appointment)).json()["booking_note"] == WORDS
    assert client.get(list_url).json()["results"][0]["booking_note"] == WORDS
