"""Recording what a gateway said about a payment, idempotently (charges, webhooks, reconciliation).

A success is never undone: a failure reported after it (a late webhook) changes nothing, while a
success reported after a failure is recorded (the money moved). Every payment state change
writes a BillingEvent. Lock order everywhere: organisation, then invoice, then payment.
"""

from __future__ import annotations

from decimal import Decimal

from django.db import transaction
from django.db.models import F, Q

from accounts.models import User
from billing.ledger.audit import billing_event_record
from billing.ledger.invoices import PAYABLE, invoice_receive
from billing.models import (
    IN_FLIGHT,
    BillingAccount,
    BillingEvent,
    Invoice,
    Payment,
    PaymentMethod,
    PaymentStatus,
)
from billing.notifications import emails
from billing.payments.gateways import ChargeOutcome, ChargeResult
from billing.payments.gateways.stripe_gateway import is_checkout

PAYMENT = BillingEvent.Subject.PAYMENT


def billing_account(organization_id: int) -> BillingAccount | None:
    return BillingAccount.objects.filter(organization_id=organization_id).first()


def card_channel() -> Q:
    """Invoices collected by charging a saved card (the rest are dunned by email)."""
    return Q(customer__billing_account__payment_method=PaymentMethod.STRIPE_CARD) & ~Q(
        customer__billing_account__stripe_payment_method_id=""
    )


def unpaid() -> Q:
    return Q(status__in=PAYABLE, total__gt=F("amount_paid"))


def record_event(
    payment: Payment, from_status: str, *, actor: User | None, actor_label: str, reason: str = ""
) -> None:
    billing_event_record(
        PAYMENT,
        payment.pk,
        from_status,
        payment.status,
        actor=actor,
        actor_label=actor_label,
        reason=reason,
    )


def payment_receive(
    invoice: Invoice, payment: Payment, *, actor: User | None, actor_label: str
) -> Decimal:
    """Apply a succeeded ``payment`` to the locked ``invoice``; what does not fit (all of it,
    if the invoice was paid by other means meanwhile or voided) goes to the customer's
    balance. Returns the amount put on the balance."""
    return invoice_receive(
        invoice,
        payment.amount,
        payment=payment,
        excess_description=f"Over-payment of invoice {invoice.number} (payment {payment.pk})",
        actor=actor,
        actor_label=actor_label,
        reason=f"Payment of {payment.amount} {invoice.currency}.",
    )


def _failure_reason(invoice: Invoice, payment: Payment) -> str:
    reason = payment.failure_message or "Your card payment did not go through."
    if invoice.next_collection_on:
        return f"{reason} We will try again on {invoice.next_collection_on:%Y-%m-%d}."
    return f"{reason} Please update your card or pay by bank transfer."


def _save_failure(payment: Payment, status: str, result: ChargeResult) -> None:
    payment.status = status
    payment.failure_code = result.failure_code[:64]
    payment.failure_message = result.failure_message[:500]
    payment.save(
        update_fields=["status", "external_id", "failure_code", "failure_message", "updated_at"]
    )


def payment_apply_outcome(
    *,
    payment_id: int,
    result: ChargeResult,
    actor: User | None = None,
    actor_label: str = "",
    reason: str = "",
) -> Payment:
    """Record what the gateway said about a payment, idempotently, in one transaction (the
    caller's, if any: the webhook handler records inside its event's transaction).

    pending/unknown -> succeeded | failed | unknown; failed -> succeeded (the money moved after
    all); a succeeded or refunded payment never changes here. Returns the payment as it is now.
    """
    with transaction.atomic():
        invoice_id = Payment.objects.values_list("invoice_id", flat=True).get(pk=payment_id)
        invoice = Invoice.objects.select_for_update().get(pk=invoice_id)
        payment = Payment.objects.select_for_update().get(pk=payment_id)
        before = payment.status
        if result.external_id and not payment.external_id:
            payment.external_id = result.external_id

        if result.outcome == ChargeOutcome.SUCCEEDED and before in (
            *IN_FLIGHT,
            PaymentStatus.FAILED,
        ):
            payment.status = PaymentStatus.SUCCEEDED
            payment.save(update_fields=["status", "external_id", "updated_at"])
            record_event(payment, before, actor=actor, actor_label=actor_label, reason=reason)
            payment_receive(invoice, payment, actor=actor, actor_label=actor_label)
        elif result.outcome == ChargeOutcome.DECLINED and before in IN_FLIGHT:
            _save_failure(payment, PaymentStatus.FAILED, result)
            record_event(
                payment,
                before,
                actor=actor,
                actor_label=actor_label,
                reason=reason or f"{payment.failure_code}: {payment.failure_message}",
            )
            # No dunning mail for an invoice paid meanwhile, nor for a hosted payment page
            # that was left or expired (the customer chose not to pay there; nothing failed).
            if invoice.status in PAYABLE and not is_checkout(payment):
                emails.send_payment_failed(invoice, _failure_reason(invoice, payment))
        elif result.outcome == ChargeOutcome.UNKNOWN and before in IN_FLIGHT:
            _save_failure(payment, PaymentStatus.UNKNOWN, result)
            if before != PaymentStatus.UNKNOWN:
                record_event(
                    payment,
                    before,
                    actor=actor,
                    actor_label=actor_label,
                    reason=reason or f"Outcome unknown: {payment.failure_message}",
                )
        return payment
