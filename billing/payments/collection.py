"""The daily collection run and dunning: charging due card invoices, reminding the others."""

from __future__ import annotations

from datetime import date

from django.conf import settings
from django.db import transaction
from django.db.models import Q, Sum
from django.utils import timezone

from accounts.models import Organization
from billing import dispatch
from billing.credits.disputes import undisputed
from billing.models import BalanceEntry, Invoice
from billing.notifications import emails
from billing.payments import dunning
from billing.payments.gateways import card_gateway
from billing.payments.outcomes import card_channel, unpaid
from billing.payments.transfers import balance_apply


def collect_due(*, today: date) -> dict[str, int]:
    """Daily: apply customers' balances, then charge the card of every unpaid invoice whose
    collection is due (first attempt once issued, retries on the dunning schedule).

    Invoices under an open dispute are skipped until it is resolved. Each charge runs in its
    own ``billing.charge_invoice`` task, enqueued on commit; the task
    re-checks due-ness under lock, so running this twice a day charges nothing twice.
    """
    with_balance = (
        BalanceEntry.objects.values("organization")
        .annotate(balance=Sum("amount"))
        .filter(balance__gt=0)
        .values_list("organization", flat=True)
    )
    balances_applied = 0
    for organization in Organization.objects.filter(pk__in=list(with_balance)).order_by("pk"):
        if balance_apply(organization=organization, actor_label="collect_due") > 0:
            balances_applied += 1
    if card_gateway() is None:
        return {"balances_applied": balances_applied, "charges_enqueued": 0}
    due = (
        Invoice.objects.filter(unpaid(), card_channel(), undisputed())
        .filter(
            Q(next_collection_on__lte=today)
            | Q(next_collection_on__isnull=True, collection_attempts=0)
            & (Q(issue_date__lte=today) | Q(issue_date__isnull=True))
        )
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    invoice_ids = list(due)
    for invoice_id in invoice_ids:
        dispatch.send_on_commit(dispatch.CHARGE_INVOICE, invoice_id, today.isoformat())
    return {"balances_applied": balances_applied, "charges_enqueued": len(invoice_ids)}


def dunning_run(*, today: date) -> dict[str, int]:
    """Daily: remind customers who are not charged automatically (bank transfer, or no card)
    of unpaid invoices past their due date, on the dunning schedule: the first reminder
    DUNNING_RETRY_DAYS[0] days after the due date, each next one DUNNING_RETRY_DAYS[n] days
    after the previous, then stop. Each reminder is claimed with a conditional update, so a
    second run on the same day sends nothing again. Card customers are dunned by
    ``collect_due``: every failed charge emails them."""
    delays = settings.DUNNING_RETRY_DAYS
    first_due_by = dunning.first_reminder_due_by(today, delays)
    if first_due_by is None:
        return {"reminders_sent": 0}
    # An invoice under dispute is not chased; once resolved, its schedule resumes.
    candidates = Invoice.objects.filter(unpaid(), undisputed(), due_date__isnull=False).filter(
        Q(next_collection_on__lte=today)
        | Q(
            next_collection_on__isnull=True,
            collection_attempts=0,
            due_date__lte=first_due_by,
        )
    )
    if card_gateway() is not None:
        candidates = candidates.exclude(card_channel())
    sent = 0
    for invoice in candidates.order_by("pk"):
        reminder = invoice.collection_attempts + 1
        if not dunning.may_remind(reminder, delays):
            continue
        next_on = dunning.next_reminder_on(today, reminder, delays)
        with transaction.atomic():
            claimed = Invoice.objects.filter(
                pk=invoice.pk,
                collection_attempts=invoice.collection_attempts,
                next_collection_on=invoice.next_collection_on,
            ).update(
                collection_attempts=reminder, next_collection_on=next_on, updated_at=timezone.now()
            )
            if not claimed:
                continue
            reason = (
                f"Invoice {invoice.number} of {invoice.total} {invoice.currency} was due on "
                f"{invoice.due_date:%Y-%m-%d}; {invoice.amount_due} is still unpaid "
                f"(reminder {reminder} of {len(delays)})."
            )
            invoice.collection_attempts, invoice.next_collection_on = reminder, next_on
            emails.send_payment_failed(invoice, reason)
        sent += 1
    return {"reminders_sent": sent}
