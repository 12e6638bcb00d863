"""``clinic.queries.prepared_plans``: the queries run within it are prepared once per
connection and run by a generic plan, and still logged as Django logs any query."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from clinic.models import Location
from clinic.queries import prepared_plans


@pytest.fixture
def place(db) -> Location:
    return Location.objects.create(name="Riverside", time_zone="America/New_York")


def _plans_of(table: str) -> list[tuple[int, int]]:
    """How many generic and custom plans PostgreSQL made for each prepared statement on
    ``table`` of this connection."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT generic_plans, custom_plans FROM pg_prepared_statements "
            "WHERE statement LIKE %s",
            [f'%FROM "{table}"%'],
        )
        return cursor.fetchall()


def test_a_lookup_is_planned_once_and_sees_every_write(place):
    names = []
    for name in ("Riverside", "Riverside East", "Hillcrest"):
        Location.objects.filter(pk=place.pk).update(name=name)
        with prepared_plans():
            names.append(Location.objects.get(public_id=place.public_id).name)

    assert names == ["Riverside", "Riverside East", "Hillcrest"]
    assert _plans_of("clinic_location") == [(3, 0)]  # one statement, three generic runs


def test_outside_it_nothing_is_prepared(place):
    Location.objects.get(public_id=place.public_id)

    assert _plans_of("clinic_location") == []


def test_a_prepared_query_is_logged_with_its_values(place):
    with CaptureQueriesContext(connection) as queries, prepared_plans():
        Location.objects.get(public_id=place.public_id)

    assert place.public_id.hex in queries.captured_queries[0]["sql"].replace("-", "")


def test_an_error_inside_leaves_the_connection_binding_on_the_client(place):
    with pytest.raises(Location.DoesNotExist), prepared_plans():
        Location.objects.get(name="Nowhere")
    Location.objects.get(public_id=place.public_id)

    assert _plans_of("clinic_location") == [(1, 0)]  # the first query only


def test_it_can_be_turned_off(place, settings):
    settings.DATABASE_PREPARED_STATEMENTS = False
    with prepared_plans():
        Location.objects.get(public_id=place.public_id)

    assert _plans_of("clinic_location") == []
