"""Credit notes: the only correction of a finalised invoice. Immutable once issued."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext

from accounts.errors import DomainError, InvalidInput
from accounts.models import User
from accounts.money import ZERO, quantize_money, split_tax
from billing.ledger.audit import billing_event_record
from billing.ledger.invoices import PAYABLE, invoice_receive, transition_locked
from billing.ledger.numbering import CREDIT_NOTE_PREFIX, numbers_reserve
from billing.models import BillingEvent, CreditNote, Invoice, InvoiceLineKind, InvoiceStatus


class InvoiceNotCreditable(DomainError):
    code = "invoice_not_creditable"
    status = 409


def creditable(invoice: Invoice) -> Decimal:
    """What can still be credited on a finalised invoice: its total less its credit notes."""
    credited = invoice.credit_notes.aggregate(total=Sum("amount"))["total"] or ZERO
    return invoice.total - credited


def credit_note_issue(
    *,
    invoice: Invoice,
    amount: Decimal,
    reason: str,
    by: User | None = None,
    actor_label: str = "",
    today: date | None = None,
) -> CreditNote:
    """Credit part or all of a finalised invoice (at most what it has not been credited yet).

    The credit first settles what is still due on the invoice; a credit of an unpaid invoice's
    full total voids it; anything beyond what is due becomes the customer's balance.
    """
    if amount <= ZERO:
        raise InvalidInput("amount", "Must be more than 0.")
    if quantize_money(amount) != amount:
        raise InvalidInput("amount", "Use at most two decimal places.")
    if not reason.strip():
        raise InvalidInput("reason", "Give a reason for the credit.")
    with transaction.atomic():
        locked = Invoice.objects.select_for_update().get(pk=invoice.pk)
        if locked.status in (InvoiceStatus.DRAFT, InvoiceStatus.VOID):
            raise InvoiceNotCreditable(f"Invoice {locked} is {locked.status}; nothing to credit.")
        left = creditable(locked)
        if amount > left:
            raise InvalidInput(
                "amount",
                gettext("At most %(amount)s can be credited on invoice %(number)s.")
                % {"amount": left, "number": locked.number},
            )
        return credit_note_create(
            locked, amount, reason=reason, by=by, actor_label=actor_label, today=today
        )


def credit_note_create(
    locked: Invoice,
    amount: Decimal,
    *,
    reason: str,
    by: User | None,
    actor_label: str,
    today: date | None,
) -> CreditNote:
    """Issue a credit note on a locked invoice and settle it (see ``credit_note_issue``)."""
    note = _note_record(locked, amount, reason=reason, by=by, actor_label=actor_label, today=today)
    number = note.number
    settles = f"Credit note {number}: {reason}"
    beyond = f"Credit note {number} beyond the amount due on {locked}"
    if locked.status in PAYABLE and locked.amount_paid == ZERO and amount >= locked.total:
        transition_locked(
            locked, InvoiceStatus.VOID, actor=by, actor_label=actor_label, reason=settles
        )
        # A void invoice takes nothing: the whole credit beyond its total goes to the balance.
        invoice_receive(
            locked,
            amount - locked.total,
            excess_description=beyond,
            actor=by,
            actor_label=actor_label,
        )
    else:
        invoice_receive(
            locked,
            amount,
            excess_description=beyond,
            actor=by,
            actor_label=actor_label,
            reason=settles,
        )
    return note


def credit_note_paid_out(
    locked: Invoice,
    amount: Decimal,
    *,
    reason: str,
    by: User | None,
    actor_label: str,
    today: date | None = None,
) -> CreditNote:
    """A credit note on a locked invoice whose value is paid back to the customer at once (a
    refund), so it is not applied to the invoice or the balance. The invoice's ``amount_paid``
    already counts the money refunded; after the refund it counts this credit instead."""
    if locked.status in (InvoiceStatus.DRAFT, InvoiceStatus.VOID):
        raise InvoiceNotCreditable(f"Invoice {locked} is {locked.status}; nothing to credit.")
    left = creditable(locked)
    if amount > left:
        raise InvalidInput(
            "amount",
            gettext("At most %(amount)s can be credited on invoice %(number)s.")
            % {"amount": left, "number": locked.number},
        )
    return _note_record(locked, amount, reason=reason, by=by, actor_label=actor_label, today=today)


def _note_record(
    locked: Invoice,
    amount: Decimal,
    *,
    reason: str,
    by: User | None,
    actor_label: str,
    today: date | None,
) -> CreditNote:
    """Number, write and audit a credit note of ``amount`` on a locked invoice."""
    today = today or timezone.localdate()
    rate = (
        locked.lines.filter(kind=InvoiceLineKind.RENTAL).values_list("tax_rate", flat=True).first()
    )
    rate = settings.VAT_RATE if rate is None else rate
    net, tax = split_tax(amount, rate)
    [number] = numbers_reserve(CREDIT_NOTE_PREFIX, today.year, 1)
    note = CreditNote.objects.create(
        invoice=locked,
        number=number,
        amount=amount,
        net=net,
        tax=tax,
        tax_rate=rate,
        reason=reason,
        created_by=by if by is not None and by.is_authenticated else None,
    )
    billing_event_record(
        BillingEvent.Subject.CREDIT_NOTE,
        note.pk,
        "",
        "issued",
        actor=by,
        actor_label=actor_label,
        reason=reason,
    )
    return note
