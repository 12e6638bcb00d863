"""How a rendered message leaves the clinic: email through Django's email backend, texts
through an ``SmsBackend``.

Every send carries the message's idempotency key, so a send repeated after a crash (the
worker died after the provider accepted the message but before the outbox row was marked
sent) is not delivered twice:

- texts: the key is the provider's ``Idempotency-Key``; a provider that honours it answers
  a repeat with its first answer and delivers nothing new (``FileSmsBackend`` does the same);
- email: SMTP has no such thing, so the key becomes the ``Message-ID`` (a hash of it): a
  repeat is the same message to mail systems and clients, which file it once.

Errors that reach the outbox say what failed without patient data (``ChannelError``).
"""

from __future__ import annotations

import base64
import fcntl
import hashlib
import json
import logging
import urllib.error
import urllib.request
from email.utils import parseaddr
from pathlib import Path
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.utils import timezone
from django.utils.module_loading import import_string

from clinic.models import OutboxChannel

if TYPE_CHECKING:
    from clinic.messaging.registry import Rendered
    from clinic.models import OutboxMessage

logger = logging.getLogger(__name__)


class ChannelError(Exception):
    """A send that did not go through. ``str(error)`` is safe to store and log (no address,
    no text); ``permanent`` says that sending again would fail the same way (the provider
    refused the request), so the message is not retried."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


# --- Recipients ---------------------------------------------------------------------------


def recipient_for(message: OutboxMessage) -> str:
    """Where ``message`` goes: the patient's email address or mobile number as they are now
    (a corrected one is used), or the address a staff message names. Empty: nowhere.

    Reads ``message.patient`` (a query unless it was selected with the message)."""
    if message.patient_id is None:
        return message.recipient
    patient = message.patient
    return patient.email if message.channel == OutboxChannel.EMAIL else patient.mobile


# --- Email ------------------------------------------------------------------------------


def email_message_id(idempotency_key: str) -> str:
    """The ``Message-ID`` of the email named ``idempotency_key``: the same for every attempt,
    and opaque (a hash: the key names appointments)."""
    digest = hashlib.sha256(idempotency_key.encode()).hexdigest()[:40]
    _name, address = parseaddr(settings.DEFAULT_FROM_EMAIL)
    domain = address.rpartition("@")[2] or "chairside.invalid"
    return f"<{digest}@{domain}>"


def send_email(message: OutboxMessage, rendered: Rendered, *, to: str = "") -> str:
    """Send ``rendered`` to ``to`` (default ``recipient_for(message)``) through
    ``EMAIL_BACKEND``; returns the Message-ID as the provider reference.

    With an unsubscribe URL for the message (``clinic.messaging.unsubscribe``) the email
    carries ``List-Unsubscribe`` and ``List-Unsubscribe-Post`` (RFC 8058 one-click)."""
    # Imported here: unsubscribe reaches into the patients app, which enqueues messages.
    from clinic.messaging import unsubscribe

    message_id = email_message_id(message.idempotency_key)
    headers = {"Message-ID": message_id}
    url = unsubscribe.unsubscribe_url(message)
    if url:
        headers["List-Unsubscribe"] = f"<{url}>"
        headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    email = EmailMultiAlternatives(
        subject=rendered.subject,
        body=rendered.body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[to or recipient_for(message)],
        headers=headers,
    )
    if rendered.html:
        email.attach_alternative(rendered.html, "text/html")
    for name, content, mimetype in rendered.attachments:
        email.attach(name, content, mimetype)
    try:
        email.send()
    except OSError as exc:  # smtplib's errors are OSErrors; their text may name the address
        # A 5xx answer is final (no such mailbox, message refused): sending again won't help.
        permanent = (getattr(exc, "smtp_code", None) or 0) >= 500
        raise ChannelError(_smtp_failure(exc), permanent=permanent) from None
    return message_id


def _smtp_failure(exc: OSError) -> str:
    code = getattr(exc, "smtp_code", None)
    if code is not None:
        return f"The mail server refused the message ({type(exc).__name__} {code})."
    if exc.strerror:
        return f"The mail server could not be reached ({exc.strerror})."
    return f"The mail server could not take the message ({type(exc).__name__})."


# --- Text messages ------------------------------------------------------------------------


def send_sms(message: OutboxMessage, rendered: Rendered, *, to: str = "") -> str:
    """Send ``rendered.body`` to ``to`` (default ``recipient_for(message)``) through the
    configured backend, with the message's idempotency key; returns the provider's
    reference."""
    return sms_backend().send(
        to=to or recipient_for(message),
        body=rendered.body,
        idempotency_key=message.idempotency_key,
    )


class SmsBackend:
    """Sends one text. ``send`` returns the provider's reference for it and raises
    ``ChannelError`` when it was not accepted; the same ``idempotency_key`` twice must
    deliver once (the second call returns the first reference)."""

    def send(self, *, to: str, body: str, idempotency_key: str) -> str:
        raise NotImplementedError


SMS_BACKENDS = {
    "file": "clinic.messaging.channels.FileSmsBackend",
    "http": "clinic.messaging.channels.HttpSmsBackend",
}


def sms_backend() -> SmsBackend:
    """The backend ``SMS_BACKEND`` names: ``file``, ``http``, or a dotted class path."""
    name = settings.SMS_BACKEND
    return import_string(SMS_BACKENDS.get(name, name))()


class FileSmsBackend(SmsBackend):
    """Development: each text is one JSON line in ``SMS_FILE_PATH/outbox.jsonl``; a key
    already in the file is not written again (its first reference is returned)."""

    FILE_NAME = "outbox.jsonl"

    def __init__(self, folder: str | Path | None = None) -> None:
        self.path = Path(folder or settings.SMS_FILE_PATH) / self.FILE_NAME

    def send(self, *, to: str, body: str, idempotency_key: str) -> str:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a+", encoding="utf-8") as file:
            # Workers in other processes append to the same file: one at a time.
            fcntl.flock(file, fcntl.LOCK_EX)
            file.seek(0)
            for line in file:
                sent = json.loads(line)
                if sent.get("idempotency_key") == idempotency_key:
                    return sent["reference"]
            reference = "file-" + hashlib.sha256(idempotency_key.encode()).hexdigest()[:24]
            entry = {
                "reference": reference,
                "idempotency_key": idempotency_key,
                "to": to,
                "body": body,
                "sent_at": timezone.now().isoformat(),
            }
            file.write(json.dumps(entry) + "\n")
            return reference


class HttpSmsBackend(SmsBackend):
    """Production: ``POST SMS_API_URL`` with JSON ``{"to", "from", "body", "reference"}`` and
    the idempotency key as ``Idempotency-Key`` (and as ``reference``), authenticated with
    ``SMS_API_TOKEN``: a token of the form ``user:password`` (e.g. an account id and its
    secret) is sent as HTTP Basic, any other as a Bearer token. A 2xx answer is accepted; its
    JSON ``id`` (or ``sid``) is the reference. Anything else is a ``ChannelError`` naming
    only the status; a 4xx other than 408, 409 and 429 is permanent (the provider refused
    this text: sending it again would fail the same way)."""

    RETRYABLE_CLIENT_ERRORS = frozenset({408, 409, 425, 429})

    def __init__(
        self, url: str | None = None, token: str | None = None, timeout: float | None = None
    ) -> None:
        self.url = url or settings.SMS_API_URL
        self.token = token if token is not None else settings.SMS_API_TOKEN
        self.timeout = timeout or settings.SMS_TIMEOUT_SECONDS
        if not self.url.startswith(("https://", "http://")):
            raise ChannelError("SMS_API_URL must be an http(s) address.", permanent=True)

    def _authorization(self) -> str:
        if ":" in self.token:
            return "Basic " + base64.b64encode(self.token.encode()).decode("ascii")
        return f"Bearer {self.token}"

    def send(self, *, to: str, body: str, idempotency_key: str) -> str:
        payload = {
            "to": to,
            "from": settings.SMS_FROM_NUMBER,
            "body": body,
            "reference": idempotency_key,
        }
        request = urllib.request.Request(  # noqa: S310 (the scheme is checked in __init__)
            self.url,
            data=json.dumps(payload).encode(),
            method="POST",
            headers={
                "Content-Type": "application/json",
                "Accept": "application/json",
                "Authorization": self._authorization(),
                "Idempotency-Key": idempotency_key,
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                answer = response.read(65536)
        except urllib.error.HTTPError as exc:
            exc.close()
            permanent = 400 <= exc.code < 500 and exc.code not in self.RETRYABLE_CLIENT_ERRORS
            raise ChannelError(
                f"The SMS provider answered {exc.code}.", permanent=permanent
            ) from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            if isinstance(reason, TimeoutError):
                raise ChannelError(
                    f"The SMS provider did not answer within {self.timeout:g} s."
                ) from None
            detail = getattr(reason, "strerror", None) or type(reason).__name__
            raise ChannelError(f"The SMS provider could not be reached ({detail}).") from None
        return _provider_reference(answer)


def _provider_reference(answer: bytes) -> str:
    try:
        data = json.loads(answer or b"{}")
    except ValueError:
        return ""
    if not isinstance(data, dict):
        return ""
    return str(data.get("id") or data.get("sid") or "")[:100]
