"""The admin's appointment list serves its table and the navigation sidebar kept
(``clinic.fragments``): every write to a row they draw shows on the next view, whichever way
it is made, and a reader with other roles never gets another reader's copy."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from clinic import admin_site, fragments
from clinic.fragments import CSRF_PLACEHOLDER
from clinic.models import Role
from conftest import make_staff
from scheduling.models import Appointment
from scheduling.services.status_changes import appointment_cancel
from scheduling.tests.factories import (
    AppointmentFactory,
    LocationFactory,
    appointment_type,
    clinic_location,
)

TEN_AM = datetime(2026, 12, 1, 16, 0, tzinfo=UTC)
LIST = "/admin/scheduling/appointment/"


@pytest.fixture
def lakeview(nina):
    return clinic_location(name="Lakeview", staff=[nina])


@pytest.fixture
def appointment(lakeview, nina) -> Appointment:
    return AppointmentFactory(
        location=lakeview, chair=lakeview.chairs.first(), clinician=nina, starts_at=TEN_AM
    )


def listing(client, query: dict | None = None) -> str:
    response = client.get(LIST, query or {})
    assert response.status_code == 200
    return response.content.decode()


def run_sql(statement: str, params: list) -> None:
    with connection.cursor() as cursor:
        cursor.execute(statement, params)


def test_the_list_is_served_kept_and_the_same(client, alice, appointment):
    client.force_login(alice)
    drawn = listing(client)

    with CaptureQueriesContext(connection) as queries:
        kept = listing(client)

    # The same page, but for the forms' CSRF tokens (masked anew on every page).
    assert without_csrf_tokens(kept) == without_csrf_tokens(drawn)
    assert kept.count('name="csrfmiddlewaretoken"') == 2  # signing out; the list's form
    assert CSRF_PLACEHOLDER not in kept
    assert str(appointment.public_id) in kept
    # The rows, their chairs and clinicians are not read when the table is served kept.
    sql = " ".join(query["sql"] for query in queries.captured_queries)
    assert '"clinic_chair"."name"' not in sql
    assert '"scheduling_appointment"."public_id"' not in sql


def without_csrf_tokens(page: str) -> str:
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", page)


def table(page: str) -> str:
    return page.split("<tbody>", 1)[1].split("</tbody>", 1)[0]


def test_a_new_appointment_shows_on_the_next_view(client, alice, appointment, lakeview):
    client.force_login(alice)
    listing(client)

    later = AppointmentFactory(location=lakeview, starts_at=TEN_AM + timedelta(days=1))

    assert str(later.public_id) in listing(client)


def test_a_cancellation_through_the_services_shows_on_the_next_view(client, alice, appointment):
    client.force_login(alice)
    assert "Cancelled" not in table(listing(client, {"o": "1"}))

    appointment_cancel(actor=alice, appointment=appointment, reason="Unwell")

    assert "Cancelled" in table(listing(client, {"o": "1"}))


@pytest.mark.parametrize(
    ("statement", "shown"),
    [
        (
            "UPDATE scheduling_appointment SET status = 'no_show' WHERE id = %(appointment)s",
            "No-show",
        ),
        ("UPDATE clinic_location SET name = 'Harbourside' WHERE id = %(location)s", "Harbourside"),
        (
            "UPDATE scheduling_appointmenttype SET name = 'Long infusion' WHERE id = %(type)s",
            "Long infusion",
        ),
        ("UPDATE clinic_chair SET name = 'Window chair' WHERE id = %(chair)s", "Window chair"),
        (
            "UPDATE clinic_user SET full_name = 'Nina Newname' WHERE id = %(clinician)s",
            "Nina Newname",
        ),
    ],
)
def test_a_change_by_sql_to_any_row_it_draws_shows_on_the_next_view(
    client, alice, appointment, statement, shown
):
    client.force_login(alice)
    assert shown not in table(listing(client))

    run_sql(
        statement,
        {
            "appointment": appointment.pk,
            "location": appointment.location_id,
            "type": appointment.appointment_type_id,
            "chair": appointment.chair_id,
            "clinician": appointment.clinician_id,
        },
    )

    assert shown in table(listing(client))


def test_a_deletion_by_sql_shows_on_the_next_view(client, alice, appointment, lakeview):
    other = AppointmentFactory(
        location=lakeview,
        appointment_type=appointment_type("consultation"),
        starts_at=TEN_AM + timedelta(days=2),
    )
    client.force_login(alice)
    assert str(other.public_id) in listing(client)

    run_sql("DELETE FROM scheduling_appointment WHERE id = %s", [other.pk])

    page = listing(client)
    assert str(other.public_id) not in page
    assert str(appointment.public_id) in page


def test_a_new_location_shows_in_the_filters_on_the_next_view(client, alice, appointment):
    client.force_login(alice)
    assert "Bayside" not in listing(client)

    clinic_location(name="Bayside")

    filters = listing(client).split('<nav id="changelist-filter"', 1)[1]
    assert "Bayside" in filters
    assert "Lakeview" in filters


@pytest.mark.parametrize(
    ("statement", "shown"),
    [
        ("UPDATE clinic_location SET name = 'Harbourside' WHERE id = %(location)s", "Harbourside"),
        (
            "UPDATE scheduling_appointmenttype SET name = 'Long infusion' WHERE id = %(type)s",
            "Long infusion",
        ),
        ("DELETE FROM clinic_location WHERE id = %(other)s", "-Bayside"),
    ],
)
def test_a_change_by_sql_to_a_location_or_type_shows_in_the_filters(
    client, alice, appointment, statement, shown
):
    bayside = LocationFactory(name="Bayside")  # with one location, none is offered
    client.force_login(alice)
    listing(client)

    run_sql(
        statement,
        {
            "location": appointment.location_id,
            "type": appointment.appointment_type_id,
            "other": bayside.pk,
        },
    )

    filters = listing(client).split('<nav id="changelist-filter"', 1)[1]
    if shown.startswith("-"):
        assert f">{shown[1:]}<" not in filters
    else:
        assert f">{shown}<" in filters


def test_the_date_filters_links_follow_the_day(client, alice, appointment):
    with time_machine.travel(TEN_AM, tick=False):
        client.force_login(alice)
        # "Today": from midnight to the next.
        assert "starts_at__lt=2026-12-02" in listing(client)
    with time_machine.travel(TEN_AM + timedelta(days=1), tick=False):
        client.force_login(alice)
        page = listing(client)
    assert "starts_at__lt=2026-12-03" in page
    assert "starts_at__lt=2026-12-02" not in page


def test_the_sidebar_marks_the_list_it_is_on(client, alice, appointment):
    client.force_login(alice)
    listing(client)

    locations = client.get("/admin/clinic/location/").content.decode()

    assert 'class="model-location current-model"' in locations
    assert 'class="model-appointment current-model"' not in locations
    assert 'class="model-appointment current-model"' in listing(client)


def test_readers_with_other_roles_never_share_a_copy(client, alice, appointment, monkeypatch):
    keys: dict[str, set[str]] = {}
    reading = {"reader": ""}
    kept, kept_here = fragments.cached_fragment, admin_site.kept_here

    def noting(kind, version, parts, draw, **kwargs):
        key = fragments.fragment_key(kind, version, parts)
        keys.setdefault(reading["reader"], set()).add(key)
        return kept(kind, version, parts, draw, **kwargs)

    def noting_here(key, compute):
        keys.setdefault(reading["reader"], set()).add(key)
        return kept_here(key, compute)

    monkeypatch.setattr("clinic.templatetags.admin_rows.cached_fragment", noting)
    monkeypatch.setattr("clinic.templatetags.admin_kept.cached_fragment", noting)
    monkeypatch.setattr("clinic.templatetags.admin_kept.kept_here", noting_here)
    also_physician = make_staff("ada@clinic.test", "Ada Admin", Role.CLINIC_ADMIN, Role.PHYSICIAN)

    for reader, user in [("alice", alice), ("ada", also_physician)]:
        reading["reader"] = reader
        client.force_login(user)
        listing(client)

    # The list's content, the table in it, and the sidebar.
    assert len(keys["alice"]) == len(keys["ada"]) == 3
    assert not keys["alice"] & keys["ada"]
