"""Refunds of succeeded payments through their gateway, and refunds the gateway reports.

``payment_refund`` is the gateway step alone; ``refund_issue`` is what an admin does (the
endpoint and the invoice page): the accounting (credit note, balance), the gateway call and the
``Refund`` record, confirmed for cards by Stripe's webhook. Lock order: organisation, invoice,
payment, refund.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext

from accounts.errors import InvalidInput
from accounts.models import Organization, User
from accounts.money import ZERO
from billing.credits.credit_notes import credit_note_paid_out
from billing.ledger.audit import billing_event_record
from billing.ledger.balance import balance_credit
from billing.models import (
    BalanceEntry,
    BillingEvent,
    Invoice,
    Payment,
    PaymentStatus,
    Refund,
    RefundStatus,
)
from billing.payments.errors import GatewayFailed, PaymentNotRefundable, valid_amount
from billing.payments.gateways import GatewayError, GatewayOutcomeUnknown, get_gateway
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


# --- refunds an admin issues (the refund endpoint and the invoice page) --------------------------


@dataclass(frozen=True)
class RefundOutcome:
    refund: Refund
    replayed: bool  # an earlier request with the same Idempotency-Key made this refund


def _over_payment_held(payment: Payment, organization_id: int) -> Decimal:
    """What of ``payment`` went to the customer's balance and is still there to give back."""
    over = (
        BalanceEntry.objects.filter(payment=payment, amount__gt=0).aggregate(total=Sum("amount"))[
            "total"
        ]
        or ZERO
    )
    given_back = (
        payment.refunds.exclude(status=RefundStatus.FAILED).aggregate(total=Sum("from_balance"))[
            "total"
        ]
        or ZERO
    )
    held = (
        BalanceEntry.objects.filter(organization_id=organization_id).aggregate(total=Sum("amount"))[
            "total"
        ]
        or ZERO
    )
    return max(ZERO, min(over - given_back, held))


def _refund_key(*, user: User | None, payment: Payment, request_key: str) -> str:
    digest = hashlib.sha256(f"{getattr(user, 'pk', '')}:{payment.pk}:{request_key}".encode())
    return f"api-refund-{digest.hexdigest()[:48]}"


def _refund_event(refund: Refund, before: str, *, actor, actor_label: str, reason: str) -> None:
    billing_event_record(
        BillingEvent.Subject.REFUND,
        refund.pk,
        before,
        refund.status,
        actor=actor,
        actor_label=actor_label,
        reason=reason,
    )


def _refund_start(
    *, payment_id: int, amount: Decimal, reason: str, actor: User | None, key: str | None
) -> Refund:
    """Transaction 1: check, then book the refund before any money moves: the credit note
    where the invoice changes, the balance where it held an over-payment, ``amount_refunded``.
    A gateway that then refuses undoes only the cash side (``_refund_failed``)."""
    with transaction.atomic(durable=True):
        invoice_id = Payment.objects.values_list("invoice_id", flat=True).get(pk=payment_id)
        customer_id = Invoice.objects.values_list("customer_id", flat=True).get(pk=invoice_id)
        Organization.objects.select_for_update().get(pk=customer_id)
        invoice = Invoice.objects.select_for_update().get(pk=invoice_id)
        payment = Payment.objects.select_for_update().get(pk=payment_id)
        if payment.status != PaymentStatus.SUCCEEDED:
            raise PaymentNotRefundable(
                gettext("Only a succeeded payment can be refunded (this one is %(status)s).")
                % {"status": payment.get_status_display()}
            )
        if any(refund_unanswered(r) for r in payment.refunds.filter(status=RefundStatus.PENDING)):
            raise PaymentNotRefundable(
                gettext(
                    "An earlier refund of this payment got no answer from the payment provider; "
                    "repeat it with the same Idempotency-Key, or wait for its confirmation."
                )
            )
        left = payment.amount - payment.amount_refunded
        if amount > left:
            raise InvalidInput(
                "amount",
                gettext("At most %(amount)s is left to refund on this payment.") % {"amount": left},
            )
        from_balance = min(amount, _over_payment_held(payment, customer_id))
        number = payment.refunds.count() + 1
        refund = Refund.objects.create(
            payment=payment,
            amount=amount,
            from_balance=from_balance,
            reason=reason,
            idempotency_key=key or f"refund-payment-{payment.pk}-{number}",
            created_by=actor if actor is not None and actor.is_authenticated else None,
        )
        if amount > from_balance:
            refund.credit_note = credit_note_paid_out(
                invoice, amount - from_balance, reason=reason, by=actor, actor_label="refund"
            )
            refund.save(update_fields=["credit_note"])
        if from_balance:
            BalanceEntry.objects.create(
                organization_id=customer_id,
                amount=-from_balance,
                payment=payment,
                invoice=invoice,
                description=f"Refund {refund.pk} of an over-payment of payment {payment.pk}",
            )
        before = payment.status
        payment.amount_refunded += amount
        if payment.amount_refunded >= payment.amount:
            payment.status = PaymentStatus.REFUNDED
        payment.save(update_fields=["amount_refunded", "status", "updated_at"])
        record_event(
            payment,
            before,
            actor=actor,
            actor_label="refund",
            reason=f"Refund {refund.pk} of {amount}: {reason}",
        )
        _refund_event(refund, "", actor=actor, actor_label="refund", reason=reason)
    return refund


def _refund_failed(refund_id: int, message: str, *, actor_label: str) -> Refund:
    """The gateway refused: the cash did not move. The credit stands, so the amount goes to
    the customer's balance (applied to later invoices, or refunded again)."""
    with transaction.atomic():
        refund = Refund.objects.select_related("payment__invoice").get(pk=refund_id)
        invoice = refund.payment.invoice
        Organization.objects.select_for_update().get(pk=invoice.customer_id)
        Invoice.objects.select_for_update().get(pk=invoice.pk)
        payment = Payment.objects.select_for_update().get(pk=refund.payment_id)
        refund = Refund.objects.select_for_update().get(pk=refund_id)
        if refund.status == RefundStatus.FAILED:
            return refund
        before = refund.status
        refund.status = RefundStatus.FAILED
        refund.failure_message = message[:500]
        refund.save(update_fields=["status", "failure_message"])
        _refund_event(refund, before, actor=None, actor_label=actor_label, reason=message)
        payment_before = payment.status
        payment.amount_refunded = max(ZERO, payment.amount_refunded - refund.amount)
        payment.status = PaymentStatus.SUCCEEDED
        payment.save(update_fields=["amount_refunded", "status", "updated_at"])
        if payment_before != payment.status:
            record_event(payment, payment_before, actor=None, actor_label=actor_label)
        balance_credit(
            organization_id=invoice.customer_id,
            amount=refund.amount,
            description=f"Refund {refund.pk} failed: kept on the balance",
            invoice=invoice,
            payment=payment,
        )
        return refund


def refund_confirm(
    refund: Refund, *, actor_label: str, reason: str = "", actor: User | None = None
) -> Refund:
    """The gateway confirmed the refund (Stripe's webhook). Idempotent."""
    with transaction.atomic():
        refund = Refund.objects.select_for_update().get(pk=refund.pk)
        if refund.status != RefundStatus.PENDING:
            return refund
        refund.status = RefundStatus.SUCCEEDED
        refund.confirmed_at = timezone.now()
        refund.save(update_fields=["status", "confirmed_at"])
        _refund_event(
            refund, RefundStatus.PENDING, actor=actor, actor_label=actor_label, reason=reason
        )
        return refund


def refund_issue(
    *,
    payment: Payment,
    amount: Decimal,
    reason: str,
    actor: User | None,
    request_key: str = "",
    actor_label: str = "refund",
) -> RefundOutcome:
    """An admin gives back ``amount`` of a succeeded payment, fully or in part.

    The part that came back to the customer's balance as an over-payment is taken from there;
    the rest changes what the invoice charges, so a credit note of that part is issued. A card
    refund goes through Stripe (idempotency key: the refund's own, so a retry never refunds
    twice) and stays ``pending`` until Stripe's webhook confirms it; a bank refund is recorded
    as done (the finance team sends the transfer). With ``request_key`` (the client's
    Idempotency-Key), a repeat returns the first refund. Must not run inside a transaction.
    """
    amount = valid_amount(amount)
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("reason", gettext("Give a reason for the refund."))
    key = _refund_key(user=actor, payment=payment, request_key=request_key) if request_key else None
    if key:
        existing = Refund.objects.filter(idempotency_key=key).first()
        if existing is not None:
            if refund_unanswered(existing):  # ask again, with the same key
                return RefundOutcome(
                    _refund_send(existing, actor_label=actor_label).refund, replayed=True
                )
            return RefundOutcome(existing, replayed=True)
    try:
        refund = _refund_start(
            payment_id=payment.pk, amount=amount, reason=reason, actor=actor, key=key
        )
    except IntegrityError:  # a concurrent twin with the same key
        existing = Refund.objects.filter(idempotency_key=key).first() if key else None
        if existing is None:
            raise
        return RefundOutcome(existing, replayed=True)
    return _refund_send(refund, actor_label=actor_label)


def _refund_send(refund: Refund, *, actor_label: str) -> RefundOutcome:
    """Ask the gateway for the refund, with the refund's own key (a re-send never refunds
    twice). Refused: failed, the amount kept on the balance. No answer: left pending, unknown,
    for Stripe's webhook or a re-send with the same key (``refund_issue`` with the same
    Idempotency-Key)."""
    payment = Payment.objects.get(pk=refund.payment_id)
    gateway = get_gateway(payment.gateway)
    try:
        result = gateway.refund(payment, refund.amount, idempotency_key=refund.idempotency_key)
    except GatewayOutcomeUnknown as exc:
        Refund.objects.filter(pk=refund.pk).update(failure_message=str(exc)[:500])
        refund.refresh_from_db()
        return RefundOutcome(refund, replayed=False)
    except GatewayError as exc:
        _refund_failed(refund.pk, str(exc), actor_label=actor_label)
        raise GatewayFailed(
            gettext(
                "The refund was refused by the payment provider; the amount stays on the "
                "customer's balance."
            )
        ) from exc
    Refund.objects.filter(pk=refund.pk, external_id="").update(
        external_id=result.external_id, failure_message=""
    )
    refund.refresh_from_db()
    if not gateway.can_charge:  # offline: recording the bank refund is the whole refund
        refund = refund_confirm(
            refund,
            actor=refund.created_by,
            actor_label=actor_label,
            reason="bank refund recorded",
        )
    return RefundOutcome(refund, replayed=False)


def refund_unanswered(refund: Refund) -> bool:
    """Sent to Stripe but never answered: the outcome is unknown until a re-send or webhook."""
    return (
        refund.status == RefundStatus.PENDING
        and not refund.external_id
        and bool(refund.failure_message)
    )


def refunds_confirm_through(*, payment_id: int, refunded_total: Decimal, actor_label: str):
    """Stripe says ``refunded_total`` (CNY) of the payment is refunded: confirm our pending
    refunds, oldest first, that this total covers."""
    covered = ZERO
    for refund in (
        Refund.objects.filter(payment_id=payment_id)
        .exclude(status=RefundStatus.FAILED)
        .order_by("created_at", "pk")
    ):
        covered += refund.amount
        if covered > refunded_total:
            break
        if refund.status == RefundStatus.PENDING:
            refund_confirm(refund, actor_label=actor_label, reason="charge.refunded")


def refund_report(*, refund_id: str, status: str, actor_label: str) -> Refund | None:
    """A ``refund.updated`` / ``refund.failed`` event: confirm or fail our refund."""
    refund = Refund.objects.filter(external_id=refund_id).first() if refund_id else None
    if refund is None:
        return None
    if status == "succeeded":
        return refund_confirm(refund, actor_label=actor_label, reason=f"Stripe {refund_id}")
    if status in ("failed", "canceled"):
        return _refund_failed(
            refund.pk, f"Stripe reports the refund {status}.", actor_label=actor_label
        )
    return refund
