"""Staff pages for one appointment: booking it for a patient, its details, cancelling and
rescheduling. Who may use them, what they do, and what bad input gets."""

from __future__ import annotations

from datetime import timedelta
from html import unescape

import pytest

from clinic.audit import Action
from clinic.models import AuditEvent, Location
from patients.models import Patient
from patients.tests.factories import PatientFactory
from scheduling.availability import free_slots
from scheduling.models import Appointment, AppointmentStatus, WaitlistEntry
from scheduling.tests.factories import AppointmentFactory, appointment_type
from scheduling.tests.test_booking import at, book, cleared_for_infusions, next_week, riverside_for

Status = AppointmentStatus


@pytest.fixture
def riverside(nina, phil) -> Location:
    return riverside_for(nina, phil, chairs=1)


@pytest.fixture
def jordan(db) -> Patient:
    return PatientFactory(legal_first_name="Jordan", legal_last_name="Rivera")


def page_text(response) -> str:
    return unescape(response.content.decode())


def shown(response) -> list[str]:
    return [str(message) for message in response.wsgi_request._messages]


def booking_url(patient) -> str:
    return f"/staff/schedule/book/?patient={patient.public_id}"


def slots_page(client, patient, location, day, kind="consultation"):
    return client.get(
        "/staff/schedule/book/", {"patient": patient.public_id, **slot_search(location, day, kind)}
    )


def slot_search(location, day, kind="consultation") -> dict[str, str]:
    return {"location": str(location.public_id), "appointment_type": kind, "day": day.isoformat()}


def choose(client, patient, location, starts_at, kind="consultation"):
    day = starts_at.astimezone(location.tz).date()
    return client.post(
        booking_url(patient),
        {**slot_search(location, day, kind), "starts_at": starts_at.isoformat()},
    )


# --- Booking: who and how ------------------------------------------------------------------------


@pytest.mark.parametrize("user", ["fran", "nina", "phil", "alice"])
def test_staff_who_book_open_the_booking_page(client, riverside, jordan, user, request):
    client.force_login(request.getfixturevalue(user))

    response = client.get(booking_url(jordan))

    assert response.status_code == 200
    assert "Book an appointment for Jordan Rivera" in page_text(response)


def test_content_editors_and_visitors_may_not_book(client, edie, riverside, jordan):
    client.force_login(edie)
    assert client.get(booking_url(jordan)).status_code == 403
    client.logout()
    response = client.get(booking_url(jordan))
    assert response.status_code == 302
    assert response["Location"].startswith("/staff/login/")


def test_it_starts_at_the_patients_location_today(client, fran, riverside):
    clinic = riverside_for(name="Aardvark Lane")
    patient = PatientFactory(preferred_location=riverside)
    client.force_login(fran)

    form = client.get(booking_url(patient)).context["search"]

    assert clinic.name < riverside.name
    assert form.initial["location"] == riverside.public_id
    assert form.initial["day"] == riverside.local_now().date()


def test_it_lists_the_free_times_of_the_day_chosen(client, fran, riverside, jordan):
    day = next_week(riverside)
    book(fran, PatientFactory(), riverside, "consultation", hour=10, day=day)
    client.force_login(fran)

    response = slots_page(client, jordan, riverside, day)

    slots = response.context["slots"]
    expected = free_slots(
        location=riverside,
        appointment_type=appointment_type("consultation"),
        start_date=day,
        end_date=day,
        patient=jordan,
    )
    assert [slot.starts_at for slot in slots] == [slot.starts_at for slot in expected]
    assert at(riverside, day, 10) not in [slot.starts_at for slot in slots]  # phil is busy
    html = page_text(response)
    assert f'value="{at(riverside, day, 9).isoformat()}"' in html
    assert ">09:00<" in html


def test_it_books_the_time_pressed_and_shows_the_appointment(client, fran, phil, riverside, jordan):
    day = next_week(riverside)
    client.force_login(fran)

    response = choose(client, jordan, riverside, at(riverside, day, 9, 30))

    appointment = Appointment.objects.get(patient=jordan)
    assert appointment.starts_at == at(riverside, day, 9, 30)
    assert appointment.clinician == phil
    assert appointment.created_by == fran
    assert response["Location"] == f"/staff/schedule/appointments/{appointment.public_id}/"
    assert shown(response) == [
        f"Booked Jordan Rivera: consultation at 09:30 on {day:%a} {day.day} {day:%b %Y}, Riverside."
    ]


def test_a_double_submit_books_once_and_opens_the_booking(client, fran, riverside, jordan):
    starts_at = at(riverside, next_week(riverside), 9)
    client.force_login(fran)
    choose(client, jordan, riverside, starts_at)

    response = choose(client, jordan, riverside, starts_at)

    appointment = Appointment.objects.get(patient=jordan)
    assert response["Location"] == f"/staff/schedule/appointments/{appointment.public_id}/"
    assert "nothing was booked twice" in shown(response)[-1]


def test_a_time_taken_meanwhile_offers_the_nearest_free_ones(client, fran, riverside, jordan):
    starts_at = at(riverside, next_week(riverside), 10)
    book(fran, PatientFactory(), riverside, "consultation", hour=10)  # phil is now busy
    client.force_login(fran)

    response = choose(client, jordan, riverside, starts_at)

    assert response.status_code == 200
    assert not Appointment.objects.filter(patient=jordan).exists()
    html = page_text(response)
    assert "That slot was just taken" in html
    assert "is not free at Riverside" in html
    alternatives = response.context["taken"].alternatives
    assert [slot.local_start.strftime("%H:%M") for slot in alternatives] == [
        "09:15",
        "10:45",
        "09:00",
    ]
    assert f'value="{alternatives[0].starts_at.isoformat()}"' in html


def test_a_time_in_the_past_is_refused_clearly(client, fran, riverside, jordan):
    client.force_login(fran)
    yesterday = riverside.local_now().date() - timedelta(days=1)

    response = choose(client, jordan, riverside, at(riverside, yesterday, 10))

    assert response.status_code == 200
    assert "Nothing was booked." in page_text(response)
    assert "That time has passed: choose a later one." in page_text(response)
    assert not Appointment.objects.exists()
    assert response.context["query"]["day"] == yesterday


def test_an_infusion_for_a_patient_not_cleared_is_refused_with_the_reason(
    client, nina, riverside, jordan
):
    client.force_login(nina)

    response = choose(client, jordan, riverside, at(riverside, next_week(riverside), 9), "infusion")

    html = page_text(response)
    assert "Can't book an infusion: there is no approved, current screening decision." in html
    assert "Can't book an infusion: there is no signed consent on file." in html
    assert not Appointment.objects.exists()


def test_an_infusion_for_a_cleared_patient_takes_the_chair(client, nina, phil, riverside):
    patient = cleared_for_infusions(phil)
    client.force_login(nina)

    choose(client, patient, riverside, at(riverside, next_week(riverside), 9), "infusion")

    appointment = Appointment.objects.get(patient=patient)
    assert appointment.chair == riverside.chairs.get()
    assert appointment.blocks_until - appointment.starts_at == timedelta(minutes=85)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"starts_at": "tomorrow-ish"}, "That time could not be read"),
        ({"starts_at": "2026-12-01T10:00:00"}, "That time could not be read"),  # no offset
        ({"starts_at": ""}, "Choose one of the free times listed."),
        ({"appointment_type": "massage"}, "That is not an appointment type"),
        ({"location": "nowhere"}, "That location is not one you can book at"),
        ({"day": "31/31/2026"}, "Enter the date as YYYY-MM-DD"),
    ],
)
def test_nonsense_is_explained_and_books_nothing(client, fran, riverside, jordan, data, message):
    client.force_login(fran)
    day = next_week(riverside)
    post = {
        **slot_search(riverside, day),
        "starts_at": at(riverside, day, 9).isoformat(),
        **data,
    }

    response = client.post(booking_url(jordan), post)

    assert response.status_code == 200
    assert message in page_text(response)
    assert not Appointment.objects.exists()
    if "starts_at" in data:  # the free times are listed again under the refusal
        assert response.context["slots"]


def test_a_day_without_free_times_offers_the_nearest(client, fran, riverside, jordan):
    closed = riverside.local_now().date() - timedelta(days=1)  # the past has no free times
    client.force_login(fran)

    response = slots_page(client, jordan, riverside, closed)

    assert response.context["slots"] == []
    assert response.context["nearest"]
    assert "The nearest free times:" in page_text(response)


def test_without_a_patient_it_helps_find_them(client, fran, riverside, jordan):
    client.force_login(fran)

    first = client.get("/staff/schedule/book/")
    found = client.get("/staff/schedule/book/", {"q": "rivera"})

    assert "First find the patient." in page_text(first)
    assert f'href="/staff/schedule/book/?patient={jordan.public_id}"' in page_text(found)


@pytest.mark.parametrize("patient", ["not-a-uuid", "00000000-0000-0000-0000-000000000000"])
def test_an_unknown_patient_is_not_found(client, fran, riverside, patient):
    client.force_login(fran)

    assert client.get(f"/staff/schedule/book/?patient={patient}").status_code == 404


# --- Details ------------------------------------------------------------------------------------


def test_the_details_show_the_local_time_and_are_in_the_audit_log(client, fran, riverside, jordan):
    appointment = book(fran, jordan, riverside, "consultation", hour=14, minute=15)
    client.force_login(fran)

    response = client.get(f"/staff/schedule/appointments/{appointment.public_id}/")

    assert response.status_code == 200
    html = page_text(response)
    assert "Consultation for" in html and "Jordan Rivera" in html
    assert "14:15–15:00" in html
    event = AuditEvent.objects.filter(action=Action.VIEW).latest("id")
    assert event.object_type == "patients.patient"
    assert event.object_id == str(jordan.public_id)
    assert event.actor == fran


def test_the_details_are_for_schedule_staff_only(client, edie, riverside, jordan, fran):
    appointment = book(fran, jordan, riverside)
    client.force_login(edie)

    assert client.get(f"/staff/schedule/appointments/{appointment.public_id}/").status_code == 403


# --- Cancelling ---------------------------------------------------------------------------------


def test_cancelling_asks_first(client, fran, riverside, jordan):
    appointment = book(fran, jordan, riverside, "consultation", hour=10)
    client.force_login(fran)

    response = client.get(f"/staff/schedule/appointments/{appointment.public_id}/cancel/")

    assert response.status_code == 200
    assert "Cancel Jordan Rivera's appointment?" in page_text(response)
    assert appointment.status == Status.BOOKED


def test_cancelling_needs_a_reason(client, fran, riverside, jordan):
    appointment = book(fran, jordan, riverside)
    client.force_login(fran)

    response = client.post(
        f"/staff/schedule/appointments/{appointment.public_id}/cancel/", {"reason": "   "}
    )

    assert response.status_code == 200
    assert response.context["form"].errors["reason"] == [
        "Say why the appointment is cancelled, for example “patient unwell”."
    ]
    appointment.refresh_from_db()
    assert appointment.status == Status.BOOKED


def test_an_empty_post_is_answered_with_the_form_and_its_errors(client, fran, riverside, jordan):
    appointment = book(fran, jordan, riverside)
    client.force_login(fran)

    cancel = client.post(f"/staff/schedule/appointments/{appointment.public_id}/cancel/")
    move = client.post(f"/staff/schedule/appointments/{appointment.public_id}/reschedule/")

    assert "Say why the appointment is cancelled" in page_text(cancel)
    assert "Choose one of the free times listed." in page_text(move)
    appointment.refresh_from_db()
    assert appointment.status == Status.BOOKED


def test_it_cancels_with_the_reason_and_offers_the_time_to_the_waitlist(
    client, fran, riverside, jordan
):
    appointment = book(fran, jordan, riverside, "consultation", hour=10)
    waiting = WaitlistEntry.objects.create(
        patient=PatientFactory(legal_first_name="Amara", legal_last_name="Okafor"),
        location=riverside,
        appointment_type=appointment_type("consultation"),
    )
    client.force_login(fran)

    response = client.post(
        f"/staff/schedule/appointments/{appointment.public_id}/cancel/",
        {"reason": "patient unwell"},
    )

    appointment.refresh_from_db()
    assert appointment.status == Status.CANCELLED
    assert appointment.cancel_reason == "patient unwell"
    day = next_week(riverside)
    assert response["Location"] == (
        f"/staff/schedule/?location={riverside.public_id}&date={day.isoformat()}"
    )
    assert shown(response) == [
        f"Cancelled Jordan Rivera's consultation at 10:00 on {day:%a} {day.day} {day:%b %Y}. "
        "You can undo this for 15 minutes (the card under Not attending). "
        "The time was offered to Amara Okafor from the waitlist."
    ]
    waiting.refresh_from_db()
    assert waiting.state == WaitlistEntry.State.OFFERED


def test_a_finished_appointment_cannot_be_cancelled(client, fran, riverside):
    done = AppointmentFactory(
        location=riverside,
        appointment_type=appointment_type("consultation"),
        status=Status.DISCHARGED,
    )
    client.force_login(fran)
    url = f"/staff/schedule/appointments/{done.public_id}/cancel/"

    page = client.get(url)
    response = client.post(url, {"reason": "changed their mind"})

    assert "it can't be cancelled" in page_text(page)
    assert response.status_code == 200
    assert "which is final" in page_text(response)
    done.refresh_from_db()
    assert done.status == Status.DISCHARGED


# --- Rescheduling -------------------------------------------------------------------------------


def test_rescheduling_lists_the_patients_free_times_over_a_week(client, fran, riverside, jordan):
    soon = riverside.local_now().date() + timedelta(days=3)
    appointment = book(fran, jordan, riverside, "consultation", hour=10, day=soon)
    client.force_login(fran)

    response = client.get(f"/staff/schedule/appointments/{appointment.public_id}/reschedule/")

    assert response.status_code == 200
    days = response.context["days"]
    today = riverside.local_now().date()
    assert days[0][0] in (today, today + timedelta(days=1))
    assert days[-1][0] == today + timedelta(days=6)
    times = [slot.starts_at for _, slots in days for slot in slots]
    assert appointment.starts_at not in times  # where it already is
    assert appointment.starts_at + timedelta(minutes=15) in times  # its own time is free to use


def test_it_moves_the_appointment_to_the_time_pressed(client, fran, riverside, jordan):
    appointment = book(fran, jordan, riverside, "consultation", hour=10)
    later = at(riverside, next_week(riverside) + timedelta(days=1), 15)
    client.force_login(fran)

    response = client.post(
        f"/staff/schedule/appointments/{appointment.public_id}/reschedule/",
        {"starts_at": later.isoformat()},
    )

    appointment.refresh_from_db()
    assert appointment.starts_at == later
    day = next_week(riverside) + timedelta(days=1)
    assert response["Location"] == (
        f"/staff/schedule/?location={riverside.public_id}&date={day.isoformat()}"
    )
    assert shown(response)[0].startswith("Moved Jordan Rivera's consultation to 15:00 on")


def test_a_time_taken_meanwhile_keeps_the_old_one_and_offers_others(
    client, fran, riverside, jordan
):
    appointment = book(fran, jordan, riverside, "consultation", hour=10)
    wanted = at(riverside, next_week(riverside), 14)
    book(fran, PatientFactory(), riverside, "consultation", hour=14)
    client.force_login(fran)

    response = client.post(
        f"/staff/schedule/appointments/{appointment.public_id}/reschedule/",
        {"starts_at": wanted.isoformat()},
    )

    assert response.status_code == 200
    html = page_text(response)
    assert "That slot was just taken" in html
    assert response.context["taken"].alternatives
    appointment.refresh_from_db()
    assert appointment.starts_at == at(riverside, next_week(riverside), 10)


def test_a_past_time_is_refused_clearly(client, fran, riverside, jordan):
    appointment = book(fran, jordan, riverside, "consultation", hour=10)
    client.force_login(fran)
    yesterday = riverside.local_now().date() - timedelta(days=1)

    response = client.post(
        f"/staff/schedule/appointments/{appointment.public_id}/reschedule/",
        {"starts_at": at(riverside, yesterday, 10).isoformat()},
    )

    assert "The appointment was not moved." in page_text(response)
    assert "That time has passed: choose a later one." in page_text(response)


def test_only_a_booked_appointment_moves(client, fran, riverside):
    checked_in = AppointmentFactory(
        location=riverside,
        appointment_type=appointment_type("consultation"),
        status=Status.CHECKED_IN,
    )
    client.force_login(fran)

    response = client.get(f"/staff/schedule/appointments/{checked_in.public_id}/reschedule/")

    assert "only a booked appointment can be moved" in page_text(response)
    assert response.context["days"] == []


def test_a_nonsense_start_day_is_explained(client, fran, riverside, jordan):
    appointment = book(fran, jordan, riverside)
    client.force_login(fran)

    response = client.get(
        f"/staff/schedule/appointments/{appointment.public_id}/reschedule/", {"start": "soon"}
    )

    assert response.status_code == 200
    assert "Enter the date as YYYY-MM-DD" in page_text(response)
    assert response.context["start"] == riverside.local_now().date()
