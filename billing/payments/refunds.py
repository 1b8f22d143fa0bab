"""Refunds of succeeded payments through their gateway, and refunds the gateway reports."""

from __future__ import annotations

from decimal import Decimal

from django.db import transaction

from accounts.errors import InvalidInput
from accounts.models import User
from billing.models import Invoice, Payment, PaymentStatus
from billing.payments.errors import GatewayFailed, PaymentNotRefundable, valid_amount
from billing.payments.gateways import GatewayError, get_gateway
from billing.payments.outcomes import record_event


def payment_refund(
    *, payment: Payment, amount: Decimal, actor: User | None = None, actor_label: str = ""
) -> Payment:
    """Give back ``amount`` of a succeeded payment through its gateway. Updates the payment only;
    the accounting (credit note, balance) is the caller's. Retrying after a lost answer re-sends
    the same key (derived from what was refunded before), so it never refunds twice."""
    amount = valid_amount(amount)
    with transaction.atomic(durable=True):
        locked = Payment.objects.select_for_update().get(pk=payment.pk)
        if locked.status != PaymentStatus.SUCCEEDED:
            raise PaymentNotRefundable(
                f"Only a succeeded payment can be refunded ({locked.status})."
            )
        if amount > locked.amount - locked.amount_refunded:
            raise InvalidInput("amount", "More than what is left to refund on this payment.")
        refunded_before = locked.amount_refunded
    key = f"refund-payment-{locked.pk}-after-{refunded_before}-of-{amount}"
    try:
        result = get_gateway(locked.gateway).refund(locked, amount, idempotency_key=key)
    except GatewayError as exc:
        raise GatewayFailed(str(exc)) from exc
    with transaction.atomic():
        Invoice.objects.select_for_update().get(pk=locked.invoice_id)
        locked = Payment.objects.select_for_update().get(pk=locked.pk)
        if locked.amount_refunded == refunded_before:  # a webhook may have recorded it already
            _set_refunded(
                locked, refunded_before + result.amount, actor=actor, actor_label=actor_label
            )
        return locked


def _set_refunded(
    payment: Payment, amount_refunded: Decimal, *, actor: User | None, actor_label: str
) -> None:
    """Raise ``amount_refunded`` (never lower it: refund reports are cumulative and may arrive
    out of order); a full refund moves the payment to ``refunded``. Caller holds the lock."""
    if amount_refunded <= payment.amount_refunded:
        return
    before = payment.status
    payment.amount_refunded = min(amount_refunded, payment.amount)
    if payment.amount_refunded >= payment.amount:
        payment.status = PaymentStatus.REFUNDED
    payment.save(update_fields=["amount_refunded", "status", "updated_at"])
    record_event(
        payment,
        before,
        actor=actor,
        actor_label=actor_label,
        reason=f"Refunded {payment.amount_refunded} of {payment.amount}",
    )


def payment_record_refund(
    *, payment_id: int, amount_refunded: Decimal, actor_label: str = ""
) -> Payment:
    """Record a gateway's cumulative refunded amount for a payment (webhook ``charge.refunded``)."""
    with transaction.atomic():
        invoice_id = Payment.objects.values_list("invoice_id", flat=True).get(pk=payment_id)
        Invoice.objects.select_for_update().get(pk=invoice_id)
        payment = Payment.objects.select_for_update().get(pk=payment_id)
        if payment.status in (PaymentStatus.SUCCEEDED, PaymentStatus.REFUNDED):
            _set_refunded(payment, amount_refunded, actor=None, actor_label=actor_label)
        return payment
