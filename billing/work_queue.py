"""Reads for the platform admins' work queue: what waits for a person, and each object's audit
trail. A fixed number of queries whatever the queue's length (each list is capped; the trails
of every object shown are read in one query per kind).

The queue: providers awaiting verification, contracts awaiting approval, invoices overdue,
contracts flagged for an overdue invoice, payments whose outcome is unknown; and, to watch
the secondary market, the open resale listings (newest first) with their audit trails.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import Prefetch, Q
from django.utils.translation import gettext

from accounts.models import Organization
from billing.models import (
    BillingEvent,
    ContractOverdueFlag,
    CreditNote,
    Invoice,
    InvoiceStatus,
    Payment,
    PaymentStatus,
)
from marketplace import resale_history
from marketplace.models import (
    Contract,
    ContractEvent,
    ContractEventKind,
    ContractStatus,
    ResaleListing,
    ResaleStatus,
)
from marketplace.selectors import contract_history

QUEUE_LIMIT = 50  # items of each kind on the page, oldest first

# The words for the states a billing event names, per subject (codes never reach the page).
_EVENT_STATES = {
    BillingEvent.Subject.INVOICE: InvoiceStatus,
    BillingEvent.Subject.PAYMENT: PaymentStatus,
}


@dataclass(frozen=True)
class TrailRow:
    at: datetime
    from_status: str  # in words; blank when the object was created
    to_status: str  # in words
    by: str
    reason: str
    what: str = ""  # the document the change is about, when it is not the object itself


def _state_label(subject: str, code: str) -> str:
    if not code:
        return ""
    choices = _EVENT_STATES.get(subject)
    if choices is not None and code in choices.values:
        return str(choices(code).label)
    if code == "issued":
        return gettext("Issued")
    return code


def _by(event) -> str:
    if event.actor_id is not None:
        return event.actor.username
    if event.actor_label.startswith("task:"):
        return gettext("Platform (schedule)")
    if event.actor_label == "webhook":
        return gettext("Platform (payment notice)")
    return gettext("Platform")


def billing_trails(subject: str, ids: list[int]) -> dict[int, list[TrailRow]]:
    """The audit trail of each invoice or payment in ``ids``, oldest first (one query)."""
    trails: dict[int, list[TrailRow]] = defaultdict(list)
    if not ids:
        return trails
    events = (
        BillingEvent.objects.filter(subject=subject, subject_id__in=ids)
        .select_related("actor")
        .order_by("created_at", "id")
    )
    for event in events:
        trails[event.subject_id].append(
            TrailRow(
                at=event.created_at,
                from_status=_state_label(subject, event.from_status),
                to_status=_state_label(subject, event.to_status),
                by=_by(event),
                reason=event.reason,
            )
        )
    return trails


def invoice_trails(ids: list[int]) -> dict[int, list[TrailRow]]:
    """Each invoice's audit trail with those of its payments and credit notes, oldest first
    (three queries whatever the number of invoices)."""
    trails: dict[int, list[TrailRow]] = defaultdict(list)
    if not ids:
        return trails
    payments = dict(Payment.objects.filter(invoice_id__in=ids).values_list("pk", "invoice_id"))
    notes = {
        pk: (invoice_id, number)
        for pk, invoice_id, number in CreditNote.objects.filter(invoice_id__in=ids).values_list(
            "pk", "invoice_id", "number"
        )
    }
    events = (
        BillingEvent.objects.filter(
            Q(subject=BillingEvent.Subject.INVOICE, subject_id__in=ids)
            | Q(subject=BillingEvent.Subject.PAYMENT, subject_id__in=list(payments))
            | Q(subject=BillingEvent.Subject.CREDIT_NOTE, subject_id__in=list(notes))
        )
        .select_related("actor")
        .order_by("created_at", "id")
    )
    for event in events:
        if event.subject == BillingEvent.Subject.PAYMENT:
            invoice_id = payments[event.subject_id]
            what = gettext("Payment %(number)s") % {"number": event.subject_id}
        elif event.subject == BillingEvent.Subject.CREDIT_NOTE:
            invoice_id, number = notes[event.subject_id]
            what = gettext("Credit note %(number)s") % {"number": number}
        else:
            invoice_id, what = event.subject_id, ""
        trails[invoice_id].append(
            TrailRow(
                at=event.created_at,
                from_status=_state_label(event.subject, event.from_status),
                to_status=_state_label(event.subject, event.to_status),
                by=_by(event),
                reason=event.reason,
                what=what,
            )
        )
    return trails


def contract_trail(contract: Contract) -> list[TrailRow]:
    """The contract's history (prefetched) as trail rows, in the reader's language."""
    return [
        TrailRow(
            at=row.at,
            from_status=row.from_status,
            to_status=row.to_status,
            by=row.by,
            reason=row.reason,
        )
        for row in contract_history(contract)
    ]


def listing_trail(listing: ResaleListing) -> list[TrailRow]:
    """The resale events of a listing (its rows in the parent contract's history, prefetched)
    in the reader's language."""
    return [
        TrailRow(
            at=event.created_at,
            from_status="",
            to_status=str(ContractEventKind(event.kind).label),
            by=_by(event),
            reason=resale_history.describe(event),
        )
        for event in listing.history.all()
    ]


@dataclass
class WorkQueue:
    providers: list[Organization]
    pending_contracts: list[Contract]
    overdue_invoices: list[Invoice]
    flags: list[ContractOverdueFlag]
    unknown_payments: list[Payment]
    listings: list[ResaleListing] = field(default_factory=list)  # watched; not waiting
    invoice_trails: dict[int, list[TrailRow]] = field(default_factory=dict)
    payment_trails: dict[int, list[TrailRow]] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return (
            len(self.providers)
            + len(self.pending_contracts)
            + len(self.overdue_invoices)
            + len(self.flags)
            + len(self.unknown_payments)
        )


def _history(path: str = "history") -> Prefetch:
    return Prefetch(path, queryset=ContractEvent.objects.select_related("actor"))


def providers_to_verify():
    return Organization.objects.filter(is_provider=True, verified_at__isnull=True).order_by(
        "created_at", "id"
    )


def contracts_awaiting_approval():
    return (
        Contract.objects.filter(status=ContractStatus.PENDING_APPROVAL)
        .select_related("customer")
        .order_by("created_at", "id")
    )


def invoices_overdue():
    return (
        Invoice.objects.filter(status=InvoiceStatus.OVERDUE)
        .select_related("customer", "contract")
        .order_by("due_date", "id")
    )


def contracts_flagged():
    return (
        ContractOverdueFlag.objects.filter(resolved_at__isnull=True)
        .select_related("contract__customer", "invoice")
        .order_by("flagged_at", "id")
    )


def payments_unknown():
    return (
        Payment.objects.filter(status=PaymentStatus.UNKNOWN)
        .select_related("invoice__customer")
        .order_by("created_at", "id")
    )


def listings_open():
    """Resale listings open to buyers, newest first."""
    return (
        ResaleListing.objects.filter(status=ResaleStatus.LISTED)
        .select_related("contract__customer", "cluster")
        .order_by("-created_at", "-id")
    )


def _listing_history() -> Prefetch:
    return Prefetch(
        "history",
        queryset=ContractEvent.objects.select_related("actor").order_by("created_at", "id"),
    )


def work_queue() -> WorkQueue:
    """Everything waiting for an admin, each kind oldest first, with the audit trails."""
    queue = WorkQueue(
        providers=list(providers_to_verify().prefetch_related("clusters")[:QUEUE_LIMIT]),
        pending_contracts=list(
            contracts_awaiting_approval().prefetch_related(_history(), "lines__cluster")[
                :QUEUE_LIMIT
            ]
        ),
        overdue_invoices=list(invoices_overdue().prefetch_related("credit_notes")[:QUEUE_LIMIT]),
        flags=list(
            contracts_flagged().prefetch_related(
                Prefetch(
                    "contract__history", queryset=ContractEvent.objects.select_related("actor")
                )
            )[:QUEUE_LIMIT]
        ),
        unknown_payments=list(payments_unknown()[:QUEUE_LIMIT]),
        listings=list(listings_open().prefetch_related(_listing_history())[:QUEUE_LIMIT]),
    )
    invoice_ids = {invoice.pk for invoice in queue.overdue_invoices} | {
        flag.invoice_id for flag in queue.flags
    }
    queue.invoice_trails = invoice_trails(sorted(invoice_ids))
    queue.payment_trails = billing_trails(
        BillingEvent.Subject.PAYMENT, [payment.pk for payment in queue.unknown_payments]
    )
    return queue


def queue_counts() -> dict[str, int]:
    """How many items of each kind wait (for the dashboard's link to the queue)."""
    return {
        "providers": providers_to_verify().count(),
        "contracts": contracts_awaiting_approval().count(),
        "invoices": invoices_overdue().count(),
        "flags": contracts_flagged().count(),
        "payments": payments_unknown().count(),
    }
