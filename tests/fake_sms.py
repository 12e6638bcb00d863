"""A fake SMS provider on 127.0.0.1, for tests and the outbox benchmark.

It answers what ``clinic.messaging.channels.HttpSmsBackend`` sends: ``POST`` of JSON
``{"to", "from", "body", "reference"}`` with an ``Idempotency-Key`` header. Like a real
provider that honours the header, the first request with a key is *delivered* (recorded in
``deliveries``) and answered ``201 {"id": …}``; a later request with the same key gets the
same answer and delivers nothing (it is counted in ``repeats``). ``fail_next(n)`` makes the
next ``n`` requests fail (503 by default) without delivering, as a provider outage would.
``hold()`` delivers new texts but keeps their answers back until ``release()``, so a test
can kill a worker that is waiting for the provider after the text went out.

    with FakeSmsProvider() as provider:
        settings.SMS_API_URL = provider.url
        ...
        assert provider.delivered_keys() == {...}

Runs in a thread of the test process (``http.server``), so the test reads what it recorded
directly; workers in other processes reach it over HTTP.

``FakeTwilio`` plays Twilio's Messages API for ``TwilioSmsBackend``, as Twilio behaves: a
form POST to ``/2010-04-01/Accounts/<sid>/Messages.json`` with HTTP Basic auth, answered
``201 {"sid": "SM…"}``; no idempotency key, so every accepted request is a new text.
"""

from __future__ import annotations

import base64
import json
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs


@dataclass(frozen=True)
class Delivery:
    """One text the fake delivered: the request as it came."""

    idempotency_key: str
    payload: dict[str, Any]
    headers: dict[str, str]
    reference: str


@dataclass
class _State:
    lock: threading.Lock = field(default_factory=threading.Lock)
    deliveries: list[Delivery] = field(default_factory=list)
    answers: dict[str, str] = field(default_factory=dict)  # key -> reference
    repeats: Counter = field(default_factory=Counter)  # key -> requests after the first
    requests: int = 0
    connections: int = 0
    fail_count: int = 0
    fail_status: int = 503
    delay: float = 0.0
    released: threading.Event = field(default_factory=threading.Event)
    held_keys: list[str] = field(default_factory=list)


class FakeSmsProvider:
    def __init__(self, *, delay: float = 0.0) -> None:
        self._state = _State(delay=delay)
        self._state.released.set()
        state = self._state

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # The answer's headers and body are two writes: without this, on a kept-alive
            # connection the body waits for the client's delayed ACK (40 ms), which no real
            # provider makes a client wait.
            disable_nagle_algorithm = True

            def setup(self) -> None:
                super().setup()
                with state.lock:
                    state.connections += 1

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                if state.delay:
                    time.sleep(state.delay)
                key = self.headers.get("Idempotency-Key", "")
                with state.lock:
                    state.requests += 1
                    if state.fail_count > 0:
                        state.fail_count -= 1
                        self._answer(state.fail_status, {"error": "try again later"})
                        return
                    if not key:
                        self._answer(400, {"error": "Idempotency-Key is required"})
                        return
                    reference = state.answers.get(key)
                    held = False
                    if reference is not None:
                        state.repeats[key] += 1
                    else:
                        reference = f"SM{len(state.answers) + 1:08d}"
                        state.answers[key] = reference
                        state.deliveries.append(
                            Delivery(
                                idempotency_key=key,
                                payload=json.loads(raw or b"{}"),
                                headers=dict(self.headers.items()),
                                reference=reference,
                            )
                        )
                        held = not state.released.is_set()
                        if held:
                            state.held_keys.append(key)
                if held:
                    state.released.wait()
                self._answer(201, {"id": reference, "status": "queued"})

            def _answer(self, status: int, data: dict[str, Any]) -> None:
                body = json.dumps(data).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the worker that asked is gone (a test killed it)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # quiet: thousands of requests per test

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/messages"

    def start(self) -> FakeSmsProvider:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.release()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> FakeSmsProvider:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # --- Steering and reading --------------------------------------------------------------

    def fail_next(self, count: int, *, status: int = 503) -> None:
        """Answer the next ``count`` requests with ``status``, delivering nothing."""
        with self._state.lock:
            self._state.fail_count = count
            self._state.fail_status = status

    def hold(self) -> None:
        """From now on, deliver texts but answer only after ``release()``."""
        self._state.released.clear()

    def release(self) -> None:
        self._state.released.set()

    @property
    def held_keys(self) -> list[str]:
        """Keys delivered while held (their answers kept back)."""
        with self._state.lock:
            return list(self._state.held_keys)

    @property
    def deliveries(self) -> list[Delivery]:
        with self._state.lock:
            return list(self._state.deliveries)

    @property
    def requests(self) -> int:
        with self._state.lock:
            return self._state.requests

    @property
    def connections(self) -> int:
        """TCP connections made to the fake (a client that keeps them alive makes one)."""
        with self._state.lock:
            return self._state.connections

    def delivered_count(self) -> int:
        with self._state.lock:
            return len(self._state.deliveries)

    def delivered_keys(self) -> Counter:
        """How many times each key was delivered (1 each, for a provider that honours keys;
        counted from the deliveries, so a bug here would show as a 2)."""
        with self._state.lock:
            return Counter(delivery.idempotency_key for delivery in self._state.deliveries)

    def repeats(self) -> Counter:
        """Requests that repeated a key already delivered, by key."""
        with self._state.lock:
            return Counter(self._state.repeats)


# --- Twilio -------------------------------------------------------------------------------


@dataclass(frozen=True)
class TwilioRequest:
    """One request the fake Twilio got, as it came, and the message SID it answered with
    (None when it refused the request)."""

    path: str
    form: dict[str, list[str]]
    headers: dict[str, str]
    sid: str | None


@dataclass
class _TwilioState:
    account_sid: str
    auth_token: str
    lock: threading.Lock = field(default_factory=threading.Lock)
    requests: list[TwilioRequest] = field(default_factory=list)
    failures: list[tuple[int, int | None]] = field(default_factory=list)
    opted_out: set[str] = field(default_factory=set)


class FakeTwilio:
    """Twilio's "create a Message" endpoint on 127.0.0.1 (``url`` is the base, standing in
    for https://api.twilio.com). It checks what Twilio checks and answers as Twilio does:

    - another path: 404, error 20404; wrong Basic credentials: 401, error 20003;
    - no ``To``/``From``/``Body``: 400, errors 21604/21603/21602;
    - a number that texted STOP (``opt_out``): 400, error 21610;
    - ``fail_next(n, status=…, code=…)``: the next ``n`` requests get that answer;
    - otherwise ``201`` with the message's JSON (``sid`` = ``SM`` + 32 hex digits).

    Error answers carry a ``message`` quoting the number, as Twilio's do, so a test can show
    that it goes nowhere. Nothing is deduplicated: a request sent twice is two texts.
    """

    def __init__(self, *, account_sid: str, auth_token: str) -> None:
        self._state = _TwilioState(account_sid=account_sid, auth_token=auth_token)
        state = self._state
        messages_path = f"/2010-04-01/Accounts/{account_sid}/Messages.json"
        expected_auth = "Basic " + base64.b64encode(f"{account_sid}:{auth_token}".encode()).decode(
            "ascii"
        )

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # The answer's headers and body are two writes: without this, on a kept-alive
            # connection the body waits for the client's delayed ACK (40 ms), which no real
            # provider makes a client wait.
            disable_nagle_algorithm = True

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                form = parse_qs(self.rfile.read(length).decode(), keep_blank_values=True)
                to = (form.get("To") or [""])[0]
                with state.lock:
                    status, data = self._decide(form, to)
                    state.requests.append(
                        TwilioRequest(
                            path=self.path,
                            form=form,
                            headers=dict(self.headers.items()),
                            sid=data.get("sid") if status == 201 else None,
                        )
                    )
                self._answer(status, data)

            def _decide(self, form: dict[str, list[str]], to: str) -> tuple[int, dict[str, Any]]:
                if self.path != messages_path:
                    return _twilio_error(
                        404, 20404, f"The requested resource {self.path} was not found"
                    )
                if self.headers.get("Authorization") != expected_auth:
                    return _twilio_error(401, 20003, "Authenticate")
                if state.failures:
                    status, code = state.failures.pop(0)
                    return _twilio_error(status, code, f"Could not send to {to}, try again later.")
                for name, code in (("To", 21604), ("From", 21603), ("Body", 21602)):
                    if not (form.get(name) or [""])[0]:
                        return _twilio_error(400, code, f"A '{name}' is required.")
                if to in state.opted_out:
                    return _twilio_error(
                        400,
                        21610,
                        f"Attempt to send to unsubscribed recipient: 'To' number {to} has "
                        "replied STOP.",
                    )
                sid = "SM" + uuid.uuid4().hex
                return 201, {
                    "sid": sid,
                    "account_sid": state.account_sid,
                    "to": to,
                    "from": form["From"][0],
                    "body": form["Body"][0],
                    "status": "queued",
                    "direction": "outbound-api",
                    "api_version": "2010-04-01",
                    "error_code": None,
                    "error_message": None,
                    "uri": f"/2010-04-01/Accounts/{state.account_sid}/Messages/{sid}.json",
                }

            def _answer(self, status: int, data: dict[str, Any]) -> None:
                body = json.dumps(data).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> FakeTwilio:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def fail_next(self, count: int, *, status: int = 503, code: int | None = 20500) -> None:
        """Answer the next ``count`` requests with ``status`` (and Twilio error ``code``)."""
        with self._state.lock:
            self._state.failures = [(status, code)] * count

    def opt_out(self, number: str) -> None:
        """``number`` texted STOP: Twilio refuses texts to it from now on (error 21610)."""
        with self._state.lock:
            self._state.opted_out.add(number)

    @property
    def requests(self) -> list[TwilioRequest]:
        with self._state.lock:
            return list(self._state.requests)

    @property
    def messages(self) -> list[TwilioRequest]:
        """The requests that created a text."""
        return [request for request in self.requests if request.sid is not None]


def _twilio_error(status: int, code: int | None, message: str) -> tuple[int, dict[str, Any]]:
    data: dict[str, Any] = {"message": message, "status": status}
    if code is not None:
        data["code"] = code
        data["more_info"] = f"https://www.twilio.com/docs/errors/{code}"
    return status, data
