"""The Django admin is a read-only window for clinic admins; changes go through the staff area."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from clinic.models import Location
from clinic.paging import EstimatedCountPaginator


@pytest.fixture
def riverside(db) -> Location:
    return Location.objects.create(
        name="Riverside",
        address_line1="1 River St",
        city="New York",
        phone="+1 212 555 0100",
        time_zone="America/New_York",
    )


def test_clinic_admins_can_browse_clinic_records(client, alice, riverside):
    client.force_login(alice)

    assert client.get("/admin/").status_code == 200
    assert client.get("/admin/clinic/location/").status_code == 200
    response = client.get(f"/admin/clinic/location/{riverside.pk}/change/")
    assert response.status_code == 200
    assert b"Riverside" in response.content


def test_the_admin_cannot_change_or_delete_clinic_records(client, alice, riverside):
    client.force_login(alice)

    response = client.post(f"/admin/clinic/location/{riverside.pk}/change/", {"name": "Renamed"})
    assert response.status_code == 403
    assert client.get("/admin/clinic/location/add/").status_code == 403
    assert client.post(f"/admin/clinic/location/{riverside.pk}/delete/").status_code == 403
    riverside.refresh_from_db()
    assert riverside.name == "Riverside"


def test_api_tokens_are_not_managed_in_the_admin(client, alice):
    client.force_login(alice)

    # Made and revoked on the account pages, with an audit trail; never in the admin.
    assert client.get("/admin/clinic/apitoken/").status_code == 404
    assert client.get("/admin/authtoken/tokenproxy/").status_code == 404


def test_second_factors_are_not_managed_in_the_admin(client, alice):
    client.force_login(alice)

    # Reset on the account pages, audited; the admin would show an authenticator's secret.
    assert client.get("/admin/otp_totp/totpdevice/").status_code == 404
    assert client.get("/admin/otp_totp/totpdevice/1/config/").status_code == 404
    assert client.get("/admin/otp_static/staticdevice/").status_code == 404


def test_staff_without_the_clinic_admin_role_are_sent_to_the_admin_sign_in(client, phil):
    client.force_login(phil)

    response = client.get("/admin/")

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_the_audit_list_offers_record_types_without_reading_every_event(client, alice):
    client.force_login(alice)

    with CaptureQueriesContext(connection) as queries:
        response = client.get("/admin/clinic/auditevent/")
    filtered = client.get("/admin/clinic/auditevent/", {"object_type": "clinic.location"})

    assert response.status_code == 200
    assert b"clinic.location" in response.content  # offered from the installed models
    assert not any("DISTINCT" in query["sql"] for query in queries.captured_queries)
    assert filtered.status_code == 200


def test_a_long_list_is_numbered_from_the_planners_estimate_not_counted(
    client, alice, riverside, monkeypatch
):
    for number in range(3):
        Location.objects.create(name=f"Place {number}", time_zone="America/New_York")
    client.force_login(alice)
    monkeypatch.setattr(EstimatedCountPaginator, "ESTIMATE_ABOVE", 0)  # every list is "long"

    with CaptureQueriesContext(connection) as queries:
        response = client.get("/admin/clinic/location/")

    sql = [query["sql"] for query in queries.captured_queries]
    assert response.status_code == 200
    assert b"Riverside" in response.content
    assert not any("COUNT(" in statement for statement in sql)
    assert any(statement.startswith("EXPLAIN") for statement in sql)


def test_a_short_list_is_still_counted_exactly(client, alice, riverside):
    for number in range(3):
        Location.objects.create(name=f"Place {number}", time_zone="America/New_York")
    client.force_login(alice)

    response = client.get("/admin/clinic/location/")

    assert response.context["cl"].result_count == 4
