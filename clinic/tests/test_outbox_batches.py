"""Sending claimed texts in batches: one transaction and a handful of statements for a whole
batch, each message judged and recorded as if it were sent on its own."""

from __future__ import annotations

import socket
import uuid
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from clinic.messaging import channels, rules
from clinic.messaging import dispatch as tasks
from clinic.messaging.dispatch import outbox_dispatch
from clinic.messaging.outbox import outbox_claim_due, outbox_enqueue, outbox_send_batch
from clinic.messaging.recipients import PatientDirectory, patient_directory
from clinic.messaging.registry import MessageKind, Rendered, register
from clinic.models import OutboxMessage, OutboxStatus
from patients.models import Channel
from patients.tests.factories import CommunicationConsentFactory, PatientFactory
from scheduling.tests.factories import LocationFactory
from tests.fake_sms import FakeSmsProvider, FakeTwilio

LEASE = timedelta(minutes=2)


def _render(message: OutboxMessage) -> Rendered:
    return Rendered(body=f"Batch text {message.context.get('n', 0)}.")


def _render_broken(message: OutboxMessage) -> Rendered:
    if message.context.get("n") == 1:
        # A database error, which spoils the transaction it happens in.
        with connection.cursor() as cursor:
            cursor.execute("SELECT * FROM no_such_table")
    return _render(message)


TEXT = register(MessageKind(name="test_batch_text", render=_render, urgent=True, capped=False))
# A nudge: held by quiet hours and the daily and weekly caps, and counted towards them.
NUDGE = register(MessageKind(name="test_batch_nudge", render=_render))
BROKEN = register(
    MessageKind(name="test_batch_broken", render=_render_broken, urgent=True, capped=False)
)


@pytest.fixture
def provider(settings):
    with FakeSmsProvider() as fake:
        settings.SMS_BACKEND = "http"
        settings.SMS_API_URL = fake.url
        settings.SMS_API_TOKEN = "test-token"
        settings.SMS_FROM_NUMBER = "+15550100"
        yield fake


def consenting_patient(n: int = 0, *, granted: bool = True):
    patient = PatientFactory(mobile=f"+1212555{n:04d}")
    CommunicationConsentFactory(patient=patient, channel=Channel.SMS, granted=granted)
    return patient


def texts(patients, *, kind=TEXT.name, location=None) -> list[OutboxMessage]:
    due = timezone.now() - timedelta(minutes=1)
    return [
        outbox_enqueue(
            key=f"test:{uuid.uuid4()}:sms",
            kind=kind,
            channel="sms",
            patient=patient,
            location=location,
            context={"n": n},
            not_before=due,
        )
        for n, patient in enumerate(patients)
    ]


def refreshed(messages: list[OutboxMessage]) -> list[OutboxMessage]:
    rows = OutboxMessage.objects.in_bulk([message.pk for message in messages])
    return [rows[message.pk] for message in messages]


def test_a_batch_sends_each_text_once_and_records_each(provider, db):
    messages = texts([consenting_patient(n) for n in range(5)])
    claims = outbox_claim_due(limit=10, lease=LEASE)

    statuses = outbox_send_batch(claims)

    assert statuses == {message.pk: OutboxStatus.SENT for message in messages}
    deliveries = {delivery.idempotency_key: delivery for delivery in provider.deliveries}
    for message in refreshed(messages):
        delivery = deliveries[message.idempotency_key]
        assert message.status == OutboxStatus.SENT
        assert message.sent_at is not None
        assert message.claim_token is None
        assert message.claimed_until is None
        assert message.provider_reference == delivery.reference
        assert message.recipient == delivery.payload["to"] == message.patient.mobile
        assert message.body == delivery.payload["body"] == f"Batch text {message.context['n']}."
    assert provider.delivered_keys() == {message.idempotency_key: 1 for message in messages}
    # One connection, kept open from one text to the next.
    assert provider.connections == 1


def test_a_batch_costs_the_same_statements_whatever_its_size(provider, db):
    def statements_for(count: int) -> int:
        texts([consenting_patient(n) for n in range(count)])
        claims = outbox_claim_due(limit=100, lease=LEASE)
        with CaptureQueriesContext(connection) as queries:
            outbox_send_batch(claims)
        assert len(claims) == count
        return len(queries)

    # The transaction (a savepoint and its release in a test, which runs in a transaction of
    # its own; BEGIN and COMMIT in a worker), the lock, the consent, the savepoint around
    # the rules and its release, and the one UPDATE.
    assert statements_for(2) == statements_for(20) == 7


NEW_YORK = ZoneInfo("America/New_York")
NOON = datetime(2026, 6, 10, 12, tzinfo=NEW_YORK)


def test_the_caps_hold_in_a_batch_as_they_do_one_by_one(provider, db):
    midtown = LocationFactory(time_zone="America/New_York")
    busy, other = consenting_patient(0), consenting_patient(1)
    # busy had today's nudge already; of the two queued now for other, the first goes.
    OutboxMessage.objects.create(
        idempotency_key="test:earlier",
        kind=NUDGE.name,
        channel="sms",
        patient=busy,
        status=OutboxStatus.SENT,
        sent_at=NOON - timedelta(hours=3),
    )
    (for_busy,) = texts([busy], kind=NUDGE.name, location=midtown)
    first, second = texts([other, other], kind=NUDGE.name, location=midtown)
    OutboxMessage.objects.update(not_before=NOON - timedelta(minutes=1))
    claims = outbox_claim_due(limit=10, lease=LEASE, now=NOON)
    # What each would be told on its own, in the same state.
    alone = {message.pk: rules.decide(message, NOON) for message in (for_busy, first, second)}

    with CaptureQueriesContext(connection) as queries:
        outbox_send_batch(claims, now=NOON)

    tomorrow_at_eight = datetime(2026, 6, 11, 8, tzinfo=NEW_YORK)
    assert alone[first.pk].send
    assert alone[for_busy.pk].defer_until == alone[second.pk].defer_until == tomorrow_at_eight
    for_busy, first, second = refreshed([for_busy, first, second])
    assert first.status == OutboxStatus.SENT
    for held in (for_busy, second):
        assert (held.status, held.not_before) == (OutboxStatus.PENDING, tomorrow_at_eight)
        assert held.context["held"]["why"] == "cap"
    # One more statement for the caps of the whole batch (7 without capped texts).
    assert len(queries) == 8


def test_a_claim_taken_over_is_left_to_its_new_holder_and_the_rest_are_sent(provider, db):
    first, second = texts([consenting_patient(0), consenting_patient(1)])
    now = timezone.now()
    old_claims = outbox_claim_due(limit=10, lease=LEASE, now=now)
    # The lease on the first runs out, and another dispatcher claims it again.
    OutboxMessage.objects.filter(pk=first.pk).update(claimed_until=now - timedelta(seconds=1))
    (new_claim,) = outbox_claim_due(limit=10, lease=LEASE)

    statuses = outbox_send_batch(old_claims)

    assert statuses == {first.pk: OutboxStatus.SENDING, second.pk: OutboxStatus.SENT}
    assert provider.delivered_keys() == {second.idempotency_key: 1}
    assert outbox_send_batch([new_claim]) == {first.pk: OutboxStatus.SENT}


def test_in_a_batch_a_text_without_consent_is_skipped_and_the_others_go(provider, db):
    agreed, withdrew, never = (
        consenting_patient(0),
        consenting_patient(1),
        PatientFactory(mobile="+12125550002"),
    )
    CommunicationConsentFactory(patient=withdrew, channel=Channel.SMS, granted=False)
    messages = texts([agreed, withdrew, never])

    outbox_send_batch(outbox_claim_due(limit=10, lease=LEASE))

    sent, withdrawn, none = refreshed(messages)
    assert sent.status == OutboxStatus.SENT
    assert (withdrawn.status, withdrawn.skip_reason) == (OutboxStatus.SKIPPED, "no_consent")
    assert (none.status, none.skip_reason) == (OutboxStatus.SKIPPED, "no_consent")
    assert provider.delivered_keys() == {sent.idempotency_key: 1}


def test_the_directory_reads_a_batch_consent_as_it_reads_each_patient(db):
    patients = [consenting_patient(n) for n in range(3)]
    CommunicationConsentFactory(patient=patients[1], channel=Channel.SMS, granted=False)
    CommunicationConsentFactory(patient=patients[2], channel=Channel.EMAIL, granted=False)
    nobody = PatientFactory()
    directory = patient_directory()
    ids = [patient.pk for patient in [*patients, nobody]]

    for channel in (Channel.SMS, Channel.EMAIL):
        expected = {pk for pk in ids if directory.consent_granted(pk, channel)}
        assert directory.consenting(ids, channel) == expected
    assert directory.consenting(ids, Channel.SMS) == {patients[0].pk, patients[2].pk}


def test_a_directory_that_cannot_answer_for_many_is_asked_for_each():
    asked: list[tuple[int, str]] = []

    def consent_granted(patient_id: int, channel: str) -> bool:
        asked.append((patient_id, channel))
        return patient_id % 2 == 0

    directory = PatientDirectory(
        patients_with_mobile=lambda number: [],
        patient_with_public_id=lambda public_id: None,
        consent_granted=consent_granted,
        consent_withdrawn=lambda patient, channel, method, request: False,
    )

    assert directory.consenting([1, 2, 3, 4], "sms") == {2, 4}
    assert sorted(asked) == [(1, "sms"), (2, "sms"), (3, "sms"), (4, "sms")]


def test_a_database_error_in_one_template_fails_only_that_text(provider, db):
    messages = texts([consenting_patient(n) for n in range(3)], kind=BROKEN.name)

    outbox_send_batch(outbox_claim_due(limit=10, lease=LEASE))

    first, broken, third = refreshed(messages)
    assert first.status == third.status == OutboxStatus.SENT
    assert broken.status == OutboxStatus.PENDING
    assert broken.attempts == 1
    assert broken.last_error.startswith("ProgrammingError in ")
    assert provider.delivered_keys() == {first.idempotency_key: 1, third.idempotency_key: 1}


def test_a_provider_that_does_not_answer_stops_the_batch_and_the_rest_wait(settings, db):
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    settings.SMS_BACKEND = "http"
    settings.SMS_API_URL = f"http://127.0.0.1:{port}/messages"
    settings.OUTBOX_RETRY_BASE_SECONDS = 60
    messages = texts([consenting_patient(n) for n in range(3)])
    now = timezone.now()

    outbox_send_batch(outbox_claim_due(limit=10, lease=LEASE, now=now), now=now)

    tried, *rest = refreshed(messages)
    assert tried.status == OutboxStatus.PENDING
    assert tried.attempts == 1
    assert tried.last_error.startswith("ChannelError: The SMS provider could not be reached")
    for message in rest:
        assert message.status == OutboxStatus.PENDING
        assert message.attempts == 0
        assert message.last_error == ""
        assert message.not_before == now + timedelta(seconds=60)
        assert message.claim_token is None


def test_a_refusal_of_one_text_does_not_stop_the_batch(provider, db):
    messages = texts([consenting_patient(n) for n in range(3)])
    provider.fail_next(1, status=400)

    outbox_send_batch(outbox_claim_due(limit=10, lease=LEASE))

    refused, *sent = refreshed(messages)
    assert refused.status == OutboxStatus.FAILED
    assert [message.status for message in sent] == [OutboxStatus.SENT] * 2


# --- Which provider gets batches -------------------------------------------------------------


def test_an_http_provider_honours_idempotency_keys_and_twilio_and_email_do_not(settings):
    settings.SMS_BACKEND = "http"
    assert channels.honours_idempotency_keys("sms") is True
    settings.SMS_BACKEND = "file"
    assert channels.honours_idempotency_keys("sms") is True
    settings.SMS_BACKEND = "twilio"
    assert channels.honours_idempotency_keys("sms") is False
    assert channels.honours_idempotency_keys("email") is False


def test_dispatch_queues_texts_in_even_batches_and_emails_one_by_one(
    provider, settings, db, monkeypatch, django_capture_on_commit_callbacks
):
    settings.OUTBOX_BATCH_SIZE = 4
    sms = texts([consenting_patient(n) for n in range(6)])
    email = outbox_enqueue(
        key=f"test:{uuid.uuid4()}:email", kind=TEXT.name, channel="email", recipient="a@b.test"
    )
    batches: list[list] = []
    singles: list[tuple] = []
    monkeypatch.setattr(tasks.send_outbox_batch, "delay", lambda claims: batches.append(claims))
    monkeypatch.setattr(tasks.send_outbox_message, "delay", lambda *args: singles.append(args))

    with django_capture_on_commit_callbacks(execute=True):
        assert outbox_dispatch() == 7

    assert sorted(len(batch) for batch in batches) == [3, 3]
    assert sorted(message_id for batch in batches for message_id, _ in batch) == sorted(
        message.pk for message in sms
    )
    assert [message_id for message_id, _token in singles] == [email.pk]
    for batch in batches:
        tasks.send_outbox_batch(batch)
    assert provider.delivered_keys() == {message.idempotency_key: 1 for message in sms}


def test_texts_through_twilio_are_queued_one_by_one(
    settings, monkeypatch, db, django_capture_on_commit_callbacks
):
    account = "AC" + "0" * 32
    with FakeTwilio(account_sid=account, auth_token="token") as twilio:
        settings.SMS_BACKEND = "twilio"
        settings.SMS_API_URL = twilio.url
        settings.SMS_TWILIO_ACCOUNT_SID = account
        settings.SMS_API_TOKEN = "token"
        settings.SMS_FROM_NUMBER = "+15550100"
        texts([consenting_patient(n) for n in range(3)])
        batches: list[list] = []
        singles: list[tuple] = []
        monkeypatch.setattr(tasks.send_outbox_batch, "delay", lambda claims: batches.append(claims))
        monkeypatch.setattr(tasks.send_outbox_message, "delay", lambda *args: singles.append(args))

        with django_capture_on_commit_callbacks(execute=True):
            outbox_dispatch()

        assert batches == []
        assert len(singles) == 3
        for message_id, token in singles:
            assert tasks.send_outbox_message(message_id, token) == OutboxStatus.SENT
        assert len(twilio.messages) == 3


def test_each_process_has_its_own_connection_pool(monkeypatch):
    url = "http://127.0.0.1:9/messages"
    pool = channels.http_pool(url)
    assert channels.http_pool(url) is pool

    monkeypatch.setattr(channels.os, "getpid", lambda: -1)  # as in a forked pool process

    assert channels.http_pool(url) is not pool
