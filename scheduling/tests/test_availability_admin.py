"""The Django admin shows scheduling records read-only, and never who the patient is."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from patients.tests.factories import PatientFactory
from scheduling.models import Appointment, TreatmentCourse, WaitlistEntry
from scheduling.tests.factories import AppointmentFactory, appointment_type, clinic_location

TEN_AM = datetime(2026, 12, 1, 16, 0, tzinfo=UTC)


@pytest.fixture
def lakeview(nina, phil):
    return clinic_location(name="Lakeview", staff=[nina, phil])


@pytest.fixture
def appointment(lakeview, nina) -> Appointment:
    return AppointmentFactory(
        location=lakeview,
        patient=PatientFactory(legal_first_name="Quentin", legal_last_name="Quill"),
        chair=lakeview.chairs.first(),
        clinician=nina,
        starts_at=TEN_AM,
    )


@pytest.mark.parametrize(
    "url",
    [
        "/admin/scheduling/appointmenttype/",
        "/admin/scheduling/staffshift/",
        "/admin/scheduling/appointment/",
        "/admin/scheduling/treatmentcourse/",
        "/admin/scheduling/waitlistentry/",
    ],
)
def test_clinic_admins_can_browse_scheduling_records(client, alice, appointment, url):
    client.force_login(alice)

    assert client.get(url).status_code == 200


def test_an_appointment_page_does_not_name_the_patient(client, alice, appointment):
    client.force_login(alice)

    listing = client.get("/admin/scheduling/appointment/")
    detail = client.get(f"/admin/scheduling/appointment/{appointment.pk}/change/")

    assert detail.status_code == 200
    assert str(appointment.public_id).encode() in detail.content
    for page in (listing, detail):
        assert b"Quentin" not in page.content
        assert b"Quill" not in page.content


def test_course_and_waitlist_pages_do_not_name_the_patient(client, alice, lakeview):
    patient = PatientFactory(legal_first_name="Quentin", legal_last_name="Quill")
    course = TreatmentCourse.objects.create(
        patient=patient, location=lakeview, planned_infusions=6, window_days=21
    )
    entry = WaitlistEntry.objects.create(
        patient=patient, location=lakeview, appointment_type=appointment_type("infusion")
    )
    client.force_login(alice)

    for url in [
        "/admin/scheduling/treatmentcourse/",
        f"/admin/scheduling/treatmentcourse/{course.pk}/change/",
        "/admin/scheduling/waitlistentry/",
        f"/admin/scheduling/waitlistentry/{entry.pk}/change/",
    ]:
        response = client.get(url)
        assert response.status_code == 200, url
        assert b"Quill" not in response.content, url


def test_the_admin_cannot_add_change_or_delete_appointments(client, alice, appointment):
    client.force_login(alice)

    assert client.get("/admin/scheduling/appointment/add/").status_code == 403
    response = client.post(
        f"/admin/scheduling/appointment/{appointment.pk}/change/", {"status": "cancelled"}
    )
    assert response.status_code == 403
    assert client.post(f"/admin/scheduling/appointment/{appointment.pk}/delete/").status_code == 403
    appointment.refresh_from_db()
    assert appointment.status == "booked"


def test_appointment_types_cannot_be_changed_in_the_admin(client, alice):
    infusion = appointment_type("infusion")
    client.force_login(alice)

    response = client.post(
        f"/admin/scheduling/appointmenttype/{infusion.pk}/change/", {"duration_minutes": 5}
    )

    assert response.status_code == 403
    infusion.refresh_from_db()
    assert infusion.duration_minutes == 40


def test_the_appointment_list_costs_the_same_queries_however_long(client, alice, lakeview, nina):
    client.force_login(alice)
    chair = lakeview.chairs.first()
    AppointmentFactory(location=lakeview, chair=chair, clinician=nina, starts_at=TEN_AM)
    client.get("/admin/scheduling/appointment/")  # the first request fills caches
    # A new row, so that the list is drawn anew (not served kept, which reads no rows), as
    # it is after the nineteen below.
    AppointmentFactory(
        location=lakeview, chair=chair, clinician=nina, starts_at=TEN_AM.replace(day=2)
    )
    with CaptureQueriesContext(connection) as one:
        client.get("/admin/scheduling/appointment/")
    for day in range(3, 21):
        AppointmentFactory(
            location=lakeview,
            chair=chair,
            clinician=nina,
            starts_at=TEN_AM.replace(day=day),
        )

    with CaptureQueriesContext(connection) as twenty:
        client.get("/admin/scheduling/appointment/")

    assert len(twenty) == len(one)


def test_the_appointment_list_counts_once_and_reads_no_dates_of_every_appointment(
    client, alice, appointment
):
    client.force_login(alice)

    with CaptureQueriesContext(connection) as queries:
        response = client.get("/admin/scheduling/appointment/")

    assert response.status_code == 200
    sql = [query["sql"] for query in queries.captured_queries]
    # One count of the (filtered) list, none of the whole table besides; no date hierarchy,
    # which reads every appointment's date (DISTINCT DATE_TRUNC ...) to offer the years.
    assert sum("COUNT(*)" in statement for statement in sql) == 1
    assert not any("DATE_TRUNC" in statement for statement in sql)


def test_the_appointment_list_filters_by_date_and_status(client, alice, appointment, lakeview):
    AppointmentFactory(location=lakeview, starts_at=TEN_AM.replace(month=11))
    client.force_login(alice)

    response = client.get(
        "/admin/scheduling/appointment/",
        {
            "starts_at__gte": "2026-12-01 00:00:00+00:00",
            "starts_at__lt": "2026-12-02 00:00:00+00:00",
            "status__exact": "booked",
        },
    )

    assert response.status_code == 200
    assert list(response.context["cl"].result_list) == [appointment]
