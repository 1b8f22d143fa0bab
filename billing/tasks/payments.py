"""Celery entry points for payments: thin, idempotent, bounded, with time limits.

Each task takes ids, re-fetches, returns quietly when the work is already done, and may run
twice: the services claim their work under lock and call Stripe with keys derived from our rows.
"""

from __future__ import annotations

from datetime import date

from celery import shared_task
from django.utils import timezone

from accounts.models import Organization
from billing import dispatch
from billing.models import IN_FLIGHT
from billing.payments.charges import RECONCILE_AFTER_SECONDS, invoice_collect, reconcile_unknown
from billing.payments.transfers import balance_apply


class PaymentOutcomeUnknown(Exception):
    """Stripe did not say how a charge ended (timeout, 5xx, 429): ask again later, same key."""


@shared_task(
    bind=True,
    name=dispatch.CHARGE_INVOICE,
    autoretry_for=(PaymentOutcomeUnknown,),
    max_retries=3,
    retry_backoff=60,  # 60 s, 120 s, 240 s; then billing.reconcile_payments takes over
    retry_backoff_max=600,
    retry_jitter=False,
    acks_late=True,
    time_limit=180,
    soft_time_limit=150,
)
def charge_invoice(self, invoice_id: int, on: str | None = None) -> str | None:
    """One automatic collection attempt for an invoice, if due on ``on`` (ISO date; today by
    default). A retry reconciles the same payment with the same idempotency key."""
    today = date.fromisoformat(on) if on else timezone.localdate()
    payment = invoice_collect(invoice_id=invoice_id, today=today)
    if payment is None:
        return None
    if payment.status in IN_FLIGHT:
        raise PaymentOutcomeUnknown(f"payment {payment.pk} of invoice {invoice_id}")
    return payment.status


@shared_task(name="billing.reconcile_payments", acks_late=True, time_limit=900, soft_time_limit=840)
def reconcile_payments(older_than_seconds: int = RECONCILE_AFTER_SECONDS) -> dict[str, int]:
    """Settle card payments left pending or unknown by asking Stripe with their own keys."""
    return reconcile_unknown(older_than_seconds=older_than_seconds)


@shared_task(name=dispatch.APPLY_BALANCE, acks_late=True, time_limit=180, soft_time_limit=150)
def apply_balance(organization_id: int) -> str:
    """Apply an organisation's balance to its unpaid invoices (after a payout statement was
    credited to it). Idempotent: a balance already applied is zero, and nothing is spent twice
    (``balance_apply`` locks the organisation)."""
    organization = Organization.objects.filter(pk=organization_id).first()
    if organization is None:
        return "0"
    return str(balance_apply(organization=organization, actor_label="task:billing.apply_balance"))
