"""The read-only locations API: /api/v1/locations/ and /api/v1/locations/<id>/."""

from __future__ import annotations

import uuid
from datetime import time, timedelta

import pytest

from clinic.models import Chair, Closure, Location, OpeningHours

# The session and the signed-in user; the paginator's count, the page of locations, then
# their opening hours, closures and chairs; the session's last-activity update (savepoint,
# update, release). The same however many locations.
LIST_QUERIES = 10


def make_location(name: str = "Riverside", **overrides) -> Location:
    fields = {
        "name": name,
        "address_line1": "1 River Road",
        "city": "Austin",
        "phone": "+1 555 010 0100",
        "time_zone": "America/Chicago",
    }
    return Location.objects.create(**(fields | overrides))


@pytest.fixture
def riverside(db) -> Location:
    location = make_location()
    OpeningHours.objects.create(location=location, weekday=0, opens_at=time(8), closes_at=time(18))
    OpeningHours.objects.create(location=location, weekday=5, opens_at=time(9), closes_at=time(13))
    today = location.local_now().date()
    Closure.objects.create(
        location=location,
        starts_on=today - timedelta(days=20),
        ends_on=today - timedelta(days=19),
        reason="Long gone",
    )
    Closure.objects.create(
        location=location,
        starts_on=today - timedelta(days=1),
        ends_on=today,
        reason="Ends today",
    )
    Closure.objects.create(
        location=location,
        starts_on=today + timedelta(days=10),
        ends_on=today + timedelta(days=10),
        reason="Training day",
    )
    Chair.objects.create(location=location, name="Chair 2")
    Chair.objects.create(location=location, name="Chair 1")
    Chair.objects.create(location=location, name="Broken", is_active=False)
    return location


def test_it_refuses_anonymous_callers(client, riverside):
    response = client.get("/api/v1/locations/")
    assert response.status_code in (401, 403)
    assert "results" not in response.json()


def test_it_refuses_content_editors(client, edie, riverside):
    client.force_login(edie)
    assert client.get("/api/v1/locations/").status_code == 403
    assert client.get(f"/api/v1/locations/{riverside.public_id}/").status_code == 403


@pytest.mark.parametrize("persona", ["fran", "nina", "phil", "alice"])
def test_it_lists_locations_to_staff_who_may_view_them(request, client, riverside, persona):
    client.force_login(request.getfixturevalue(persona))

    response = client.get("/api/v1/locations/")

    assert response.status_code == 200
    assert [row["id"] for row in response.json()["results"]] == [str(riverside.public_id)]


def test_it_describes_a_location_with_hours_upcoming_closures_and_chairs_in_use(
    client, nina, riverside
):
    client.force_login(nina)

    body = client.get(f"/api/v1/locations/{riverside.public_id}/").json()

    today = riverside.local_now().date()
    assert body["id"] == str(riverside.public_id)
    assert body["name"] == "Riverside"
    assert body["time_zone"] == "America/Chicago"
    assert body["is_active"] is True
    assert body["opening_hours"] == [
        {"weekday": 0, "weekday_name": "Monday", "opens_at": "08:00:00", "closes_at": "18:00:00"},
        {"weekday": 5, "weekday_name": "Saturday", "opens_at": "09:00:00", "closes_at": "13:00:00"},
    ]
    assert body["upcoming_closures"] == [
        {
            "starts_on": (today - timedelta(days=1)).isoformat(),
            "ends_on": today.isoformat(),
            "reason": "Ends today",
        },
        {
            "starts_on": (today + timedelta(days=10)).isoformat(),
            "ends_on": (today + timedelta(days=10)).isoformat(),
            "reason": "Training day",
        },
    ]
    chairs = {chair.name: str(chair.public_id) for chair in riverside.chairs.all()}
    assert body["chairs"] == [
        {"id": chairs["Chair 1"], "name": "Chair 1"},
        {"id": chairs["Chair 2"], "name": "Chair 2"},
    ]
    assert "pk" not in body


def test_it_answers_404_for_an_unknown_location(client, fran):
    client.force_login(fran)
    assert client.get(f"/api/v1/locations/{uuid.uuid4()}/").status_code == 404


def test_it_shows_deactivated_locations_to_clinic_admins_only(client, fran, alice):
    hilltop = make_location("Hilltop", is_active=False)
    url = f"/api/v1/locations/{hilltop.public_id}/"

    client.force_login(fran)
    assert client.get(url).status_code == 404
    assert client.get("/api/v1/locations/").json()["count"] == 0

    client.force_login(alice)
    assert client.get(url).json()["is_active"] is False
    assert client.get("/api/v1/locations/").json()["count"] == 1


def test_it_is_read_only(client, alice, riverside):
    client.force_login(alice)

    assert client.post("/api/v1/locations/", {"name": "New"}).status_code in (403, 405)
    response = client.patch(
        f"/api/v1/locations/{riverside.public_id}/", {"name": "X"}, content_type="application/json"
    )
    assert response.status_code in (403, 405)
    riverside.refresh_from_db()
    assert riverside.name == "Riverside"


@pytest.mark.parametrize("count", [1, 5])
def test_it_lists_locations_in_a_fixed_number_of_queries(
    client, fran, django_assert_num_queries, count
):
    for number in range(count):
        location = make_location(f"Location {number}")
        OpeningHours.objects.create(
            location=location, weekday=0, opens_at=time(8), closes_at=time(18)
        )
        Chair.objects.create(location=location, name="Chair 1")
        today = location.local_now().date()
        Closure.objects.create(location=location, starts_on=today, ends_on=today, reason="Closed")
    client.force_login(fran)

    with django_assert_num_queries(LIST_QUERIES):
        response = client.get("/api/v1/locations/")

    assert response.json()["count"] == count


def test_it_appears_in_the_openapi_schema(client, db):
    response = client.get("/api/schema/", {"format": "json"})

    paths = response.json()["paths"]
    assert "/api/v1/locations/" in paths
    assert "/api/v1/locations/{location_id}/" in paths
    assert set(paths["/api/v1/locations/"]) == {"get"}
