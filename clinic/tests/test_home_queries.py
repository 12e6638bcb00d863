"""What the staff home costs in queries for each role: a fixed number, however many
locations, appointments and shifts there are."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from scheduling.models import AppointmentStatus as Status
from scheduling.tests.factories import clinic_location
from scheduling.tests.test_board import appointment

# Every role: the session and the signed-in user; every active location's day, in one
# query (clinic.selectors.locations_today); the boards' locations, then today's counts with
# the reader's shifts (scheduling.contributions.todays_appointments).
EVERYONE = 5
HOME_QUERIES = {
    "fran": EVERYONE + 1,  # the fees to decide
    # The heartbeat; the ketamine inventories due (the latest of each location, the
    # locations); open loss incidents; the fees to decide.
    "alice": EVERYONE + 5,
    # Safety alerts (shifts, the alerts, the others' count); vitals alerts (shifts, alerts);
    # REMS forms due (shifts, forms); open loss incidents.
    "nina": EVERYONE + 8,
    # The nurse's, and orders to sign (locations, shifts, sessions), and the inventories due.
    "phil": EVERYONE + 8 + 5,
}


def home_queries(client) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/staff/")
    assert response.status_code == 200
    return len(queries.captured_queries)


@pytest.mark.parametrize("who", sorted(HOME_QUERIES))
def test_the_home_reads_a_fixed_number_of_queries(client, request, who, nina, phil):
    user = request.getfixturevalue(who)
    riverside = clinic_location(name="Riverside", chairs=2, staff=[nina, phil])
    today = riverside.local_now().date()
    appointment(riverside, today, 9, chair=riverside.chairs.first())
    client.force_login(user)
    client.get("/staff/")  # the session's first-request writes

    few = home_queries(client)
    for number in range(3):
        other = clinic_location(
            name=f"Other {number}", time_zone="America/New_York", chairs=2, staff=[nina, phil]
        )
        day = other.local_now().date()
        for hour, status in [(8, Status.DISCHARGED), (10, Status.CHECKED_IN), (15, Status.BOOKED)]:
            appointment(other, day, hour, chair=other.chairs.first(), status=status)
    many = home_queries(client)

    assert few == many == HOME_QUERIES[who]
