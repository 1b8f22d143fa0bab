"""Customers' disputes of invoices. While a dispute is open the invoice is not chased (no card
collection, reminders, overdue emails or suspension flags: ``undisputed``); an admin resolves it
with a credit note or a rejection with reasons, and chasing resumes. Every step is audited."""

from __future__ import annotations

from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone
from django.utils.translation import gettext

from accounts.errors import DomainError, InvalidInput
from accounts.models import User
from billing.credits.credit_notes import credit_note_issue
from billing.ledger.audit import billing_event_record
from billing.models import BillingEvent, DisputeStatus, Invoice, InvoiceDispute, InvoiceStatus

DISPUTE = BillingEvent.Subject.DISPUTE
# The one table of a dispute's states: open until resolved, then final.
DISPUTE_TRANSITIONS: dict[str, frozenset[str]] = {
    DisputeStatus.OPEN: frozenset({DisputeStatus.CREDITED, DisputeStatus.REJECTED}),
    DisputeStatus.CREDITED: frozenset(),
    DisputeStatus.REJECTED: frozenset(),
}
OUTCOMES = tuple(DISPUTE_TRANSITIONS[DisputeStatus.OPEN])


class InvoiceNotDisputable(DomainError):
    code = "invoice_not_disputable"
    status = 409


class DisputeAlreadyOpen(DomainError):
    code = "dispute_already_open"
    status = 409


class DisputeNotOpen(DomainError):
    code = "dispute_not_open"
    status = 409


def undisputed() -> Exists:
    """A filter for invoices with no open dispute: ``Invoice.objects.filter(undisputed())``."""
    return ~Exists(
        InvoiceDispute.objects.filter(invoice_id=OuterRef("pk"), status=DisputeStatus.OPEN)
    )


def has_open_dispute(invoice_id: int) -> bool:
    return InvoiceDispute.objects.filter(invoice_id=invoice_id, status=DisputeStatus.OPEN).exists()


def _reason(reason: str, field: str = "reason") -> str:
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput(field, gettext("Give your reasons."))
    return reason


def _record(dispute: InvoiceDispute, before: str, *, by: User | None, reason: str) -> None:
    billing_event_record(
        DISPUTE, dispute.pk, before, dispute.status, actor=by, actor_label="dispute", reason=reason
    )


def dispute_open(*, invoice: Invoice, reason: str, by: User | None) -> InvoiceDispute:
    """The customer contests a finalised invoice (open, overdue or paid). One open dispute per
    invoice; chasing pauses until it is resolved."""
    reason = _reason(reason)
    with transaction.atomic():
        locked = Invoice.objects.select_for_update().get(pk=invoice.pk)
        if locked.status in (InvoiceStatus.DRAFT, InvoiceStatus.VOID):
            raise InvoiceNotDisputable(
                gettext("Invoice %(number)s is %(status)s and cannot be disputed.")
                % {"number": locked.number or locked.pk, "status": locked.get_status_display()}
            )
        if has_open_dispute(locked.pk):
            raise DisputeAlreadyOpen(
                gettext("Invoice %(number)s already has an open dispute.")
                % {"number": locked.number}
            )
        try:
            with transaction.atomic():
                dispute = InvoiceDispute.objects.create(
                    invoice=locked,
                    reason=reason,
                    opened_by=by if by is not None and by.is_authenticated else None,
                )
        except IntegrityError as exc:  # a concurrent twin won the one open slot
            raise DisputeAlreadyOpen(
                gettext("Invoice %(number)s already has an open dispute.")
                % {"number": locked.number}
            ) from exc
        _record(dispute, "", by=by, reason=reason)
        billing_event_record(
            BillingEvent.Subject.INVOICE,
            locked.pk,
            locked.status,
            locked.status,
            actor=by,
            actor_label="dispute",
            reason=f"Disputed (dispute {dispute.pk}); reminders paused.",
        )
    return dispute


def dispute_resolve(
    *,
    dispute: InvoiceDispute,
    outcome: str,
    reason: str,
    by: User | None,
    amount: Decimal | None = None,
) -> InvoiceDispute:
    """An admin resolves an open dispute: ``credited`` issues a credit note of ``amount`` on the
    invoice (settling what is due first, the rest to the balance); ``rejected`` keeps the
    invoice as it is. Either way chasing resumes on the dunning schedule."""
    if outcome not in OUTCOMES:
        raise InvalidInput("outcome", gettext('Choose "credited" or "rejected".'))
    reason = _reason(reason)
    if outcome == DisputeStatus.CREDITED and amount is None:
        raise InvalidInput("amount", gettext("Give the amount to credit."))
    with transaction.atomic():
        Invoice.objects.select_for_update().get(pk=dispute.invoice_id)
        locked = InvoiceDispute.objects.select_for_update().get(pk=dispute.pk)
        if outcome not in DISPUTE_TRANSITIONS[locked.status]:
            raise DisputeNotOpen(
                gettext("This dispute is already resolved (%(status)s).")
                % {"status": locked.get_status_display()}
            )
        if outcome == DisputeStatus.CREDITED:
            locked.credit_note = credit_note_issue(
                invoice=locked.invoice,
                amount=amount,
                reason=f"Dispute {locked.pk}: {reason}",
                by=by,
                actor_label="dispute",
            )
        locked.status = outcome
        locked.resolution = reason
        locked.resolved_by = by if by is not None and by.is_authenticated else None
        locked.resolved_at = timezone.now()
        locked.save(
            update_fields=["status", "resolution", "resolved_by", "resolved_at", "credit_note"]
        )
        _record(locked, DisputeStatus.OPEN, by=by, reason=reason)
    return locked
