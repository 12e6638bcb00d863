"""A fake Stripe API on 127.0.0.1, for tests: the real ``stripe`` client talks to it over
HTTP (``STRIPE_API_BASE`` = ``fake.url``), as it would to https://api.stripe.com.

It answers what ``billing.stripe.gateway`` asks, with the JSON shapes of Stripe's API
(checked against the fixtures of github.com/stripe/openapi): ids with Stripe's prefixes
(``cus_``, ``cs_test_``, ``pi_``, ``ch_``, ``re_``, ``pm_``, ``seti_``, ``evt_``), an
``object`` field on each object, and errors as ``{"error": {"type", "code",
"decline_code", "message", "param", ...}}`` with Stripe's HTTP statuses (400 invalid
request or idempotency error, 401 bad key, 402 card error, 404 missing object).

- ``POST /v1/customers``, ``GET /v1/customers/<id>``, ``GET /v1/customers/search``
  (``metadata['key']:'value'`` queries only);
- ``POST /v1/checkout/sessions`` (``setup`` and ``payment`` modes),
  ``GET /v1/checkout/sessions/<id>`` (with ``expand`` of its intents);
- ``POST /v1/payment_intents`` (with ``confirm``), ``GET /v1/payment_intents/<id>``;
- ``POST /v1/refunds`` (full or partial, refusing more than is left);
- ``GET /v1/payment_methods/<id>``.

Idempotency, as Stripe does it: a POST's ``Idempotency-Key`` with the same path and
parameters is answered with the first answer again (``Idempotent-Replayed: true``), a
decline included, and does nothing; the same key with different parameters is refused with
400 ``idempotency_error``. As at Stripe, a request refused as invalid (400, 404) is not
kept. ``charges`` counts the money actually taken.

Test cards: Stripe's test PaymentMethods ``pm_card_visa``, ``pm_card_mastercard``,
``pm_card_amex`` succeed; ``pm_card_chargeDeclined`` (generic decline),
``pm_card_chargeDeclinedInsufficientFunds``, ``pm_card_chargeDeclinedExpiredCard`` are
declined; ``pm_card_authenticationRequired`` is declined off-session for want of the
patient's confirmation. A card saved through Checkout behaves like the test card used.

Checkout: the session's ``url`` is a page of the fake (``GET /checkout/pay/<id>``) with a
choice of test card; submitting it completes the session, redirects to ``success_url``
and, when ``webhook_url`` is set, posts the events to it, signed. Tests without a browser
call ``complete_checkout(id, card)``.

Outages: ``fail_next(n)`` answers the next ``n`` API requests with 500 and does nothing;
``drop_next(n)`` does the next ``n`` requests and then closes the connection without an
answer (a timeout after Stripe charged); ``stop()`` makes every request fail to connect.

    with FakeStripe() as fake:
        settings.STRIPE_API_BASE = fake.url   # the ``fake_stripe`` fixture does this
        ...
        assert len(fake.charges) == 1
"""

from __future__ import annotations

import json
import re
import secrets
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

from tests.fake_stripe_shapes import (
    API_VERSION,
    TEST_CARDS,
    ApiError,
    bad_key_message,
    checkout_page,
    customer_object,
    decode_form,
    error_body,
    event_object,
    idempotency_message,
    new_id,
    payment_intent_object,
    payment_method_object,
    session_object,
    sign,
)


@dataclass(frozen=True)
class Charge:
    """Money the fake took from a card."""

    id: str
    payment_intent: str
    amount: int
    currency: str
    payment_method: str


@dataclass(frozen=True)
class ApiRequest:
    method: str
    path: str
    params: dict[str, Any]
    idempotency_key: str | None
    replayed: bool


@dataclass
class _State:
    lock: threading.RLock = field(default_factory=threading.RLock)
    objects: dict[str, dict[str, Any]] = field(default_factory=dict)  # id -> object
    answers: dict[str, tuple[str, int, bytes]] = field(default_factory=dict)  # key -> answer
    charges: list[Charge] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    requests: list[ApiRequest] = field(default_factory=list)
    fail_count: int = 0
    drop_count: int = 0


class FakeStripe:
    def __init__(self) -> None:
        self.secret_key = "sk_test_fake" + secrets.token_hex(12)
        self.publishable_key = "pk_test_fake" + secrets.token_hex(12)
        self.webhook_secret = "whsec_fake" + secrets.token_hex(16)
        self.webhook_url: str | None = None
        self._state = _State()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # see tests/fake_sms.py

            def do_GET(self) -> None:
                self._handle("GET")

            def do_POST(self) -> None:
                self._handle("POST")

            def do_DELETE(self) -> None:
                self._handle("DELETE")

            def _handle(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length).decode() if length else ""
                url = urlsplit(self.path)
                if url.path.startswith("/checkout/pay/"):
                    self._page(method, url.path.removeprefix("/checkout/pay/"), raw)
                    return
                pairs = parse_qsl(raw if method == "POST" else url.query, keep_blank_values=True)
                status, body, extra = fake._api(method, url.path, pairs, dict(self.headers))
                if status == 0:  # dropped: done, but no answer
                    self.close_connection = True
                    return
                self._send(status, body, "application/json", extra)

            def _page(self, method: str, session_id: str, raw: str) -> None:
                if method == "POST":
                    card = dict(parse_qsl(raw)).get("card", "pm_card_visa")
                    try:
                        session = fake.complete_checkout(session_id, card)
                    except ApiError as exc:
                        status, page = 402, checkout_page(fake.session(session_id), exc.message)
                        self._send(status, page.encode(), "text/html; charset=utf-8")
                        return
                    target = session["success_url"].replace("{CHECKOUT_SESSION_ID}", session["id"])
                    self._send(303, b"", "text/html", {"Location": target})
                    return
                try:
                    page = checkout_page(fake.session(session_id))
                except KeyError:
                    self._send(404, b"No such session", "text/plain")
                    return
                self._send(200, page.encode(), "text/html; charset=utf-8")

            def _send(
                self, status: int, body: bytes, content_type: str, extra: dict | None = None
            ) -> None:
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", content_type)
                    self.send_header("Content-Length", str(len(body)))
                    self.send_header("Request-Id", new_id("req_", 14))
                    for name, value in (extra or {}).items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        # A short poll, so that stopping (after each test) takes milliseconds, not half a second.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    # --- Life ------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeStripe:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop answering: from now on every connection is refused."""
        if self._thread.is_alive():
            self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> FakeStripe:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # --- Steering and reading --------------------------------------------------------------

    def fail_next(self, count: int) -> None:
        """Answer the next ``count`` API requests with 500, doing nothing."""
        with self._state.lock:
            self._state.fail_count = count

    def drop_next(self, count: int) -> None:
        """Do the next ``count`` API requests, then hang up without answering."""
        with self._state.lock:
            self._state.drop_count = count

    @property
    def charges(self) -> list[Charge]:
        with self._state.lock:
            return list(self._state.charges)

    @property
    def requests(self) -> list[ApiRequest]:
        with self._state.lock:
            return list(self._state.requests)

    @property
    def events(self) -> list[dict[str, Any]]:
        """Every event the fake made, oldest first (none is sent unless asked)."""
        with self._state.lock:
            return list(self._state.events)

    def get(self, object_id: str) -> dict[str, Any]:
        with self._state.lock:
            return json.loads(json.dumps(self._state.objects[object_id]))

    def session(self, session_id: str) -> dict[str, Any]:
        return self.get(session_id)

    def objects(self, kind: str) -> list[dict[str, Any]]:
        """Every object of one ``object`` type ("customer", "payment_intent", ...)."""
        with self._state.lock:
            return [dict(obj) for obj in self._state.objects.values() if obj["object"] == kind]

    def delete_customer(self, customer_id: str) -> None:
        """As if deleted in Stripe's dashboard."""
        with self._state.lock:
            self._state.objects[customer_id] = {
                "id": customer_id,
                "object": "customer",
                "deleted": True,
            }

    # --- Webhooks --------------------------------------------------------------------------

    def sign(self, payload: bytes, *, secret: str | None = None, timestamp: int | None = None):
        """A ``Stripe-Signature`` header for ``payload``, as Stripe makes it."""
        return sign(payload, secret or self.webhook_secret, timestamp)

    def send_event(
        self,
        event: dict[str, Any],
        url: str | None = None,
        *,
        secret: str | None = None,
        timestamp: int | None = None,
    ) -> int:
        """POST ``event`` to ``url`` (default ``webhook_url``) signed; the answer's status."""
        payload = json.dumps(event).encode()
        request = urllib.request.Request(  # noqa: S310 (a test's own local URL)
            url or self.webhook_url or "",
            data=payload,
            method="POST",
            headers={
                "Content-Type": "application/json; charset=utf-8",
                "Stripe-Signature": self.sign(payload, secret=secret, timestamp=timestamp),
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310
                return answer.status
        except urllib.error.HTTPError as exc:
            return exc.code

    def complete_checkout(self, session_id: str, card: str = "pm_card_visa") -> dict[str, Any]:
        """What Stripe does when the patient submits Checkout's page with ``card``: saves the
        card (setup mode) or takes the payment (payment mode), completes the session, and
        makes the events. Raises ``ApiError`` (the session stays open) when the card is
        declined. Posts the events to ``webhook_url`` if it is set."""
        with self._state.lock:
            session = self._state.objects[session_id]
            if session["status"] != "open":
                raise ApiError(400, "invalid_request_error", "This session is not open.")
            method = self._saved_card(card, session["customer"])
            made = []
            if session["mode"] == "setup":
                intent = self._store(
                    {
                        "id": new_id("seti_"),
                        "object": "setup_intent",
                        "created": int(time.time()),
                        "customer": session["customer"],
                        "payment_method": method["id"],
                        "status": "succeeded",
                        "usage": "off_session",
                        "metadata": (session.get("setup_intent_data") or {}).get("metadata", {}),
                        "livemode": False,
                    }
                )
                session["setup_intent"] = intent["id"]
                made.append(("setup_intent.succeeded", intent))
            else:
                data = session.get("payment_intent_data") or {}
                intent = self._charge(
                    amount=session["amount_total"],
                    currency=session["currency"],
                    customer=session["customer"],
                    method=method,
                    metadata=data.get("metadata", {}),
                    description=data.get("description"),
                    key=None,
                )
                session["payment_intent"] = intent["id"]
                session["payment_status"] = "paid"
                made.append(("payment_intent.succeeded", intent))
            session["status"] = "complete"
            made.insert(0, ("checkout.session.completed", session))
            events = [self._event(kind, obj) for kind, obj in made]
            answer = json.loads(json.dumps(session))
        if self.webhook_url:
            for event in events:
                self.send_event(event)
        return answer

    # --- The API ---------------------------------------------------------------------------

    def _api(
        self, method: str, path: str, pairs: list[tuple[str, str]], headers: dict[str, str]
    ) -> tuple[int, bytes, dict[str, str]]:
        state = self._state
        key = headers.get("Idempotency-Key") if method == "POST" else None
        params = decode_form(pairs)
        with state.lock:
            if state.fail_count > 0:
                state.fail_count -= 1
                return (
                    500,
                    error_body("api_error", "An unknown error occurred (the fake's outage)."),
                    {},
                )
            if headers.get("Authorization") != f"Bearer {self.secret_key}":
                given = (headers.get("Authorization") or "").removeprefix("Bearer ")
                return 401, error_body("invalid_request_error", bad_key_message(given)), {}
            fingerprint = json.dumps([method, path, sorted(pairs)])
            if key and key in state.answers:
                first, status, body = state.answers[key]
                if first != fingerprint:
                    state.requests.append(ApiRequest(method, path, params, key, False))
                    return 400, error_body("idempotency_error", idempotency_message(key)), {}
                state.requests.append(ApiRequest(method, path, params, key, True))
                return status, body, {"Idempotent-Replayed": "true"}
            state.requests.append(ApiRequest(method, path, params, key, False))
            try:
                status, data = 200, self._route(method, path, params, key)
            except ApiError as exc:
                status, data = exc.status, exc.body()
            body = json.dumps(data).encode()
            # Stripe keeps the answer once the request began to act (a success, a decline),
            # not a request refused as invalid: that one may be sent again corrected.
            if key and status in (200, 402):
                state.answers[key] = (fingerprint, status, body)
            if state.drop_count > 0:
                state.drop_count -= 1
                return 0, b"", {}
            return status, body, {"Stripe-Version": API_VERSION}

    def _route(
        self, method: str, path: str, params: dict[str, Any], key: str | None
    ) -> dict[str, Any]:
        routes = [
            ("POST", r"/v1/customers", self._create_customer),
            ("GET", r"/v1/customers/search", self._search_customers),
            ("GET", r"/v1/customers/(cus_\w+)", self._retrieve("customer")),
            ("POST", r"/v1/checkout/sessions", self._create_session),
            ("GET", r"/v1/checkout/sessions/(cs_\w+)", self._retrieve_session),
            ("POST", r"/v1/payment_intents", self._create_payment_intent),
            ("GET", r"/v1/payment_intents/(pi_\w+)", self._retrieve("payment_intent")),
            ("POST", r"/v1/refunds", self._create_refund),
            ("GET", r"/v1/payment_methods/(pm_\w+)", self._retrieve_payment_method),
        ]
        for route_method, pattern, handler in routes:
            match = re.fullmatch(pattern, path)
            if match and route_method == method:
                return handler(params, key, *match.groups())
        raise ApiError(
            404,
            "invalid_request_error",
            f"Unrecognized request URL ({method}: {path}). Please see https://stripe.com/docs "
            "or we can help at https://support.stripe.com/.",
        )

    def _store(self, obj: dict[str, Any]) -> dict[str, Any]:
        self._state.objects[obj["id"]] = obj
        return obj

    def _find(self, kind: str, object_id: str, param: str = "id") -> dict[str, Any]:
        obj = self._state.objects.get(object_id)
        if obj is None or obj["object"] != kind:
            raise ApiError.missing(kind, object_id, param)
        return obj

    def _retrieve(self, kind: str):
        def retrieve(params: dict[str, Any], key: str | None, object_id: str) -> dict[str, Any]:
            return self._find(kind, object_id)

        return retrieve

    def _create_customer(self, params: dict[str, Any], key: str | None) -> dict[str, Any]:
        return self._store(customer_object(params))

    def _search_customers(self, params: dict[str, Any], key: str | None) -> dict[str, Any]:
        match = re.fullmatch(r"metadata\['([^']+)'\]:'((?:[^'\\]|\\.)*)'", params.get("query", ""))
        if match is None:
            raise ApiError(
                400, "invalid_request_error", "The fake searches metadata['key']:'value' only."
            )
        name, value = match.group(1), re.sub(r"\\(.)", r"\1", match.group(2))
        found = [
            customer
            for customer in self.objects("customer")
            if not customer.get("deleted") and customer["metadata"].get(name) == value
        ]
        return {
            "object": "search_result",
            "data": found[: int(params.get("limit", 10))],
            "has_more": False,
            "next_page": None,
            "url": "/v1/customers/search",
        }

    def _create_session(self, params: dict[str, Any], key: str | None) -> dict[str, Any]:
        mode = params.get("mode")
        if mode not in ("setup", "payment"):
            raise ApiError.invalid(
                "mode", "Invalid mode: must be one of payment, setup or subscription"
            )
        if not params.get("success_url"):
            raise ApiError.invalid("success_url", "Missing required param: success_url.")
        customer = params.get("customer")
        if customer:
            self._find("customer", customer, "customer")
        amount, currency = None, params.get("currency")
        if mode == "payment":
            items = params.get("line_items") or []
            if not items:
                raise ApiError.invalid("line_items", "Missing required param: line_items.")
            amount = sum(
                int(item["price_data"]["unit_amount"]) * int(item.get("quantity", 1))
                for item in items
            )
            currency = items[0]["price_data"]["currency"]
        elif not currency:
            raise ApiError.invalid("currency", "Missing required param: currency.")
        return self._store(
            session_object(params, mode, customer, amount, currency, pay_url=self.url)
        )

    def _retrieve_session(
        self, params: dict[str, Any], key: str | None, session_id: str
    ) -> dict[str, Any]:
        session = json.loads(json.dumps(self._find("checkout.session", session_id)))
        for name in params.get("expand") or []:
            if session.get(name):
                session[name] = self._state.objects[session[name]]
        return session

    def _retrieve_payment_method(
        self, params: dict[str, Any], key: str | None, method_id: str
    ) -> dict[str, Any]:
        if method_id in TEST_CARDS:
            return payment_method_object(method_id, method_id, None)
        return self._find("payment_method", method_id)

    def _saved_card(self, card: str, customer: str | None) -> dict[str, Any]:
        if card not in TEST_CARDS:
            raise ApiError.missing("payment_method", card, "payment_method")
        return self._store(payment_method_object(new_id("pm_"), card, customer))

    def _create_payment_intent(self, params: dict[str, Any], key: str | None) -> dict[str, Any]:
        amount = str(params.get("amount", ""))
        if not amount.isdigit() or int(amount) < 1:
            raise ApiError.invalid(
                "amount", "Invalid positive integer", "parameter_invalid_integer"
            )
        customer = params.get("customer")
        if customer:
            self._find("customer", customer, "customer")
        method_id = params.get("payment_method", "")
        if method_id in TEST_CARDS:
            method = payment_method_object(method_id, method_id, customer)
        else:
            method = self._find("payment_method", method_id, "payment_method")
            if method["customer"] != customer:
                raise ApiError.invalid(
                    "payment_method",
                    f"The provided PaymentMethod {method_id} belongs to another customer.",
                )
        if params.get("confirm") != "true":
            raise ApiError.invalid("confirm", "The fake only makes confirmed PaymentIntents.")
        return self._charge(
            amount=int(amount),
            currency=params.get("currency", ""),
            customer=customer,
            method=method,
            metadata=params.get("metadata") or {},
            description=params.get("description"),
            key=key,
            off_session=params.get("off_session") == "true",
        )

    def _charge(
        self,
        *,
        amount: int,
        currency: str,
        customer: str | None,
        method: dict[str, Any],
        metadata: dict[str, str],
        description: str | None,
        key: str | None,
        off_session: bool = False,
    ) -> dict[str, Any]:
        _, _, decline = TEST_CARDS[method["test_card"]]
        if decline and decline[0] == "authentication_required" and not off_session:
            decline = None  # on Stripe's page the patient confirms, and it goes through
        intent = self._store(
            payment_intent_object(amount, currency, customer, method["id"], metadata, description)
        )
        charge_id = new_id("ch_")
        if decline:
            code, decline_code, message = decline
            error = {
                "type": "card_error",
                "code": code,
                "decline_code": decline_code,
                "message": message,
                "charge": charge_id,
                "doc_url": f"https://stripe.com/docs/error-codes/{code.replace('_', '-')}",
                "payment_method": method,
            }
            intent["last_payment_error"] = error
            self._event("payment_intent.payment_failed", intent)
            raise ApiError(402, **error, payment_intent=intent)
        intent.update(status="succeeded", amount_received=amount, latest_charge=charge_id)
        self._state.charges.append(Charge(charge_id, intent["id"], amount, currency, method["id"]))
        if key:  # a charge from Checkout makes its events in complete_checkout
            self._event("payment_intent.succeeded", intent)
        return intent

    def _create_refund(self, params: dict[str, Any], key: str | None) -> dict[str, Any]:
        intent = self._find("payment_intent", params.get("payment_intent", ""), "payment_intent")
        if intent["status"] != "succeeded":
            raise ApiError.invalid(
                "payment_intent",
                f"This PaymentIntent ({intent['id']}) does not have a successful charge to refund.",
            )
        refunded = sum(
            refund["amount"]
            for refund in self.objects("refund")
            if refund["payment_intent"] == intent["id"]
        )
        left = intent["amount_received"] - refunded
        if left <= 0:
            raise ApiError.invalid(
                "charge",
                f"Charge {intent['latest_charge']} has already been refunded.",
                "charge_already_refunded",
            )
        amount = int(params.get("amount", left))
        if amount > left:
            raise ApiError.invalid(
                "amount",
                f"Refund amount ({amount}) is greater than unrefunded amount on charge ({left})",
                "amount_too_large",
            )
        refund = self._store(
            {
                "id": new_id("re_"),
                "object": "refund",
                "amount": amount,
                "balance_transaction": None,
                "charge": intent["latest_charge"],
                "created": int(time.time()),
                "currency": intent["currency"],
                "metadata": params.get("metadata") or {},
                "payment_intent": intent["id"],
                "reason": params.get("reason"),
                "status": "succeeded",
            }
        )
        self._event("refund.created", refund)
        return refund

    def _event(self, kind: str, obj: dict[str, Any]) -> dict[str, Any]:
        event = event_object(kind, obj)
        self._state.events.append(event)
        return event


@pytest.fixture
def fake_stripe(settings) -> Any:
    """A running ``FakeStripe`` that the settings point at (keys, address, webhook secret)."""
    with FakeStripe() as fake:
        settings.STRIPE_SECRET_KEY = fake.secret_key
        settings.STRIPE_PUBLISHABLE_KEY = fake.publishable_key
        settings.STRIPE_WEBHOOK_SECRET = fake.webhook_secret
        settings.STRIPE_API_BASE = fake.url
        yield fake
