"""Stripe webhooks: verify the signature, store the event once, handle it, in one transaction.

- The ``Stripe-Signature`` header is checked against ``STRIPE_WEBHOOK_SECRET`` with a tolerance
  of five minutes; a bad, missing or stale signature is refused and nothing is stored.
- ``WebhookEvent.event_id`` is unique: the first delivery inserts the row and handles the event
  in the same transaction; a repeat (even a concurrent one, which waits on the unique index)
  finds the row processed and does nothing. If handling fails, the transaction rolls back, the
  error is stored on an unprocessed row and the view answers 500, so Stripe delivers again.
- Handlers only move a payment forward (``outcomes.payment_apply_outcome``): a success is never
  undone, so events arriving twice, concurrently or out of order (failed after succeeded) leave
  a paid invoice paid.

Our Payment is found by ``metadata.payment_id`` (set on every PaymentIntent we create) or by its
``external_id`` (the PaymentIntent id).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import stripe
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.errors import DomainError
from billing.models import Gateway, Payment, WebhookEvent
from billing.payments.cards import card_save
from billing.payments.gateways import ChargeOutcome, ChargeResult
from billing.payments.gateways.stripe_gateway import checkout_outcome, from_fen, to_fen
from billing.payments.outcomes import payment_apply_outcome
from billing.payments.refunds import (
    payment_record_refund,
    refund_report,
    refunds_confirm_through,
)

logger = logging.getLogger(__name__)

SIGNATURE_TOLERANCE_SECONDS = 300  # Stripe's default: older signatures may be replays


class WebhookSignatureInvalid(DomainError):
    code = "invalid_signature"
    status = 400


class WebhookNotConfigured(DomainError):
    code = "webhook_not_configured"
    status = 503


class WebhookProcessingFailed(DomainError):
    code = "webhook_failed"
    status = 500


@dataclass(frozen=True)
class WebhookResult:
    event_id: str
    type: str
    duplicate: bool
    outcome: str


def _verified_event(payload: bytes, signature: str | None) -> dict[str, Any]:
    secret = settings.STRIPE_WEBHOOK_SECRET
    if not secret:
        raise WebhookNotConfigured("STRIPE_WEBHOOK_SECRET is not set; events cannot be verified.")
    if not signature:
        raise WebhookSignatureInvalid("Missing Stripe-Signature header.")
    try:
        stripe.WebhookSignature.verify_header(
            payload.decode("utf-8"), signature, secret, SIGNATURE_TOLERANCE_SECONDS
        )
        event = json.loads(payload)
    except (stripe.SignatureVerificationError, UnicodeDecodeError, ValueError) as exc:
        raise WebhookSignatureInvalid(f"Invalid webhook: {exc}") from exc
    valid = (
        isinstance(event, dict)
        and isinstance(event.get("id"), str)
        and isinstance(event.get("type"), str)
        and isinstance(event.get("created"), int)
        and isinstance((event.get("data") or {}).get("object"), dict)
    )
    if not valid:
        raise WebhookSignatureInvalid("Not a Stripe event.")
    return event


def _claim(event: dict[str, Any]) -> WebhookEvent:
    """Insert the event, or lock the stored one (a concurrent twin waits here for the first)."""
    try:
        with transaction.atomic():
            return WebhookEvent.objects.create(
                event_id=event["id"],
                type=event["type"],
                created=datetime.fromtimestamp(event["created"], tz=UTC),
                payload=event,
            )
    except IntegrityError:
        return WebhookEvent.objects.select_for_update().get(event_id=event["id"])


def _record_failure(event: dict[str, Any], exc: Exception) -> None:
    with transaction.atomic():
        stored, _ = WebhookEvent.objects.get_or_create(
            event_id=event["id"],
            defaults={
                "type": event["type"],
                "created": datetime.fromtimestamp(event["created"], tz=UTC),
                "payload": event,
            },
        )
        if stored.processed_at is None:
            stored.error = f"{type(exc).__name__}: {exc}"[:2000]
            stored.save(update_fields=["error"])


def webhook_receive(*, payload: bytes, signature: str | None) -> WebhookResult:
    """Verify, store and handle one Stripe event delivery. Idempotent per event id."""
    event = _verified_event(payload, signature)
    try:
        with transaction.atomic():
            stored = _claim(event)
            if stored.processed_at is not None:
                return WebhookResult(
                    event["id"], event["type"], duplicate=True, outcome="duplicate"
                )
            outcome = _dispatch(event)
            stored.processed_at = timezone.now()
            stored.error = ""
            stored.save(update_fields=["processed_at", "error"])
    except Exception as exc:
        logger.exception("Stripe event %s (%s) failed", event["id"], event["type"])
        _record_failure(event, exc)
        raise WebhookProcessingFailed(
            "The event could not be processed; it will be retried."
        ) from exc
    return WebhookResult(event["id"], event["type"], duplicate=False, outcome=outcome)


# --- handlers -----------------------------------------------------------------------------------


def _find_payment(intent_id: str | None, metadata: dict[str, Any] | None) -> Payment | None:
    payment_id = str((metadata or {}).get("payment_id") or "")
    stripe_payments = Payment.objects.filter(gateway=Gateway.STRIPE)
    if payment_id.isdigit():
        payment = stripe_payments.filter(pk=int(payment_id)).first()
        if payment is not None and payment.external_id in ("", intent_id):
            return payment
    if intent_id:
        return stripe_payments.filter(external_id=intent_id).first()
    return None


def _intent_succeeded(event: dict[str, Any], intent: dict[str, Any]) -> str:
    payment = _find_payment(intent.get("id"), intent.get("metadata"))
    if payment is None:
        return "no matching payment"
    received = intent.get("amount_received")
    if received is not None and received != to_fen(payment.amount):
        logger.error(
            "PaymentIntent %s received %s fen for payment %s of %s",
            intent.get("id"),
            received,
            payment.pk,
            payment.amount,
        )
    settled = payment_apply_outcome(
        payment_id=payment.pk,
        result=ChargeResult(ChargeOutcome.SUCCEEDED, external_id=intent["id"]),
        actor_label="webhook",
        reason=f"Stripe event {event['id']}",
    )
    return f"payment {settled.pk} {settled.status}"


def _intent_failed(event: dict[str, Any], intent: dict[str, Any]) -> str:
    payment = _find_payment(intent.get("id"), intent.get("metadata"))
    if payment is None:
        return "no matching payment"
    error = intent.get("last_payment_error") or {}
    settled = payment_apply_outcome(
        payment_id=payment.pk,
        result=ChargeResult(
            ChargeOutcome.DECLINED,
            external_id=intent["id"],
            failure_code=error.get("decline_code") or error.get("code") or "payment_failed",
            failure_message=error.get("message") or "The payment failed.",
        ),
        actor_label="webhook",
        reason=f"Stripe event {event['id']}",
    )
    return f"payment {settled.pk} {settled.status}"


def _charge_refunded(event: dict[str, Any], charge: dict[str, Any]) -> str:
    payment = _find_payment(charge.get("payment_intent"), charge.get("metadata"))
    if payment is None or not isinstance(charge.get("amount_refunded"), int):
        return "no matching payment"
    refunded = from_fen(charge["amount_refunded"])
    settled = payment_record_refund(
        payment_id=payment.pk, amount_refunded=refunded, actor_label="webhook"
    )
    refunds_confirm_through(payment_id=payment.pk, refunded_total=refunded, actor_label="webhook")
    return f"payment {settled.pk} {settled.status}, refunded {settled.amount_refunded}"


def _refund_updated(event: dict[str, Any], refund: dict[str, Any]) -> str:
    """``refund.updated`` / ``refund.failed``: a refund we sent settled, or failed."""
    status = "failed" if event["type"] == "refund.failed" else str(refund.get("status") or "")
    settled = refund_report(
        refund_id=str(refund.get("id") or ""), status=status, actor_label="webhook"
    )
    return "no matching refund" if settled is None else f"refund {settled.pk} {settled.status}"


def _checkout_settled(event: dict[str, Any], session: dict[str, Any]) -> str:
    """``checkout.session.completed`` (paid, or an async payment still on its way),
    ``.async_payment_succeeded`` / ``.async_payment_failed`` or ``.expired``."""
    payment = _find_checkout_payment(session)
    if payment is None:
        return "no matching payment"
    result = checkout_outcome(session)
    if event["type"] == "checkout.session.async_payment_failed":
        result = ChargeResult(
            ChargeOutcome.DECLINED,
            external_id=result.external_id,
            failure_code="async_payment_failed",
            failure_message="The payment started on the payment page did not go through.",
        )
    if result.outcome == ChargeOutcome.UNKNOWN:
        return f"payment {payment.pk} still open"
    settled = payment_apply_outcome(
        payment_id=payment.pk,
        result=result,
        actor_label="webhook",
        reason=f"Stripe event {event['id']}",
    )
    return f"payment {settled.pk} {settled.status}"


def _find_checkout_payment(session: dict[str, Any]) -> Payment | None:
    stripe_payments = Payment.objects.filter(gateway=Gateway.STRIPE)
    session_id = session.get("id") or ""
    payment_id = str((session.get("metadata") or {}).get("payment_id") or "")
    if payment_id.isdigit():
        payment = stripe_payments.filter(pk=int(payment_id)).first()
        if payment is not None and payment.reference in ("", session_id):
            return payment
    if session_id:
        return stripe_payments.filter(reference=session_id).first()
    return None


def _setup_succeeded(event: dict[str, Any], setup_intent: dict[str, Any]) -> str:
    customer, method = setup_intent.get("customer"), setup_intent.get("payment_method")
    if not (customer and method):
        return "no card"
    account = card_save(stripe_customer_id=customer, payment_method_id=method)
    return "card saved" if account else "no matching account"


HANDLERS = {
    "payment_intent.succeeded": _intent_succeeded,
    "payment_intent.payment_failed": _intent_failed,
    "charge.refunded": _charge_refunded,
    "refund.updated": _refund_updated,
    "refund.failed": _refund_updated,
    "setup_intent.succeeded": _setup_succeeded,
    "checkout.session.completed": _checkout_settled,
    "checkout.session.async_payment_succeeded": _checkout_settled,
    "checkout.session.async_payment_failed": _checkout_settled,
    "checkout.session.expired": _checkout_settled,
}


def _dispatch(event: dict[str, Any]) -> str:
    handler = HANDLERS.get(event["type"])
    if handler is None:
        return "ignored"
    return handler(event, event["data"]["object"])
