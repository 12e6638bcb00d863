"""The staff view of a patient's messages: who may see it and what, reasons for messages not
sent, masking, filters, pages, and a constant number of queries."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from clinic.messaging.registry import SKIP_REASONS
from clinic.models import AuditEvent, OutboxChannel, OutboxMessage, OutboxStatus
from patients.tests.factories import PatientFactory
from patients.views.messages import MESSAGES_PER_PAGE, mask_recipient
from scheduling.tests.factories import LocationFactory

BODY = "Chairside: reminder of your visit on Tue 3 Jun at 10:00, 1 Main St."


@pytest.fixture
def patient(db):
    return PatientFactory(mobile="+12125550123", email="robin@example.com")


def url(patient, query: str = "") -> str:
    return f"/staff/patients/{patient.public_id}/messages/{query}"


def message(patient, n: int = 0, **fields) -> OutboxMessage:
    values = {
        "idempotency_key": f"test:{patient.public_id}:{n}:{uuid.uuid4()}",
        "kind": "appointment_reminder_48h",
        "channel": OutboxChannel.SMS,
        "patient": patient,
        "created_at": timezone.now() - timedelta(minutes=1000 - n),
    }
    values.update(fields)
    return OutboxMessage.objects.create(**values)


def sent(patient, n: int = 0, **fields) -> OutboxMessage:
    values = {
        "status": OutboxStatus.SENT,
        "sent_at": timezone.now(),
        "recipient": "+12125550123",
        "body": BODY,
    }
    return message(patient, n, **(values | fields))


def rows(response) -> list[OutboxMessage]:
    return [row.message for row in response.context["rows"]]


@pytest.mark.parametrize("user", ["fran", "alice", "nina", "phil"])
def test_everyone_who_sees_patients_sees_their_messages(client, patient, user, request):
    sent(patient)
    client.force_login(request.getfixturevalue(user))

    response = client.get(url(patient))

    assert response.status_code == 200
    assert len(rows(response)) == 1
    assert b"Sent" in response.content


def test_the_body_is_for_clinical_staff_only(client, patient, fran, nina):
    sent(patient)

    client.force_login(fran)
    assert BODY.encode() not in client.get(url(patient)).content
    client.force_login(nina)
    assert BODY.encode() in client.get(url(patient)).content


def test_a_content_editor_may_not_look(client, patient, edie):
    client.force_login(edie)

    assert client.get(url(patient)).status_code == 403


def test_visitors_are_asked_to_sign_in(client, patient):
    response = client.get(url(patient))

    assert response.status_code == 302
    assert "/staff/login/" in response["Location"]


def test_an_unknown_patient_is_not_found(client, nina):
    client.force_login(nina)

    assert client.get(f"/staff/patients/{uuid.uuid4()}/messages/").status_code == 404


def test_the_address_is_masked(client, patient, nina):
    sent(patient)
    sent(patient, 1, channel=OutboxChannel.EMAIL, recipient="robin@example.com")
    client.force_login(nina)

    content = client.get(url(patient)).content.decode()

    assert "•••• 0123" in content
    assert "r•••@example.com" in content
    assert "+12125550123" not in content
    assert "robin@example.com" not in content


@pytest.mark.parametrize(
    ("channel", "recipient", "masked"),
    [
        ("sms", "+12125550123", "•••• 0123"),
        ("email", "robin@example.com", "r•••@example.com"),
        ("sms", "123", "••••"),
        ("sms", "", ""),
    ],
)
def test_mask_recipient(channel, recipient, masked):
    assert mask_recipient(channel, recipient) == masked


def test_it_says_why_a_message_was_not_sent(client, patient, fran):
    message(
        patient,
        status=OutboxStatus.SKIPPED,
        skip_reason="no_consent",
        skip_detail="The patient withdrew consent before it was sent.",
    )
    message(patient, 1, status=OutboxStatus.SKIPPED, skip_reason="cap")
    client.force_login(fran)

    content = client.get(url(patient)).content.decode()

    assert SKIP_REASONS["no_consent"] in content
    assert "The patient withdrew consent before it was sent." in content
    assert SKIP_REASONS["cap"] in content


def test_it_shows_failures_with_their_attempts(client, patient, fran):
    message(patient, status=OutboxStatus.FAILED, attempts=5, last_error="Provider said 503")
    client.force_login(fran)

    content = client.get(url(patient)).content.decode()

    assert "Sending failed (5 attempts)" in content
    assert "Provider said 503" in content


def test_times_are_in_the_messages_location_time_zone(client, patient, fran):
    chicago = LocationFactory(time_zone="America/Chicago")
    at = datetime(2025, 3, 10, 15, 0, tzinfo=UTC)  # 10:00 in Chicago (CDT, after the change)
    message(patient, location=chicago, not_before=at, created_at=at - timedelta(days=2))
    client.force_login(fran)

    content = client.get(url(patient)).content.decode()

    assert "Due 2025-03-10 10:00 CDT" in content
    assert "Queued 2025-03-08 09:00 CST" in content


def test_newest_first_in_pages(client, patient, fran):
    created = [message(patient, n) for n in range(MESSAGES_PER_PAGE + 5)]
    client.force_login(fran)

    first = client.get(url(patient))
    second = client.get(url(patient, "?page=2"))

    assert rows(first) == created[::-1][:MESSAGES_PER_PAGE]
    assert rows(second) == created[::-1][MESSAGES_PER_PAGE:]
    assert b"Page 1 of 2" in first.content


def test_it_filters_by_status_and_channel(client, patient, fran):
    text = sent(patient)
    email = sent(patient, 1, channel=OutboxChannel.EMAIL, recipient="robin@example.com")
    waiting = message(patient, 2)
    client.force_login(fran)

    assert rows(client.get(url(patient, "?channel=email"))) == [email]
    assert rows(client.get(url(patient, "?status=pending"))) == [waiting]
    assert rows(client.get(url(patient, "?status=sent&channel=sms"))) == [text]


def test_a_bad_filter_is_explained_and_ignored(client, patient, fran):
    sent(patient)
    client.force_login(fran)

    response = client.get(url(patient, "?status=lost"))

    assert response.status_code == 200
    assert "That status is not in the list" in response.content.decode()
    assert len(rows(response)) == 1


def test_it_shows_only_this_patients_messages(client, patient, fran):
    mine = sent(patient)
    sent(PatientFactory())
    client.force_login(fran)

    assert rows(client.get(url(patient))) == [mine]


def test_the_empty_states_say_what_will_appear(client, patient, fran):
    client.force_login(fran)

    nothing = client.get(url(patient)).content.decode()
    filtered = client.get(url(patient, "?status=failed")).content.decode()

    assert "No messages to this patient yet" in nothing
    assert "No messages match these filters" in filtered


def test_every_view_is_in_the_audit_log(client, patient, fran):
    client.force_login(fran)

    client.get(url(patient, "?page=1"))

    event = AuditEvent.objects.get(object_id=str(patient.public_id))
    assert event.action == AuditEvent.Action.VIEW
    assert event.actor == fran
    assert event.summary == "viewed messages: page 1"


def test_the_chart_links_to_the_messages(client, patient, fran):
    client.force_login(fran)

    response = client.get(f"/staff/patients/{patient.public_id}/")

    assert url(patient).encode() in response.content


# The session and the user, the patient, the current consent per channel, the count, the
# page (with its locations), the audit event.
MESSAGES_QUERIES = 7


@pytest.mark.parametrize("count", [1, MESSAGES_PER_PAGE + 10])
def test_a_page_costs_the_same_queries_however_many_messages(
    client, patient, nina, django_assert_num_queries, count
):
    locations = [LocationFactory(), LocationFactory()]
    for n in range(count):
        sent(patient, n, location=locations[n % 2])
    client.force_login(nina)
    client.get(url(patient))  # the session's first-request writes

    with django_assert_num_queries(MESSAGES_QUERIES):
        response = client.get(url(patient))

    assert len(rows(response)) == min(count, MESSAGES_PER_PAGE)


# --- What happened to each message ------------------------------------------------------------

CHICAGO = "America/Chicago"


def stories(response) -> list[str]:
    return [row.story for row in response.context["rows"]]


def test_a_sent_message_says_when_and_how(client, patient, fran):
    at = datetime(2026, 12, 7, 2, 59, tzinfo=UTC)  # 20:59 on Sun 6 Dec in Chicago
    sent(patient, location=LocationFactory(time_zone=CHICAGO), sent_at=at)
    client.force_login(fran)

    assert stories(client.get(url(patient))) == ["Sent at 20:59 on Sun 6 Dec by text."]


def test_a_text_held_by_quiet_hours_is_not_said_to_be_on_its_way(client, patient, fran):
    chicago = LocationFactory(time_zone=CHICAGO)
    morning = timezone.now() + timedelta(hours=10)
    message(
        patient,
        location=chicago,
        not_before=morning,
        context={"held": {"why": "quiet_hours", "due": "2026-01-01T04:00:00Z"}},
    )
    client.force_login(fran)

    response = client.get(url(patient))

    local = morning.astimezone(LocationFactory.build(time_zone=CHICAGO).tz)
    expected = f"Held until {local:%H:%M} on {local:%a} {local.day} {local:%b}: quiet hours"
    [story] = stories(response)
    assert story.startswith(expected), story
    assert "(no texts 21:00–08:00)" in story
    assert "on its way" not in response.content.decode()


def test_a_reminder_moved_earlier_says_so_and_from_when(client, patient, fran):
    chicago = LocationFactory(time_zone=CHICAGO)
    evening = datetime(2030, 12, 9, 2, 59, tzinfo=UTC)  # 20:59 on Sun 8 Dec 2030 in Chicago
    message(
        patient,
        location=chicago,
        not_before=evening,
        context={"held": {"why": "quiet_hours", "due": "2030-12-09T13:00:00Z"}},
    )
    client.force_login(fran)

    [story] = stories(client.get(url(patient)))

    assert story == (
        "Queued until 20:59 on Sun 8 Dec: moved earlier, as its own time (07:00 on Mon 9 Dec) "
        "is in quiet hours (no texts 21:00–08:00)."
    )


def test_a_text_held_by_the_caps_says_until_when(client, patient, fran):
    later = datetime(2030, 12, 9, 14, 0, tzinfo=UTC)  # 08:00 in Chicago
    message(
        patient,
        location=LocationFactory(time_zone=CHICAGO),
        not_before=later,
        context={"held": {"why": "cap", "due": "2030-12-08T16:00:00Z"}},
    )
    client.force_login(fran)

    [story] = stories(client.get(url(patient)))

    assert story == (
        "Held until 08:00 on Mon 9 Dec: the patient has had their non-urgent texts "
        "(1 a day, 3 a week)."
    )


def test_waiting_due_skipped_and_failed_messages_each_say_so(client, patient, fran):
    chicago = LocationFactory(time_zone=CHICAGO)
    message(patient, 0, location=chicago, not_before=datetime(2030, 12, 9, 14, 0, tzinfo=UTC))
    message(patient, 1, not_before=timezone.now() - timedelta(minutes=1))
    message(patient, 2, status=OutboxStatus.SKIPPED, skip_reason="moved")
    message(patient, 3, status=OutboxStatus.FAILED, attempts=8, last_error="Provider said 400")
    client.force_login(fran)

    found = stories(client.get(url(patient)))

    assert found == [
        "Not sent: sending failed 8 times. Check the patient's address, and reach them another "
        "way if they still need it.",
        "Not sent: the appointment was moved.",
        "Queued, due now: it goes out within a minute.",
        "Waiting for its time: it goes at 08:00 on Mon 9 Dec.",
    ]
