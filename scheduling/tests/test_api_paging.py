"""Keyset pages of the API's long lists (clinic.api.pagination), through the appointment and
patient lists: every row once and in order, both ways, filters kept, no names in links."""

from __future__ import annotations

import uuid
from base64 import urlsafe_b64decode, urlsafe_b64encode
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest

from clinic.api.pagination import KeysetPagination
from clinic.models import AuditEvent
from patients.tests.factories import PatientFactory
from scheduling.models import Appointment, AppointmentStatus
from scheduling.tests.factories import AppointmentFactory, appointment_type
from scheduling.tests.test_booking import at, next_week, riverside_for

PAGE = 3


@pytest.fixture(autouse=True)
def _small_pages(monkeypatch):
    monkeypatch.setattr(KeysetPagination, "page_size", PAGE)


@pytest.fixture
def riverside(nina, phil):
    return riverside_for(nina, phil)


@pytest.fixture
def appointments(riverside) -> list[Appointment]:
    """Eight consultations: three pairs at the same time (ties the id orders), two alone."""
    day = next_week(riverside)
    consultation = appointment_type("consultation")
    made = [
        AppointmentFactory(
            location=riverside,
            appointment_type=consultation,
            starts_at=at(riverside, day, hour),
        )
        for hour in (9, 9, 10, 10, 11, 11, 12, 14)
    ]
    return sorted(made, key=lambda appointment: (appointment.starts_at, appointment.pk))


def ids(response) -> list[str]:
    return [row["id"] for row in response.json()["results"]]


def walk(client, url: str, direction: str = "next", **params) -> list[list[str]]:
    """The ids on each page, following ``direction`` links to the end."""
    pages = []
    response = client.get(url, params)
    while True:
        assert response.status_code == 200
        pages.append(ids(response))
        link = response.json()[direction]
        if link is None:
            return pages
        response = client.get(link)


def test_the_pages_hold_every_appointment_once_in_time_order(client, fran, appointments):
    client.force_login(fran)

    pages = walk(client, "/api/v1/appointments/")

    assert [len(page) for page in pages] == [3, 3, 2]
    shown = [row for page in pages for row in page]
    assert shown == [str(appointment.public_id) for appointment in appointments]


def test_previous_links_walk_back_through_the_same_pages(client, fran, appointments):
    client.force_login(fran)
    forward = walk(client, "/api/v1/appointments/")
    last = client.get("/api/v1/appointments/")
    while last.json()["next"]:
        last = client.get(last.json()["next"])

    backward = walk(client, last.json()["previous"], direction="previous")

    assert backward == forward[-2::-1]
    assert client.get("/api/v1/appointments/").json()["previous"] is None


def test_the_links_keep_the_filters(client, fran, riverside, appointments):
    cancelled = appointments[2]
    cancelled.status = AppointmentStatus.CANCELLED
    cancelled.cancel_reason = "patient unwell"
    cancelled.save()
    client.force_login(fran)

    pages = walk(client, "/api/v1/appointments/", status="booked")

    shown = [row for page in pages for row in page]
    assert str(cancelled.public_id) not in shown
    assert len(shown) == 7


def test_a_row_that_left_the_list_still_marks_where_the_next_page_starts(
    client, fran, appointments
):
    client.force_login(fran)
    first = client.get("/api/v1/appointments/", {"status": "booked"})
    last_shown = Appointment.objects.get(public_id=ids(first)[-1])
    last_shown.status = AppointmentStatus.CANCELLED
    last_shown.cancel_reason = "patient unwell"
    last_shown.save()

    second = client.get(first.json()["next"])

    assert ids(second) == [str(appointment.public_id) for appointment in appointments[3:6]]


@pytest.mark.parametrize(
    "cursor",
    [
        "nonsense",
        urlsafe_b64encode(b"after:not-a-uuid").decode(),
        urlsafe_b64encode(b"sideways:2f0b6c1e-8d5a-4a55-9d0e-6c1f3b7a9e21").decode(),
        "\u00e9t\u00e9",
    ],
)
def test_a_bad_cursor_is_a_400_that_says_to_start_again(client, fran, appointments, cursor):
    client.force_login(fran)

    response = client.get("/api/v1/appointments/", {"cursor": cursor})

    assert response.status_code == 400
    assert "Start again from the first page" in response.json()["cursor"][0]


def test_a_cursor_naming_no_appointment_is_a_400(client, fran, appointments):
    client.force_login(fran)
    cursor = urlsafe_b64encode(f"after:{uuid.uuid4()}".encode()).decode()

    response = client.get("/api/v1/appointments/", {"cursor": cursor})

    assert response.status_code == 400
    assert "no longer there" in response.json()["cursor"][0]


def test_a_later_page_is_audited_as_one(client, fran, appointments):
    client.force_login(fran)
    first = client.get("/api/v1/appointments/")
    client.get(first.json()["next"])

    summaries = list(
        AuditEvent.objects.filter(actor=fran, object_type="scheduling.appointment")
        .order_by("id")
        .values_list("summary", flat=True)
    )
    assert summaries == [
        "read the appointment list through the API: first page, 3 shown",
        "read the appointment list through the API: a later page, 3 shown",
    ]


def test_patient_pages_follow_the_name_order_and_their_links_hold_no_names(client, fran, db):
    for first_name in ("Ann", "Bea", "Cy", "Dee"):
        PatientFactory(legal_first_name=first_name, legal_last_name="Rivera")
    PatientFactory(legal_first_name="Zed", legal_last_name="Okafor")
    client.force_login(fran)

    first = client.get("/api/v1/patients/")
    second = client.get(first.json()["next"])

    names = [
        (row["legal_last_name"], row["legal_first_name"])
        for row in first.json()["results"] + second.json()["results"]
    ]
    assert names == [
        ("Okafor", "Zed"),
        ("Rivera", "Ann"),
        ("Rivera", "Bea"),
        ("Rivera", "Cy"),
        ("Rivera", "Dee"),
    ]
    link = first.json()["next"]
    cursor = urlsafe_b64decode(parse_qs(urlsplit(link).query)["cursor"][0]).decode()
    for name in ("Rivera", "Bea", "rivera"):
        assert name not in link
        assert name not in cursor


def test_an_empty_list_has_no_links(client, fran, riverside):
    client.force_login(fran)

    response = client.get(
        "/api/v1/appointments/", {"date": (next_week(riverside) + timedelta(days=1)).isoformat()}
    )

    assert response.json() == {"next": None, "previous": None, "results": []}
