"""Twilio as the SMS provider: texts go out through its Messages API (against a local fake,
no network), and STOP replies come back through its signed webhook."""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import os
import re
import socket
import subprocess
import sys
import uuid
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlencode

import pytest
from django.utils import timezone

from clinic.messaging.channels import ChannelError, TwilioSmsBackend, sms_backend
from clinic.messaging.inbound import TWILIO_SIGNATURE_HEADER, twilio_signature_for
from clinic.messaging.outbox import outbox_claim_due, outbox_enqueue, outbox_send
from clinic.messaging.registry import MessageKind, Rendered, register
from clinic.messaging.unsubscribe import STOP_CONFIRMATION_KIND
from clinic.models import OutboxChannel, OutboxMessage, OutboxStatus
from patients.models import Channel, CommunicationConsent
from patients.tests.factories import CommunicationConsentFactory, PatientFactory
from scheduling.tests.factories import LocationFactory
from tests.fake_sms import FakeTwilio
from tests.test_settings_env import OURS, VALID

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "twilio-auth-token-for-tests"
FROM_NUMBER = "+15005550006"
NUMBER = "+12125550123"
SITE_URL = "https://clinic.example.com"
WEBHOOK = "/m/sms/twilio/"
EMPTY_TWIML = b'<?xml version="1.0" encoding="UTF-8"?><Response/>'

NOTE = register(
    MessageKind(
        name="test_twilio_note",
        render=lambda message: Rendered(subject="", body="Your visit is tomorrow at 9:00."),
        urgent=True,
        capped=False,
    )
)


@pytest.fixture
def twilio(settings):
    with FakeTwilio(account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN) as fake:
        settings.SMS_BACKEND = "twilio"
        settings.SMS_API_URL = fake.url
        settings.SMS_TWILIO_ACCOUNT_SID = ACCOUNT_SID
        settings.SMS_API_TOKEN = AUTH_TOKEN
        settings.SMS_FROM_NUMBER = FROM_NUMBER
        settings.SITE_URL = SITE_URL
        yield fake


@pytest.fixture
def patient(db):
    patient = PatientFactory(mobile=NUMBER, preferred_location=LocationFactory())
    CommunicationConsentFactory(patient=patient, channel=Channel.EMAIL, granted=True)
    CommunicationConsentFactory(patient=patient, channel=Channel.SMS, granted=True)
    return patient


def _send(message: OutboxMessage, *, now=None) -> OutboxMessage:
    claims = dict(outbox_claim_due(limit=100, lease=timedelta(minutes=2), now=now))
    outbox_send(message.pk, claims[message.pk], now=now)
    message.refresh_from_db()
    return message


def _queue(patient, *, kind: str = NOTE.name) -> OutboxMessage:
    return outbox_enqueue(
        key=f"test:{uuid.uuid4()}:sms",
        kind=kind,
        channel=OutboxChannel.SMS,
        patient=patient,
        urgent=True,
        not_before=timezone.now() - timedelta(minutes=1),
    )


# --- Sending --------------------------------------------------------------------------------


def test_sms_backend_twilio_is_the_twilio_backend(twilio):
    assert isinstance(sms_backend(), TwilioSmsBackend)


def test_a_text_is_a_form_post_to_the_accounts_messages_resource(twilio):
    body = "Café & co: 50% off? ✓"

    sid = sms_backend().send(to=NUMBER, body=body, idempotency_key="appointment:7:reminder:sms")

    (request,) = twilio.requests
    assert request.path == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
    credentials = base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()
    assert request.headers["Authorization"] == f"Basic {credentials}"
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert request.form == {"To": [NUMBER], "From": [FROM_NUMBER], "Body": [body]}
    assert request.headers["Idempotency-Key"] == "appointment:7:reminder:sms"
    assert re.fullmatch(r"SM[0-9a-f]{32}", sid)
    assert sid == request.sid


def test_without_sms_api_url_it_calls_twilio_itself(settings):
    settings.SMS_API_URL = ""
    settings.SMS_TWILIO_ACCOUNT_SID = ACCOUNT_SID

    backend = TwilioSmsBackend()

    assert backend.url == f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"


def test_the_outbox_sends_through_twilio_and_keeps_the_message_sid(twilio, patient):
    message = _send(_queue(patient))

    assert message.status == OutboxStatus.SENT
    (sent,) = twilio.messages
    assert message.provider_reference == sent.sid
    assert sent.form["To"] == [NUMBER]
    assert sent.form["Body"] == ["Your visit is tomorrow at 9:00."]


@pytest.mark.parametrize(
    ("status", "code", "error", "permanent"),
    [
        (503, 20500, "Twilio answered 503 (error 20500).", False),
        (429, 20429, "Twilio answered 429 (error 20429).", False),
        (500, None, "Twilio answered 500.", False),
        (400, 21211, "Twilio answered 400 (error 21211).", True),
        (404, 20404, "Twilio answered 404 (error 20404).", True),
    ],
)
def test_a_refusal_names_the_status_and_code_but_not_the_number(
    twilio, status, code, error, permanent
):
    twilio.fail_next(1, status=status, code=code)

    with pytest.raises(ChannelError) as raised:
        sms_backend().send(to=NUMBER, body="Hello", idempotency_key="k1")

    assert str(raised.value) == error
    assert raised.value.permanent is permanent
    assert twilio.messages == []


def test_a_wrong_token_is_retried_once_someone_fixes_it(twilio, settings):
    settings.SMS_API_TOKEN = "not-the-token"

    with pytest.raises(ChannelError) as raised:
        sms_backend().send(to=NUMBER, body="Hello", idempotency_key="k1")

    assert str(raised.value) == "Twilio answered 401 (error 20003)."
    assert raised.value.permanent is False


def test_a_number_that_texted_stop_to_twilio_fails_at_once_saying_so(twilio):
    twilio.opt_out(NUMBER)

    with pytest.raises(ChannelError) as raised:
        sms_backend().send(to=NUMBER, body="Hello", idempotency_key="k1")

    assert raised.value.permanent is True
    assert "error 21610" in str(raised.value)
    assert "opted out" in str(raised.value)
    assert NUMBER not in str(raised.value)


def test_a_failed_send_is_retried_and_sent_once(twilio, patient, settings, caplog):
    caplog.set_level(logging.DEBUG)
    settings.OUTBOX_RETRY_BASE_SECONDS = 60
    now = timezone.now()
    twilio.fail_next(1, status=503, code=20500)

    message = _send(_queue(patient), now=now)

    assert message.status == OutboxStatus.PENDING
    assert message.attempts == 1
    assert message.last_error == "ChannelError: Twilio answered 503 (error 20500)."
    assert twilio.messages == []

    message = _send(message, now=now + timedelta(seconds=60))

    assert message.status == OutboxStatus.SENT
    assert len(twilio.requests) == 2
    (sent,) = twilio.messages
    assert message.provider_reference == sent.sid
    # Twilio's error message quoted the number; it reached neither the row nor the log.
    assert NUMBER not in caplog.text
    assert "Your visit" not in caplog.text


def test_an_unreachable_twilio_is_retried(settings, patient):
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    settings.SMS_BACKEND = "twilio"
    settings.SMS_API_URL = f"http://127.0.0.1:{port}"
    settings.SMS_TWILIO_ACCOUNT_SID = ACCOUNT_SID
    settings.SMS_API_TOKEN = AUTH_TOKEN

    message = _send(_queue(patient))

    assert message.status == OutboxStatus.PENDING
    assert message.last_error.startswith("ChannelError: Twilio could not be reached")


# --- Inbound: the signature -------------------------------------------------------------


def _sign(url: str, fields: dict[str, str], token: str) -> str:
    """Twilio's documented algorithm, written out here on its own: the URL, then each
    parameter's name and value, sorted by name; HMAC-SHA1 with the auth token; base64."""
    data = url + "".join(f"{name}{fields[name]}" for name in sorted(fields))
    return base64.b64encode(hmac.new(token.encode(), data.encode(), hashlib.sha1).digest()).decode()


def _fields(body: str, *, sid: str = "SM" + "a" * 32, sender: str = NUMBER) -> dict[str, str]:
    return {
        "ToCountry": "US",
        "SmsMessageSid": sid,
        "NumMedia": "0",
        "MessageSid": sid,
        "AccountSid": ACCOUNT_SID,
        "From": sender,
        "To": FROM_NUMBER,
        "Body": body,
        "NumSegments": "1",
        "ApiVersion": "2010-04-01",
    }


def _post(client, fields, *, url=SITE_URL + WEBHOOK, token=AUTH_TOKEN, signature=None, path=None):
    headers = {}
    if signature is not None:
        headers[TWILIO_SIGNATURE_HEADER] = signature
    elif token is not None:
        headers[TWILIO_SIGNATURE_HEADER] = _sign(url, fields, token)
    return client.post(
        path or WEBHOOK,
        data=urlencode(fields),
        content_type="application/x-www-form-urlencoded",
        headers=headers,
    )


def _sms_consent(patient) -> list[bool]:
    return list(
        CommunicationConsent.objects.filter(patient=patient, channel=Channel.SMS)
        .order_by("recorded_at", "id")
        .values_list("granted", flat=True)
    )


def _confirmations() -> list[OutboxMessage]:
    return list(OutboxMessage.objects.filter(kind=STOP_CONFIRMATION_KIND))


def test_the_signature_matches_twilios_published_example():
    # The example in Twilio's request-validation documentation, with its published result.
    params = {
        "CallSid": "CA1234567890ABCDE",
        "Caller": "+14158675309",
        "Digits": "1234",
        "From": "+14158675309",
        "To": "+18005551212",
    }
    url = "https://mycompany.com/myapp.php?foo=1&bar=2"

    signature = twilio_signature_for(url, params.items(), "12345")

    assert signature == "RSOYDt4T1cUTdK1PDd93/VVr8B8="
    assert signature == _sign(url, params, "12345")


def test_stop_from_twilio_withdraws_consent_and_answers_empty_twiml(client, twilio, patient):
    waiting = _queue(patient)

    response = _post(client, _fields("Stop"))

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/xml")
    assert response.content == EMPTY_TWIML
    assert _sms_consent(patient) == [True, False]
    waiting.refresh_from_db()
    assert waiting.status == OutboxStatus.SKIPPED
    assert waiting.skip_reason == "no_consent"
    [confirmation] = _confirmations()
    assert confirmation.patient == patient
    assert confirmation.channel == OutboxChannel.SMS
    assert confirmation.status == OutboxStatus.PENDING


def test_a_stop_twilio_delivers_twice_confirms_once(client, twilio, patient):
    first = _post(client, _fields("STOP", sid="SM" + "b" * 32))
    second = _post(client, _fields("STOP", sid="SM" + "b" * 32))

    assert first.status_code == second.status_code == 200
    assert _sms_consent(patient) == [True, False]
    [confirmation] = _confirmations()
    assert confirmation.status == OutboxStatus.PENDING


def test_other_texts_are_acknowledged_and_change_nothing(client, twilio, patient):
    response = _post(client, _fields("Running late, sorry!"))

    assert response.status_code == 200
    assert response.content == EMPTY_TWIML
    assert _sms_consent(patient) == [True]
    assert _confirmations() == []


def test_the_url_may_be_signed_with_the_default_port(client, twilio, patient):
    response = _post(client, _fields("STOP"), url="https://clinic.example.com:443" + WEBHOOK)

    assert response.status_code == 200
    assert _sms_consent(patient) == [True, False]


def test_the_query_string_is_part_of_what_is_signed(client, twilio, patient):
    fields = _fields("STOP")
    signed_for = SITE_URL + WEBHOOK + "?clinic=north"

    refused = _post(client, fields, url=signed_for)  # posted without the query string
    accepted = _post(client, fields, url=signed_for, path=WEBHOOK + "?clinic=north")

    assert refused.status_code == 403
    assert accepted.status_code == 200


@pytest.mark.parametrize(
    ("signature", "token", "url"),
    [
        (None, None, SITE_URL + WEBHOOK),
        ("", AUTH_TOKEN, SITE_URL + WEBHOOK),
        ("not base64 at all ✓", AUTH_TOKEN, SITE_URL + WEBHOOK),
        (None, "another-accounts-token", SITE_URL + WEBHOOK),
        # What request.build_absolute_uri() gives behind a proxy that ends TLS: not what
        # Twilio called, so not what it signed.
        (None, AUTH_TOKEN, "http://testserver" + WEBHOOK),
        (None, AUTH_TOKEN, "https://evil.example.com" + WEBHOOK),
    ],
    ids=["missing", "empty", "garbage", "other-token", "request-url", "other-host"],
)
def test_a_bad_or_missing_signature_is_refused_and_nothing_is_stored(
    client, twilio, patient, signature, token, url
):
    waiting = _queue(patient)

    response = _post(client, _fields("STOP"), url=url, token=token, signature=signature)

    assert response.status_code == 403
    assert TWILIO_SIGNATURE_HEADER in response.json()["detail"]
    assert _sms_consent(patient) == [True]
    assert _confirmations() == []
    waiting.refresh_from_db()
    assert waiting.status == OutboxStatus.PENDING


def test_a_changed_field_no_longer_matches_the_signature(client, twilio, patient):
    signature = _sign(SITE_URL + WEBHOOK, _fields("See you Tuesday"), AUTH_TOKEN)

    response = _post(client, _fields("STOP"), signature=signature)

    assert response.status_code == 403
    assert _sms_consent(patient) == [True]


def test_without_the_twilio_backend_every_post_is_refused(client, twilio, patient, settings):
    settings.SMS_BACKEND = "http"  # SMS_API_TOKEN is then another provider's token

    response = _post(client, _fields("STOP"))

    assert response.status_code == 403
    assert _sms_consent(patient) == [True]


def test_a_signed_post_without_a_message_sid_is_a_clear_400(client, twilio, patient):
    fields = _fields("STOP")
    del fields["MessageSid"]

    response = _post(client, fields)

    assert response.status_code == 400
    assert "MessageSid" in response.json()["detail"]
    assert _sms_consent(patient) == [True]
    assert _confirmations() == []


def test_the_twilio_webhook_only_accepts_posts(client, twilio, db):
    assert client.get(WEBHOOK).status_code == 405


def test_the_logs_hold_neither_the_number_nor_the_text(client, twilio, patient, caplog):
    caplog.set_level(logging.DEBUG)

    _post(client, _fields("Running late, sorry!", sid="SM" + "c" * 32))
    _post(client, _fields("STOP", sid="SM" + "d" * 32))
    _post(client, _fields("STOP"), token="wrong")

    assert caplog.records
    assert NUMBER not in caplog.text
    assert "Running late" not in caplog.text


# --- The confirmation, and Twilio's own STOP handling --------------------------------------


def test_the_confirmation_goes_out_through_twilio_after_revoke(client, twilio, patient):
    # REVOKE is ours, not one of Twilio's own opt-out words: Twilio lets our answer through.
    _post(client, _fields("REVOKE"))
    [confirmation] = _confirmations()

    confirmation = _send(confirmation)

    assert confirmation.status == OutboxStatus.SENT
    (sent,) = twilio.messages
    assert sent.form["To"] == [NUMBER]


def test_after_twilios_own_stop_handling_the_confirmation_fails_saying_why(client, twilio, patient):
    # Twilio answers STOP itself by default and then refuses texts to the number.
    twilio.opt_out(NUMBER)
    _post(client, _fields("STOP"))
    [confirmation] = _confirmations()

    confirmation = _send(confirmation)

    assert confirmation.status == OutboxStatus.FAILED
    assert "error 21610" in confirmation.last_error
    assert twilio.messages == []


# --- Settings -----------------------------------------------------------------------------

BASE_DIR = Path(__file__).resolve().parents[2]
TWILIO = {
    **VALID,
    "SMS_BACKEND": "twilio",
    "SMS_TWILIO_ACCOUNT_SID": ACCOUNT_SID,
    "SMS_API_TOKEN": AUTH_TOKEN,
    "SMS_FROM_NUMBER": FROM_NUMBER,
    "SITE_URL": SITE_URL,
}


def _settings_say(tmp_path: Path, **values: str) -> subprocess.CompletedProcess:
    """Import the settings in a fresh interpreter with only ``values`` set, and print the
    SMS API address they end with."""
    environ = {
        key: value for key, value in os.environ.items() if not key.startswith((*OURS, "SITE_URL"))
    }
    environ.update(CHAIRSIDE_DATA_DIR=str(tmp_path), **values)
    return subprocess.run(
        [sys.executable, "-c", "from clinic import settings; print(settings.SMS_API_URL)"],
        cwd=BASE_DIR,
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_twilio_settings_start_and_default_to_twilios_address(tmp_path):
    result = _settings_say(tmp_path, **TWILIO)

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "https://api.twilio.com"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"SMS_TWILIO_ACCOUNT_SID": ""},
            "SMS_BACKEND=twilio needs SMS_TWILIO_ACCOUNT_SID, SMS_API_TOKEN",
        ),
        ({"SMS_API_TOKEN": ""}, "SMS_BACKEND=twilio needs SMS_TWILIO_ACCOUNT_SID, SMS_API_TOKEN"),
        ({"SMS_FROM_NUMBER": ""}, "SMS_BACKEND=twilio needs SMS_TWILIO_ACCOUNT_SID"),
        ({"SMS_TWILIO_ACCOUNT_SID": "AC123"}, "SMS_TWILIO_ACCOUNT_SID must be the Account SID"),
        ({"SMS_API_URL": "api.twilio.com"}, "SMS_API_URL must be an http(s) address"),
        ({"SITE_URL": ""}, "SMS_BACKEND=twilio needs SITE_URL"),
    ],
    ids=["no-sid", "no-token", "no-from", "bad-sid", "bad-url", "no-site-url"],
)
def test_incomplete_twilio_settings_stop_start_up_saying_what_to_set(tmp_path, changes, message):
    result = _settings_say(tmp_path, **{**TWILIO, **changes})

    assert result.returncode != 0
    assert "django.core.exceptions.ImproperlyConfigured" in result.stderr
    assert message in result.stderr
