"""The chart's appointments and courses are kept rendered (scheduling.contributions): every
write to a row they show is on the next view, an appointment over drops off within the minute,
and no reader gets the section drawn for other permissions."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from clinic.models import Location
from patients.models import SafetyAlert
from patients.tests.factories import PatientFactory
from scheduling.models import Appointment, AppointmentStatus, AppointmentType, TreatmentCourse
from scheduling.tests.factories import AppointmentFactory, appointment_type
from scheduling.tests.test_booking import riverside_for
from tests.clock import travel_to


@pytest.fixture
def riverside(nina, phil) -> Location:
    return riverside_for(nina, phil, chairs=2)


@pytest.fixture
def patient(riverside):
    return PatientFactory(preferred_location=riverside)


def chart(client, user, patient) -> str:
    client.force_login(user)
    return client.get(f"/staff/patients/{patient.public_id}/").content.decode()


def booked(patient, location, *, days=2, kind="consultation", **fields) -> Appointment:
    starts_at = (timezone.now() + timedelta(days=days)).replace(second=0, microsecond=0)
    return AppointmentFactory(
        patient=patient,
        location=location,
        appointment_type=appointment_type(kind),
        starts_at=starts_at,
        **fields,
    )


def test_a_new_moved_cancelled_and_removed_appointment_shows(client, fran, patient, riverside):
    chart(client, fran, patient)
    appointment = booked(patient, riverside)
    added = chart(client, fran, patient)
    moved_to = appointment.starts_at + timedelta(days=1)
    Appointment.objects.filter(pk=appointment.pk).update(
        starts_at=moved_to,
        ends_at=moved_to + timedelta(minutes=30),
        blocks_until=moved_to + timedelta(minutes=30),
    )
    moved = chart(client, fran, patient)
    Appointment.objects.filter(pk=appointment.pk).update(
        status=AppointmentStatus.CANCELLED, cancel_reason="Called to cancel."
    )
    cancelled = chart(client, fran, patient)
    Appointment.objects.filter(pk=appointment.pk).delete()
    removed = chart(client, fran, patient)

    link = f"/staff/schedule/appointments/{appointment.public_id}/"
    assert link in added
    assert f"{moved_to.astimezone(riverside.tz):%a %-d %b %Y, %H:%M}" in moved
    assert "text-decoration-line-through" in cancelled
    assert link not in removed
    assert "No appointments to come." in removed


def test_an_appointment_over_drops_off_within_the_minute(client, fran, patient, riverside):
    appointment = booked(patient, riverside, days=1)
    link = f"/staff/schedule/appointments/{appointment.public_id}/"
    before = chart(client, fran, patient)

    travel_to(appointment.blocks_until + timedelta(minutes=1))
    after = chart(client, fran, patient)

    assert link in before
    assert link not in after


def test_a_new_course_and_its_progress_show(client, nina, patient, riverside):
    chart(client, nina, patient)
    course = TreatmentCourse.objects.create(
        patient=patient, location=riverside, planned_infusions=6, window_days=21
    )
    planned = chart(client, nina, patient)
    course.state = TreatmentCourse.State.INDUCTION
    course.save(update_fields=["state"])
    started = chart(client, nina, patient)
    booked(
        patient,
        riverside,
        days=-3,
        kind="infusion",
        course=course,
        status=AppointmentStatus.DISCHARGED,
    )
    one_done = chart(client, nina, patient)

    assert "Planned course at" in planned
    assert "Induction course at" in started
    assert "0 of 6 infusions" in started
    assert "1 of 6 infusions" in one_done


def test_a_renamed_type_and_place_show(client, fran, patient, riverside):
    appointment = booked(patient, riverside)
    chart(client, fran, patient)
    AppointmentType.objects.filter(pk=appointment.appointment_type_id).update(name="First visit")
    renamed_type = chart(client, fran, patient)
    riverside.name = "Riverside North"
    riverside.save(update_fields=["name"])
    renamed_place = chart(client, fran, patient)

    assert "First visit" in renamed_type
    assert "Riverside North" in renamed_place


def test_a_booking_note_that_raised_an_alert_is_withheld_from_the_front_desk(
    client, fran, nina, patient, riverside
):
    appointment = booked(patient, riverside, booking_note="I keep thinking of ending it.")
    before = chart(client, fran, patient)
    SafetyAlert.objects.create(
        patient=patient, source=SafetyAlert.Source.BOOKING_REASON, appointment=appointment
    )
    nurse = chart(client, nina, patient)
    desk = chart(client, fran, patient)

    assert "I keep thinking of ending it." in before  # no alert yet: the desk reads it
    assert "I keep thinking of ending it." in nurse
    assert "I keep thinking of ending it." not in desk
    assert 'data-testid="booking-note-withheld"' in desk


def test_the_front_desk_never_gets_the_section_kept_for_a_clinician(
    client, fran, nina, patient, riverside
):
    plan = f"/staff/schedule/courses/new/?patient={patient.public_id}"
    nurse = chart(client, nina, patient)

    desk = chart(client, fran, patient)

    assert plan in nurse
    assert plan not in desk
    assert 'id="appointments"' in desk
