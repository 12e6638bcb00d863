"""Claiming and sending outbox messages: who gets a claim, what the send does with it."""

from __future__ import annotations

import contextlib
import json
import logging
import smtplib
import socket
import threading
import uuid
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core import mail
from django.core.mail.backends.base import BaseEmailBackend
from django.db import connection, transaction
from django.utils import timezone

from clinic.celery import app
from clinic.messaging import dispatch as tasks
from clinic.messaging import unsubscribe
from clinic.messaging.channels import (
    FileSmsBackend,
    HttpSmsBackend,
    email_message_id,
    sms_backend,
)
from clinic.messaging.dispatch import outbox_dispatch
from clinic.messaging.outbox import (
    outbox_claim_due,
    outbox_enqueue,
    outbox_send,
    retry_delay,
)
from clinic.messaging.registry import MessageKind, NotWanted, Rendered, register
from clinic.models import Location, OutboxMessage, OutboxStatus
from patients.models import Channel
from patients.tests.factories import CommunicationConsentFactory, PatientFactory
from tests.fake_sms import FakeSmsProvider

LEASE = timedelta(minutes=2)


def _render_note(message: OutboxMessage) -> Rendered:
    return Rendered(
        subject="A note from the clinic",
        body=f"Hello, this is note {message.context.get('n', 0)}.",
        html="<p>Hello.</p>",
        attachments=(("note.txt", "a note", "text/plain"),),
    )


def _render_broken(message: OutboxMessage) -> Rendered:
    patient = message.patient
    raise ValueError(f"no template for {patient.legal_last_name} at {patient.mobile}")


NOTE = register(MessageKind(name="test_outbox_note", render=_render_note, capped=False))
CANCELLED = register(
    MessageKind(
        name="test_outbox_cancelled",
        render=_render_note,
        still_wanted=lambda message: NotWanted("cancelled", "The appointment was cancelled."),
    )
)
BROKEN = register(MessageKind(name="test_outbox_broken", render=_render_broken, urgent=True))


def _still_wanted_crashes(message: OutboxMessage) -> NotWanted | None:
    raise RuntimeError(f"cannot judge {message.patient.legal_last_name}")


CRASHING_RULE = register(
    MessageKind(
        name="test_outbox_crashing_rule", render=_render_note, still_wanted=_still_wanted_crashes
    )
)


class RefusingEmailBackend(BaseEmailBackend):
    """An SMTP server that answers every message with ``error``."""

    error: Exception = smtplib.SMTPServerDisconnected("Connection unexpectedly closed")

    def send_messages(self, email_messages):
        raise self.error


@pytest.fixture
def patient(db):
    patient = PatientFactory(legal_last_name="Quinterro", mobile="+12125559876")
    CommunicationConsentFactory(patient=patient, channel=Channel.EMAIL)
    CommunicationConsentFactory(patient=patient, channel=Channel.SMS)
    return patient


@pytest.fixture
def provider(settings):
    with FakeSmsProvider() as fake:
        settings.SMS_BACKEND = "http"
        settings.SMS_API_URL = fake.url
        settings.SMS_API_TOKEN = "test-token"
        settings.SMS_FROM_NUMBER = "+15550100"
        yield fake


@pytest.fixture
def riverside(db) -> Location:
    return Location.objects.create(
        name="Riverside",
        address_line1="1 River St",
        city="Chicago",
        phone="+13125550100",
        time_zone="America/Chicago",
    )


def queue(patient=None, *, channel="email", kind=NOTE.name, urgent=True, **fields):
    """A due message (urgent by default, so quiet hours and caps stay out of the way)."""
    fields.setdefault("not_before", timezone.now() - timedelta(minutes=1))
    return outbox_enqueue(
        key=f"test:{uuid.uuid4()}:{channel}",
        kind=kind,
        channel=channel,
        patient=patient,
        urgent=urgent,
        **fields,
    )


def claim(message, *, now=None, lease=LEASE) -> uuid.UUID:
    claims = dict(outbox_claim_due(limit=100, lease=lease, now=now))
    assert message.pk in claims, "the message was not claimed"
    return claims[message.pk]


def send(message, *, now=None) -> OutboxMessage:
    outbox_send(message.pk, claim(message, now=now), now=now)
    message.refresh_from_db()
    return message


# --- Claiming -----------------------------------------------------------------------------


def test_it_claims_due_messages_and_messages_whose_lease_ran_out(patient):
    now = timezone.now()
    due = queue(patient)
    later = queue(patient, not_before=now + timedelta(minutes=5))
    held, abandoned, sent, skipped = (queue(patient) for _ in range(4))
    OutboxMessage.objects.filter(pk=held.pk).update(
        status=OutboxStatus.SENDING, claim_token=uuid.uuid4(), claimed_until=now + LEASE
    )
    OutboxMessage.objects.filter(pk=abandoned.pk).update(
        status=OutboxStatus.SENDING, claim_token=uuid.uuid4(), claimed_until=now - LEASE
    )
    OutboxMessage.objects.filter(pk=sent.pk).update(status=OutboxStatus.SENT, sent_at=now)
    OutboxMessage.objects.filter(pk=skipped.pk).update(
        status=OutboxStatus.SKIPPED, skip_reason="cancelled"
    )

    claims = dict(outbox_claim_due(limit=100, lease=LEASE, now=now))

    assert set(claims) == {due.pk, abandoned.pk}
    for message in (due, abandoned):
        message.refresh_from_db()
        assert message.status == OutboxStatus.SENDING
        assert message.claim_token == claims[message.pk]
        assert message.claimed_until == now + LEASE
    assert claims[due.pk] != claims[abandoned.pk]
    later.refresh_from_db()
    assert later.status == OutboxStatus.PENDING


def test_it_claims_the_oldest_first_and_no_more_than_the_limit(patient):
    now = timezone.now()
    messages = [queue(patient, not_before=now - timedelta(minutes=n)) for n in range(1, 6)]

    claims = outbox_claim_due(limit=2, lease=LEASE, now=now)

    assert {message_id for message_id, _ in claims} == {messages[4].pk, messages[3].pk}
    assert OutboxMessage.objects.filter(status=OutboxStatus.PENDING).count() == 3


@pytest.mark.django_db(transaction=True)
def test_a_claim_skips_the_messages_another_claim_is_holding():
    messages = [queue() for _ in range(50)]
    first: list[tuple[int, uuid.UUID]] = []
    first_claimed, second_done = threading.Event(), threading.Event()

    def first_dispatcher() -> None:
        try:
            with transaction.atomic():
                first.extend(outbox_claim_due(limit=30, lease=LEASE))
                first_claimed.set()
                second_done.wait(timeout=20)  # commit only once the second claim is made
        finally:
            connection.close()

    thread = threading.Thread(target=first_dispatcher)
    thread.start()
    assert first_claimed.wait(timeout=20)
    try:
        with transaction.atomic():
            # Without SKIP LOCKED this claim would wait for the first: make that an error.
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL lock_timeout = '2s'")
            second = outbox_claim_due(limit=30, lease=LEASE)
    finally:
        second_done.set()
        thread.join(timeout=20)

    first_ids = {message_id for message_id, _ in first}
    second_ids = {message_id for message_id, _ in second}
    assert len(first_ids) == 30
    assert len(second_ids) == 20
    assert first_ids.isdisjoint(second_ids)
    assert first_ids | second_ids == {message.pk for message in messages}


@pytest.mark.django_db(transaction=True)
def test_claims_racing_in_threads_never_share_a_message():
    messages = [queue() for _ in range(200)]
    start = threading.Barrier(4)
    claimed: list[list[int]] = [[] for _ in range(4)]

    def dispatcher(index: int) -> None:
        try:
            start.wait(timeout=20)
            while batch := outbox_claim_due(limit=7, lease=LEASE):
                claimed[index].extend(message_id for message_id, _ in batch)
        finally:
            connection.close()

    threads = [threading.Thread(target=dispatcher, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    every_claim = [message_id for ids in claimed for message_id in ids]
    assert sorted(every_claim) == sorted(message.pk for message in messages)


def test_a_lease_that_ran_out_is_taken_over_and_the_old_claim_sends_nothing(patient):
    message = queue(patient)
    now = timezone.now()
    old_token = claim(message, now=now)

    new_token = claim(message, now=now + LEASE + timedelta(seconds=1))

    assert new_token != old_token
    assert outbox_send(message.pk, old_token) == OutboxStatus.SENDING
    assert mail.outbox == []
    assert outbox_send(message.pk, new_token) == OutboxStatus.SENT
    assert len(mail.outbox) == 1
    assert outbox_send(message.pk, new_token) == OutboxStatus.SENT  # a task run twice
    assert len(mail.outbox) == 1


def test_a_lease_still_running_is_not_taken_over(patient):
    message = queue(patient)
    now = timezone.now()
    claim(message, now=now)

    assert outbox_claim_due(limit=10, lease=LEASE, now=now + LEASE - timedelta(seconds=1)) == []


# --- Sending email ------------------------------------------------------------------------


def test_it_sends_an_email_and_records_what_was_sent(patient, monkeypatch):
    url = "https://clinic.example.org/m/unsubscribe/signed-token/"
    monkeypatch.setattr(unsubscribe, "unsubscribe_url", lambda message: url)
    message = queue(patient, context={"n": 7})

    message = send(message)

    assert message.status == OutboxStatus.SENT
    assert message.sent_at is not None
    assert message.claim_token is None
    assert message.recipient == patient.email
    assert message.subject == "A note from the clinic"
    assert message.body == "Hello, this is note 7."
    (email,) = mail.outbox
    assert email.to == [patient.email]
    assert email.alternatives[0][0] == "<p>Hello.</p>"
    assert email.attachments[0][0] == "note.txt"
    headers = email.message()
    assert headers["Message-ID"] == email_message_id(message.idempotency_key)
    assert message.provider_reference == headers["Message-ID"]
    assert headers["List-Unsubscribe"] == f"<{url}>"
    assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_without_an_unsubscribe_url_the_email_has_no_unsubscribe_headers(patient, monkeypatch):
    monkeypatch.setattr(unsubscribe, "unsubscribe_url", lambda message: None)

    send(queue(patient))

    headers = mail.outbox[0].message()
    assert headers["List-Unsubscribe"] is None
    assert headers["List-Unsubscribe-Post"] is None


def test_the_message_id_is_the_same_for_every_attempt_and_does_not_show_the_key():
    key = "appointment:5b0a0f7e-2f3c-4a6b-9d3e-1c2b3a4d5e6f:reminder-48h:email"

    assert email_message_id(key) == email_message_id(key)
    assert email_message_id(key) != email_message_id(key.replace("48h", "2h"))
    assert "appointment" not in email_message_id(key)
    assert email_message_id(key).endswith("@chairside.test>")


def test_a_staff_message_goes_to_the_address_it_names(db):
    message = queue(recipient="oncall@clinic.test")

    message = send(message)

    assert message.status == OutboxStatus.SENT
    assert mail.outbox[0].to == ["oncall@clinic.test"]


# --- Sending texts --------------------------------------------------------------------------


def test_it_sends_a_text_to_the_provider_with_the_idempotency_key(patient, provider):
    message = queue(patient, channel="sms", context={"n": 3})

    message = send(message)

    assert message.status == OutboxStatus.SENT
    (delivery,) = provider.deliveries
    assert delivery.idempotency_key == message.idempotency_key
    assert delivery.payload == {
        "to": "+12125559876",
        "from": "+15550100",
        "body": "Hello, this is note 3.",
        "reference": message.idempotency_key,
    }
    assert delivery.headers["Authorization"] == "Bearer test-token"
    assert message.provider_reference == delivery.reference
    assert message.recipient == "+12125559876"


def test_a_token_with_a_colon_is_sent_as_basic_authentication(patient, provider, settings):
    settings.SMS_API_TOKEN = "AC123:secret"

    send(queue(patient, channel="sms"))

    assert provider.deliveries[0].headers["Authorization"] == "Basic QUMxMjM6c2VjcmV0"


def test_a_send_repeated_after_a_crash_is_not_delivered_twice(patient, provider):
    message = queue(patient, channel="sms")
    # A worker sent it and died before it could record that: the provider has it.
    first = sms_backend().send(
        to=patient.mobile, body="Hello", idempotency_key=message.idempotency_key
    )

    message = send(message)

    assert message.status == OutboxStatus.SENT
    assert message.provider_reference == first
    assert provider.delivered_keys() == {message.idempotency_key: 1}
    assert provider.repeats() == {message.idempotency_key: 1}


def test_the_file_backend_writes_each_key_once(tmp_path, settings):
    settings.SMS_BACKEND = "file"
    settings.SMS_FILE_PATH = str(tmp_path)

    first = sms_backend().send(to="+12125550000", body="Hi", idempotency_key="k1")
    again = sms_backend().send(to="+12125550000", body="Hi", idempotency_key="k1")
    other = sms_backend().send(to="+12125550000", body="Bye", idempotency_key="k2")

    assert isinstance(sms_backend(), FileSmsBackend)
    assert first == again != other
    lines = [json.loads(line) for line in (tmp_path / "outbox.jsonl").read_text().splitlines()]
    assert [(line["idempotency_key"], line["body"]) for line in lines] == [
        ("k1", "Hi"),
        ("k2", "Bye"),
    ]


# --- What the rules decide --------------------------------------------------------------------


def test_a_text_in_quiet_hours_goes_back_to_wait_until_the_morning(patient, provider, riverside):
    chicago = ZoneInfo("America/Chicago")
    now = datetime(2026, 3, 7, 23, 30, tzinfo=chicago)  # the night before DST starts
    message = queue(
        patient,
        channel="sms",
        urgent=False,
        location=riverside,
        not_before=now - timedelta(minutes=5),
    )

    message = send(message, now=now)

    assert message.status == OutboxStatus.PENDING
    assert message.not_before == datetime(2026, 3, 8, 8, 0, tzinfo=chicago)
    assert message.attempts == 0
    assert message.claim_token is None
    assert message.claimed_until is None
    assert provider.deliveries == []


def test_a_message_its_kind_no_longer_wants_is_skipped_with_the_reason(patient):
    message = send(queue(patient, kind=CANCELLED.name))

    assert message.status == OutboxStatus.SKIPPED
    assert message.skip_reason == "cancelled"
    assert message.skip_detail == "The appointment was cancelled."
    assert message.claim_token is None
    assert mail.outbox == []


def test_a_text_without_consent_is_skipped(provider, db):
    patient = PatientFactory()
    CommunicationConsentFactory(patient=patient, channel=Channel.SMS, granted=False)

    message = send(queue(patient, channel="sms"))

    assert message.status == OutboxStatus.SKIPPED
    assert message.skip_reason == "no_consent"
    assert provider.requests == 0


def test_a_patient_without_a_mobile_number_is_skipped(patient, provider):
    patient.mobile = ""
    patient.save(update_fields=["mobile"])

    message = send(queue(patient, channel="sms"))

    assert message.status == OutboxStatus.SKIPPED
    assert message.skip_reason == "no_address"
    assert message.skip_detail == "The patient has no mobile number on record."
    assert provider.requests == 0


def test_a_message_of_an_unknown_kind_is_skipped(patient):
    message = send(queue(patient, kind="no_such_kind"))

    assert message.status == OutboxStatus.SKIPPED
    assert message.skip_reason == "unknown_kind"
    assert mail.outbox == []


# --- Failures and retries -----------------------------------------------------------------------


def test_a_failed_send_is_retried_later_with_backoff(patient, provider, settings):
    settings.OUTBOX_RETRY_BASE_SECONDS = 60
    message = queue(patient, channel="sms")
    now = timezone.now()
    provider.fail_next(1)

    message = send(message, now=now)

    assert message.status == OutboxStatus.PENDING
    assert message.attempts == 1
    assert message.not_before == now + timedelta(seconds=60)
    assert message.last_error == "ChannelError: The SMS provider answered 503."
    assert message.claim_token is None
    assert provider.deliveries == []
    assert outbox_claim_due(limit=10, lease=LEASE, now=now + timedelta(seconds=59)) == []

    message = send(message, now=now + timedelta(seconds=60))

    assert message.status == OutboxStatus.SENT
    assert message.attempts == 1
    assert provider.delivered_keys() == {message.idempotency_key: 1}


def test_retry_delays_double_up_to_the_most(settings):
    settings.OUTBOX_RETRY_BASE_SECONDS = 60
    settings.OUTBOX_RETRY_MAX_SECONDS = 300

    delays = [retry_delay(attempt).total_seconds() for attempt in range(1, 7)]

    assert delays == [60, 120, 240, 300, 300, 300]


def test_a_message_fails_after_the_last_attempt(patient, provider, settings):
    settings.OUTBOX_MAX_ATTEMPTS = 3
    settings.OUTBOX_RETRY_BASE_SECONDS = 60
    message = queue(patient, channel="sms")
    provider.fail_next(10)
    now = timezone.now()

    for hour in range(3):
        message = send(message, now=now + timedelta(hours=hour))

    assert message.status == OutboxStatus.FAILED
    assert message.attempts == 3
    assert message.claim_token is None
    assert provider.requests == 3
    assert outbox_claim_due(limit=10, lease=LEASE, now=now + timedelta(days=1)) == []


def test_a_refusal_by_the_provider_fails_at_once(patient, provider):
    provider.fail_next(1, status=400)

    message = send(queue(patient, channel="sms"))

    assert message.status == OutboxStatus.FAILED
    assert message.attempts == 1
    assert message.last_error == "ChannelError: The SMS provider answered 400."


def test_an_unreachable_provider_is_retried(patient, settings):
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    settings.SMS_BACKEND = "http"
    settings.SMS_API_URL = f"http://127.0.0.1:{port}/messages"

    message = send(queue(patient, channel="sms"))

    assert message.status == OutboxStatus.PENDING
    assert message.attempts == 1
    assert message.last_error.startswith("ChannelError: The SMS provider could not be reached")


def test_failures_keep_no_patient_data_in_the_row_or_the_log(patient, provider, caplog):
    provider.fail_next(1)
    text = queue(patient, channel="sms")
    broken = queue(patient, kind=BROKEN.name)

    claims = dict(outbox_claim_due(limit=10, lease=LEASE))

    with caplog.at_level(logging.DEBUG):
        for message in (text, broken):
            outbox_send(message.pk, claims[message.pk])
            message.refresh_from_db()

    assert broken.status == OutboxStatus.PENDING
    assert broken.last_error.startswith("ValueError in test_outbox.py:")
    assert text.last_error == "ChannelError: The SMS provider answered 503."
    for secret in (patient.legal_last_name, patient.mobile, patient.email, "Hello"):
        assert secret not in broken.last_error
        assert secret not in text.last_error
        assert secret not in caplog.text
    assert str(broken.public_id) in caplog.text


def test_a_mail_server_that_hangs_up_is_tried_again_later(patient, settings):
    settings.EMAIL_BACKEND = "clinic.tests.test_outbox.RefusingEmailBackend"

    message = send(queue(patient))

    assert message.status == OutboxStatus.PENDING
    assert message.attempts == 1
    assert message.last_error == (
        "ChannelError: The mail server could not take the message (SMTPServerDisconnected)."
    )


def test_a_mail_server_that_refuses_the_address_fails_it_at_once(patient, settings, monkeypatch):
    settings.EMAIL_BACKEND = "clinic.tests.test_outbox.RefusingEmailBackend"
    refusal = smtplib.SMTPDataError(550, f"<{patient.email}>: mailbox unavailable".encode())
    monkeypatch.setattr(RefusingEmailBackend, "error", refusal)

    message = send(queue(patient))

    assert message.status == OutboxStatus.FAILED
    assert message.last_error == (
        "ChannelError: The mail server refused the message (SMTPDataError 550)."
    )


def test_an_error_in_the_rules_counts_as_a_failed_attempt(patient, caplog):
    with caplog.at_level(logging.DEBUG):
        message = send(queue(patient, kind=CRASHING_RULE.name))

    assert message.status == OutboxStatus.PENDING
    assert message.attempts == 1
    assert message.last_error.startswith("RuntimeError in test_outbox.py:")
    assert patient.legal_last_name not in caplog.text
    assert mail.outbox == []


def test_an_http_backend_refuses_an_address_that_is_not_http():
    with pytest.raises(Exception, match="must be an http"):
        HttpSmsBackend(url="file:///etc/passwd", token="t")


# --- Dispatch and the tasks -----------------------------------------------------------------------


def test_dispatch_claims_due_messages_and_queues_one_send_each(
    patient, monkeypatch, django_capture_on_commit_callbacks
):
    messages = [queue(patient) for _ in range(3)]
    queue(patient, not_before=timezone.now() + timedelta(hours=1))
    queued: list[tuple] = []
    monkeypatch.setattr(tasks.send_outbox_message, "delay", lambda *args: queued.append(args))

    with django_capture_on_commit_callbacks(execute=True):
        count = outbox_dispatch()

    assert count == 3
    tokens = {
        message.pk: str(message.claim_token)
        for message in OutboxMessage.objects.filter(status=OutboxStatus.SENDING)
    }
    assert sorted(queued) == sorted(tokens.items())
    assert set(tokens) == {message.pk for message in messages}


def test_dispatch_keeps_no_more_than_its_limit_claimed_and_unsent(
    patient, monkeypatch, django_capture_on_commit_callbacks
):
    for _ in range(5):
        queue(patient)
    queued: list[tuple] = []
    monkeypatch.setattr(tasks.send_outbox_message, "delay", lambda *args: queued.append(args))

    with django_capture_on_commit_callbacks(execute=True):
        first, second = outbox_dispatch(limit=3), outbox_dispatch(limit=3)
    outbox_send(*queued[0])
    with django_capture_on_commit_callbacks(execute=True):
        third = outbox_dispatch(limit=3)

    assert (first, second, third) == (3, 0, 1)
    assert len(queued) == 4


@pytest.mark.django_db(transaction=True)
def test_two_dispatchers_at_the_same_moment_keep_to_one_limit_between_them(monkeypatch):
    for _ in range(20):
        queue()
    monkeypatch.setattr(tasks.send_outbox_message, "delay", lambda *args: None)
    claim_due = tasks.outbox_claim_due
    both_here = threading.Barrier(2)

    def claim_once_both_have_looked(**kwargs):
        # Each dispatcher, having counted what is in flight, waits (up to a second) for the
        # other to have counted too before it claims: the moment two beats collide.
        with contextlib.suppress(threading.BrokenBarrierError):
            both_here.wait(timeout=1)
        return claim_due(**kwargs)

    monkeypatch.setattr(tasks, "outbox_claim_due", claim_once_both_have_looked)
    start = threading.Barrier(2)
    counts: list[int] = [0, 0]
    errors: list[BaseException] = []

    def dispatcher(index: int) -> None:
        try:
            start.wait(timeout=20)
            counts[index] = outbox_dispatch(limit=5)
        except BaseException as exc:  # reported by the asserts below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=dispatcher, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert errors == []
    assert sorted(counts) == [0, 5]
    assert OutboxMessage.objects.filter(status=OutboxStatus.SENDING).count() == 5


def test_the_send_task_sends_the_message_it_was_given(patient):
    message = queue(patient)
    token = claim(message)

    assert tasks.send_outbox_message(message.pk, str(token)) == OutboxStatus.SENT
    assert len(mail.outbox) == 1


def test_the_send_task_survives_a_worker_dying_mid_task():
    task = app.tasks["clinic.tasks.send_outbox_message"]

    assert task.acks_late is True
    assert task.reject_on_worker_lost is True


def test_beat_dispatches_the_outbox_every_minute():
    entry = app.conf.beat_schedule["dispatch-outbox"]

    assert entry["task"] == "clinic.tasks.dispatch_outbox"
    assert entry["schedule"].total_seconds() <= 60
    assert "clinic.tasks.dispatch_outbox" in app.tasks


def test_a_send_for_a_message_that_is_gone_does_nothing(db):
    assert outbox_send(987654321, uuid.uuid4()) == "missing"
