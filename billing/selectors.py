"""Reads of billing: contracts' schedules, which contracts are due, scoped lists, exports."""

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.db.models import DateField, Exists, F, OuterRef, Prefetch, Q, QuerySet, Value
from django.db.models.functions import Coalesce, Least
from django.utils.translation import gettext

from accounts.models import User
from accounts.selectors import is_platform_admin, organization_of, scope_to_organization
from billing.models import (
    BillingEvent,
    CreditNote,
    DisputeStatus,
    FapiaoRequest,
    FapiaoStatus,
    Invoice,
    InvoiceDispute,
    InvoiceStatus,
    Payment,
    PaymentStatus,
    PayoutLine,
    PayoutStatement,
    Refund,
    RefundStatus,
)
from billing.periods import BillingPeriod, billing_periods, terminated_schedule
from marketplace.models import Contract, ContractLine, ContractStatus
from marketplace.selectors import contract_exact_annual

# Contracts that may have periods to bill: running, about to run, or ended (late catch-up).
BILLABLE_STATUSES = (
    ContractStatus.APPROVED,
    ContractStatus.ACTIVE,
    ContractStatus.TERMINATED,
    ContractStatus.COMPLETED,
)


def contract_periods(contract: Contract, *, through: date | None = None) -> list[BillingPeriod]:
    """The contract's periods as signed (ignoring any termination), those started by
    ``through`` when given. The one schedule billing uses: ``billing.periods``."""
    return billing_periods(
        start=contract.start_date,
        term_months=contract.term_months,
        exact_annual=contract_exact_annual(contract),
        total_price=contract.total_price,
        through=through,
    )


def contract_schedule(contract: Contract, *, through: date | None = None) -> list[BillingPeriod]:
    """The periods the contract is billed for: as signed, or cut at its termination."""
    periods = contract_periods(contract, through=through)
    if contract.termination_date is None:
        return periods
    return terminated_schedule(periods, effective_date=contract.termination_date)


def contracts_due_ids(*, today: date) -> list[int]:
    """Ids of contracts with a billing period starting on or before ``today`` not yet invoiced.

    Billing issues every period due by the run day at once, in order, so a contract is up to
    date exactly when its latest due period has an invoice (of any status: a void invoice
    closes its period too). That period is the one containing ``today`` (it ends after today)
    while the contract runs, or its last one (ending at the end of service) once it has ended.
    Both come down to one test per contract, no schedule needed: is there an invoice whose
    period ends on or after ``min(end of service, the day after today)``? An anti-join on the
    invoice's contract index over the contracts in the ``(status, start_date)`` index.
    """
    threshold = Least(
        Coalesce(OuterRef("termination_date"), OuterRef("end_date")),
        Value(today + timedelta(days=1), output_field=DateField()),
        output_field=DateField(),
    )
    up_to_date = Invoice.objects.filter(contract_id=OuterRef("pk"), period_end__gte=threshold)
    return list(
        Contract.objects.filter(status__in=BILLABLE_STATUSES, start_date__lte=today)
        .filter(~Exists(up_to_date))
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def invoice_list(*, user: User | None) -> QuerySet[Invoice]:
    """Customers see their finalised invoices (drafts are internal); admins see all."""
    queryset = Invoice.objects.select_related("customer").prefetch_related(
        "lines", Prefetch("credit_notes", queryset=CreditNote.objects.order_by("created_at"))
    )
    if not is_platform_admin(user):
        queryset = queryset.exclude(status=InvoiceStatus.DRAFT)
    return scope_to_organization(queryset, user=user, org_field="customer")


def invoices_for_export(
    *,
    status: str | None = None,
    issued_from: date | None = None,
    issued_to: date | None = None,
    customer_id: int | None = None,
) -> QuerySet[Invoice]:
    """Finalised invoices for the admins' CSV export, oldest first (no prefetch: streamed)."""
    queryset = (
        Invoice.objects.exclude(status=InvoiceStatus.DRAFT)
        .select_related("customer")
        .order_by("issue_date", "number")
    )
    if status:
        queryset = queryset.filter(status=status)
    if issued_from:
        queryset = queryset.filter(issue_date__gte=issued_from)
    if issued_to:
        queryset = queryset.filter(issue_date__lte=issued_to)
    if customer_id:
        queryset = queryset.filter(customer_id=customer_id)
    return queryset


def dispute_list(*, user: User | None) -> QuerySet[InvoiceDispute]:
    """Customers see the disputes of their invoices; admins see all."""
    queryset = InvoiceDispute.objects.select_related("invoice", "credit_note").order_by(
        "-created_at", "-pk"
    )
    return scope_to_organization(queryset, user=user, org_field="invoice__customer")


def invoice_disputes(invoice: Invoice) -> list[InvoiceDispute]:
    return list(
        invoice.disputes.select_related("credit_note", "opened_by", "resolved_by").order_by(
            "created_at", "pk"
        )
    )


def payout_list(*, user: User | None, with_lines: bool = True) -> QuerySet[PayoutStatement]:
    """Providers see their own statements; admins see all."""
    queryset = PayoutStatement.objects.select_related("provider")
    if with_lines:
        queryset = queryset.prefetch_related(
            Prefetch("lines", queryset=PayoutLine.objects.select_related("invoice"))
        )
    return scope_to_organization(queryset, user=user, org_field="provider")


def sells_capacity(*, user: User | None) -> bool:
    """Whether the user's organisation has statements or sells capacity (a provider, or a
    reseller with a resale contract): it then has a payouts page to see."""
    if payout_list(user=user, with_lines=False).exists():
        return True
    organization = organization_of(user)
    return organization is not None and ContractLine.objects.filter(provider=organization).exists()


@dataclass(frozen=True)
class HistoryRow:
    """One line of a billing document's audit trail, statuses in words."""

    at: datetime
    subject: str  # what changed, in words ("Invoice", "Payment 12", ...)
    from_status: str
    to_status: str
    by: str
    reason: str


def _subject_labels() -> dict[str, str]:
    return {
        BillingEvent.Subject.INVOICE: gettext("Invoice"),
        BillingEvent.Subject.PAYMENT: gettext("Payment"),
        BillingEvent.Subject.CREDIT_NOTE: gettext("Credit note"),
        BillingEvent.Subject.PAYOUT: gettext("Payout statement"),
        BillingEvent.Subject.REFUND: gettext("Refund"),
        BillingEvent.Subject.DISPUTE: gettext("Dispute"),
    }


def _status_words() -> dict[str, dict[str, str]]:
    words = {
        BillingEvent.Subject.INVOICE: dict(InvoiceStatus.choices),
        BillingEvent.Subject.PAYMENT: dict(PaymentStatus.choices),
        BillingEvent.Subject.CREDIT_NOTE: {"issued": gettext("Issued")},
        BillingEvent.Subject.REFUND: dict(RefundStatus.choices),
        BillingEvent.Subject.DISPUTE: dict(DisputeStatus.choices),
    }
    return {
        subject: {code: str(label) for code, label in labels.items()}
        for subject, labels in words.items()
    }


def invoice_payments(invoice: Invoice) -> list[Payment]:
    """The invoice's payments and attempts, oldest first."""
    return list(invoice.payments.order_by("created_at", "pk"))


def refundable_payments(invoice: Invoice) -> list[Payment]:
    """The invoice's succeeded payments with money left to refund."""
    return list(
        invoice.payments.filter(
            status=PaymentStatus.SUCCEEDED, amount__gt=F("amount_refunded")
        ).order_by("created_at", "pk")
    )


def invoice_refunds(invoice: Invoice) -> list[Refund]:
    return list(
        Refund.objects.filter(payment__invoice=invoice)
        .select_related("payment", "credit_note")
        .order_by("created_at", "pk")
    )


def invoice_history(invoice: Invoice, *, payments: list[Payment] | None = None) -> list[HistoryRow]:
    """The audit trail of an invoice and of everything recorded against it (payments, credit
    notes), oldest first, with statuses in the reader's language."""
    payments = invoice_payments(invoice) if payments is None else payments
    subjects = Q(subject=BillingEvent.Subject.INVOICE, subject_id=invoice.pk)
    subjects |= Q(subject=BillingEvent.Subject.PAYMENT, subject_id__in=[p.pk for p in payments])
    subjects |= Q(
        subject=BillingEvent.Subject.CREDIT_NOTE,
        subject_id__in=[note.pk for note in invoice.credit_notes.all()],
    )
    subjects |= Q(
        subject=BillingEvent.Subject.REFUND,
        subject_id__in=Refund.objects.filter(payment__invoice=invoice).values("pk"),
    )
    subjects |= Q(
        subject=BillingEvent.Subject.DISPUTE,
        subject_id__in=InvoiceDispute.objects.filter(invoice=invoice).values("pk"),
    )
    labels, words = _subject_labels(), _status_words()
    rows = []
    for event in BillingEvent.objects.filter(subjects).select_related("actor"):
        statuses = words.get(event.subject, {})
        subject = labels.get(event.subject, event.subject)
        if event.subject != BillingEvent.Subject.INVOICE:
            subject = f"{subject} {event.subject_id}"
        rows.append(
            HistoryRow(
                at=event.created_at,
                subject=subject,
                from_status=statuses.get(event.from_status, event.from_status),
                to_status=statuses.get(event.to_status, event.to_status),
                by=event.actor.username if event.actor else _actor_words(event.actor_label),
                reason=event.reason,
            )
        )
    return rows


def _actor_words(label: str) -> str:
    """Who acted, in words, when no user did (``BillingEvent.actor_label``)."""
    words = {
        "webhook": gettext("Stripe (webhook)"),
        "checkout": gettext("Stripe Checkout"),
        "reconciliation": gettext("Reconciliation with Stripe"),
        "seed_demo": gettext("Demo data"),
        "collect_due": gettext("Billing run"),
        "api": gettext("API"),
    }
    if label.startswith("task:"):
        return gettext("Billing run")
    return words.get(label, gettext("System"))


def fapiao_request_list(*, user: User | None) -> QuerySet[FapiaoRequest]:
    """Customers see their organisation's fapiao requests; admins see all. Newest first."""
    queryset = FapiaoRequest.objects.select_related("invoice", "invoice__customer")
    return scope_to_organization(queryset, user=user, org_field="invoice__customer")


def fapiao_requests_pending() -> QuerySet[FapiaoRequest]:
    """Requests waiting to be issued, oldest first, with what the bulk-issue CSV needs."""
    return (
        FapiaoRequest.objects.filter(status=FapiaoStatus.REQUESTED)
        .select_related("invoice")
        .prefetch_related("invoice__lines", "invoice__credit_notes")
        .order_by("created_at", "pk")
    )
