"""The audit log: append-only in the database, fed by sign-ins, readable by clinic admins."""

from __future__ import annotations

from datetime import UTC, datetime

import psycopg
import pytest
from django.db import DatabaseError, connection, transaction
from django.forms.models import model_to_dict

from clinic.audit import Action, audit_record
from clinic.models import AuditEvent
from clinic.urls import audit as audit_urls
from conftest import PASSWORD, make_staff
from patients.tests.factories import PatientFactory

# session and user, count, the actor choices in the filter, one page of events with their
# actors, and the session's last-activity update (savepoint, update, release).
AUDIT_PAGE_QUERIES = 8


@pytest.fixture
def clinic_in_new_york(settings):
    settings.TIME_ZONE = "America/New_York"


def event_at(when: datetime, **fields) -> AuditEvent:
    return AuditEvent.objects.create(occurred_at=when, **fields)


# --- The database keeps the log append-only ------------------------------------------------


def _refused(caught: pytest.ExceptionInfo) -> bool:
    return isinstance(caught.value.__cause__, psycopg.errors.InsufficientPrivilege)


def test_the_database_refuses_a_raw_update(alice):
    event = audit_record(actor=alice, action=Action.UPDATE, summary="changed roles")
    with (
        pytest.raises(DatabaseError) as caught,
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(
            "UPDATE clinic_auditevent SET summary = 'nothing to see' WHERE id = %s",
            [event.pk],
        )
    assert _refused(caught)
    event.refresh_from_db()
    assert event.summary == "changed roles"


def test_the_database_refuses_a_raw_delete(alice):
    event = audit_record(actor=alice, action=Action.UPDATE, summary="changed roles")
    with (
        pytest.raises(DatabaseError) as caught,
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("DELETE FROM clinic_auditevent WHERE id = %s", [event.pk])
    assert _refused(caught)
    assert AuditEvent.objects.filter(pk=event.pk).exists()


def test_the_orm_cannot_update_events_either(alice):
    event = audit_record(actor=alice, action=Action.UPDATE, summary="changed roles")
    with pytest.raises(DatabaseError) as caught, transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).update(summary="nothing to see", actor=None)
    assert _refused(caught)
    event.refresh_from_db()
    assert (event.summary, event.actor) == ("changed roles", alice)


def test_the_orm_cannot_delete_events_either(alice):
    event = audit_record(actor=alice, action=Action.UPDATE, summary="changed roles")
    with pytest.raises(DatabaseError) as caught, transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).delete()
    assert _refused(caught)
    with pytest.raises(DatabaseError), transaction.atomic():
        event.delete()
    assert AuditEvent.objects.count() == 1


# --- Writing an event ---------------------------------------------------------------------------


def test_it_writes_one_row_in_one_query_and_returns_it_as_stored(
    alice, nina, rf, django_assert_num_queries
):
    request = rf.get("/", HTTP_USER_AGENT="Tablet browser", REMOTE_ADDR="203.0.113.7")

    with django_assert_num_queries(1):
        event = audit_record(
            actor=nina, action=Action.UPDATE, target=alice, summary="changed roles", request=request
        )

    stored = AuditEvent.objects.get()
    assert model_to_dict(event) == model_to_dict(stored)
    assert (stored.actor, stored.object_id, stored.object_label) == (
        nina,
        str(alice.public_id),
        str(alice),
    )
    assert (stored.ip_address, stored.user_agent) == ("203.0.113.7", "Tablet browser")
    assert event.occurred_at == stored.occurred_at


def test_a_patient_is_named_by_its_id_only(nina):
    patient = PatientFactory()

    event = audit_record(actor=nina, action=Action.VIEW, target=patient, summary="viewed")

    stored = AuditEvent.objects.get(pk=event.pk)
    assert (stored.object_type, stored.object_id) == ("patients.patient", str(patient.public_id))
    assert stored.object_label == ""
    assert stored.ip_address is None  # no request: a task


# --- Sign-in and sign-out are recorded --------------------------------------------------------


def test_it_records_a_sign_in(client, fran):
    client.post("/staff/login/", {"username": "fran@clinic.test", "password": PASSWORD})
    event = AuditEvent.objects.get(action=Action.LOGIN)
    assert event.actor == fran
    assert event.object_id == str(fran.public_id)
    assert event.ip_address == "127.0.0.1"


def test_it_records_a_sign_out(client, fran):
    client.force_login(fran)
    response = client.post("/staff/logout/")
    assert response.status_code == 302
    event = AuditEvent.objects.get(action=Action.LOGOUT)
    assert event.actor == fran


def test_it_records_a_failed_sign_in_without_the_typed_address(client, fran):
    response = client.post(
        "/staff/login/", {"username": "Fran@Clinic.test", "password": "not the password"}
    )
    assert response.status_code == 200
    event = AuditEvent.objects.get(action=Action.LOGIN_FAILED)
    assert event.actor is None
    assert event.object_id == ""
    assert event.object_label == ""
    stored = " ".join(str(value) for value in model_to_dict(event).values()).lower()
    assert "fran@clinic.test" not in stored
    assert "not the password" not in stored


# --- Who may read it ---------------------------------------------------------------------------


def test_a_clinic_admin_can_read_the_log(client, alice):
    client.force_login(alice)
    response = client.get("/staff/audit/")
    assert response.status_code == 200
    assert b"Audit log" in response.content


@pytest.mark.parametrize("persona", ["fran", "nina", "phil", "edie"])
def test_other_roles_cannot_read_the_log(client, persona, request):
    client.force_login(request.getfixturevalue(persona))
    assert client.get("/staff/audit/").status_code == 403


def test_it_sends_anonymous_visitors_to_sign_in(client, db):
    response = client.get("/staff/audit/")
    assert response.status_code == 302
    assert response["Location"] == "/staff/login/?next=/staff/audit/"


def test_it_offers_no_way_to_change_or_delete_an_entry(client, alice):
    client.force_login(alice)
    audit_record(actor=alice, action=Action.UPDATE, summary="changed roles")
    before = AuditEvent.objects.count()
    assert client.post("/staff/audit/", {"summary": "edited"}).status_code == 405
    assert AuditEvent.objects.count() == before
    assert [pattern.name for pattern in audit_urls.urlpatterns] == ["audit-log"]


# --- What the page shows -----------------------------------------------------------------------


def test_it_lists_newest_first_with_who_what_and_where(client, alice, nina, clinic_in_new_york):
    event_at(datetime(2025, 1, 6, 15, 0, tzinfo=UTC), actor=nina, action=Action.LOGIN)
    event_at(
        datetime(2025, 7, 1, 16, 0, tzinfo=UTC),
        actor=alice,
        action=Action.UPDATE,
        object_type="clinic.user",
        object_id=str(nina.public_id),
        object_label="Nina Nurse",
        summary="changed roles",
        ip_address="203.0.113.9",
    )
    client.force_login(alice)
    page = client.get("/staff/audit/").content.decode()
    # 16:00 UTC is noon in New York in July (EDT); 15:00 UTC is 10:00 in January (EST).
    assert "Jul 1, 2025 12:00:00" in page
    assert "Jan 6, 2025 10:00:00" in page
    assert page.index("Jul 1, 2025") < page.index("Jan 6, 2025")
    for shown in ["Alice Admin", "Changed", "clinic.user", str(nina.public_id), "changed roles"]:
        assert shown in page
    assert "203.0.113.9" in page
    assert "America/New_York" in page


def test_it_pages_by_fifty(client, alice):
    client.force_login(alice)  # records a sign-in now: the newest event
    for minute in range(50):
        event_at(datetime(2025, 3, 3, 12, minute, tzinfo=UTC), actor=alice, action=Action.VIEW)
    first = client.get("/staff/audit/")
    assert len(first.context["page"].object_list) == 50
    assert first.context["page"].paginator.num_pages == 2
    second = client.get("/staff/audit/?page=2")
    assert [e.occurred_at.minute for e in second.context["page"].object_list] == [0]
    # A page number past the end shows the last page instead of failing.
    assert client.get("/staff/audit/?page=999").context["page"].number == 2
    assert client.get("/staff/audit/?page=nonsense").context["page"].number == 1


@pytest.mark.parametrize("actors", [1, 5])
def test_it_uses_the_same_number_of_queries_however_many_people_act(
    client, alice, actors, django_assert_num_queries
):
    people = [alice] + [
        make_staff(f"person{n}@clinic.test", f"Person {n}") for n in range(actors - 1)
    ]
    for person in people:
        audit_record(actor=person, action=Action.VIEW, target=person)
    client.force_login(alice)
    with django_assert_num_queries(AUDIT_PAGE_QUERIES):
        response = client.get("/staff/audit/")
    assert len(response.context["page"].object_list) == actors + 1  # and alice's sign-in


# --- Filters ---------------------------------------------------------------------------------


def shown_summaries(response) -> list[str]:
    assert response.status_code == 200
    return [event.summary for event in response.context["page"].object_list]


def test_it_filters_by_action_and_actor(client, alice, nina):
    client.force_login(alice)
    audit_record(actor=nina, action=Action.CREATE, summary="nina creates")
    audit_record(actor=alice, action=Action.CREATE, summary="alice creates")
    audit_record(actor=alice, action=Action.UPDATE, summary="alice changes something")
    assert shown_summaries(client.get("/staff/audit/?action=update")) == ["alice changes something"]
    assert shown_summaries(client.get(f"/staff/audit/?actor={nina.public_id}")) == ["nina creates"]
    both = client.get(f"/staff/audit/?action=create&actor={alice.public_id}")
    assert shown_summaries(both) == ["alice creates"]


def test_it_filters_by_clinic_calendar_days(client, alice, clinic_in_new_york):
    # 03:30 UTC on March 10 is still March 9 in New York.
    event_at(datetime(2025, 3, 10, 3, 30, tzinfo=UTC), action=Action.VIEW, summary="late 9th")
    event_at(datetime(2025, 3, 10, 14, 0, tzinfo=UTC), action=Action.VIEW, summary="10th")
    event_at(datetime(2025, 3, 12, 14, 0, tzinfo=UTC), action=Action.VIEW, summary="12th")
    client.force_login(alice)
    assert shown_summaries(
        client.get("/staff/audit/?occurred_from=2025-03-09&occurred_to=2025-03-09")
    ) == ["late 9th"]
    assert shown_summaries(
        client.get("/staff/audit/?occurred_from=2025-03-10&occurred_to=2025-03-31")
    ) == [
        "12th",
        "10th",
    ]
    assert shown_summaries(client.get("/staff/audit/?occurred_to=2025-03-10")) == [
        "10th",
        "late 9th",
    ]


def test_it_filters_by_record_id(client, alice, nina):
    audit_record(actor=alice, action=Action.UPDATE, target=nina, summary="about nina")
    audit_record(actor=alice, action=Action.UPDATE, target=alice, summary="about alice")
    client.force_login(alice)
    response = client.get(f"/staff/audit/?object_id={str(nina.public_id).upper()}")
    assert shown_summaries(response) == ["about nina"]


def test_it_explains_bad_filters_instead_of_failing(client, alice):
    audit_record(actor=alice, action=Action.UPDATE, summary="something")
    client.force_login(alice)
    backwards = client.get("/staff/audit/?occurred_from=2025-03-10&occurred_to=2025-03-01")
    assert "The end date is before the start date" in backwards.content.decode()
    assert backwards.context["form"].errors["occurred_to"]
    for query in [
        "occurred_from=yesterday",
        "actor=not-a-person",
        f"actor={'0' * 8}-0000-0000-0000-{'0' * 12}",
        "action=rewrite",
        "object_id=" + "x" * 100,
    ]:
        response = client.get(f"/staff/audit/?{query}")
        assert response.status_code == 200, query
        assert response.context["form"].errors, query


def test_it_says_when_no_event_matches_the_filters(client, alice):
    audit_record(actor=alice, action=Action.UPDATE, summary="something")
    client.force_login(alice)
    response = client.get("/staff/audit/?action=export")
    assert b"No events match these filters" in response.content
