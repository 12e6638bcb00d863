"""The staff home's "Today at our locations": each active location's hours today on its own
clock (or why it is closed) and its chairs in use, read in one query."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from clinic.selectors import locations_today
from scheduling.tests.factories import ChairFactory, ClosureFactory, clinic_location
from tests.clock import travel_to

# Monday 2026-03-02, 03:00 UTC: still Sunday evening in Chicago, already Monday in Auckland.
MONDAY_MORNING_UTC = datetime(2026, 3, 2, 3, 0, tzinfo=UTC)


def cards(html: str) -> str:
    """The section's markup, from its heading to its end."""
    start = html.index("Today at our locations")
    return html[start : html.index("</section>", start)]


def home(client, user) -> str:
    client.force_login(user)
    return client.get("/staff/").content.decode()


@pytest.fixture
def locations(db):
    travel_to(MONDAY_MORNING_UTC)
    weekdays = clinic_location(
        name="Riverside", weekdays=range(5), opens_at=time(7, 30), closes_at=time(19), chairs=3
    )
    ChairFactory(location=weekdays, name="Chair 9", is_active=False)  # not counted
    auckland = clinic_location(name="Harbour", time_zone="Pacific/Auckland", weekdays=[0], chairs=1)
    holiday = clinic_location(name="Lakeshore", chairs=2)
    ClosureFactory(
        location=holiday,
        starts_on=datetime(2026, 3, 1).date(),
        ends_on=datetime(2026, 3, 1).date(),
        reason="Founders' <Day>",
    )
    clinic_location(name="Old Town", is_active=False)
    return weekdays, auckland, holiday


def test_it_shows_each_active_locations_day_on_its_own_clock(client, fran, locations):
    section = cards(home(client, fran))

    # Sunday in Chicago: Riverside opens on weekdays only; Lakeshore is closed for a holiday.
    assert section.index("Harbour") < section.index("Lakeshore") < section.index("Riverside")
    riverside = section[section.index("Riverside") :]
    assert "Closed today" in riverside.split("</div>")[0]
    assert "3 infusion chairs" in riverside
    lakeshore = section[section.index("Lakeshore") : section.index("Riverside")]
    assert "Closed</span> Founders&#x27; &lt;Day&gt;" in lakeshore
    assert "2 infusion chairs" in lakeshore
    # Monday in Auckland, where it opens on Mondays.
    harbour = section[section.index("Harbour") : section.index("Lakeshore")]
    assert "Open 08:00–18:00" in harbour and "(Pacific/Auckland)" in harbour
    assert "1 infusion chair<" in harbour
    assert "Old Town" not in section


def test_the_day_moves_with_each_locations_clock(client, fran, locations):
    travel_to(MONDAY_MORNING_UTC + timedelta(hours=12))  # Monday morning in Chicago too

    section = cards(home(client, fran))

    riverside = section[section.index("Riverside") :]
    assert "Open 07:30–19:00" in riverside and "(America/Chicago)" in riverside
    lakeshore = section[section.index("Lakeshore") : section.index("Riverside")]
    assert "Open 08:00–18:00" in lakeshore  # the holiday was yesterday


def test_it_reads_every_location_in_one_query(locations):
    with CaptureQueriesContext(connection) as queries:
        days = locations_today()

    assert len(queries.captured_queries) == 1
    assert [day.name for day in days] == ["Harbour", "Lakeshore", "Riverside"]
    harbour, lakeshore, riverside = (day.today for day in days)
    assert (harbour.day, harbour.opens_at, harbour.closes_at) == (
        datetime(2026, 3, 2).date(),
        time(8),
        time(18),
    )
    assert lakeshore.closure.reason == "Founders' <Day>" and not lakeshore.is_open
    assert riverside.day == datetime(2026, 3, 1).date() and not riverside.is_open


def test_a_content_editor_gets_no_locations(client, edie, locations):
    assert "Today at our locations" not in home(client, edie)
