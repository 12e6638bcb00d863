"""How a rendered message leaves the clinic: email through Django's email backend, texts
through an ``SmsBackend``.

Every send carries the message's idempotency key, so a send repeated after a crash (the
worker died after the provider accepted the message but before the outbox row was marked
sent) is not delivered twice:

- texts: the key is the provider's ``Idempotency-Key``; a provider that honours it answers
  a repeat with its first answer and delivers nothing new (``FileSmsBackend`` does the same).
  Twilio has no such key for sending (``TwilioSmsBackend``): there, exactly once rests on
  the outbox's claim and lease alone;
- email: SMTP has no such thing, so the key becomes the ``Message-ID`` (a hash of it): a
  repeat is the same message to mail systems and clients, which file it once.

Errors that reach the outbox say what failed without patient data (``ChannelError``).

A channel says whether its provider honours the idempotency key
(``honours_idempotency_keys``): the outbox sends the texts of one that does in batches, one
transaction each, since a batch that dies half-way is sent again harmlessly; every other
message goes on its own. HTTP providers are called through one ``urllib3`` connection pool
per process (``http_pool``), which keeps the connection open from one text to the next.
"""

from __future__ import annotations

import base64
import fcntl
import functools
import hashlib
import json
import logging
import os
import urllib.parse
import urllib.request
from email.utils import parseaddr
from pathlib import Path
from typing import TYPE_CHECKING

import urllib3
from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.utils import timezone
from django.utils.module_loading import import_string

from clinic.messaging import unsubscribe
from clinic.models import OutboxChannel

if TYPE_CHECKING:
    from clinic.messaging.registry import Rendered
    from clinic.models import OutboxMessage

logger = logging.getLogger(__name__)


class ChannelError(Exception):
    """A send that did not go through. ``str(error)`` is safe to store and log (no address,
    no text); ``permanent`` says that sending again would fail the same way (the provider
    refused the request), so the message is not retried. ``no_answer`` says the provider
    could not be reached or did not answer in time: the outbox tries no more of a batch's
    messages for now, rather than wait out the timeout for each."""

    def __init__(self, message: str, *, permanent: bool = False, no_answer: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.no_answer = no_answer


def honours_idempotency_keys(channel: str) -> bool:
    """Whether the provider of ``channel`` delivers a message sent twice with the same
    idempotency key once. Email: no (SMTP has no such thing; the Message-ID only lets some
    mail clients file a repeat once). Texts: as the configured ``SmsBackend`` says (a
    backend that cannot be loaded: no, and each text's send records why it failed)."""
    if channel != OutboxChannel.SMS:
        return False
    try:
        return sms_backend_class().honours_idempotency_keys
    except ImportError:
        return False


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


def send_sms(
    message: OutboxMessage, rendered: Rendered, *, to: str = "", backend: SmsBackend | None = None
) -> str:
    """Send ``rendered.body`` to ``to`` (default ``recipient_for(message)``) through
    ``backend`` (default: the configured one), with the message's idempotency key; returns
    the provider's reference."""
    return (backend or sms_backend()).send(
        to=to or recipient_for(message),
        body=rendered.body,
        idempotency_key=message.idempotency_key,
    )


class SmsBackend:
    """Sends one text. ``send`` returns the provider's reference for it and raises
    ``ChannelError`` when it was not accepted; with ``honours_idempotency_keys`` the same
    ``idempotency_key`` twice delivers once (the second call returns the first reference).
    A backend whose provider does not (Twilio) says so, and its texts are sent one at a
    time, each in its own transaction."""

    honours_idempotency_keys = True

    def send(self, *, to: str, body: str, idempotency_key: str) -> str:
        raise NotImplementedError


SMS_BACKENDS = {
    "file": "clinic.messaging.channels.FileSmsBackend",
    "http": "clinic.messaging.channels.HttpSmsBackend",
    "twilio": "clinic.messaging.channels.TwilioSmsBackend",
}


def sms_backend_class() -> type[SmsBackend]:
    """The class ``SMS_BACKEND`` names: ``file``, ``http``, ``twilio``, or a dotted class
    path."""
    name = settings.SMS_BACKEND
    return import_string(SMS_BACKENDS.get(name, name))


def sms_backend() -> SmsBackend:
    """The backend ``SMS_BACKEND`` names (``sms_backend_class``)."""
    return sms_backend_class()()


_pools: dict[tuple[int, str], urllib3.PoolManager] = {}


def http_pool(url: str) -> urllib3.PoolManager:
    """This process's connection pool for ``url``: it keeps connections open, so a text
    costs one request rather than a new TCP connection and a request. Through the proxy the
    environment names for ``url``, if any (``https_proxy``, ``no_proxy``…, as urllib reads
    them). One per process: a worker's pool processes are forked, and must not share their
    parent's sockets."""
    pid = os.getpid()
    proxy = _proxy_for(url)
    pool = _pools.get((pid, proxy))
    if pool is None:
        if any(owner != pid for owner, _proxy in _pools):
            _pools.clear()
        pool = urllib3.ProxyManager(proxy) if proxy else urllib3.PoolManager()
        _pools[(pid, proxy)] = pool
    return pool


@functools.cache
def _proxy_for(url: str) -> str:
    """The proxy the environment names for ``url``, or "" (read once per address)."""
    parts = urllib.parse.urlsplit(url)
    if urllib.request.proxy_bypass(parts.hostname or ""):
        return ""
    return urllib.request.getproxies().get(parts.scheme, "")


def _post(url: str, *, data: bytes, headers: dict[str, str], timeout: float) -> tuple[int, bytes]:
    """POST ``data`` to ``url`` through ``http_pool``; the answer's status and body (at most
    64 KiB kept). Raises ``urllib3.exceptions.HTTPError`` when there was no answer. Not
    retried, and redirects are not followed."""
    response = http_pool(url).request(
        "POST",
        url,
        body=data,
        headers=headers,
        timeout=urllib3.Timeout(connect=timeout, read=timeout),
        retries=False,
        redirect=False,
    )
    return response.status, response.data[:65536]


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
        try:
            status, answer = _post(
                self.url,
                data=json.dumps(payload).encode(),
                headers={
                    "Content-Type": "application/json",
                    "Accept": "application/json",
                    "Authorization": self._authorization(),
                    "Idempotency-Key": idempotency_key,
                },
                timeout=self.timeout,
            )
        except urllib3.exceptions.HTTPError as exc:
            raise _unreachable(exc, "The SMS provider", self.timeout) from None
        if not 200 <= status < 300:
            permanent = 400 <= status < 500 and status not in self.RETRYABLE_CLIENT_ERRORS
            raise ChannelError(f"The SMS provider answered {status}.", permanent=permanent)
        return _provider_reference(answer)


def _unreachable(exc: urllib3.exceptions.HTTPError, provider: str, timeout: float) -> ChannelError:
    """The error for a request that got no answer (worth trying again later)."""
    errors = urllib3.exceptions
    if isinstance(exc, errors.TimeoutError) and not isinstance(exc, errors.NewConnectionError):
        return ChannelError(f"{provider} did not answer within {timeout:g} s.", no_answer=True)
    reason = _first_os_error(exc)
    detail = getattr(reason, "strerror", None) or type(reason or exc).__name__
    return ChannelError(f"{provider} could not be reached ({detail}).", no_answer=True)


def _first_os_error(exc: BaseException) -> OSError | None:
    """The socket error under the exception urllib3 wraps it in (``Connection refused``), or
    None."""
    seen: set[int] = set()
    todo: list[object] = [exc]
    while todo:
        error = todo.pop(0)
        if not isinstance(error, BaseException) or id(error) in seen:
            continue
        seen.add(id(error))
        if isinstance(error, OSError) and error.strerror:
            return error
        todo.extend([getattr(error, "reason", None), error.__cause__, error.__context__])
        todo.extend(error.args)
    return None


def _provider_reference(answer: bytes) -> str:
    try:
        data = json.loads(answer or b"{}")
    except ValueError:
        return ""
    if not isinstance(data, dict):
        return ""
    return str(data.get("id") or data.get("sid") or "")[:100]


class TwilioSmsBackend(SmsBackend):
    """Production, with Twilio: creates a Message resource through Twilio's REST API (plain
    HTTP, no SDK): ``POST {SMS_API_URL}/2010-04-01/Accounts/{SMS_TWILIO_ACCOUNT_SID}/Messages.json``
    with the form fields ``To``, ``From`` (``SMS_FROM_NUMBER``) and ``Body``, authenticated
    with HTTP Basic (the account SID and its auth token, ``SMS_API_TOKEN``). A 2xx answer is
    accepted and its JSON ``sid`` (``SM…``) is the reference.

    Twilio documents no idempotency key for creating messages: every accepted request is a
    new text (``honours_idempotency_keys`` is False, so the outbox sends its texts one at a
    time). Exactly once therefore rests on the outbox's claim and lease only; a worker
    that dies after Twilio accepted a text and before the outbox row was marked sent leaves
    the row to be claimed again when its lease runs out, and the patient gets that text
    twice. The key still goes along as ``Idempotency-Key`` (Twilio ignores it; it names the
    text for a proxy's logs or a test's fake).

    A refusal is a ``ChannelError`` naming the status and Twilio's numeric error code, never
    Twilio's message (it quotes the number). 4xx answers are permanent except 401 (a wrong
    SID or token: the configuration's fault, not the text's, so it is tried again once it is
    fixed), 408, 409, 425 and 429; error 21610 means the recipient texted STOP to our number
    and Twilio blocks every text to them until they text START."""

    API_VERSION = "2010-04-01"
    DEFAULT_URL = "https://api.twilio.com"
    RETRYABLE_CLIENT_ERRORS = frozenset({401, 408, 409, 425, 429})
    OPTED_OUT = 21610
    honours_idempotency_keys = False

    def __init__(
        self,
        *,
        base_url: str | None = None,
        account_sid: str | None = None,
        auth_token: str | None = None,
        from_number: str | None = None,
        timeout: float | None = None,
    ) -> None:
        base = (base_url or settings.SMS_API_URL or self.DEFAULT_URL).rstrip("/")
        if not base.startswith(("https://", "http://")):
            raise ChannelError("SMS_API_URL must be an http(s) address.", permanent=True)
        self.account_sid = account_sid or settings.SMS_TWILIO_ACCOUNT_SID
        self.auth_token = auth_token if auth_token is not None else settings.SMS_API_TOKEN
        self.from_number = from_number or settings.SMS_FROM_NUMBER
        self.timeout = timeout or settings.SMS_TIMEOUT_SECONDS
        account = urllib.parse.quote(self.account_sid, safe="")
        self.url = f"{base}/{self.API_VERSION}/Accounts/{account}/Messages.json"

    def _authorization(self) -> str:
        credentials = f"{self.account_sid}:{self.auth_token}".encode()
        return "Basic " + base64.b64encode(credentials).decode("ascii")

    def send(self, *, to: str, body: str, idempotency_key: str) -> str:
        form = urllib.parse.urlencode({"To": to, "From": self.from_number, "Body": body})
        try:
            status, answer = _post(
                self.url,
                data=form.encode(),
                headers={
                    "Content-Type": "application/x-www-form-urlencoded",
                    "Accept": "application/json",
                    "Authorization": self._authorization(),
                    "Idempotency-Key": idempotency_key,
                },
                timeout=self.timeout,
            )
        except urllib3.exceptions.HTTPError as exc:
            raise _unreachable(exc, "Twilio", self.timeout) from None
        if not 200 <= status < 300:
            raise self._refused(status, _twilio_error_code(answer))
        return _provider_reference(answer)

    def _refused(self, status: int, code: int | None) -> ChannelError:
        permanent = 400 <= status < 500 and status not in self.RETRYABLE_CLIENT_ERRORS
        if code is None:
            return ChannelError(f"Twilio answered {status}.", permanent=permanent)
        if code == self.OPTED_OUT:
            return ChannelError(
                f"Twilio answered {status} (error {code}: the recipient has opted out of texts "
                "from our number at Twilio).",
                permanent=True,
            )
        return ChannelError(f"Twilio answered {status} (error {code}).", permanent=permanent)


def _twilio_error_code(answer: bytes) -> int | None:
    """Twilio's numeric error code in an error answer (``{"code": 21211, "message": …}``),
    or None. Only the number is kept: the message may quote the recipient's number."""
    try:
        data = json.loads(answer or b"{}")
    except ValueError:
        return None
    code = data.get("code") if isinstance(data, dict) else None
    if isinstance(code, bool):
        return None
    if isinstance(code, int):
        return code
    if isinstance(code, str) and code.isascii() and code.isdigit() and len(code) <= 9:
        return int(code)
    return None
