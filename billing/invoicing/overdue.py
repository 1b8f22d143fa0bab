"""Unpaid invoices past their due date become overdue; long-overdue contracts are flagged."""

from __future__ import annotations

from datetime import date, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from billing.credits.disputes import undisputed
from billing.ledger.invoices import transition_many
from billing.models import ContractOverdueFlag, Invoice, InvoiceStatus
from billing.notifications import emails


def invoices_mark_overdue(*, today: date, actor_label: str = "task:billing") -> int:
    """Open invoices past their due date become overdue, in batches; the customers are told."""
    size = settings.BILLING_CHUNK_SIZE
    total = 0
    while True:
        with transaction.atomic():
            batch = list(
                Invoice.objects.select_for_update(skip_locked=True)
                .filter(status=InvoiceStatus.OPEN, due_date__lt=today)
                .order_by("pk")
                .values_list("pk", flat=True)[:size]
            )
            if not batch:
                break
            total += transition_many(
                batch,
                current=InvoiceStatus.OPEN,
                to=InvoiceStatus.OVERDUE,
                actor_label=actor_label,
                reason=f"Unpaid after its due date (checked {today:%Y-%m-%d}).",
            )
            # No overdue email while the customer disputes the invoice (dunning is paused).
            chased = list(
                Invoice.objects.filter(undisputed(), pk__in=batch).values_list("pk", flat=True)
            )
            if chased:
                emails.send_after_commit(emails.OVERDUE, chased)
        if len(batch) < size:
            break
    return total


def contracts_flag_overdue(*, today: date) -> int:
    """Flag contracts whose invoice is still unpaid ``OVERDUE_GRACE_DAYS`` after its due date,
    for an admin to decide on suspension (not while the invoice is disputed). One flag per
    invoice; returns how many were new."""
    limit = today - timedelta(days=settings.OVERDUE_GRACE_DAYS)
    candidates = list(
        Invoice.objects.filter(
            undisputed(),
            status=InvoiceStatus.OVERDUE,
            due_date__lt=limit,
            overdue_flag__isnull=True,
        ).values_list("pk", "contract_id")
    )
    if not candidates:
        return 0
    with transaction.atomic():
        created = ContractOverdueFlag.objects.bulk_create(
            [ContractOverdueFlag(invoice_id=pk, contract_id=cid) for pk, cid in candidates],
            ignore_conflicts=True,
        )
        emails.send_after_commit(emails.FLAGGED, [pk for pk, _ in candidates])
    return len(created)


def overdue_flags_resolve(*, flags: QuerySet[ContractOverdueFlag]) -> int:
    """An admin has dealt with these flags (e.g. decided against suspension): mark them
    resolved. Flags already resolved stay as they were. Returns how many were resolved."""
    return flags.filter(resolved_at__isnull=True).update(resolved_at=timezone.now())
