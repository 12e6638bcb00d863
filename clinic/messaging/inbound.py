"""Texts patients send us: the SMS provider posts each one to our webhook.

The provider signs the raw body with the shared ``SMS_WEBHOOK_SECRET`` (hex HMAC-SHA256 in
the ``X-Chairside-Signature`` header); anything unsigned or signed with another secret is
refused before it is read. The body is JSON ``{"from": "+15551230123", "body": "STOP",
"id": "<the provider's message id>"}``.

Twilio posts its own format to its own endpoint: form fields (``From``, ``Body``,
``MessageSid``, …) signed in ``X-Twilio-Signature`` with the account's auth token
(``twilio_signature_valid``). Both end in ``sms_inbound_receive``.

A text that is only an opt-out word (STOP, QUIT, END, REVOKE, OPT OUT, CANCEL,
UNSUBSCRIBE; any case, surrounding spaces ignored) withdraws text consent at once for every
patient with that mobile number, skips the texts waiting for them, and queues one
confirmation, named by the provider's message id: a webhook delivered twice confirms once.
Other texts are acknowledged and dropped; nothing a patient writes, nor their number,
reaches the logs.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest

from clinic.messaging.opt_out import consent_withdraw
from clinic.messaging.outbox import outbox_enqueue
from clinic.messaging.recipients import patient_directory
from clinic.messaging.unsubscribe import STOP_CONFIRMATION_KIND
from clinic.models import OutboxChannel
from clinic.phones import E164

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Chairside-Signature"
STOP_WORDS = frozenset({"STOP", "QUIT", "END", "REVOKE", "OPT OUT", "CANCEL", "UNSUBSCRIBE"})
MAX_ID_LENGTH = 100


class InboundError(Exception):
    """The webhook's body cannot be used; ``str(error)`` says what is wrong with it."""


@dataclass(frozen=True)
class InboundText:
    sender: str
    body: str
    message_id: str


@dataclass(frozen=True)
class InboundResult:
    """What a text did: ``opted_out`` patients (0 when it was not an opt-out word or the
    number is nobody's)."""

    stop_word: str | None
    opted_out: int


def signature_for(body: bytes, secret: str) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def signature_valid(body: bytes, signature: str) -> bool:
    """Whether ``signature`` (hex, optionally "sha256=…") is the body's HMAC under
    ``SMS_WEBHOOK_SECRET``; always False while no secret is set. Constant-time."""
    secret = settings.SMS_WEBHOOK_SECRET
    if not secret or not signature:
        return False
    given = signature.strip().lower().removeprefix("sha256=")
    expected = signature_for(body, secret)
    return hmac.compare_digest(expected.encode(), given.encode("utf-8", "replace"))


def inbound_parse(body: bytes) -> InboundText:
    """The text in a webhook body, or InboundError saying what is missing."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise InboundError('The body must be JSON: {"from", "body", "id"}.') from None
    if not isinstance(data, dict):
        raise InboundError('The body must be a JSON object: {"from", "body", "id"}.')
    sender, text, message_id = data.get("from"), data.get("body"), data.get("id")
    if not isinstance(sender, str) or not sender.strip():
        raise InboundError('"from" must be the sender\'s number, e.g. "+15551230123".')
    if not isinstance(text, str):
        raise InboundError('"body" must be the text of the message (a string).')
    if not isinstance(message_id, str | int) or not str(message_id).strip():
        raise InboundError('"id" must be the provider\'s id for this message.')
    message_id = str(message_id).strip()
    if len(message_id) > MAX_ID_LENGTH:
        raise InboundError(f'"id" is too long: {MAX_ID_LENGTH} characters at most.')
    return InboundText(sender=sender.strip(), body=text, message_id=message_id)


# --- Twilio -------------------------------------------------------------------------------

TWILIO_SIGNATURE_HEADER = "X-Twilio-Signature"
_TWILIO_MESSAGE_SID = re.compile(r"[A-Z]{2}[0-9a-fA-F]{32}")


def twilio_signature_for(url: str, params: Iterable[tuple[str, str]], token: str) -> str:
    """Twilio's signature of a request (its "Webhooks security" rules): the full URL it
    called, then each POST parameter's name and value with nothing between, sorted by name
    (a name given twice: its values sorted), HMAC-SHA1 with the auth token, in base64."""
    data = url + "".join(name + value for name, value in sorted(params))
    digest = hmac.new(token.encode(), data.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def _with_and_without_port(url: str) -> list[str]:
    """The URL as given and with its default port (443, 80) shown or left out: Twilio's own
    libraries accept either, as the URL Twilio signs may or may not carry it."""
    parts = urlsplit(url)
    default = {"https": 443, "http": 80}.get(parts.scheme)
    try:
        port = parts.port
    except ValueError:
        return [url]
    if default is None or port not in (None, default):
        return [url]
    # Shown when left out, left out when shown.
    netloc = f"{parts.netloc}:{default}" if port is None else parts.netloc.rsplit(":", 1)[0]
    return [url, urlunsplit(parts._replace(netloc=netloc))]


def twilio_signature_valid(url: str, params: Iterable[tuple[str, str]], signature: str) -> bool:
    """Whether ``signature`` (the ``X-Twilio-Signature`` header) is Twilio's for a request to
    ``url`` with ``params``, under the auth token ``SMS_API_TOKEN``. Always False unless
    ``SMS_BACKEND`` is ``twilio`` (the token is another provider's otherwise) and a token is
    set. Constant-time."""
    token = settings.SMS_API_TOKEN
    if settings.SMS_BACKEND != "twilio" or not token or not signature:
        return False
    params = list(params)
    given = signature.strip().encode("utf-8", "replace")
    valid = False
    for candidate in _with_and_without_port(url):
        expected = twilio_signature_for(candidate, params, token).encode()
        valid |= hmac.compare_digest(expected, given)
    return valid


def twilio_request_url(request: HttpRequest) -> str:
    """The address Twilio called, for its signature: ``SITE_URL``'s scheme and host (behind
    a proxy that ends TLS, the request's own would say http and maybe another host) and the
    path and query string of the request."""
    site = urlsplit(settings.SITE_URL)
    return f"{site.scheme}://{site.netloc}{request.get_full_path()}"


def twilio_inbound_parse(params: Iterable[tuple[str, str]]) -> InboundText:
    """The text in Twilio's form fields, or InboundError saying what is missing."""
    fields: dict[str, str] = {}
    for name, value in params:
        fields.setdefault(name, value)
    sender = fields.get("From", "").strip()
    message_id = fields.get("MessageSid", "").strip()
    if not sender:
        raise InboundError('"From" must be the sender\'s number, e.g. "+15551230123".')
    if not _TWILIO_MESSAGE_SID.fullmatch(message_id):
        raise InboundError('"MessageSid" must be Twilio\'s id for this message (SM…).')
    return InboundText(sender=sender, body=fields.get("Body", ""), message_id=message_id)


# --- Acting on a text ---------------------------------------------------------------------


def stop_word(text: str) -> str | None:
    """The opt-out word the whole text is ("  stop ", "Opt  out!"), or None."""
    words = " ".join(text.split()).strip(".!").strip().upper()
    return words if words in STOP_WORDS else None


def stop_confirmation_key(message_id: str) -> str:
    return f"sms-inbound:{message_id}:stop-confirmation"


@transaction.atomic
def sms_inbound_receive(*, text: InboundText, request: HttpRequest | None = None) -> InboundResult:
    """Act on one inbound text (see the module's docstring). Safe to call again with the
    same text: consent stays withdrawn and the confirmation is queued once."""
    word = stop_word(text.body)
    if word is None:
        logger.info("Inbound text %s: not an opt-out word, nothing to do.", text.message_id)
        return InboundResult(stop_word=None, opted_out=0)
    # The E.164 shape only, not the numbering plan: a number stored before the plan was
    # checked must still be able to opt out.
    patients = (
        patient_directory().patients_with_mobile(text.sender) if E164.fullmatch(text.sender) else []
    )
    if not patients:
        logger.info("Inbound text %s: opt-out from a number we do not know.", text.message_id)
        return InboundResult(stop_word=word, opted_out=0)
    for patient in patients:
        consent_withdraw(
            patient=patient, channel=OutboxChannel.SMS, method=f"text {word}", request=request
        )
    # One confirmation to the number, even when it is shared by several patients.
    first = patients[0]
    outbox_enqueue(
        key=stop_confirmation_key(text.message_id),
        kind=STOP_CONFIRMATION_KIND,
        channel=OutboxChannel.SMS,
        patient=first,
        location=first.preferred_location,
    )
    logger.info(
        "Inbound text %s: opt-out word, text consent withdrawn for %d patient(s).",
        text.message_id,
        len(patients),
    )
    return InboundResult(stop_word=word, opted_out=len(patients))
