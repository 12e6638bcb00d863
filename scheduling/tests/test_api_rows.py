"""The appointment list written from plain rows says what its serializer says.

GET /api/v1/appointments/ writes each page from ``.values()`` rows
(``scheduling.api.appointment_rows``); one appointment is still written by
``AppointmentSerializer``. Each row of the list must be exactly what the serializer writes
for the same appointment and reader.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from rest_framework.renderers import JSONRenderer
from rest_framework.test import APIRequestFactory

from patients.tests.factories import PatientFactory
from scheduling.api.appointments import AppointmentSerializer
from scheduling.models import Appointment, AppointmentStatus, TreatmentCourse
from scheduling.selectors import appointments_visible_to, with_booking_note_alerted
from scheduling.tests.factories import AppointmentFactory, appointment_type
from scheduling.tests.test_booking import at, next_week, riverside_for


def as_sent(data) -> object:
    return json.loads(JSONRenderer().render(data))


def serialized_appointments(user) -> list:
    request = APIRequestFactory().get("/api/v1/appointments/")
    request.user = user
    appointments = with_booking_note_alerted(appointments_visible_to(user), user).order_by(
        "starts_at", "id"
    )
    return as_sent(
        AppointmentSerializer(appointments, many=True, context={"request": request}).data
    )


@pytest.fixture
def varied_appointments(nina, phil) -> list[Appointment]:
    """Appointments showing every kind of value: in two time zones, with and without a
    chair, clinician and course, cancelled with a reason, a patient with a preferred name,
    a booking note."""
    chicago = riverside_for(nina, phil)
    tokyo = riverside_for(name="Tokyo", time_zone="Asia/Tokyo")
    day = next_week(chicago)
    sam = PatientFactory(legal_first_name="Samantha", preferred_name="Sam", legal_last_name="Ng")
    course = TreatmentCourse.objects.create(
        patient=sam, location=chicago, planned_infusions=6, window_days=21
    )
    return [
        AppointmentFactory(
            location=chicago,
            patient=sam,
            chair=chicago.chairs.get(),
            clinician=nina,
            course=course,
            starts_at=at(chicago, day, 9),
        ),
        AppointmentFactory(
            location=chicago,
            appointment_type=appointment_type("consultation"),
            clinician=phil,
            starts_at=at(chicago, day, 14, 30),
            booking_note="Mornings are hardest.",
        ),
        AppointmentFactory(
            location=tokyo,
            appointment_type=appointment_type("consultation"),
            starts_at=at(tokyo, day + timedelta(days=1), 8),
            status=AppointmentStatus.CANCELLED,
            cancel_reason="Unwell",
        ),
    ]


@pytest.mark.parametrize("persona", ["fran", "phil", "alice"])
def test_the_appointment_list_writes_each_as_its_serializer_does(
    request, client, varied_appointments, persona
):
    user = request.getfixturevalue(persona)
    client.force_login(user)

    listed = client.get("/api/v1/appointments/").json()["results"]

    assert listed == serialized_appointments(user)
    assert len(listed) == len(varied_appointments)
    first = listed[0]
    assert first["patient"]["name"] == "Sam Ng"
    assert first["chair"] is not None and first["course"] is not None
    assert listed[2]["local_start"].endswith("+09:00")
