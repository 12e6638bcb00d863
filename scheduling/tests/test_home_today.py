"""The staff home's "Today's appointments": where each location's day stands, the reader's
own location first, at a fixed number of queries."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from clinic.models import Location
from scheduling.models import AppointmentStatus as Status
from scheduling.tests.factories import clinic_location
from scheduling.tests.test_board import appointment
from scheduling.tests.test_booking import at
from tests.clock import travel_to


@pytest.fixture
def riverside(nina, phil) -> Location:
    return clinic_location(name="Riverside", chairs=3, staff=[nina, phil])


def home(client, user):
    client.force_login(user)
    return client.get("/staff/")


def test_it_counts_todays_appointments_by_where_they_stand(client, fran, nina, riverside):
    other = clinic_location(name="Aardvark Lane", chairs=1)
    today = riverside.local_now().date()
    travel_to(at(riverside, today, 12, 0))
    chairs = list(riverside.chairs.order_by("name"))
    appointment(riverside, today, 8, chair=chairs[0], status=Status.DISCHARGED)
    appointment(riverside, today, 9, chair=chairs[1], status=Status.NO_SHOW)
    appointment(riverside, today, 11, chair=chairs[2], status=Status.CHECKED_IN)
    appointment(riverside, today, 14, chair=chairs[0])
    appointment(riverside, today, 15, chair=chairs[1])
    appointment(riverside, today + timedelta(days=1), 9, chair=chairs[0])  # tomorrow
    appointment(
        riverside, today, 16, chair=chairs[2], status=Status.CANCELLED, cancel_reason="unwell"
    )

    response = home(client, nina)

    days = response.context["appointments_today"]
    # Nina works at Riverside: hers comes first, though Aardvark Lane is first by name.
    assert [day.location for day in days] == [riverside, other]
    mine = days[0]
    assert (mine.to_come, mine.here, mine.done, mine.no_show) == (2, 1, 1, 1)
    assert mine.yours
    assert (days[1].to_come, days[1].here) == (0, 0)
    html = response.content.decode()
    assert 'data-testid="home-appointments-today"' in html
    assert f"?location={riverside.public_id}" in html
    # The front desk sees it too (no shifts: the first location leads).
    assert home(client, fran).context["appointments_today"][0].location == other


def test_it_costs_the_same_however_many_appointments(
    client, fran, riverside, django_assert_num_queries
):
    today = riverside.local_now().date()
    travel_to(at(riverside, today, 7, 0))
    chair = riverside.chairs.first()
    home(client, fran)  # the session's first-request writes
    with CaptureQueriesContext(connection) as few:
        client.get("/staff/")
    for hour in range(8, 16, 2):
        appointment(riverside, today, hour, chair=chair)
        appointment(riverside, today, hour, kind="consultation")

    with django_assert_num_queries(len(few.captured_queries)):
        response = client.get("/staff/")

    assert response.context["appointments_today"][0].to_come == 8


def test_a_content_editor_gets_no_schedule_panel(client, edie, riverside):
    assert home(client, edie).context.get("appointments_today") is None
