"""The waitlist through the API: /api/v1/waitlist/."""

from __future__ import annotations

import uuid
from datetime import time, timedelta

import pytest

from clinic.models import AuditEvent, Location
from patients.models import Patient
from patients.tests.factories import PatientFactory
from scheduling.models import WaitlistEntry
from scheduling.tests.factories import appointment_type
from scheduling.tests.test_api import post
from scheduling.tests.test_booking import next_week, riverside_for

State = WaitlistEntry.State
# The session and the user; the paginator's count and the page of entries with what each
# shows joined in; the audit event; the session's last-activity update (savepoint, update,
# release). The same however many entries.
LIST_QUERIES = 8


@pytest.fixture
def riverside(nina, phil) -> Location:
    return riverside_for(nina, phil)


@pytest.fixture
def jordan(db) -> Patient:
    return PatientFactory(legal_first_name="Jordan", legal_last_name="Rivera")


def wait(patient: Patient, location: Location, kind: str = "consultation", **fields):
    """A waitlist entry written directly (the scene, not the subject)."""
    return WaitlistEntry.objects.create(
        patient=patient, location=location, appointment_type=appointment_type(kind), **fields
    )


def request_for(patient: Patient, location: Location, **fields) -> dict:
    return {
        "patient": str(patient.public_id),
        "location": str(location.public_id),
        "type": "consultation",
    } | fields


def events(action: str):
    return AuditEvent.objects.filter(action=action, object_type="scheduling.waitlistentry")


# --- Who may call what ------------------------------------------------------------------------


def test_it_refuses_anonymous_callers(client, riverside, jordan):
    entry = wait(jordan, riverside)

    assert client.get("/api/v1/waitlist/").status_code == 401
    assert client.get(f"/api/v1/waitlist/{entry.public_id}/").status_code == 401
    assert client.delete(f"/api/v1/waitlist/{entry.public_id}/").status_code == 401
    assert post(client, "/api/v1/waitlist/", request_for(jordan, riverside)).status_code == 401
    entry.refresh_from_db()
    assert entry.state == State.WAITING
    assert WaitlistEntry.objects.count() == 1


def test_it_refuses_content_editors(client, edie, riverside, jordan):
    entry = wait(jordan, riverside)
    client.force_login(edie)

    assert client.get("/api/v1/waitlist/").status_code == 403
    assert client.get(f"/api/v1/waitlist/{entry.public_id}/").status_code == 403
    assert client.delete(f"/api/v1/waitlist/{entry.public_id}/").status_code == 403
    assert post(client, "/api/v1/waitlist/", request_for(jordan, riverside)).status_code == 403
    entry.refresh_from_db()
    assert entry.state == State.WAITING
    assert not AuditEvent.objects.filter(object_type__startswith="scheduling.").exists()


@pytest.mark.parametrize("persona", ["fran", "nina", "phil", "alice"])
def test_staff_who_book_read_and_add_to_the_waitlist(request, client, riverside, jordan, persona):
    client.force_login(request.getfixturevalue(persona))

    added = post(client, "/api/v1/waitlist/", request_for(jordan, riverside))
    listed = client.get("/api/v1/waitlist/")

    assert added.status_code == 201, added.json()
    assert [row["id"] for row in listed.json()["results"]] == [added.json()["id"]]


# --- Adding -------------------------------------------------------------------------------------


def test_the_front_desk_adds_a_patient_with_their_preferences(client, fran, riverside, jordan):
    client.force_login(fran)
    day = next_week(riverside)

    response = post(
        client,
        "/api/v1/waitlist/",
        request_for(
            jordan,
            riverside,
            earliest_date=day.isoformat(),
            latest_date=(day + timedelta(days=14)).isoformat(),
            preferred_weekdays=[4, 0, 0],
            preferred_after="09:00",
            preferred_before="12:30",
        ),
    )

    assert response.status_code == 201, response.json()
    entry = WaitlistEntry.objects.get()
    body = response.json()
    assert body["id"] == str(entry.public_id)
    assert body["patient"] == {"id": str(jordan.public_id), "name": "Jordan Rivera"}
    assert body["type"] == "consultation"
    assert body["preferred_weekdays"] == [0, 4]
    assert body["preferred_after"] == "09:00:00"
    assert body["state"] == "waiting"
    assert body["offered_appointment"] is None
    assert entry.preferred_before == time(12, 30)
    assert entry.created_by == fran
    event = events(AuditEvent.Action.CREATE).get()
    assert event.actor == fran
    assert event.object_id == str(entry.public_id)


@pytest.mark.parametrize(
    ("fields", "field", "says"),
    [
        ({"latest_date": "2020-01-01"}, "latest_date", "That date has passed"),
        ({"preferred_weekdays": [9]}, "preferred_weekdays", "0 (Monday) to 6 (Sunday)"),
        ({"preferred_weekdays": ["Monday"]}, "preferred_weekdays", "0 (Monday) to 6"),
        ({"preferred_after": "noon"}, "preferred_after", "HH:MM"),
        (
            {"preferred_after": "12:00", "preferred_before": "09:00"},
            "preferred_before",
            "widen the window",
        ),
        ({"type": "infusion"}, "patient", "no approved, current screening decision"),
        ({"type": "massage"}, "type", "Choose a kind of appointment"),
        ({"patient": str(uuid.uuid4())}, "patient", "no patient with that id"),
        ({"location": None}, "location", "Say which location"),
    ],
)
def test_a_bad_waitlist_entry_is_a_400_that_says_what_to_fix(
    client, fran, riverside, jordan, fields, field, says
):
    client.force_login(fran)

    response = post(client, "/api/v1/waitlist/", request_for(jordan, riverside) | fields)

    assert response.status_code == 400
    assert says in str(response.json()[field])
    assert not WaitlistEntry.objects.exists()


def test_a_patient_is_on_the_waitlist_once(client, fran, riverside, jordan):
    wait(jordan, riverside)
    client.force_login(fran)

    response = post(client, "/api/v1/waitlist/", request_for(jordan, riverside))

    assert response.status_code == 400
    assert "already on the waitlist" in response.json()["patient"][0]
    assert WaitlistEntry.objects.count() == 1


# --- Reading ------------------------------------------------------------------------------------


def test_it_lists_the_waitlist_first_come_first_with_filters(client, fran, nina, riverside, jordan):
    lakeside = riverside_for(nina, name="Lakeside")
    first = wait(jordan, riverside)
    second = wait(PatientFactory(), lakeside)
    offered = wait(PatientFactory(), riverside, "follow_up", state=State.OFFERED)
    client.force_login(fran)

    def listed(**params) -> list[str]:
        response = client.get("/api/v1/waitlist/", params)
        assert response.status_code == 200, response.json()
        return [row["id"] for row in response.json()["results"]]

    ids = [str(entry.public_id) for entry in (first, second, offered)]
    assert listed() == ids
    assert listed(location=str(riverside.public_id)) == [ids[0], ids[2]]
    assert listed(patient=str(jordan.public_id)) == [ids[0]]
    assert listed(state="offered") == [ids[2]]


@pytest.mark.parametrize(
    ("params", "parameter"), [({"state": "asleep"}, "state"), ({"location": "x"}, "location")]
)
def test_a_bad_waitlist_filter_is_a_400_naming_it(client, fran, params, parameter):
    client.force_login(fran)

    response = client.get("/api/v1/waitlist/", params)

    assert response.status_code == 400
    assert parameter in response.json()


@pytest.mark.parametrize("count", [1, 5])
def test_it_lists_the_waitlist_in_a_fixed_number_of_queries(
    client, fran, riverside, django_assert_num_queries, count
):
    for _ in range(count):
        wait(PatientFactory(), riverside)
    client.force_login(fran)

    with django_assert_num_queries(LIST_QUERIES):
        response = client.get("/api/v1/waitlist/")

    assert response.json()["count"] == count


def test_reading_the_waitlist_is_audited_without_names(client, fran, riverside, jordan):
    entry = wait(jordan, riverside)
    client.force_login(fran)

    client.get("/api/v1/waitlist/")
    client.get(f"/api/v1/waitlist/{entry.public_id}/")

    listing, one = events(AuditEvent.Action.VIEW).order_by("id")
    assert "1 shown" in listing.summary
    assert one.object_id == str(entry.public_id)
    assert str(jordan.public_id) in one.summary
    assert "Rivera" not in listing.summary + one.summary


# --- Removing -----------------------------------------------------------------------------------


def test_it_takes_a_patient_off_the_waitlist_once(client, fran, riverside, jordan):
    entry = wait(jordan, riverside)
    client.force_login(fran)

    removed = client.delete(f"/api/v1/waitlist/{entry.public_id}/")
    again = client.delete(f"/api/v1/waitlist/{entry.public_id}/")

    assert removed.status_code == 204
    entry.refresh_from_db()
    assert entry.state == State.REMOVED
    assert again.status_code == 400
    assert "removed already" in again.json()["state"][0]
    assert events(AuditEvent.Action.UPDATE).filter(actor=fran).count() == 1


def test_it_answers_404_for_an_unknown_entry(client, fran):
    client.force_login(fran)

    assert client.get(f"/api/v1/waitlist/{uuid.uuid4()}/").status_code == 404
    assert client.delete(f"/api/v1/waitlist/{uuid.uuid4()}/").status_code == 404
