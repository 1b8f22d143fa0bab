"""Stripe Checkout for the fake Stripe server: Checkout Sessions over the API, and the hosted
payment page a customer is sent to.

API: ``POST /v1/checkout/sessions`` (mode ``payment``, ``line_items`` with ``price_data``,
``success_url``, ``cancel_url``, ``metadata``, ``payment_intent_data[metadata]``),
``GET /v1/checkout/sessions/{id}`` and ``POST /v1/checkout/sessions/{id}/expire``. A session's
``url`` is the fake's own hosted page, ``/pay/<session id>``.

The hosted page (HTML, no API key, as on Stripe): a card choice among the test cards and a pay
button. Paying charges the card through a PaymentIntent carrying ``payment_intent_data``'s
metadata; on success the session is ``complete``/``paid``, the fake emits
``payment_intent.succeeded`` and ``checkout.session.completed``, delivers both, signed, to
``webhook_url`` (when set, with ``webhook_secret``), records each answer in ``deliveries``, and
redirects the browser (303) to ``success_url`` with ``{CHECKOUT_SESSION_ID}`` filled in. A
declined card shows the decline on the page and nothing is delivered. "Cancel" goes back to
``cancel_url``.
"""

from __future__ import annotations

import copy
import html
import json
import time
import urllib.error
import urllib.request
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

if TYPE_CHECKING:
    from tests.fakes.stripe_server import _Call

HOSTED_PREFIX = "/pay/"
# The hosted page's card choices: test payment method, label.
HOSTED_CARDS = (
    ("pm_card_visa", "Visa •••• 4242"),
    ("pm_card_mastercard", "Mastercard •••• 4444"),
    ("pm_card_chargeDeclined", "Visa •••• 0002 (declined)"),
)


class CheckoutMixin:
    """Mixed into ``FakeStripe``: its state, routes and the hosted page."""

    webhook_url: str | None = None
    webhook_secret: str | None = None

    def _checkout_reset(self) -> None:
        self.checkout_sessions: dict[str, dict[str, Any]] = {}
        self.deliveries: list[tuple[str, int]] = []  # (event type, our answer's HTTP status)

    def _checkout_routes(self) -> list[tuple[str, str, Any]]:
        return [
            ("POST", "/v1/checkout/sessions", self._create_checkout_session),
            ("GET", "/v1/checkout/sessions/{id}", self._retrieve_checkout_session),
            ("POST", "/v1/checkout/sessions/{id}/expire", self._expire_checkout_session),
        ]

    # --- API ------------------------------------------------------------------------------------

    def _create_checkout_session(self, call: _Call) -> dict[str, Any]:
        from tests.fakes.stripe_server import _error, _int_param, _metadata, _new_id

        params = call.params
        if params.get("mode") != "payment":
            raise _error(
                400,
                "invalid_request_error",
                "The fake supports mode=payment only.",
                param="mode",
            )
        for name in ("success_url", "cancel_url"):
            if not params.get(name):
                raise _error(
                    400,
                    "invalid_request_error",
                    f"Missing required param: {name}.",
                    code="parameter_missing",
                    param=name,
                )
        items = params.get("line_items")
        if not isinstance(items, list) or not items:
            raise _error(
                400,
                "invalid_request_error",
                "Missing required param: line_items.",
                code="parameter_missing",
                param="line_items",
            )
        total, currency = 0, None
        for item in items:
            price = item.get("price_data") or {}
            amount = _int_param(price, "unit_amount", required=True) or 0
            quantity = _int_param(item, "quantity") or 1
            if amount < 1:
                raise _error(
                    400,
                    "invalid_request_error",
                    "unit_amount must be at least 1.",
                    code="amount_too_small",
                    param="line_items",
                )
            total += amount * quantity
            currency = (price.get("currency") or "").lower()
        session_id = _new_id("cs_test")
        intent_data = params.get("payment_intent_data") or {}
        session = {
            "id": session_id,
            "object": "checkout.session",
            "amount_subtotal": total,
            "amount_total": total,
            "cancel_url": params["cancel_url"],
            "client_reference_id": params.get("client_reference_id"),
            "created": int(time.time()),
            "currency": currency,
            "customer": params.get("customer"),
            "expires_at": int(time.time()) + 24 * 3600,
            "livemode": False,
            "metadata": _metadata(params),
            "mode": "payment",
            "payment_intent": None,
            "payment_status": "unpaid",
            "status": "open",
            "success_url": params["success_url"],
            "url": f"{self.api_base}{HOSTED_PREFIX}{session_id}",
            "_intent_metadata": _metadata(intent_data),
            "_description": intent_data.get("description"),
            "_name": ((items[0].get("price_data") or {}).get("product_data") or {}).get("name"),
        }
        self.checkout_sessions[session_id] = session
        return _public(session)

    def _checkout_session(self, session_id: str) -> dict[str, Any]:
        from tests.fakes.stripe_server import _missing

        session = self.checkout_sessions.get(session_id)
        if session is None:
            raise _missing("checkout.session", session_id)
        return session

    def _retrieve_checkout_session(self, call: _Call, object_id: str) -> dict[str, Any]:
        return _public(self._checkout_session(object_id))

    def _expire_checkout_session(self, call: _Call, object_id: str) -> dict[str, Any]:
        from tests.fakes.stripe_server import _error

        session = self._checkout_session(object_id)
        if session["status"] != "open":
            raise _error(
                400,
                "invalid_request_error",
                f"Only open Checkout Sessions can be expired (this one is {session['status']}).",
            )
        session["status"] = "expired"
        self._emit("checkout.session.expired", _public(session))
        return _public(session)

    # --- the hosted page ------------------------------------------------------------------------

    def _hosted(self, method: str, path: str, body: bytes) -> tuple[int, dict[str, str], bytes]:
        """Answer a browser on ``/pay/<session>`` (GET: the page; POST: pay; ``/cancel``)."""
        session_id, _, action = path[len(HOSTED_PREFIX) :].partition("/")
        with self._lock:
            session = self.checkout_sessions.get(session_id)
            if session is None:
                return 404, {}, _page("Not found", "<p>This payment page does not exist.</p>")
            if action == "cancel":
                return 303, {"Location": session["cancel_url"]}, b""
            if session["status"] != "open":
                return 410, {}, _page("Closed", f"<p>This session is {session['status']}.</p>")
            if method == "GET":
                return 200, {}, _form(session)
            form = dict(parse_qsl(body.decode("utf-8")))
            failure = self._pay_session(session, form.get("card") or "pm_card_visa")
            if failure:
                return 402, {}, _form(session, error=failure)
            intent = self.payment_intents[session["payment_intent"]]
            events = [
                self.event("payment_intent.succeeded", intent),
                self.event("checkout.session.completed", _public(session)),
            ]
            self.events.extend(events)
            target = session["success_url"].replace("{CHECKOUT_SESSION_ID}", session_id)
        for event in events:
            self._deliver(event)
        return 303, {"Location": target}, b""

    def _pay_session(self, session: dict[str, Any], card: str) -> str | None:
        """Charge the session's amount with ``card``; a decline's message, or None."""
        from tests.fakes.stripe_server import StripeFailure, _Call, _new_id

        intent_id = _new_id("pi")
        self.payment_intents[intent_id] = {
            "id": intent_id,
            "object": "payment_intent",
            "amount": session["amount_total"],
            "amount_received": 0,
            "currency": session["currency"],
            "customer": session["customer"],
            "description": session["_description"],
            "last_payment_error": None,
            "latest_charge": None,
            "livemode": False,
            "metadata": dict(session["_intent_metadata"]),
            "payment_method": card,
            "status": "requires_confirmation",
        }
        call = _Call("POST", f"/v1/payment_intents/{intent_id}/confirm", {}, "", None)
        try:
            self._charge(call, self.payment_intents[intent_id], card)
        except StripeFailure as failure:
            return str(failure.error.get("message") or "Your card was declined.")
        session.update(status="complete", payment_status="paid", payment_intent=intent_id)
        return None

    def _deliver(self, event: dict[str, Any]) -> None:
        if not (self.webhook_url and self.webhook_secret):
            return
        payload = json.dumps(event).encode("utf-8")
        request = urllib.request.Request(
            self.webhook_url,
            data=payload,
            method="POST",
            headers={
                "Content-Type": "application/json",
                "Stripe-Signature": self.sign_payload(payload, self.webhook_secret),
            },
        )
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        try:
            with opener.open(request, timeout=10) as answer:
                status = answer.status
        except urllib.error.HTTPError as error:
            status = error.code
        self.deliveries.append((event["type"], status))


def _public(session: dict[str, Any]) -> dict[str, Any]:
    return {key: copy.deepcopy(value) for key, value in session.items() if not key.startswith("_")}


def _page(title: str, content: str) -> bytes:
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<link rel="icon" href="data:,">'
        f"<title>{html.escape(title)} · Stripe Checkout (test)</title></head>"
        f"<body><main><h1>{html.escape(title)}</h1>{content}</main></body></html>"
    ).encode()


def _form(session: dict[str, Any], *, error: str | None = None) -> bytes:
    amount = f"{session['currency'].upper()} {session['amount_total'] / 100:,.2f}"
    options = "".join(
        f'<label><input type="radio" name="card" value="{value}"'
        f"{' checked' if index == 0 else ''}> {html.escape(label)}</label><br>"
        for index, (value, label) in enumerate(HOSTED_CARDS)
    )
    alert = f'<p role="alert">{html.escape(error)}</p>' if error else ""
    content = (
        f"<p>{html.escape(session.get('_name') or '')}</p><p>{html.escape(amount)}</p>{alert}"
        f'<form method="post"><fieldset><legend>Card</legend>{options}</fieldset>'
        f'<button type="submit">Pay {html.escape(amount)}</button></form>'
        f'<p><a href="{HOSTED_PREFIX}{session["id"]}/cancel">Cancel and go back</a></p>'
    )
    return _page("Test payment", content)
