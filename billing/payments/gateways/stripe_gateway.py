"""Stripe through stripe-python's ``StripeClient``: customers, SetupIntents to save a card,
off-session PaymentIntents (one per payment attempt) and refunds.

Every POST with a money effect carries an idempotency key derived from our own rows
(``Payment.idempotency_key``), never the random key stripe-python would add: a retried task or a
reconciliation re-sends the same key and Stripe replays the original outcome instead of charging
again. The client itself never retries (``max_network_retries=0``); retries are ours, explicit.

Error mapping for a charge (``ChargeOutcome``):
- ``CardError`` (402): DECLINED with the decline code.
- ``InvalidRequestError`` (400/404: customer or card missing, amount invalid): DECLINED. Stripe
  stores no result for a request it refused before running, so nothing was charged.
- ``APIConnectionError`` (timeout, reset), ``APIError`` (5xx), ``RateLimitError`` (429),
  ``IdempotencyError`` and anything else: UNKNOWN. A 5xx is indeterminate on Stripe, and a
  timeout may follow a charge that went through, so none of them may free the invoice for a
  new attempt under a new key; reconciliation asks again with the same key.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from decimal import Decimal
from ipaddress import ip_address
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import requests
import stripe
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone

from accounts.money import quantize_money
from billing.models import Gateway
from billing.payments.gateways.base import (
    ChargeOutcome,
    ChargeResult,
    CheckoutResult,
    GatewayError,
    GatewayOutcomeUnknown,
    RefundResult,
    SetupResult,
)

if TYPE_CHECKING:
    from billing.models import BillingAccount, Payment

logger = logging.getLogger(__name__)

# Stripe prunes idempotency keys after 24 hours; past that, re-sending a create with the same key
# would charge afresh, so reconciliation stops re-sending a little before.
IDEMPOTENCY_WINDOW = timedelta(hours=23)
FEN_PER_YUAN = 100


def to_fen(amount: Decimal) -> int:
    """CNY to Stripe's smallest unit (fen), exactly: an amount finer than the fen is an error."""
    fen = amount * FEN_PER_YUAN
    if fen != fen.to_integral_value():
        raise ValueError(f"{amount} is not settled to the fen")
    return int(fen)


def from_fen(fen: int) -> Decimal:
    return quantize_money(Decimal(fen) / FEN_PER_YUAN)


def _is_loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ip_address(host).is_loopback
    except ValueError:
        return False


def _field(obj: Any, name: str, default: Any = None) -> Any:
    """A field of a StripeObject (or dict) that may be absent."""
    if obj is None:
        return default
    try:
        value = obj[name]
    except (KeyError, TypeError, AttributeError):
        return default
    return default if value is None else value


class StripeGateway:
    name = Gateway.STRIPE
    can_charge = True

    def __init__(self, *, api_key: str, api_base: str, timeout: float):
        if not api_key:
            raise ImproperlyConfigured("STRIPE_API_KEY is required for the Stripe gateway.")
        session = requests.Session()
        # A loopback API base (stripe-mock, the test fake) is never sent through a proxy.
        session.trust_env = not _is_loopback(api_base)
        self.client = stripe.StripeClient(
            api_key,
            base_addresses={"api": api_base},
            http_client=stripe.RequestsClient(timeout=timeout, session=session),
            max_network_retries=0,
        )

    @classmethod
    def from_settings(cls) -> StripeGateway:
        return cls(
            api_key=settings.STRIPE_API_KEY,
            api_base=settings.STRIPE_API_BASE,
            timeout=settings.STRIPE_TIMEOUT_SECONDS,
        )

    # --- customers and cards --------------------------------------------------------------------

    def ensure_customer(self, account: BillingAccount) -> str:
        if account.stripe_customer_id:
            return account.stripe_customer_id
        organization = account.organization
        params: dict[str, Any] = {
            "name": organization.name,
            "metadata": {"organization_id": str(organization.pk)},
        }
        if account.billing_email:
            params["email"] = account.billing_email
        try:
            customer = self.client.v1.customers.create(
                params=params,  # type: ignore[arg-type]
                options={"idempotency_key": f"customer-organization-{organization.pk}"},
            )
        except stripe.StripeError as exc:
            raise GatewayError(f"Stripe could not create the customer: {exc.user_message}") from exc
        return customer.id

    def create_setup_intent(self, account: BillingAccount) -> SetupResult:
        if not account.stripe_customer_id:
            raise GatewayError("Create the Stripe customer first.")
        try:
            setup_intent = self.client.v1.setup_intents.create(
                params={
                    "customer": account.stripe_customer_id,
                    "usage": "off_session",
                    "payment_method_types": ["card"],
                    "metadata": {"organization_id": str(account.organization_id)},
                }
            )
        except stripe.StripeError as exc:
            raise GatewayError(
                f"Stripe could not start the card setup: {exc.user_message}"
            ) from exc
        return SetupResult(external_id=setup_intent.id, client_secret=setup_intent.client_secret)

    # --- charges --------------------------------------------------------------------------------

    def _intent_params(self, payment: Payment, account: BillingAccount) -> dict[str, Any]:
        """The create parameters, built only from the payment's own stored fields, so that a
        re-send with the same key is byte-for-byte the same request."""
        invoice = payment.invoice
        return {
            "amount": to_fen(payment.amount),
            "currency": invoice.currency.lower(),
            "customer": account.stripe_customer_id,
            "payment_method": payment.reference,  # the card charged, fixed when created
            "confirm": True,
            "off_session": True,
            "description": f"Invoice {invoice.number}",
            "metadata": {
                "invoice_id": str(invoice.pk),
                "invoice_number": invoice.number or "",
                "payment_id": str(payment.pk),
            },
        }

    def charge(self, payment: Payment, account: BillingAccount) -> ChargeResult:
        try:
            intent = self.client.v1.payment_intents.create(
                params=self._intent_params(payment, account),  # type: ignore[arg-type]
                options={"idempotency_key": payment.idempotency_key},
            )
        except stripe.CardError as exc:
            return _declined(exc)
        except stripe.InvalidRequestError as exc:
            return ChargeResult(
                ChargeOutcome.DECLINED,
                failure_code=exc.code or "invalid_request",
                failure_message=exc.user_message or "Stripe refused the charge.",
            )
        except stripe.StripeError as exc:
            # Timeouts, 5xx, 429, idempotency conflicts, authentication: the outcome is unknown.
            logger.warning("Stripe charge of payment %s: outcome unknown (%r)", payment.pk, exc)
            return ChargeResult(
                ChargeOutcome.UNKNOWN,
                failure_code=exc.code or type(exc).__name__,
                failure_message=(exc.user_message or str(exc))[:500],
            )
        return _from_intent(intent)

    def retrieve(self, payment: Payment, account: BillingAccount) -> ChargeResult:
        """Ask Stripe how ``payment`` ended.

        With the PaymentIntent id known, read it. Without (the create timed out), re-send the
        create with the *same* idempotency key: Stripe replays the stored outcome, or, if the
        first request never ran, runs it now, once. Past Stripe's key window that would charge
        afresh, so the payment is left UNKNOWN for an admin instead.
        """
        if is_checkout(payment) and not payment.external_id:
            return self._retrieve_checkout(payment)
        if payment.external_id:
            try:
                intent = self.client.v1.payment_intents.retrieve(payment.external_id)
            except stripe.StripeError as exc:
                return ChargeResult(
                    ChargeOutcome.UNKNOWN,
                    external_id=payment.external_id,
                    failure_code=exc.code or type(exc).__name__,
                    failure_message=(exc.user_message or str(exc))[:500],
                )
            return _from_intent(intent)
        if timezone.now() - payment.created_at > IDEMPOTENCY_WINDOW:
            return ChargeResult(
                ChargeOutcome.UNKNOWN,
                failure_code="needs_manual_reconciliation",
                failure_message=(
                    "Stripe's idempotency key has expired and the PaymentIntent id is unknown: "
                    "check the Stripe dashboard (metadata payment_id) and settle by hand."
                ),
            )
        return self.charge(payment, account)

    # --- hosted checkout -----------------------------------------------------------------------

    def create_checkout(
        self, payment: Payment, *, success_url: str, cancel_url: str
    ) -> CheckoutResult:
        """A Checkout Session (mode ``payment``) for ``payment.amount``. The metadata names our
        payment on the session and on the PaymentIntent it makes, so either webhook finds it."""
        invoice = payment.invoice
        metadata = {
            "invoice_id": str(invoice.pk),
            "invoice_number": invoice.number or "",
            "payment_id": str(payment.pk),
        }
        try:
            session = self.client.v1.checkout.sessions.create(
                params={
                    "mode": "payment",
                    "line_items": [
                        {
                            "quantity": 1,
                            "price_data": {
                                "currency": invoice.currency.lower(),
                                "unit_amount": to_fen(payment.amount),
                                "product_data": {"name": f"Invoice {invoice.number}"},
                            },
                        }
                    ],
                    "payment_method_types": ["card"],
                    "client_reference_id": str(invoice.pk),
                    "success_url": success_url,
                    "cancel_url": cancel_url,
                    "metadata": metadata,
                    "payment_intent_data": {
                        "description": f"Invoice {invoice.number}",
                        "metadata": metadata,
                    },
                },
                options={"idempotency_key": payment.idempotency_key},
            )
        except stripe.StripeError as exc:
            raise GatewayError(
                f"Stripe could not open the payment page: {exc.user_message or exc}"
            ) from exc
        if not session.url:
            raise GatewayError("Stripe returned a Checkout Session without a payment page.")
        return CheckoutResult(session_id=session.id, url=session.url)

    def _retrieve_checkout(self, payment: Payment) -> ChargeResult:
        """How a hosted checkout ended: paid, expired, or still open (unknown)."""
        if not payment.reference.startswith(CHECKOUT_SESSION_PREFIX):
            return ChargeResult(
                ChargeOutcome.DECLINED,
                failure_code="checkout_not_opened",
                failure_message="Stripe never opened the payment page.",
            )
        try:
            session = self.client.v1.checkout.sessions.retrieve(payment.reference)
        except stripe.StripeError as exc:
            return ChargeResult(
                ChargeOutcome.UNKNOWN,
                failure_code=exc.code or type(exc).__name__,
                failure_message=(exc.user_message or str(exc))[:500],
            )
        return checkout_outcome(session)

    # --- refunds --------------------------------------------------------------------------------

    def refund(self, payment: Payment, amount: Decimal, *, idempotency_key: str) -> RefundResult:
        if not payment.external_id:
            raise GatewayError("The payment has no PaymentIntent to refund.")
        try:
            refund = self.client.v1.refunds.create(
                params={
                    "payment_intent": payment.external_id,
                    "amount": to_fen(amount),
                    "metadata": {"payment_id": str(payment.pk)},
                },
                options={"idempotency_key": idempotency_key},
            )
        except (stripe.APIConnectionError, stripe.APIError) as exc:
            raise GatewayOutcomeUnknown(
                f"Stripe did not answer the refund: {exc.user_message or exc}"
            ) from exc
        except stripe.StripeError as exc:
            raise GatewayError(f"Stripe refused the refund: {exc.user_message}") from exc
        return RefundResult(
            external_id=refund.id, amount=from_fen(refund.amount), status=refund.status or ""
        )


CHECKOUT_SESSION_PREFIX = "cs_"
CHECKOUT_KEY_PREFIX = "checkout-"


def is_checkout(payment: Payment) -> bool:
    """A payment made on a hosted Checkout page: its key says so, and its reference keeps the
    session id once Stripe has opened the page. Such a payment is never charged directly."""
    return payment.idempotency_key.startswith(CHECKOUT_KEY_PREFIX) or payment.reference.startswith(
        CHECKOUT_SESSION_PREFIX
    )


def checkout_outcome(session: Any) -> ChargeResult:
    """A Checkout Session (object or webhook dict) as a charge outcome."""
    intent = _field(session, "payment_intent", "")
    intent_id = intent if isinstance(intent, str) else _field(intent, "id", "")
    if _field(session, "payment_status") in ("paid", "no_payment_required"):
        return ChargeResult(ChargeOutcome.SUCCEEDED, external_id=intent_id)
    if _field(session, "status") == "expired":
        return ChargeResult(
            ChargeOutcome.DECLINED,
            external_id=intent_id,
            failure_code="checkout_expired",
            failure_message="The payment page expired before the card was charged.",
        )
    return ChargeResult(
        ChargeOutcome.UNKNOWN,
        external_id=intent_id,
        failure_code="checkout_open",
        failure_message="The customer has not finished paying on the payment page.",
    )


def _declined(exc: stripe.CardError) -> ChargeResult:
    error = exc.error
    intent = _field(error, "payment_intent")
    return ChargeResult(
        ChargeOutcome.DECLINED,
        external_id=_field(intent, "id", ""),
        failure_code=_field(error, "decline_code") or exc.code or "card_declined",
        failure_message=(exc.user_message or "The card was declined.")[:500],
    )


def _from_intent(intent: Any) -> ChargeResult:
    status = _field(intent, "status", "")
    if status == "succeeded":
        return ChargeResult(ChargeOutcome.SUCCEEDED, external_id=intent.id)
    if status in ("requires_payment_method", "requires_action", "canceled"):
        error = _field(intent, "last_payment_error")
        code = _field(error, "decline_code") or _field(error, "code")
        if not code:
            code = "authentication_required" if status == "requires_action" else status
        return ChargeResult(
            ChargeOutcome.DECLINED,
            external_id=intent.id,
            failure_code=code,
            failure_message=str(_field(error, "message", f"Payment {status}."))[:500],
        )
    # processing, requires_confirmation, requires_capture: not settled yet.
    return ChargeResult(
        ChargeOutcome.UNKNOWN,
        external_id=intent.id,
        failure_code=status,
        failure_message=f"PaymentIntent is {status}.",
    )
