"""A stateful fake of Stripe's v1 HTTP API on loopback, for tests that use the real stripe-python.

It speaks the wire format (form-encoded bodies with nested ``a[b]`` keys, ``Bearer`` keys, JSON
objects and error objects with Stripe's HTTP statuses) for the few endpoints the billing code
needs, keeps state, honours ``Idempotency-Key`` as Stripe does, and injects faults on demand::

    with FakeStripe() as fake:
        client = fake.client(timeout=0.5)          # a stripe.StripeClient pointed at the fake
        fake.fail_next("timeout_after_charge")
        ...

Endpoints: customers (create, retrieve, update), setup intents (create, retrieve, confirm),
payment methods (retrieve, attach), payment intents (create with ``confirm``/``off_session``,
retrieve, confirm, cancel), refunds (create, retrieve), Checkout Sessions and their hosted page
(``tests.fakes.stripe_checkout``). Anything else answers 404 as Stripe does.

Test payment methods (``TEST_PAYMENT_METHODS``), after Stripe's test cards:
``pm_card_visa`` and ``pm_card_mastercard`` succeed; ``pm_card_chargeDeclined`` is declined
everywhere (setup, attach, charge); ``pm_card_chargeCustomerFail`` saves fine but every charge is
declined (the usual off-session failure); ``pm_card_chargeDeclinedInsufficientFunds`` saves fine
and charges are declined with ``insufficient_funds``. As on Stripe, attaching one of these tokens
to a customer (or confirming a setup intent with it) makes a new ``pm_...`` copy for that customer.

Idempotency (as Stripe documents it): a POST's response is stored under (API key, key) once the
endpoint has run (2xx, and 402 card errors); the same key with the same method, path and
parameters replays it (same status and body, ``Idempotent-Replayed: true``) with no new effect;
with anything different it answers 400 ``idempotency_error``. Requests refused before running
(401, 429, injected 500s, 400/404 validation errors) are not stored, so a retry runs afresh.

Faults (``fail_next(kind)``), each used by the next matching request:
- ``card_declined``: the next charge (payment intent created with ``confirm=true`` or confirmed)
  is declined: 402 ``card_error``/``card_declined`` with ``decline_code`` (default
  ``generic_decline``); the intent is left ``requires_payment_method`` with
  ``last_payment_error``.
- ``server_error`` (500 ``api_error``) and ``rate_limit`` (429 ``rate_limit_error``): answered
  before anything runs, for any request (or those under ``path``).
- ``timeout_after_charge``: the next charge runs and is stored under its idempotency key, then
  the response is held ``hold_seconds`` (longer than the client's timeout), so the client raises
  ``APIConnectionError`` although the money moved. A retry with the same key replays the success.
- ``timeout_after_effect``: the same for the next POST of any kind (or under ``path``).
- ``timeout_before_effect``: the response is held and nothing runs; a retry runs afresh.

Webhooks: ``sign_payload`` builds a ``Stripe-Signature`` header; ``event`` builds an event; the
fake also appends events (``payment_intent.succeeded``, ``payment_intent.payment_failed``,
``charge.refunded``, ``setup_intent.succeeded``) to ``fake.events`` as it runs.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any, NamedTuple
from urllib.parse import parse_qsl, urlsplit

import pytest

from tests.fakes.stripe_checkout import HOSTED_PREFIX, CheckoutMixin

if TYPE_CHECKING:
    from collections.abc import Iterator

    import stripe

TEST_API_KEY = "sk_test_fake_0123456789"
API_VERSION = "2026-10-28.endive"  # stripe-python 16.1's pinned version
_API_KEY = re.compile(r"(sk|rk)_test_\w+")

FAULT_KINDS = frozenset(
    {
        "card_declined",
        "server_error",
        "rate_limit",
        "timeout_after_charge",
        "timeout_after_effect",
        "timeout_before_effect",
    }
)
_BEFORE_RUNNING = frozenset({"server_error", "rate_limit", "timeout_before_effect"})
_ON_CHARGE = frozenset({"card_declined", "timeout_after_charge"})


@dataclass(frozen=True)
class TestCard:
    brand: str
    last4: str
    decline_on_setup: str | None = None  # decline_code when saving the card
    decline_on_charge: str | None = None  # decline_code when charging it


TEST_PAYMENT_METHODS: dict[str, TestCard] = {
    "pm_card_visa": TestCard("visa", "4242"),
    "pm_card_mastercard": TestCard("mastercard", "4444"),
    "pm_card_chargeDeclined": TestCard(
        "visa", "0002", decline_on_setup="generic_decline", decline_on_charge="generic_decline"
    ),
    "pm_card_chargeCustomerFail": TestCard("visa", "0341", decline_on_charge="generic_decline"),
    "pm_card_chargeDeclinedInsufficientFunds": TestCard(
        "visa", "9995", decline_on_charge="insufficient_funds"
    ),
}


class RecordedRequest(NamedTuple):
    method: str
    path: str
    params: dict[str, Any]
    idempotency_key: str | None


@dataclass
class _Fault:
    kind: str
    path: str | None
    decline_code: str
    hold_seconds: float | None


@dataclass
class _Call:
    method: str
    path: str
    params: dict[str, Any]
    api_key: str
    idempotency_key: str | None
    hold_seconds: float | None = None


@dataclass
class _Response:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)
    hold_seconds: float | None = None


@dataclass
class _Stored:
    fingerprint: tuple[str, str, str]
    response: _Response
    request_id: str


class StripeFailure(Exception):
    """An error answer: HTTP status and Stripe's error object."""

    def __init__(self, status: int, error: dict[str, Any]):
        super().__init__(error.get("message"))
        self.status = status
        self.error = error


def _error(
    status: int,
    error_type: str,
    message: str,
    *,
    code: str | None = None,
    param: str | None = None,
    **extra: Any,
) -> StripeFailure:
    error: dict[str, Any] = {"type": error_type, "message": message}
    if code:
        error["code"] = code
        error["doc_url"] = f"https://docs.stripe.com/error-codes/{code.replace('_', '-')}"
    if param:
        error["param"] = param
    error.update(extra)
    return StripeFailure(status, error)


def _missing(kind: str, object_id: str, param: str = "id") -> StripeFailure:
    return _error(
        404 if param == "id" else 400,
        "invalid_request_error",
        f"No such {kind}: '{object_id}'",
        code="resource_missing",
        param=param,
    )


def decode_form(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """Stripe's form encoding to nested values: ``a[b]=1`` -> {"a": {"b": "1"}}, ``l[0]`` a list."""
    root: dict[str, Any] = {}
    for key, value in pairs:
        head, _, rest = key.partition("[")
        parts = [head] + (rest[:-1].split("][") if rest else [])
        node = root
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        last = parts[-1]
        node[str(len(node)) if last == "" else last] = value
    return _lists(root)


def _lists(value: Any) -> Any:
    if not isinstance(value, dict):
        return value
    converted = {key: _lists(item) for key, item in value.items()}
    if converted and all(key.isdigit() for key in converted):
        return [converted[key] for key in sorted(converted, key=int)]
    return converted


def _int_param(params: dict[str, Any], name: str, *, required: bool = False) -> int | None:
    raw = params.get(name)
    if raw is None:
        if required:
            raise _error(
                400,
                "invalid_request_error",
                f"Missing required param: {name}.",
                code="parameter_missing",
                param=name,
            )
        return None
    if not isinstance(raw, str) or not re.fullmatch(r"-?\d+", raw):
        raise _error(
            400,
            "invalid_request_error",
            f"Invalid integer: {raw}",
            code="parameter_invalid_integer",
            param=name,
        )
    return int(raw)


def _bool_param(params: dict[str, Any], name: str) -> bool:
    raw = params.get(name)
    if raw in (None, "false"):
        return False
    if raw == "true":
        return True
    raise _error(
        400,
        "invalid_request_error",
        f"Invalid boolean: {raw}",
        code="parameter_invalid_boolean",
        param=name,
    )


def _metadata(params: dict[str, Any], current: dict[str, str] | None = None) -> dict[str, str]:
    """Merge ``metadata[...]`` into ``current``; an empty value unsets a key, as on Stripe."""
    merged = dict(current or {})
    given = params.get("metadata")
    if given in (None, ""):
        return {} if given == "" else merged
    if not isinstance(given, dict):
        raise _error(
            400, "invalid_request_error", "Invalid metadata", code="parameter_invalid_string"
        )
    for key, value in given.items():
        if value == "":
            merged.pop(key, None)
        else:
            merged[key] = value
    return merged


class FakeStripe(CheckoutMixin):
    """The fake server and its state. Start it (or use ``with``), point a client at ``api_base``."""

    def __init__(self, *, hold_seconds: float = 2.0):
        self.hold_seconds = hold_seconds
        self._lock = threading.RLock()
        self._release = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._routes = [
            (method, re.compile(pattern.replace("{id}", "(?P<object_id>[^/]+)")), handler)
            for method, pattern, handler in (
                ("POST", "/v1/customers", self._create_customer),
                ("GET", "/v1/customers/{id}", self._retrieve_customer),
                ("POST", "/v1/customers/{id}", self._update_customer),
                ("POST", "/v1/setup_intents", self._create_setup_intent),
                ("GET", "/v1/setup_intents/{id}", self._retrieve_setup_intent),
                ("POST", "/v1/setup_intents/{id}/confirm", self._confirm_setup_intent),
                ("GET", "/v1/payment_methods/{id}", self._retrieve_payment_method),
                ("POST", "/v1/payment_methods/{id}/attach", self._attach_payment_method),
                ("POST", "/v1/payment_intents", self._create_payment_intent),
                ("GET", "/v1/payment_intents/{id}", self._retrieve_payment_intent),
                ("POST", "/v1/payment_intents/{id}/confirm", self._confirm_payment_intent),
                ("POST", "/v1/payment_intents/{id}/cancel", self._cancel_payment_intent),
                ("POST", "/v1/refunds", self._create_refund),
                ("GET", "/v1/refunds/{id}", self._retrieve_refund),
                *self._checkout_routes(),
            )
        ]
        self.reset()

    # --- lifecycle ------------------------------------------------------------------------------

    def start(self) -> FakeStripe:
        if self._server is not None:
            return self
        server = _Server(("127.0.0.1", 0), _Handler)
        server.fake = self
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, name="fake-stripe", kwargs={"poll_interval": 0.05}
        )
        self._thread.daemon = True
        self._thread.start()
        return self

    def stop(self) -> None:
        self._release.set()  # let held responses finish now
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> FakeStripe:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def api_base(self) -> str:
        if self._server is None:
            raise RuntimeError("the fake Stripe server is not running; call start()")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def client(
        self,
        *,
        api_key: str = TEST_API_KEY,
        timeout: float = 5.0,
        max_network_retries: int = 0,
    ) -> stripe.StripeClient:
        """A real ``stripe.StripeClient`` aimed at this fake, with a short HTTP timeout."""
        import requests
        import stripe

        session = requests.Session()
        session.trust_env = False  # never route loopback through an environment proxy
        return stripe.StripeClient(
            api_key,
            base_addresses={"api": self.api_base},
            http_client=stripe.RequestsClient(timeout=timeout, session=session),
            max_network_retries=max_network_retries,
        )

    def reset(self) -> None:
        """Forget all objects, stored idempotent responses, faults, requests and events."""
        with self._lock:
            self.customers: dict[str, dict[str, Any]] = {}
            self.setup_intents: dict[str, dict[str, Any]] = {}
            self.payment_methods: dict[str, dict[str, Any]] = {}
            self.payment_intents: dict[str, dict[str, Any]] = {}
            self.charges: dict[str, dict[str, Any]] = {}
            self.refunds: dict[str, dict[str, Any]] = {}
            self.events: list[dict[str, Any]] = []
            self.requests: list[RecordedRequest] = []
            self._idempotent: dict[tuple[str, str], _Stored] = {}
            self._faults: list[_Fault] = []
            # Behaviour of every payment method the fake knows, copies included.
            self._cards: dict[str, TestCard] = dict(TEST_PAYMENT_METHODS)
            self._checkout_reset()
            held, self._release = self._release, threading.Event()
            held.set()

    # --- test controls --------------------------------------------------------------------------

    def fail_next(
        self,
        kind: str,
        *,
        path: str | None = None,
        times: int = 1,
        decline_code: str = "generic_decline",
        hold_seconds: float | None = None,
    ) -> None:
        """Make the next ``times`` matching requests fail with ``kind`` (see the module doc).

        ``path`` restricts the fault to requests whose path starts with it.
        """
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault {kind!r}; choose from {sorted(FAULT_KINDS)}")
        with self._lock:
            for _ in range(times):
                self._faults.append(_Fault(kind, path, decline_code, hold_seconds))

    def charges_count(self) -> int:
        """Number of succeeded charges: money actually taken."""
        with self._lock:
            return sum(1 for charge in self.charges.values() if charge["status"] == "succeeded")

    @staticmethod
    def sign_payload(payload: bytes | str, secret: str, timestamp: int | None = None) -> str:
        """A ``Stripe-Signature`` header for ``payload``: ``t=...,v1=HMAC-SHA256("{t}.{body}")``."""
        if isinstance(payload, bytes):
            payload = payload.decode("utf-8")
        timestamp = int(time.time()) if timestamp is None else timestamp
        signature = hmac.new(
            secret.encode("utf-8"), f"{timestamp}.{payload}".encode(), hashlib.sha256
        ).hexdigest()
        return f"t={timestamp},v1={signature}"

    @staticmethod
    def event(
        event_type: str,
        data_object: dict[str, Any],
        *,
        previous_attributes: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """An event as Stripe posts it to a webhook endpoint."""
        data: dict[str, Any] = {"object": copy.deepcopy(data_object)}
        if previous_attributes is not None:
            data["previous_attributes"] = previous_attributes
        return {
            "id": _new_id("evt"),
            "object": "event",
            "api_version": API_VERSION,
            "created": int(time.time()),
            "data": data,
            "livemode": False,
            "pending_webhooks": 1,
            "request": {"id": None, "idempotency_key": None},
            "type": event_type,
        }

    def signed_event(
        self,
        event_type: str,
        data_object: dict[str, Any],
        secret: str,
        *,
        timestamp: int | None = None,
    ) -> tuple[bytes, str]:
        """``(body, Stripe-Signature header)`` ready to POST to a webhook view."""
        body = json.dumps(self.event(event_type, data_object)).encode("utf-8")
        return body, self.sign_payload(body, secret, timestamp)

    # --- request handling -----------------------------------------------------------------------

    def _handle(self, method: str, target: str, headers: Any, body: bytes) -> _Response:
        split = urlsplit(target)
        path = split.path
        raw = body.decode("utf-8") if method == "POST" else split.query
        params = decode_form(parse_qsl(raw, keep_blank_values=True))
        idempotency_key = headers.get("Idempotency-Key") if method == "POST" else None
        request_id = _new_id("req")
        base_headers = {"Request-Id": request_id, "Stripe-Version": API_VERSION}
        if idempotency_key:
            base_headers["Idempotency-Key"] = idempotency_key

        with self._lock:
            self.requests.append(RecordedRequest(method, path, params, idempotency_key))
            try:
                api_key = self._authenticate(headers.get("Authorization"))
            except StripeFailure as failure:
                return _Response(failure.status, {"error": failure.error}, base_headers)
            fault = self._take_fault(_BEFORE_RUNNING, path)
            if fault is not None:
                return self._fault_response(fault, base_headers)
            call = _Call(method, path, params, api_key, idempotency_key)
            if idempotency_key:
                stored = self._idempotent.get((api_key, idempotency_key))
                if stored is not None:
                    return self._replay(stored, call, base_headers)
            if method == "POST":
                fault = self._take_fault({"timeout_after_effect"}, path)
                if fault is not None:
                    call.hold_seconds = self._hold(fault)
            try:
                handler, path_args = self._route(method, path)
                response = _Response(200, handler(call, **path_args), base_headers)
            except StripeFailure as failure:
                response = _Response(failure.status, {"error": failure.error}, base_headers)
            response.hold_seconds = call.hold_seconds
            # Stored once the endpoint has run: successes and card errors. Validation errors
            # are refused before running and are not stored, as on Stripe.
            if idempotency_key and (response.status == 200 or response.status == 402):
                self._idempotent[(api_key, idempotency_key)] = _Stored(
                    fingerprint=_fingerprint(method, path, params),
                    response=_Response(response.status, copy.deepcopy(response.body)),
                    request_id=request_id,
                )
            return response

    def _authenticate(self, authorization: str | None) -> str:
        if not authorization:
            raise _error(
                401,
                "invalid_request_error",
                "You did not provide an API key. Provide it in the Authorization header, "
                "using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY').",
            )
        scheme, _, key = authorization.partition(" ")
        if scheme != "Bearer" or not _API_KEY.fullmatch(key):
            shown = key[:8] + "*" * max(0, len(key) - 12) + key[-4:]
            raise _error(401, "invalid_request_error", f"Invalid API Key provided: {shown}")
        return key

    def _route(self, method: str, path: str) -> tuple[Callable[..., dict[str, Any]], dict]:
        for route_method, pattern, handler in self._routes:
            match = pattern.fullmatch(path)
            if match and route_method == method:
                return handler, match.groupdict()
        raise _error(
            404,
            "invalid_request_error",
            f"Unrecognized request URL ({method}: {path}). Please see https://stripe.com/docs "
            "or we can help at https://support.stripe.com/.",
        )

    def _take_fault(self, kinds: set[str] | frozenset[str], path: str) -> _Fault | None:
        for position, fault in enumerate(self._faults):
            if fault.kind in kinds and (fault.path is None or path.startswith(fault.path)):
                return self._faults.pop(position)
        return None

    def _hold(self, fault: _Fault) -> float:
        return self.hold_seconds if fault.hold_seconds is None else fault.hold_seconds

    def _fault_response(self, fault: _Fault, headers: dict[str, str]) -> _Response:
        if fault.kind == "rate_limit":
            failure = _error(
                429,
                "invalid_request_error",
                "Request rate limit exceeded. Learn more about rate limits here "
                "https://stripe.com/docs/rate-limits.",
                code="rate_limit",
            )
            return _Response(429, {"error": failure.error}, headers)
        failure = _error(
            500, "api_error", "An unknown error occurred while processing your request."
        )
        hold = self._hold(fault) if fault.kind == "timeout_before_effect" else None
        return _Response(500, {"error": failure.error}, headers, hold)

    def _replay(self, stored: _Stored, call: _Call, headers: dict[str, str]) -> _Response:
        if stored.fingerprint != _fingerprint(call.method, call.path, call.params):
            failure = _error(
                400,
                "idempotency_error",
                "Keys for idempotent requests can only be used with the same parameters they "
                f"were first used with. Try using a key other than '{call.idempotency_key}' if "
                "you meant to execute a different request.",
            )
            return _Response(400, {"error": failure.error}, headers)
        replay_headers = {
            **headers,
            "Idempotent-Replayed": "true",
            "Original-Request": stored.request_id,
        }
        return _Response(
            stored.response.status, copy.deepcopy(stored.response.body), replay_headers
        )

    # --- customers ------------------------------------------------------------------------------

    def _create_customer(self, call: _Call) -> dict[str, Any]:
        params = call.params
        customer = {
            "id": _new_id("cus"),
            "object": "customer",
            "address": None,
            "balance": 0,
            "created": int(time.time()),
            "currency": None,
            "default_source": None,
            "delinquent": False,
            "description": params.get("description"),
            "email": params.get("email"),
            "invoice_prefix": uuid.uuid4().hex[:8].upper(),
            "invoice_settings": {
                "custom_fields": None,
                "default_payment_method": None,
                "footer": None,
                "rendering_options": None,
            },
            "livemode": False,
            "metadata": _metadata(params),
            "name": params.get("name"),
            "phone": params.get("phone"),
            "preferred_locales": [],
            "shipping": None,
            "tax_exempt": "none",
            "test_clock": None,
        }
        self.customers[customer["id"]] = customer
        default = (params.get("invoice_settings") or {}).get("default_payment_method")
        payment_method = params.get("payment_method")
        if payment_method:
            attached = self._attach(payment_method, customer["id"], param="payment_method")
            customer["invoice_settings"]["default_payment_method"] = (
                attached["id"] if default == payment_method else None
            )
        elif default:
            self._payment_method(default, param="invoice_settings[default_payment_method]")
            customer["invoice_settings"]["default_payment_method"] = default
        return copy.deepcopy(customer)

    def _customer(self, customer_id: str, *, param: str = "id") -> dict[str, Any]:
        customer = self.customers.get(customer_id)
        if customer is None:
            raise _missing("customer", customer_id, param)
        return customer

    def _retrieve_customer(self, call: _Call, object_id: str) -> dict[str, Any]:
        return copy.deepcopy(self._customer(object_id))

    def _update_customer(self, call: _Call, object_id: str) -> dict[str, Any]:
        customer = self._customer(object_id)
        params = call.params
        for name in ("description", "email", "name", "phone"):
            if name in params:
                customer[name] = params[name] or None
        customer["metadata"] = _metadata(params, customer["metadata"])
        default = (params.get("invoice_settings") or {}).get("default_payment_method")
        if default:
            self._payment_method(default, param="invoice_settings[default_payment_method]")
            customer["invoice_settings"]["default_payment_method"] = default
        return copy.deepcopy(customer)

    # --- payment methods ------------------------------------------------------------------------

    def _payment_method(self, payment_method_id: str, *, param: str = "id") -> dict[str, Any]:
        stored = self.payment_methods.get(payment_method_id)
        if stored is not None:
            return stored
        card = TEST_PAYMENT_METHODS.get(payment_method_id)
        if card is None:
            raise _missing("PaymentMethod", payment_method_id, param)
        return self._new_payment_method(payment_method_id, card, customer=None)

    def _new_payment_method(
        self, payment_method_id: str, card: TestCard, *, customer: str | None
    ) -> dict[str, Any]:
        payment_method = {
            "id": payment_method_id,
            "object": "payment_method",
            "billing_details": {"address": None, "email": None, "name": None, "phone": None},
            "card": {
                "brand": card.brand,
                "country": "US",
                "exp_month": 12,
                "exp_year": 2034,
                "funding": "credit",
                "last4": card.last4,
            },
            "created": int(time.time()),
            "customer": customer,
            "livemode": False,
            "metadata": {},
            "type": "card",
        }
        self.payment_methods[payment_method_id] = payment_method
        self._cards[payment_method_id] = card
        return payment_method

    def _attach(self, payment_method_id: str, customer_id: str, *, param: str) -> dict[str, Any]:
        """Attach to a customer; a test token (``pm_card_...``) is copied to a new id first."""
        self._customer(customer_id, param="customer")
        source = self._payment_method(payment_method_id, param=param)
        card = self._cards[source["id"]]
        if card.decline_on_setup:
            raise self._card_error(card.decline_on_setup, payment_method=source)
        if payment_method_id in TEST_PAYMENT_METHODS:
            return self._new_payment_method(_new_id("pm"), card, customer=customer_id)
        if source["customer"] not in (None, customer_id):
            raise _error(
                400,
                "invalid_request_error",
                "The payment method you provided has already been attached to a customer.",
                param=param,
            )
        source["customer"] = customer_id
        return source

    def _retrieve_payment_method(self, call: _Call, object_id: str) -> dict[str, Any]:
        return copy.deepcopy(self._payment_method(object_id))

    def _attach_payment_method(self, call: _Call, object_id: str) -> dict[str, Any]:
        customer_id = call.params.get("customer")
        if not customer_id:
            raise _error(
                400,
                "invalid_request_error",
                "Missing required param: customer.",
                code="parameter_missing",
                param="customer",
            )
        return copy.deepcopy(self._attach(object_id, customer_id, param="id"))

    def _card_error(self, decline_code: str, **objects: Any) -> StripeFailure:
        message = (
            "Your card has insufficient funds."
            if decline_code == "insufficient_funds"
            else "Your card was declined."
        )
        return _error(
            402,
            "card_error",
            message,
            code="card_declined",
            decline_code=decline_code,
            **{name: copy.deepcopy(value) for name, value in objects.items()},
        )

    # --- setup intents --------------------------------------------------------------------------

    def _create_setup_intent(self, call: _Call) -> dict[str, Any]:
        params = call.params
        customer_id = params.get("customer")
        if customer_id:
            self._customer(customer_id, param="customer")
        payment_method_id = params.get("payment_method")
        if payment_method_id:
            self._payment_method(payment_method_id, param="payment_method")
        setup_intent_id = _new_id("seti")
        setup_intent = {
            "id": setup_intent_id,
            "object": "setup_intent",
            "cancellation_reason": None,
            "client_secret": f"{setup_intent_id}_secret_{uuid.uuid4().hex}",
            "created": int(time.time()),
            "customer": customer_id,
            "description": params.get("description"),
            "last_setup_error": None,
            "livemode": False,
            "metadata": _metadata(params),
            "next_action": None,
            "payment_method": payment_method_id,
            "payment_method_types": params.get("payment_method_types") or ["card"],
            "status": "requires_confirmation" if payment_method_id else "requires_payment_method",
            "usage": params.get("usage") or "off_session",
        }
        self.setup_intents[setup_intent_id] = setup_intent
        if _bool_param(params, "confirm"):
            return self._confirm_setup(setup_intent, payment_method_id)
        return copy.deepcopy(setup_intent)

    def _retrieve_setup_intent(self, call: _Call, object_id: str) -> dict[str, Any]:
        setup_intent = self.setup_intents.get(object_id)
        if setup_intent is None:
            raise _missing("setup_intent", object_id)
        return copy.deepcopy(setup_intent)

    def _confirm_setup_intent(self, call: _Call, object_id: str) -> dict[str, Any]:
        setup_intent = self.setup_intents.get(object_id)
        if setup_intent is None:
            raise _missing("setup_intent", object_id)
        payment_method_id = call.params.get("payment_method") or setup_intent["payment_method"]
        return self._confirm_setup(setup_intent, payment_method_id)

    def _confirm_setup(
        self, setup_intent: dict[str, Any], payment_method_id: str | None
    ) -> dict[str, Any]:
        if setup_intent["status"] not in ("requires_payment_method", "requires_confirmation"):
            raise _error(
                400,
                "invalid_request_error",
                "You cannot confirm this SetupIntent because it has already succeeded "
                f"or been canceled (status {setup_intent['status']}).",
                code="setup_intent_unexpected_state",
                setup_intent=copy.deepcopy(setup_intent),
            )
        if not payment_method_id:
            raise _error(
                400,
                "invalid_request_error",
                "You cannot confirm this SetupIntent because it's missing a payment method.",
                code="setup_intent_unexpected_state",
                param="payment_method",
            )
        source = self._payment_method(payment_method_id, param="payment_method")
        card = self._cards[source["id"]]
        if card.decline_on_setup:
            failure = self._card_error(card.decline_on_setup, payment_method=source)
            setup_intent.update(
                status="requires_payment_method",
                payment_method=None,
                last_setup_error=failure.error,
            )
            failure.error["setup_intent"] = copy.deepcopy(setup_intent)
            raise failure
        if setup_intent["customer"]:
            source = self._attach(payment_method_id, setup_intent["customer"], param="id")
        setup_intent.update(status="succeeded", payment_method=source["id"], last_setup_error=None)
        self._emit("setup_intent.succeeded", setup_intent)
        return copy.deepcopy(setup_intent)

    # --- payment intents ------------------------------------------------------------------------

    def _create_payment_intent(self, call: _Call) -> dict[str, Any]:
        params = call.params
        amount = _int_param(params, "amount", required=True)
        if amount is None or amount < 1:
            raise _error(
                400,
                "invalid_request_error",
                "Amount must be at least 1 in the smallest currency unit.",
                code="amount_too_small",
                param="amount",
            )
        currency = params.get("currency")
        if not currency:
            raise _error(
                400,
                "invalid_request_error",
                "Missing required param: currency.",
                code="parameter_missing",
                param="currency",
            )
        customer_id = params.get("customer")
        if customer_id:
            self._customer(customer_id, param="customer")
        payment_method_id = params.get("payment_method")
        if payment_method_id:
            self._payment_method(payment_method_id, param="payment_method")
        confirm = _bool_param(params, "confirm")
        off_session = _bool_param(params, "off_session")
        if off_session and not confirm:
            raise _error(
                400,
                "invalid_request_error",
                "off_session can only be used when confirm=true.",
                param="off_session",
            )
        if confirm and not payment_method_id:
            raise _error(
                400,
                "invalid_request_error",
                "You cannot confirm this PaymentIntent because it's missing a payment method.",
                code="payment_intent_unexpected_state",
                param="payment_method",
            )
        intent_id = _new_id("pi")
        intent = {
            "id": intent_id,
            "object": "payment_intent",
            "amount": amount,
            "amount_capturable": 0,
            "amount_received": 0,
            "canceled_at": None,
            "cancellation_reason": None,
            "capture_method": "automatic",
            "client_secret": f"{intent_id}_secret_{uuid.uuid4().hex}",
            "confirmation_method": "automatic",
            "created": int(time.time()),
            "currency": currency.lower(),
            "customer": customer_id,
            "description": params.get("description"),
            "last_payment_error": None,
            "latest_charge": None,
            "livemode": False,
            "metadata": _metadata(params),
            "next_action": None,
            "payment_method": payment_method_id,
            "payment_method_types": params.get("payment_method_types") or ["card"],
            "receipt_email": params.get("receipt_email"),
            "setup_future_usage": params.get("setup_future_usage"),
            "statement_descriptor": params.get("statement_descriptor"),
            "status": "requires_confirmation" if payment_method_id else "requires_payment_method",
        }
        self.payment_intents[intent_id] = intent
        if confirm:
            return self._charge(call, intent, payment_method_id)
        return copy.deepcopy(intent)

    def _intent(self, intent_id: str) -> dict[str, Any]:
        intent = self.payment_intents.get(intent_id)
        if intent is None:
            raise _missing("payment_intent", intent_id)
        return intent

    def _retrieve_payment_intent(self, call: _Call, object_id: str) -> dict[str, Any]:
        return copy.deepcopy(self._intent(object_id))

    def _confirm_payment_intent(self, call: _Call, object_id: str) -> dict[str, Any]:
        intent = self._intent(object_id)
        payment_method_id = call.params.get("payment_method") or intent["payment_method"]
        if call.params.get("payment_method"):
            self._payment_method(payment_method_id, param="payment_method")
        return self._charge(call, intent, payment_method_id)

    def _cancel_payment_intent(self, call: _Call, object_id: str) -> dict[str, Any]:
        intent = self._intent(object_id)
        if intent["status"] in ("succeeded", "canceled"):
            raise _error(
                400,
                "invalid_request_error",
                "You cannot cancel this PaymentIntent because it has a status of "
                f"{intent['status']}.",
                code="payment_intent_unexpected_state",
                payment_intent=copy.deepcopy(intent),
            )
        intent.update(
            status="canceled",
            canceled_at=int(time.time()),
            cancellation_reason=call.params.get("cancellation_reason"),
        )
        return copy.deepcopy(intent)

    def _charge(
        self, call: _Call, intent: dict[str, Any], payment_method_id: str | None
    ) -> dict[str, Any]:
        """Confirm ``intent``: take the money, or record a decline and raise a card error."""
        if intent["status"] not in ("requires_payment_method", "requires_confirmation"):
            raise _error(
                400,
                "invalid_request_error",
                f"This PaymentIntent's status is {intent['status']}, so it cannot be confirmed.",
                code="payment_intent_unexpected_state",
                payment_intent=copy.deepcopy(intent),
            )
        if not payment_method_id:
            raise _error(
                400,
                "invalid_request_error",
                "You cannot confirm this PaymentIntent because it's missing a payment method.",
                code="payment_intent_unexpected_state",
                param="payment_method",
            )
        payment_method = self._payment_method(payment_method_id, param="payment_method")
        card = self._cards[payment_method["id"]]
        fault = self._take_fault(_ON_CHARGE, call.path)
        decline_code = card.decline_on_charge
        if fault is not None and fault.kind == "card_declined":
            decline_code = fault.decline_code
        if fault is not None and fault.kind == "timeout_after_charge":
            call.hold_seconds = self._hold(fault)
        charge = {
            "id": _new_id("ch"),
            "object": "charge",
            "amount": intent["amount"],
            "amount_captured": 0 if decline_code else intent["amount"],
            "amount_refunded": 0,
            "balance_transaction": None,
            "captured": not decline_code,
            "created": int(time.time()),
            "currency": intent["currency"],
            "customer": intent["customer"],
            "failure_code": "card_declined" if decline_code else None,
            "livemode": False,
            "metadata": dict(intent["metadata"]),
            "outcome": {"type": "issuer_declined" if decline_code else "authorized"},
            "paid": not decline_code,
            "payment_intent": intent["id"],
            "payment_method": payment_method["id"],
            "refunded": False,
            "status": "failed" if decline_code else "succeeded",
        }
        self.charges[charge["id"]] = charge
        intent["latest_charge"] = charge["id"]
        if decline_code:
            failure = self._card_error(
                decline_code, charge=charge["id"], payment_method=payment_method
            )
            intent.update(
                status="requires_payment_method",
                payment_method=None,
                last_payment_error=failure.error,
            )
            failure.error["payment_intent"] = copy.deepcopy(intent)
            self._emit("payment_intent.payment_failed", intent)
            raise failure
        intent.update(
            status="succeeded",
            payment_method=payment_method["id"],
            amount_received=intent["amount"],
            last_payment_error=None,
        )
        self._emit("payment_intent.succeeded", intent)
        return copy.deepcopy(intent)

    # --- refunds --------------------------------------------------------------------------------

    def _create_refund(self, call: _Call) -> dict[str, Any]:
        params = call.params
        if params.get("payment_intent"):
            intent = self.payment_intents.get(params["payment_intent"])
            if intent is None:
                raise _missing("payment_intent", params["payment_intent"], "payment_intent")
            charge = self.charges.get(intent["latest_charge"] or "")
            param = "payment_intent"
        elif params.get("charge"):
            charge = self.charges.get(params["charge"])
            if charge is None:
                raise _missing("charge", params["charge"], "charge")
            param = "charge"
        else:
            raise _error(
                400,
                "invalid_request_error",
                "One of the following params should be provided for this request: "
                "payment_intent or charge.",
                code="parameter_missing",
            )
        if charge is None or charge["status"] != "succeeded":
            raise _error(
                400,
                "invalid_request_error",
                "This PaymentIntent does not have a successful charge to refund.",
                param=param,
            )
        refundable = charge["amount"] - charge["amount_refunded"]
        if refundable == 0:
            raise _error(
                400,
                "invalid_request_error",
                f"Charge {charge['id']} has already been refunded.",
                code="charge_already_refunded",
            )
        amount = _int_param(params, "amount")
        amount = refundable if amount is None else amount
        if amount > refundable:
            raise _error(
                400,
                "invalid_request_error",
                f"Refund amount ({amount}) is greater than unrefunded amount on charge "
                f"({refundable}).",
                code="amount_too_large",
                param="amount",
            )
        if amount < 1:
            raise _error(
                400,
                "invalid_request_error",
                "Refund amount must be positive.",
                code="amount_too_small",
                param="amount",
            )
        refund = {
            "id": _new_id("re"),
            "object": "refund",
            "amount": amount,
            "balance_transaction": None,
            "charge": charge["id"],
            "created": int(time.time()),
            "currency": charge["currency"],
            "metadata": _metadata(params),
            "payment_intent": charge["payment_intent"],
            "reason": params.get("reason"),
            "receipt_number": None,
            "status": "succeeded",
        }
        self.refunds[refund["id"]] = refund
        charge["amount_refunded"] += amount
        charge["refunded"] = charge["amount_refunded"] == charge["amount"]
        self._emit("charge.refunded", charge)
        return copy.deepcopy(refund)

    def _retrieve_refund(self, call: _Call, object_id: str) -> dict[str, Any]:
        refund = self.refunds.get(object_id)
        if refund is None:
            raise _missing("refund", object_id)
        return copy.deepcopy(refund)

    def _emit(self, event_type: str, data_object: dict[str, Any]) -> None:
        self.events.append(self.event(event_type, data_object))


def _fingerprint(method: str, path: str, params: dict[str, Any]) -> tuple[str, str, str]:
    return method, path, json.dumps(params, sort_keys=True)


def _new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:24]}"


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakeStripe

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that gave up on a held response leaves a broken pipe; that is the point.
        pass


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.0"

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def _dispatch(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        fake = self.server.fake
        if self.path.startswith(HOSTED_PREFIX):  # the hosted Checkout page, for browsers
            self._send_page(*fake._hosted(method, urlsplit(self.path).path, body))
            return
        response = fake._handle(method, self.path, self.headers, body)
        if response.hold_seconds:
            fake._release.wait(response.hold_seconds)
        payload = json.dumps(response.body).encode("utf-8")
        try:
            self.send_response(response.status)
            for name, value in response.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _send_page(self, status: int, headers: dict[str, str], content: bytes) -> None:
        try:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(content)))
            self.end_headers()
            self.wfile.write(content)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def fake_stripe() -> Iterator[FakeStripe]:
    """A running fake, stopped after the test. Import it into a test module or a conftest."""
    with FakeStripe() as fake:
        yield fake
