"""The invoice state machine and money received on an invoice.

Invoices: draft -> open -> (overdue) -> paid; draft/open/overdue -> void. ``invoice_transition``
is the one place an invoice changes state (``transition_locked`` for a row the caller already
locked; bulk overdue marking shares the table and the audit through ``transition_many``). Every
change writes a ``BillingEvent``. ``invoice_receive`` applies money (a payment, a credit, the
customer's balance) to an invoice; what does not fit goes to the balance.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from accounts.errors import DomainError, InvalidInput
from accounts.models import User
from accounts.money import ZERO, quantize_money
from billing.ledger.audit import billing_event_record, unsaved_event
from billing.ledger.balance import balance_credit
from billing.ledger.numbering import INVOICE_PREFIX, numbers_reserve
from billing.models import BillingEvent, ContractOverdueFlag, Invoice, InvoiceStatus, Payment
from billing.notifications import emails

INVOICE = BillingEvent.Subject.INVOICE
PAYABLE = (InvoiceStatus.OPEN, InvoiceStatus.OVERDUE)

INVOICE_TRANSITIONS: dict[str, frozenset[str]] = {
    InvoiceStatus.DRAFT: frozenset({InvoiceStatus.OPEN, InvoiceStatus.VOID}),
    InvoiceStatus.OPEN: frozenset({InvoiceStatus.OVERDUE, InvoiceStatus.PAID, InvoiceStatus.VOID}),
    InvoiceStatus.OVERDUE: frozenset({InvoiceStatus.PAID, InvoiceStatus.VOID}),
    InvoiceStatus.PAID: frozenset(),
    InvoiceStatus.VOID: frozenset(),
}


@dataclass
class PlannedLine:
    """An invoice line before it is written (issuing plans whole invoices, then bulk-inserts)."""

    kind: str
    description: str
    amount: Decimal  # tax included; negative for credits
    period_start: date | None = None  # the dates the line covers, [start, end)
    period_end: date | None = None


class InvalidInvoiceTransition(DomainError):
    code = "invalid_transition"
    status = 409


def _check_transition(current: str, to: str, label: str) -> None:
    if to not in INVOICE_TRANSITIONS[current]:
        raise InvalidInvoiceTransition(
            f"Invoice {label} is {current} and cannot become {to}.",
            details={"status": [f"Cannot go from {current} to {to}."]},
        )


def invoice_transition(
    *,
    invoice: Invoice,
    to: str,
    actor: User | None = None,
    actor_label: str = "",
    reason: str = "",
    today: date | None = None,
) -> Invoice:
    """The one place an invoice changes state: lock, check the table, save, audit.

    Finalising (draft -> open) totals the lines, takes the next number of the year under the
    sequence lock, and sets the issue and due dates. Paid and void resolve any overdue flag.
    """
    with transaction.atomic():
        locked = Invoice.objects.select_for_update().get(pk=invoice.pk)
        transition_locked(
            locked, to, actor=actor, actor_label=actor_label, reason=reason, today=today
        )
    return locked


def transition_locked(
    locked: Invoice,
    to: str,
    *,
    actor: User | None,
    actor_label: str,
    reason: str,
    today: date | None = None,
) -> None:
    """``invoice_transition`` of a row already locked by the caller's transaction."""
    _check_transition(locked.status, to, str(locked))
    previous = locked.status
    now = timezone.now()
    fields = ["status", "updated_at"]
    if to == InvoiceStatus.OPEN:
        today = today or timezone.localdate()
        totals = locked.lines.aggregate(net=Sum("net"), tax=Sum("tax"), amount=Sum("amount"))
        locked.subtotal = totals["net"] or ZERO
        locked.tax = totals["tax"] or ZERO
        locked.total = totals["amount"] or ZERO
        [locked.number] = numbers_reserve(INVOICE_PREFIX, today.year, 1)
        locked.issue_date = today
        locked.due_date = today + timedelta(days=settings.INVOICE_NET_DAYS)
        locked.finalized_at = now
        fields += ["subtotal", "tax", "total", "number", "issue_date", "due_date", "finalized_at"]
        emails.send_after_commit(emails.ISSUED, [locked.pk])
    if to == InvoiceStatus.PAID:
        locked.paid_at = now
        fields.append("paid_at")
    if to in (InvoiceStatus.PAID, InvoiceStatus.VOID):
        ContractOverdueFlag.objects.filter(invoice=locked, resolved_at__isnull=True).update(
            resolved_at=now
        )
    locked.status = to
    locked.save(update_fields=fields)
    billing_event_record(
        INVOICE, locked.pk, previous, to, actor=actor, actor_label=actor_label, reason=reason
    )


def transition_many(ids: list[int], *, current: str, to: str, actor_label: str, reason: str) -> int:
    """``invoice_transition`` for many rows already locked in ``current`` (no side fields)."""
    _check_transition(current, to, f"batch of {len(ids)}")
    if to in (InvoiceStatus.OPEN, InvoiceStatus.PAID, InvoiceStatus.VOID):
        raise ValueError(f"bulk transitions to {to} are not supported; use invoice_transition")
    moved = Invoice.objects.filter(pk__in=ids, status=current).update(
        status=to, updated_at=timezone.now()
    )
    BillingEvent.objects.bulk_create(
        unsaved_event(INVOICE, pk, current, to, actor_label=actor_label, reason=reason)
        for pk in ids
    )
    return moved


def _apply(locked: Invoice, amount: Decimal, *, actor, actor_label: str, reason: str) -> Decimal:
    """Add up to what is due to ``amount_paid``; paid once covered. Returns what did not fit."""
    if locked.status not in PAYABLE:
        return amount
    applied = min(amount, max(ZERO, locked.amount_due))
    if applied > ZERO:
        locked.amount_paid += applied
        locked.save(update_fields=["amount_paid", "updated_at"])
    if locked.amount_paid >= locked.total:
        transition_locked(
            locked, InvoiceStatus.PAID, actor=actor, actor_label=actor_label, reason=reason
        )
    return amount - applied


def invoice_receive(
    locked: Invoice,
    amount: Decimal,
    *,
    excess_description: str,
    payment: Payment | None = None,
    actor: User | None = None,
    actor_label: str = "",
    reason: str = "",
) -> Decimal:
    """Money for a locked invoice: up to what it owes is applied (paid once covered); the rest,
    all of it if the invoice is not open or overdue, goes to the customer's balance, described
    by ``excess_description``. Returns the amount put on the balance."""
    excess = _apply(locked, amount, actor=actor, actor_label=actor_label, reason=reason)
    balance_credit(
        organization_id=locked.customer_id,
        amount=excess,
        description=excess_description,
        invoice=locked,
        payment=payment,
    )
    return excess


def invoice_apply_payment(
    *, invoice: Invoice, amount: Decimal, actor: User | None = None, actor_label: str = ""
) -> Decimal:
    """Apply ``amount`` to an invoice without touching the balance; returns what did not fit.

    Locks the invoice, adds up to its amount due to ``amount_paid`` and moves it to paid once
    fully paid. An invoice that is not open or overdue takes nothing. Callers that received
    money use ``invoice_receive``, which keeps the excess as the customer's balance.
    """
    amount = quantize_money(amount)
    if amount <= ZERO:
        raise InvalidInput("amount", "Must be more than 0.")
    with transaction.atomic():
        locked = Invoice.objects.select_for_update().get(pk=invoice.pk)
        excess = _apply(
            locked,
            amount,
            actor=actor,
            actor_label=actor_label,
            reason=f"Payment of {amount} {locked.currency}.",
        )
    invoice.status, invoice.amount_paid, invoice.paid_at = (
        locked.status,
        locked.amount_paid,
        locked.paid_at,
    )
    return excess


def invoice_settle_on_issue(invoice: Invoice, *, actor_label: str) -> None:
    """An invoice whose credits reach its charges is paid on issue; a negative total (credits
    beyond the charges) goes to the customer's balance."""
    balance_credit(
        organization_id=invoice.customer_id,
        amount=-invoice.total,
        description=f"Credits on {invoice.number} beyond its charges",
        invoice=invoice,
    )
    transition_locked(
        invoice,
        InvoiceStatus.PAID,
        actor=None,
        actor_label=actor_label,
        reason="Nothing to pay: credits cover the charges.",
    )
