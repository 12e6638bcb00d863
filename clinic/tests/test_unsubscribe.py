"""The one-click email unsubscribe link: opening it changes nothing, its button (or a mail
client's RFC 8058 POST) withdraws email consent and stops the emails waiting."""

from __future__ import annotations

import pytest
from django.core import signing
from django.test import Client
from django.utils import timezone

from clinic.messaging.outbox import outbox_enqueue
from clinic.messaging.unsubscribe import SALT, unsubscribe_token, unsubscribe_url
from clinic.models import AuditEvent, OutboxChannel, OutboxMessage, OutboxStatus
from patients.models import Channel, CommunicationConsent
from patients.tests.factories import CommunicationConsentFactory, PatientFactory

SITE = "https://clinic.example.org"


@pytest.fixture(autouse=True)
def _site_url(settings):
    settings.SITE_URL = SITE


@pytest.fixture
def patient(db):
    patient = PatientFactory()
    CommunicationConsentFactory(patient=patient, channel=Channel.EMAIL, granted=True)
    CommunicationConsentFactory(patient=patient, channel=Channel.SMS, granted=True)
    return patient


def _enqueue(patient, name: str, channel: str = OutboxChannel.EMAIL) -> OutboxMessage:
    return outbox_enqueue(
        key=f"test:{patient.public_id}:{name}:{channel}",
        kind="appointment_reminder_48h",
        channel=channel,
        patient=patient,
    )


@pytest.fixture
def waiting(patient) -> dict[str, OutboxMessage]:
    sent = _enqueue(patient, "earlier")
    OutboxMessage.objects.filter(pk=sent.pk).update(
        status=OutboxStatus.SENT, sent_at=timezone.now()
    )
    return {
        "email": _enqueue(patient, "reminder"),
        "sms": _enqueue(patient, "reminder", OutboxChannel.SMS),
        "sent": sent,
    }


@pytest.fixture
def url(patient) -> str:
    return unsubscribe_url(_enqueue(patient, "confirmation"))


def _path(url: str) -> str:
    return url.removeprefix(SITE)


def _email_consent(patient) -> list[tuple[bool, str]]:
    return list(
        CommunicationConsent.objects.filter(patient=patient, channel=Channel.EMAIL)
        .order_by("recorded_at", "id")
        .values_list("granted", "method")
    )


def test_the_link_is_absolute_and_names_nothing_about_the_patient(patient, url):
    assert url.startswith(f"{SITE}/m/unsubscribe/")
    assert str(patient.public_id) not in url
    assert patient.email not in url


def test_texts_and_staff_messages_have_no_unsubscribe_link(patient):
    text = _enqueue(patient, "reminder", OutboxChannel.SMS)
    on_call = outbox_enqueue(
        key="test:on-call", kind="safety_alert", channel="email", recipient="oncall@clinic.test"
    )

    assert unsubscribe_url(text) is None
    assert unsubscribe_url(on_call) is None


def test_without_a_site_url_there_is_no_link(settings, patient):
    settings.SITE_URL = ""

    assert unsubscribe_url(_enqueue(patient, "reminder")) is None


def test_opening_the_link_asks_and_changes_nothing(client, patient, waiting, url):
    response = client.get(_path(url))

    assert response.status_code == 200
    assert b"Stop emails from" in response.content
    assert b'data-testid="unsubscribe-confirm"' in response.content
    assert _email_consent(patient) == [(True, "online booking form")]
    waiting["email"].refresh_from_db()
    assert waiting["email"].status == OutboxStatus.PENDING


def test_the_button_withdraws_email_consent_and_skips_the_emails_waiting(
    client, patient, waiting, url
):
    response = client.post(_path(url))

    assert response.status_code == 200
    assert b'data-testid="unsubscribe-done"' in response.content
    assert _email_consent(patient) == [(True, "online booking form"), (False, "unsubscribe link")]
    for message in waiting.values():
        message.refresh_from_db()
    assert waiting["email"].status == OutboxStatus.SKIPPED
    assert waiting["email"].skip_reason == "no_consent"
    assert waiting["sms"].status == OutboxStatus.PENDING  # texts are another consent
    assert waiting["sent"].status == OutboxStatus.SENT
    event = AuditEvent.objects.get(object_id=str(patient.public_id))
    assert event.actor is None
    assert event.summary == "changed contact consent: email"


def test_a_mail_clients_one_click_post_works_without_a_csrf_token(patient, waiting, url):
    mail_client = Client(enforce_csrf_checks=True)

    response = mail_client.post(
        _path(url),
        data="List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )

    assert response.status_code == 200
    assert _email_consent(patient)[-1] == (False, "unsubscribe link")


def test_unsubscribing_twice_records_one_withdrawal(client, patient, waiting, url):
    client.post(_path(url))
    later = _enqueue(patient, "queued-after")  # e.g. by a service that did not check

    response = client.post(_path(url))

    assert response.status_code == 200
    assert b'data-testid="unsubscribe-done"' in response.content
    assert [granted for granted, _ in _email_consent(patient)] == [True, False]
    later.refresh_from_db()
    assert later.status == OutboxStatus.SKIPPED


def test_a_patient_never_asked_is_recorded_as_not_wanting_email(client, db):
    patient = PatientFactory()
    url = unsubscribe_url(_enqueue(patient, "reminder"))

    client.post(_path(url))

    assert _email_consent(patient) == [(False, "unsubscribe link")]


@pytest.mark.parametrize(
    "token",
    [
        "tampered",
        "altered-signature",
        "another-salt",
        "not-a-patient",
    ],
)
def test_a_bad_link_is_refused_and_changes_nothing(client, patient, waiting, url, token):
    real = _path(url).removeprefix("/m/unsubscribe/").rstrip("/")
    bad = {
        "tampered": "x" + real[1:],
        "altered-signature": real[:-3] + ("aaa" if not real.endswith("aaa") else "bbb"),
        "another-salt": signing.dumps({"p": str(patient.public_id), "c": "email"}, salt="other"),
        "not-a-patient": unsubscribe_token("9b2f4ad4-7b1e-4a51-9f0a-8a0f1b7d3c11", "email"),
    }[token]

    for method in (client.get, client.post):
        response = method(f"/m/unsubscribe/{bad}/")

        assert response.status_code == 400
        assert b'data-testid="unsubscribe-problem"' in response.content
        assert b"Nothing was changed" in response.content
    assert _email_consent(patient) == [(True, "online booking form")]
    waiting["email"].refresh_from_db()
    assert waiting["email"].status == OutboxStatus.PENDING


def test_a_token_for_an_unknown_channel_is_refused(client, patient):
    bad = signing.dumps({"p": str(patient.public_id), "c": "fax"}, salt=SALT, compress=True)

    response = client.post(f"/m/unsubscribe/{bad}/")

    assert response.status_code == 400
    assert not CommunicationConsent.objects.filter(patient=patient, granted=False).exists()
