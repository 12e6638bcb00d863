"""Staff pages for locations, opening hours, closures and chairs."""

from __future__ import annotations

import uuid
from datetime import date, time, timedelta

import pytest

from clinic.models import AuditEvent, Chair, Closure, Location, OpeningHours
from clinic.selectors import locations_public

VIEWERS = ["fran", "nina", "phil"]

# The session and the signed-in user; the paginator's count, the page of locations, then
# their opening hours, closures and chairs; the session's last-activity update (savepoint,
# update, release). The same however many locations.
LIST_QUERIES = 10


def make_location(name: str = "Riverside", **overrides) -> Location:
    fields = {
        "name": name,
        "address_line1": "1 River Road",
        "city": "Austin",
        "region": "TX",
        "postal_code": "78701",
        "phone": "+1 555 010 0100",
        "time_zone": "America/Chicago",
    }
    return Location.objects.create(**(fields | overrides))


def open_every_day(location: Location, opens_at=time(0), closes_at=time(23, 59)) -> None:
    for weekday in range(7):
        OpeningHours.objects.create(
            location=location, weekday=weekday, opens_at=opens_at, closes_at=closes_at
        )


def changes_recorded():
    """Audit events other than signing in (force_login records one)."""
    return AuditEvent.objects.exclude(action=AuditEvent.Action.LOGIN)


def local_today(location: Location) -> date:
    return location.local_now().date()


@pytest.fixture
def riverside(db) -> Location:
    return make_location()


@pytest.fixture
def signed_in(client):
    def sign_in(user):
        client.force_login(user)
        return client

    return sign_in


# --- Who may see and change what ----------------------------------------------------------


def test_it_sends_anonymous_visitors_to_the_login_page(client, riverside):
    for url in [
        "/staff/locations/",
        f"/staff/locations/{riverside.public_id}/",
        f"/staff/locations/{riverside.public_id}/edit/",
    ]:
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/staff/login/")


def test_it_forbids_content_editors_everything(signed_in, edie, riverside):
    client = signed_in(edie)
    assert client.get("/staff/locations/").status_code == 403
    assert client.get(f"/staff/locations/{riverside.public_id}/").status_code == 403
    assert client.get("/staff/locations/new/").status_code == 403


@pytest.mark.parametrize("persona", VIEWERS)
def test_it_lets_clinical_staff_read_but_not_change(request, signed_in, riverside, persona):
    client = signed_in(request.getfixturevalue(persona))
    chair = Chair.objects.create(location=riverside, name="Chair 1")
    closure = Closure.objects.create(
        location=riverside, starts_on=date(2031, 1, 1), ends_on=date(2031, 1, 1), reason="New Year"
    )
    base = f"/staff/locations/{riverside.public_id}"

    assert client.get("/staff/locations/").status_code == 200
    detail = client.get(f"{base}/")
    assert detail.status_code == 200
    assert b"Edit details" not in detail.content
    assert b"Rename" not in detail.content

    for url in [
        "/staff/locations/new/",
        f"{base}/edit/",
        f"{base}/hours/",
        f"{base}/deactivate/",
        f"{base}/closures/new/",
        f"{base}/closures/{closure.pk}/remove/",
        f"{base}/chairs/new/",
        f"{base}/chairs/{chair.public_id}/rename/",
        f"{base}/chairs/{chair.public_id}/deactivate/",
    ]:
        assert client.get(url).status_code == 403, url
        assert client.post(url, {"name": "Changed"}).status_code == 403, url
    assert client.post(f"{base}/reactivate/").status_code == 403
    assert client.post(f"{base}/chairs/{chair.public_id}/reactivate/").status_code == 403

    riverside.refresh_from_db()
    chair.refresh_from_db()
    assert (riverside.name, riverside.is_active) == ("Riverside", True)
    assert (chair.name, chair.is_active) == ("Chair 1", True)
    assert Closure.objects.filter(pk=closure.pk).exists()
    assert not changes_recorded().exists()


def test_it_lets_the_clinic_admin_open_every_page(signed_in, alice, riverside):
    client = signed_in(alice)
    chair = Chair.objects.create(location=riverside, name="Chair 1")
    closure = Closure.objects.create(
        location=riverside, starts_on=date(2031, 1, 1), ends_on=date(2031, 1, 1), reason="New Year"
    )
    base = f"/staff/locations/{riverside.public_id}"
    for url in [
        "/staff/locations/",
        "/staff/locations/new/",
        f"{base}/",
        f"{base}/edit/",
        f"{base}/hours/",
        f"{base}/deactivate/",
        f"{base}/closures/new/",
        f"{base}/closures/{closure.pk}/remove/",
        f"{base}/chairs/new/",
        f"{base}/chairs/{chair.public_id}/rename/",
        f"{base}/chairs/{chair.public_id}/deactivate/",
    ]:
        assert client.get(url).status_code == 200, url


def test_it_hides_deactivated_locations_from_staff_who_cannot_manage_them(
    signed_in, fran, riverside
):
    make_location("Hilltop", is_active=False, city="Dallas")
    client = signed_in(fran)

    response = client.get("/staff/locations/")
    assert b"Riverside" in response.content
    assert b"Hilltop" not in response.content
    hilltop = Location.objects.get(name="Hilltop")
    assert client.get(f"/staff/locations/{hilltop.public_id}/").status_code == 404


def test_it_answers_404_for_an_unknown_location(signed_in, alice):
    response = signed_in(alice).get(f"/staff/locations/{uuid.uuid4()}/")
    assert response.status_code == 404


def test_it_answers_404_for_a_chair_or_closure_of_another_location(signed_in, alice, riverside):
    hilltop = make_location("Hilltop")
    chair = Chair.objects.create(location=hilltop, name="Chair 1")
    closure = Closure.objects.create(
        location=hilltop, starts_on=date(2031, 1, 1), ends_on=date(2031, 1, 1), reason="New Year"
    )
    client = signed_in(alice)
    base = f"/staff/locations/{riverside.public_id}"

    assert client.get(f"{base}/chairs/{chair.public_id}/rename/").status_code == 404
    assert client.post(f"{base}/closures/{closure.pk}/remove/").status_code == 404
    assert Closure.objects.filter(pk=closure.pk).exists()


# --- The list -----------------------------------------------------------------------------


def test_it_lists_locations_with_chairs_and_todays_hours(signed_in, fran):
    riverside = make_location(time_zone="UTC")
    open_every_day(riverside, time(0), time(23, 59))
    Chair.objects.create(location=riverside, name="Chair 1")
    Chair.objects.create(location=riverside, name="Chair 2")
    Chair.objects.create(location=riverside, name="Old chair", is_active=False)
    hilltop = make_location("Hilltop", city="Dallas", time_zone="Pacific/Auckland")
    open_every_day(hilltop)
    Closure.objects.create(
        location=hilltop,
        starts_on=local_today(hilltop),
        ends_on=local_today(hilltop),
        reason="Staff training",
    )

    response = signed_in(fran).get("/staff/locations/")

    assert response.status_code == 200
    rows = {location.name: (location, today) for location, today in response.context["rows"]}
    assert rows["Riverside"][0].active_chair_count == 2
    assert rows["Riverside"][1].is_open
    assert not rows["Hilltop"][1].is_open
    content = response.content.decode()
    assert "Pacific/Auckland" in content
    assert "Dallas" in content
    assert "Staff training" in content
    assert "00:00–23:59" in content
    assert "Add a location" not in content


@pytest.mark.parametrize("count", [1, 5])
def test_it_lists_locations_in_a_fixed_number_of_queries(
    signed_in, alice, django_assert_num_queries, count
):
    for number in range(count):
        location = make_location(f"Location {number}")
        open_every_day(location)
        Chair.objects.create(location=location, name="Chair 1")
        Closure.objects.create(
            location=location,
            starts_on=local_today(location),
            ends_on=local_today(location) + timedelta(days=1),
            reason="Training",
        )
    client = signed_in(alice)

    with django_assert_num_queries(LIST_QUERIES):
        response = client.get("/staff/locations/")

    assert len(response.context["rows"]) == count


def test_it_searches_by_name_or_city(signed_in, fran):
    make_location("Riverside", city="Austin")
    make_location("Hilltop", city="Dallas")
    client = signed_in(fran)

    by_city = client.get("/staff/locations/", {"q": "dall"})
    assert [location.name for location, _ in by_city.context["rows"]] == ["Hilltop"]
    by_name = client.get("/staff/locations/", {"q": "RIVER"})
    assert [location.name for location, _ in by_name.context["rows"]] == ["Riverside"]
    nothing = client.get("/staff/locations/", {"q": "Boston"})
    assert b"No location's name or city contains" in nothing.content


def test_it_pages_through_more_than_25_locations(signed_in, fran):
    for number in range(27):
        make_location(f"Location {number:02}")
    client = signed_in(fran)

    first = client.get("/staff/locations/")
    second = client.get("/staff/locations/", {"page": 2})

    assert len(first.context["rows"]) == 25
    assert b"Page 1 of 2" in first.content
    assert b'href="?page=2"' in first.content
    assert [location.name for location, _ in second.context["rows"]] == [
        "Location 25",
        "Location 26",
    ]


def test_it_keeps_the_search_when_paging(signed_in, fran):
    for number in range(26):
        make_location(f"Austin {number:02}")
    response = signed_in(fran).get("/staff/locations/", {"q": "Austin"})
    assert b'href="?q=Austin&amp;page=2"' in response.content


def test_it_invites_the_admin_to_add_the_first_location(signed_in, alice):
    response = signed_in(alice).get("/staff/locations/")
    assert b"No locations yet." in response.content
    assert b"Add the first location" in response.content


# --- The detail page ----------------------------------------------------------------------


def test_it_shows_a_location_with_hours_closures_and_chairs(signed_in, nina):
    location = make_location(email="riverside@clinic.test")
    OpeningHours.objects.create(location=location, weekday=0, opens_at=time(8), closes_at=time(18))
    today = local_today(location)
    Closure.objects.create(
        location=location,
        starts_on=today + timedelta(days=30),
        ends_on=today + timedelta(days=31),
        reason="Staff retreat",
    )
    for days_ago in (10, 40):
        day = today - timedelta(days=days_ago)
        Closure.objects.create(location=location, starts_on=day, ends_on=day, reason="Long gone")
    Chair.objects.create(location=location, name="Window bay")
    Chair.objects.create(location=location, name="Broken recliner", is_active=False)

    response = signed_in(nina).get(f"/staff/locations/{location.public_id}/")

    content = response.content.decode()
    assert "1 River Road" in content
    assert "Austin TX 78701" in content
    assert "+1 555 010 0100" in content
    assert "America/Chicago" in content
    assert location.local_now().strftime("%H:") in content
    assert "08:00–18:00" in content
    assert "Staff retreat" in content
    assert "Long gone" not in content
    assert "2 past closures not shown." in content
    overview = response.context["overview"]
    assert [chair.name for chair in overview.active_chairs] == ["Window bay"]
    assert [chair.name for chair in overview.inactive_chairs] == ["Broken recliner"]
    assert "Deactivated chairs" in content


def test_it_shows_the_local_time_in_the_locations_time_zone(signed_in, fran):
    location = make_location(time_zone="Asia/Kolkata")

    response = signed_in(fran).get(f"/staff/locations/{location.public_id}/")

    local_now = response.context["overview"].local_now
    assert local_now.utcoffset() == timedelta(hours=5, minutes=30)
    assert f"{local_now:%H:%M} IST" in response.content.decode()


def test_it_invites_the_admin_to_add_the_first_chair(signed_in, alice, riverside):
    response = signed_in(alice).get(f"/staff/locations/{riverside.public_id}/")

    content = response.content.decode()
    assert "No chairs yet" in content
    assert "add the first one" in content
    assert "No closures coming up" in content


# --- Creating and editing a location ------------------------------------------------------

NEW_LOCATION = {
    "name": "Lakeside",
    "address_line1": "5 Lake Street",
    "address_line2": "",
    "city": "Madison",
    "region": "WI",
    "postal_code": "53703",
    "country": "US",
    "phone": "+1 555 010 0200",
    "email": "",
    "time_zone": "America/Chicago",
}


def test_it_creates_a_location(signed_in, alice):
    response = signed_in(alice).post("/staff/locations/new/", NEW_LOCATION)

    location = Location.objects.get(name="Lakeside")
    assert response.status_code == 302
    assert response["Location"] == f"/staff/locations/{location.public_id}/"
    assert location.time_zone == "America/Chicago"
    assert AuditEvent.objects.filter(
        object_id=str(location.public_id), action=AuditEvent.Action.CREATE, actor=alice
    ).exists()


def test_it_shows_what_is_wrong_with_a_new_location_and_saves_nothing(signed_in, alice):
    response = signed_in(alice).post(
        "/staff/locations/new/", NEW_LOCATION | {"name": "", "time_zone": "Mars/Olympus"}
    )

    assert response.status_code == 200
    form = response.context["form"]
    assert form.errors["name"] == ["Enter a name for the location, e.g. Riverside."]
    assert form.errors["time_zone"] == [
        "Mars/Olympus is not a known time zone. Choose one from the list."
    ]
    assert b'aria-invalid="true"' in response.content
    assert not Location.objects.exists()
    assert not changes_recorded().exists()


def test_it_shows_the_services_message_next_to_the_field(signed_in, alice, riverside):
    response = signed_in(alice).post(
        "/staff/locations/new/", NEW_LOCATION | {"name": "riverside", "country": "U1"}
    )

    assert response.status_code == 200
    errors = response.context["form"].errors
    assert errors["name"] == [
        "There is already a location called riverside. Choose a different name."
    ]
    assert errors["country"] == ["Enter the two-letter country code, e.g. US or CA."]
    assert Location.objects.count() == 1


def test_it_edits_a_location(signed_in, alice, riverside):
    client = signed_in(alice)
    form = client.get(f"/staff/locations/{riverside.public_id}/edit/").context["form"]
    assert form.initial["name"] == "Riverside"

    response = client.post(
        f"/staff/locations/{riverside.public_id}/edit/",
        NEW_LOCATION | {"name": "Riverside", "phone": "+1 555 010 0999"},
    )

    assert response.status_code == 302
    riverside.refresh_from_db()
    assert (riverside.phone, riverside.city) == ("+1 555 010 0999", "Madison")
    event = AuditEvent.objects.get(object_id=str(riverside.public_id))
    assert event.summary == "changed address_line1, city, region, postal_code, phone"


def test_it_keeps_a_location_unchanged_when_the_edit_is_invalid(signed_in, alice, riverside):
    make_location("Hilltop")
    response = signed_in(alice).post(
        f"/staff/locations/{riverside.public_id}/edit/", NEW_LOCATION | {"name": "Hilltop"}
    )

    assert response.status_code == 200
    assert (
        "There is already a location called Hilltop" in response.context["form"].errors["name"][0]
    )
    riverside.refresh_from_db()
    assert (riverside.name, riverside.city) == ("Riverside", "Austin")


def test_it_asks_before_deactivating_a_location_and_can_bring_it_back(signed_in, alice, riverside):
    client = signed_in(alice)
    url = f"/staff/locations/{riverside.public_id}/deactivate/"

    confirmation = client.get(url)
    assert b"Deactivate Riverside?" in confirmation.content
    riverside.refresh_from_db()
    assert riverside.is_active

    assert client.post(url).status_code == 302
    riverside.refresh_from_db()
    assert not riverside.is_active

    assert client.get(f"/staff/locations/{riverside.public_id}/reactivate/").status_code == 405
    assert client.post(f"/staff/locations/{riverside.public_id}/reactivate/").status_code == 302
    riverside.refresh_from_db()
    assert riverside.is_active


# --- Opening hours ------------------------------------------------------------------------


def week_form(**days) -> dict[str, str]:
    """Form data with every day closed except ``days``: monday=("08:00", "18:00")."""
    data = {}
    for day in ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]:
        if day in days:
            data[f"{day}_open"] = "on"
            data[f"{day}_opens_at"], data[f"{day}_closes_at"] = days[day]
    return data


def test_it_shows_the_current_hours_in_the_form(signed_in, alice, riverside):
    OpeningHours.objects.create(location=riverside, weekday=2, opens_at=time(9), closes_at=time(17))

    response = signed_in(alice).get(f"/staff/locations/{riverside.public_id}/hours/")

    content = response.content.decode()
    assert 'name="wednesday_opens_at" value="09:00"' in content
    assert '<label class="visually-hidden" for="id_wednesday_closes_at">' in content
    assert response.context["form"].initial["monday_open"] is False


def test_it_sets_the_opening_hours_of_the_week(signed_in, alice, riverside):
    OpeningHours.objects.create(location=riverside, weekday=6, opens_at=time(9), closes_at=time(12))

    response = signed_in(alice).post(
        f"/staff/locations/{riverside.public_id}/hours/",
        week_form(monday=("08:00", "18:00"), saturday=("09:30", "13:00")),
    )

    assert response.status_code == 302
    assert [
        (row.weekday, row.opens_at, row.closes_at) for row in riverside.opening_hours.all()
    ] == [(0, time(8), time(18)), (5, time(9, 30), time(13))]


def test_it_explains_a_day_that_closes_before_it_opens_and_saves_nothing(
    signed_in, alice, riverside
):
    response = signed_in(alice).post(
        f"/staff/locations/{riverside.public_id}/hours/",
        week_form(monday=("08:00", "18:00"), friday=("18:00", "08:00")),
    )

    assert response.status_code == 200
    errors = response.context["form"].errors
    assert list(errors) == ["friday_closes_at"]
    assert (
        "On Friday the closing time (08:00) is not after the opening time (18:00)"
        in (errors["friday_closes_at"][0])
    )
    assert b'id="id_friday_closes_at_error"' in response.content
    assert not OpeningHours.objects.exists()


def test_it_asks_for_the_times_of_a_day_marked_open(signed_in, alice, riverside):
    response = signed_in(alice).post(
        f"/staff/locations/{riverside.public_id}/hours/", {"tuesday_open": "on"}
    )

    assert response.status_code == 200
    errors = response.context["form"].errors
    assert errors["tuesday_opens_at"] == [
        "Enter the time the location opens on Tuesday, or mark it closed."
    ]
    assert "tuesday_closes_at" in errors
    assert not OpeningHours.objects.exists()


# --- Closures -----------------------------------------------------------------------------


def test_it_adds_a_one_day_closure(signed_in, alice, riverside):
    response = signed_in(alice).post(
        f"/staff/locations/{riverside.public_id}/closures/new/",
        {"starts_on": "2031-07-04", "ends_on": "", "reason": "Independence Day"},
    )

    assert response.status_code == 302
    closure = riverside.closures.get()
    assert (closure.starts_on, closure.ends_on) == (date(2031, 7, 4), date(2031, 7, 4))


def test_it_explains_a_closure_that_ends_before_it_starts(signed_in, alice, riverside):
    response = signed_in(alice).post(
        f"/staff/locations/{riverside.public_id}/closures/new/",
        {"starts_on": "2031-07-04", "ends_on": "2031-07-01", "reason": "Holiday"},
    )

    assert response.status_code == 200
    assert (
        "Enter an end date on or after the start date."
        in (response.context["form"].errors["ends_on"][0])
    )
    assert not Closure.objects.exists()


def test_it_asks_before_removing_a_closure(signed_in, alice, riverside):
    closure = Closure.objects.create(
        location=riverside, starts_on=date(2031, 7, 4), ends_on=date(2031, 7, 4), reason="Holiday"
    )
    client = signed_in(alice)
    url = f"/staff/locations/{riverside.public_id}/closures/{closure.pk}/remove/"

    confirmation = client.get(url)
    assert b"Remove this closure?" in confirmation.content
    assert Closure.objects.filter(pk=closure.pk).exists()

    response = client.post(url)
    assert response["Location"] == f"/staff/locations/{riverside.public_id}/"
    assert not Closure.objects.exists()
    assert AuditEvent.objects.filter(action=AuditEvent.Action.DELETE, actor=alice).exists()


# --- Chairs -------------------------------------------------------------------------------


def test_it_adds_a_chair(signed_in, alice, riverside):
    response = signed_in(alice).post(
        f"/staff/locations/{riverside.public_id}/chairs/new/", {"name": "Chair 1"}
    )

    assert response.status_code == 302
    assert list(riverside.chairs.values_list("name", flat=True)) == ["Chair 1"]


def test_it_refuses_a_second_chair_with_the_same_name(signed_in, alice, riverside):
    Chair.objects.create(location=riverside, name="Chair 1")

    response = signed_in(alice).post(
        f"/staff/locations/{riverside.public_id}/chairs/new/", {"name": "CHAIR 1"}
    )

    assert response.status_code == 200
    assert response.context["form"].errors["name"] == [
        "Riverside already has a chair called Chair 1. Choose a different name."
    ]
    assert riverside.chairs.count() == 1


def test_it_renames_a_chair(signed_in, alice, riverside):
    chair = Chair.objects.create(location=riverside, name="Chair 1")
    url = f"/staff/locations/{riverside.public_id}/chairs/{chair.public_id}/rename/"
    client = signed_in(alice)
    assert client.get(url).context["form"].initial == {"name": "Chair 1"}

    response = client.post(url, {"name": "Window bay"})

    assert response.status_code == 302
    chair.refresh_from_db()
    assert chair.name == "Window bay"


def test_it_asks_before_deactivating_a_chair_and_lists_it_apart(signed_in, alice, riverside):
    chair = Chair.objects.create(location=riverside, name="Chair 1")
    client = signed_in(alice)
    url = f"/staff/locations/{riverside.public_id}/chairs/{chair.public_id}/deactivate/"

    confirmation = client.get(url)
    assert b"Take Chair 1 out of use?" in confirmation.content
    chair.refresh_from_db()
    assert chair.is_active

    client.post(url)
    chair.refresh_from_db()
    assert not chair.is_active
    overview = client.get(f"/staff/locations/{riverside.public_id}/").context["overview"]
    assert overview.active_chairs == []
    assert overview.inactive_chairs == [chair]


def test_it_reactivates_a_chair_by_post_only(signed_in, alice, riverside):
    chair = Chair.objects.create(location=riverside, name="Chair 1", is_active=False)
    client = signed_in(alice)
    url = f"/staff/locations/{riverside.public_id}/chairs/{chair.public_id}/reactivate/"

    assert client.get(url).status_code == 405
    response = client.post(url)

    assert response["Location"] == f"/staff/locations/{riverside.public_id}/"
    chair.refresh_from_db()
    assert chair.is_active


def test_it_explains_why_a_chair_at_a_deactivated_location_stays_out_of_use(signed_in, alice):
    location = make_location(is_active=False)
    chair = Chair.objects.create(location=location, name="Chair 1", is_active=False)

    response = signed_in(alice).post(
        f"/staff/locations/{location.public_id}/chairs/{chair.public_id}/reactivate/", follow=True
    )

    assert b"Reactivate the location before" in response.content
    chair.refresh_from_db()
    assert not chair.is_active


def test_the_public_locations_come_by_name_whatever_order_they_were_made_in(db):
    # Counting chairs makes the query a GROUP BY, where Django drops Meta.ordering.
    for name in ["Zephyr", "Mesa", "Riverside"]:
        make_location(name)
    locations = locations_public()
    assert locations.ordered
    assert [location.name for location in locations] == ["Mesa", "Riverside", "Zephyr"]
