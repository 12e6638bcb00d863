"""A patient's infusions at least COURSE_MIN_GAP_HOURS apart, whatever books them: the
service (booking and moving), the staff pages, the API, and two bookings at once."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from html import unescape

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test import override_settings

from clinic.models import Location
from patients.models import Patient
from scheduling.models import Appointment, AppointmentStatus
from scheduling.services.book_and_reschedule import appointment_book, appointment_reschedule
from scheduling.services.status_changes import appointment_cancel
from scheduling.tests.factories import StaffFactory, appointment_type
from scheduling.tests.test_booking import at, book, cleared_for_infusions, next_week, riverside_for

TOO_CLOSE = "infusions must be at least 24 hours apart"


@pytest.fixture
def riverside(nina, phil) -> Location:
    """Two chairs, so a second infusion the same day always finds one free."""
    return riverside_for(nina, StaffFactory(), phil, chairs=2)


@pytest.fixture
def samuel(phil) -> Patient:
    return cleared_for_infusions(phil)


def starts_at_error(error: pytest.ExceptionInfo[ValidationError]) -> str:
    return " ".join(error.value.message_dict["starts_at"])


# --- The service -----------------------------------------------------------------------------


def test_a_booster_the_same_day_as_an_infusion_is_refused_with_the_earliest_time(
    fran, riverside, samuel
):
    day = next_week(riverside)
    book(fran, samuel, riverside, "infusion", hour=8)

    with pytest.raises(ValidationError) as refused:
        book(fran, samuel, riverside, "booster", hour=9, minute=30)

    said = starts_at_error(refused)
    assert "The patient has an infusion at 08:00 on" in said
    assert TOO_CLOSE in said
    next_day = day + timedelta(days=1)
    assert f"The earliest time allowed is 08:00 on {next_day:%a} {next_day.day} " in said
    assert Appointment.objects.filter(patient=samuel).count() == 1


def test_an_infusion_the_day_before_another_counts_too(fran, riverside, samuel):
    day = next_week(riverside)
    book(fran, samuel, riverside, "infusion", hour=10, day=day + timedelta(days=1))

    with pytest.raises(ValidationError) as refused:
        book(fran, samuel, riverside, "infusion", hour=14, day=day)

    assert TOO_CLOSE in starts_at_error(refused)
    # The time after the later infusion, not a time the later one also forbids.
    later = day + timedelta(days=2)
    assert f"The earliest time allowed is 10:00 on {later:%a} {later.day} " in starts_at_error(
        refused
    )


def test_exactly_the_gap_apart_is_allowed(fran, riverside, samuel):
    day = next_week(riverside)
    book(fran, samuel, riverside, "infusion", hour=9, day=day)

    booster = book(fran, samuel, riverside, "booster", hour=9, day=day + timedelta(days=1))

    assert booster.starts_at - at(riverside, day, 9) == timedelta(hours=24)


def test_a_cancelled_infusion_blocks_nothing(fran, riverside, samuel):
    first = book(fran, samuel, riverside, "infusion", hour=8)
    appointment_cancel(actor=fran, appointment=first, reason="Patient unwell")

    booster = book(fran, samuel, riverside, "booster", hour=11)

    assert booster.status == AppointmentStatus.BOOKED


def test_a_consultation_the_same_day_is_not_an_infusion(fran, riverside, samuel):
    book(fran, samuel, riverside, "infusion", hour=8)

    consultation = book(fran, samuel, riverside, "consultation", hour=11)

    assert consultation.pk is not None


@override_settings(COURSE_MIN_GAP_HOURS=48)
def test_the_gap_is_the_clinics_setting(fran, riverside, samuel):
    day = next_week(riverside)
    book(fran, samuel, riverside, "infusion", hour=9, day=day)

    with pytest.raises(ValidationError) as refused:
        book(fran, samuel, riverside, "infusion", hour=9, day=day + timedelta(days=1))

    assert "at least 48 hours apart" in starts_at_error(refused)


def test_moving_an_infusion_next_to_another_is_refused_and_changes_nothing(fran, riverside, samuel):
    day = next_week(riverside)
    book(fran, samuel, riverside, "infusion", hour=9, day=day)
    second = book(fran, samuel, riverside, "infusion", hour=9, day=day + timedelta(days=2))

    with pytest.raises(ValidationError) as refused:
        appointment_reschedule(
            actor=fran, appointment=second, starts_at=at(riverside, day + timedelta(days=1), 8)
        )

    assert TOO_CLOSE in starts_at_error(refused)
    second.refresh_from_db()
    assert second.starts_at == at(riverside, day + timedelta(days=2), 9)


def test_moving_an_infusion_within_its_own_gap_is_allowed(fran, riverside, samuel):
    first = book(fran, samuel, riverside, "infusion", hour=9)

    moved = appointment_reschedule(
        actor=fran, appointment=first, starts_at=at(riverside, next_week(riverside), 14)
    )

    assert moved.starts_at == at(riverside, next_week(riverside), 14)


def test_a_double_submit_is_still_already_booked(fran, riverside, samuel):
    from scheduling.services.free_time import SlotTaken

    first = book(fran, samuel, riverside, "infusion", hour=9)

    with pytest.raises(SlotTaken) as again:
        book(fran, samuel, riverside, "infusion", hour=9)

    assert again.value.existing == first


# --- The pages and the API -----------------------------------------------------------------------


def test_the_booking_page_refuses_a_second_infusion_the_same_day(client, fran, riverside, samuel):
    day = next_week(riverside)
    book(fran, samuel, riverside, "infusion", hour=8)
    client.force_login(fran)

    response = client.post(
        f"/staff/schedule/book/?patient={samuel.public_id}",
        {
            "location": str(riverside.public_id),
            "appointment_type": "booster",
            "day": day.isoformat(),
            "starts_at": at(riverside, day, 9, 30).isoformat(),
        },
    )

    assert response.status_code == 200
    html = unescape(response.content.decode())
    assert "Nothing was booked." in html
    assert TOO_CLOSE in html
    assert "The earliest time allowed is 08:00 on" in html
    assert Appointment.objects.filter(patient=samuel).count() == 1


def test_the_reschedule_page_refuses_a_time_too_close(client, fran, riverside, samuel):
    day = next_week(riverside)
    book(fran, samuel, riverside, "infusion", hour=9, day=day)
    second = book(fran, samuel, riverside, "booster", hour=9, day=day + timedelta(days=3))
    client.force_login(fran)

    response = client.post(
        f"/staff/schedule/appointments/{second.public_id}/reschedule/",
        {"starts_at": at(riverside, day, 15).isoformat()},
    )

    html = unescape(response.content.decode())
    assert "The appointment was not moved." in html
    assert TOO_CLOSE in html
    second.refresh_from_db()
    assert second.starts_at == at(riverside, day + timedelta(days=3), 9)


def test_the_api_answers_400_naming_the_earliest_time(client, fran, riverside, samuel):
    day = next_week(riverside)
    book(fran, samuel, riverside, "infusion", hour=8)
    client.force_login(fran)

    response = client.post(
        "/api/v1/appointments/",
        {
            "patient": str(samuel.public_id),
            "location": str(riverside.public_id),
            "type": "booster",
            "starts_at": at(riverside, day, 9, 30).isoformat(),
        },
        content_type="application/json",
    )

    assert response.status_code == 400, response.json()
    said = " ".join(response.json()["starts_at"])
    assert TOO_CLOSE in said
    assert "The earliest time allowed is 08:00 on" in said
    assert Appointment.objects.filter(patient=samuel).count() == 1


def test_the_api_refuses_moving_an_infusion_too_close(client, fran, riverside, samuel):
    day = next_week(riverside)
    book(fran, samuel, riverside, "infusion", hour=9, day=day)
    second = book(fran, samuel, riverside, "infusion", hour=9, day=day + timedelta(days=2))
    client.force_login(fran)

    response = client.post(
        f"/api/v1/appointments/{second.public_id}/reschedule/",
        {"starts_at": at(riverside, day, 16).isoformat()},
        content_type="application/json",
    )

    assert response.status_code == 400, response.json()
    assert TOO_CLOSE in " ".join(response.json()["starts_at"])


# --- At the same instant -------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_two_infusions_of_one_patient_booked_at_once_give_one_booking(nina, phil):
    riverside = riverside_for(nina, StaffFactory(), phil, chairs=2)
    samuel = cleared_for_infusions(phil)
    day = next_week(riverside)
    barrier = threading.Barrier(2)

    def attempt(kind: str, hour: int) -> Appointment:
        try:
            barrier.wait(timeout=30)
            return appointment_book(
                actor=nina,
                patient=samuel,
                location=riverside,
                appointment_type=appointment_type(kind),
                starts_at=at(riverside, day, hour),
            )
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = [pool.submit(attempt, "infusion", 9), pool.submit(attempt, "booster", 14)]
    errors = [future.exception(timeout=120) for future in futures]

    booked = [error for error in errors if error is None]
    refused = [error for error in errors if isinstance(error, ValidationError)]
    assert len(booked) == 1
    assert len(refused) == 1
    assert TOO_CLOSE in " ".join(refused[0].message_dict["starts_at"])
    assert Appointment.objects.filter(patient=samuel).count() == 1
