"""The inbound SMS webhook: only signed posts are read; an opt-out word withdraws text
consent at once and queues one confirmation, however often the provider delivers it."""

from __future__ import annotations

import json
import logging

import pytest

from clinic.messaging.inbound import SIGNATURE_HEADER, signature_for
from clinic.messaging.outbox import outbox_enqueue
from clinic.messaging.registry import kind_named
from clinic.messaging.unsubscribe import STOP_CONFIRMATION_KIND
from clinic.models import OutboxChannel, OutboxMessage, OutboxStatus
from patients.models import Channel, CommunicationConsent
from patients.tests.factories import CommunicationConsentFactory, PatientFactory
from scheduling.tests.factories import LocationFactory

SECRET = "whsec-test-0123456789"
URL = "/m/sms/inbound/"
NUMBER = "+12125550123"
STOP_WORDS = ["STOP", "QUIT", "END", "REVOKE", "OPT OUT", "CANCEL", "UNSUBSCRIBE"]


@pytest.fixture(autouse=True)
def _secret(settings):
    settings.SMS_WEBHOOK_SECRET = SECRET


@pytest.fixture
def patient(db):
    patient = PatientFactory(mobile=NUMBER, preferred_location=LocationFactory())
    CommunicationConsentFactory(patient=patient, channel=Channel.EMAIL, granted=True)
    CommunicationConsentFactory(patient=patient, channel=Channel.SMS, granted=True)
    return patient


@pytest.fixture
def waiting(patient) -> dict[str, OutboxMessage]:
    return {
        channel: outbox_enqueue(
            key=f"test:{patient.public_id}:reminder:{channel}",
            kind="appointment_reminder_48h",
            channel=channel,
            patient=patient,
        )
        for channel in OutboxChannel.values
    }


def _post(client, payload, *, secret: str | None = SECRET, signature: str | None = None):
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    headers = {}
    if signature is not None:
        headers[SIGNATURE_HEADER] = signature
    elif secret is not None:
        headers[SIGNATURE_HEADER] = signature_for(body, secret)
    return client.post(URL, data=body, content_type="application/json", headers=headers)


def _text(body: str, *, sender: str = NUMBER, message_id: str = "SM0001") -> dict[str, str]:
    return {"from": sender, "body": body, "id": message_id}


def _sms_consent(patient) -> list[tuple[bool, str]]:
    return list(
        CommunicationConsent.objects.filter(patient=patient, channel=Channel.SMS)
        .order_by("recorded_at", "id")
        .values_list("granted", "method")
    )


def _confirmations() -> list[OutboxMessage]:
    return list(OutboxMessage.objects.filter(kind=STOP_CONFIRMATION_KIND))


@pytest.mark.parametrize(
    "signature",
    [None, "", "0" * 64, "sha256=" + "f" * 64, "not hex at all ✓"],
    ids=["missing", "empty", "zeros", "prefixed-wrong", "garbage"],
)
def test_a_bad_or_missing_signature_is_refused_and_nothing_is_stored(
    client, patient, waiting, signature
):
    response = _post(client, _text("STOP"), secret=None, signature=signature)

    assert response.status_code == 403
    assert SIGNATURE_HEADER in response.json()["detail"]
    assert _sms_consent(patient) == [(True, "online booking form")]
    assert _confirmations() == []
    assert OutboxMessage.objects.filter(status=OutboxStatus.PENDING).count() == 2


def test_a_body_signed_with_another_secret_is_refused(client, patient):
    response = _post(client, _text("STOP"), secret="someone-else")

    assert response.status_code == 403
    assert _sms_consent(patient) == [(True, "online booking form")]


def test_a_changed_body_no_longer_matches_its_signature(client, patient):
    signed = json.dumps(_text("hello")).encode()
    response = client.post(
        URL,
        data=json.dumps(_text("STOP")).encode(),
        content_type="application/json",
        headers={SIGNATURE_HEADER: signature_for(signed, SECRET)},
    )

    assert response.status_code == 403
    assert _sms_consent(patient) == [(True, "online booking form")]


def test_without_a_secret_configured_everything_is_refused(client, settings, patient):
    settings.SMS_WEBHOOK_SECRET = ""

    response = _post(client, _text("STOP"), secret="")

    assert response.status_code == 403
    assert _sms_consent(patient) == [(True, "online booking form")]


def test_it_only_accepts_posts(client, db):
    assert client.get(URL).status_code == 405


@pytest.mark.parametrize(
    "body",
    [b"not json", b"[1, 2]", json.dumps({"from": NUMBER, "body": "STOP"}).encode()],
    ids=["not-json", "not-an-object", "no-id"],
)
def test_a_signed_but_unusable_body_is_a_clear_400(client, patient, body):
    response = _post(client, body)

    assert response.status_code == 400
    assert response.json()["detail"]
    assert _sms_consent(patient) == [(True, "online booking form")]
    assert _confirmations() == []


@pytest.mark.parametrize("word", STOP_WORDS)
def test_each_opt_out_word_withdraws_text_consent_and_queues_one_confirmation(
    client, patient, waiting, word
):
    response = _post(client, _text(word))

    assert response.status_code == 200
    assert _sms_consent(patient) == [(True, "online booking form"), (False, f"text {word}")]
    for message in waiting.values():
        message.refresh_from_db()
    assert waiting["sms"].status == OutboxStatus.SKIPPED
    assert waiting["sms"].skip_reason == "no_consent"
    assert waiting["email"].status == OutboxStatus.PENDING  # email is another consent
    [confirmation] = _confirmations()
    assert confirmation.channel == OutboxChannel.SMS
    assert confirmation.patient == patient
    assert confirmation.location == patient.preferred_location
    assert confirmation.status == OutboxStatus.PENDING


@pytest.mark.parametrize("word", STOP_WORDS)
def test_a_webhook_delivered_twice_confirms_once(client, patient, word):
    first = _post(client, _text(word, message_id="SM-retried"))
    second = _post(client, _text(word, message_id="SM-retried"))

    assert first.status_code == second.status_code == 200
    assert [granted for granted, _ in _sms_consent(patient)] == [True, False]
    [confirmation] = _confirmations()
    # The retry's "skip the texts waiting" must not skip the confirmation itself.
    assert confirmation.status == OutboxStatus.PENDING


@pytest.mark.parametrize("body", ["stop", "  Stop  ", "opt  out", "Unsubscribe.", "\nQUIT!\n"])
def test_case_spaces_and_a_final_full_stop_do_not_matter(client, patient, body):
    _post(client, _text(body))

    assert _sms_consent(patient)[-1][0] is False
    assert len(_confirmations()) == 1


@pytest.mark.parametrize(
    "body", ["Please stop", "STOP it", "Can I cancel Tuesday?", "yes", "", "STOPP"]
)
def test_other_texts_change_nothing(client, patient, waiting, body):
    response = _post(client, _text(body))

    assert response.status_code == 200
    assert _sms_consent(patient) == [(True, "online booking form")]
    assert _confirmations() == []
    waiting["sms"].refresh_from_db()
    assert waiting["sms"].status == OutboxStatus.PENDING


def test_stop_from_an_unknown_number_changes_nothing(client, patient, waiting):
    response = _post(client, _text("STOP", sender="+13125559999"))

    assert response.status_code == 200
    assert _sms_consent(patient) == [(True, "online booking form")]
    assert _confirmations() == []
    assert OutboxMessage.objects.filter(status=OutboxStatus.PENDING).count() == 2


def test_a_number_shared_by_two_patients_stops_both_and_confirms_once(client, patient):
    sibling = PatientFactory(mobile=NUMBER)
    CommunicationConsentFactory(patient=sibling, channel=Channel.SMS, granted=True)

    _post(client, _text("STOP"))

    assert _sms_consent(patient)[-1] == (False, "text STOP")
    assert _sms_consent(sibling)[-1] == (False, "text STOP")
    assert len(_confirmations()) == 1


def test_a_patient_already_opted_out_gets_a_confirmation_but_no_new_consent_row(client, patient):
    _post(client, _text("STOP", message_id="SM1"))
    _post(client, _text("stop", message_id="SM2"))  # the patient texts STOP again

    assert [granted for granted, _ in _sms_consent(patient)] == [True, False]
    assert len(_confirmations()) == 2


def test_the_logs_hold_neither_the_number_nor_the_text(client, patient, caplog):
    caplog.set_level(logging.DEBUG)

    _post(client, _text("Running late, sorry!", message_id="SM-a"))
    _post(client, _text("STOP", message_id="SM-b"))

    assert caplog.records  # it does log what it did
    assert NUMBER not in caplog.text
    assert "Running late" not in caplog.text


def test_the_confirmation_is_a_short_uncapped_text_about_no_more_texts(settings, patient):
    kind = kind_named(STOP_CONFIRMATION_KIND)
    message = OutboxMessage(kind=STOP_CONFIRMATION_KIND, channel=OutboxChannel.SMS)

    rendered = kind.render(message)

    assert kind.capped is False
    assert kind.urgent is True, "sent at once, even in quiet hours"
    assert rendered.body.startswith(settings.CLINIC_NAME)
    assert "no more texts" in rendered.body
    assert len(rendered.body) <= 160
