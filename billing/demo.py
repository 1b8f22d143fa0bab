"""Demo billing for `manage.py seed_demo`: a contract that started mid-month, every invoice due
by today for the demo contracts, a refund and a resolved dispute, two invoices paid with fapiao
(one issued, one requested), and this month's payout statements with their VAT (idempotent)."""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.utils import timezone

from accounts.demo import DemoAccounts
from accounts.money import quantize_money
from billing.credits.disputes import dispute_open, dispute_resolve
from billing.fapiao.requests import fapiao_defaults, fapiao_mark_issued, fapiao_request_create
from billing.invoicing.issue import invoices_issue_chunk
from billing.ledger.invoices import PAYABLE
from billing.models import (
    DisputeStatus,
    FapiaoKind,
    FapiaoRequest,
    Invoice,
    InvoiceDispute,
    InvoiceStatus,
    PaymentStatus,
    PayoutStatement,
    Refund,
)
from billing.payments.refunds import refund_issue
from billing.payments.transfers import bank_transfer_record
from billing.payouts.statements import payouts_build
from inventory.models import GpuModel
from marketplace import services as market
from marketplace.models import Contract, ContractStatus

MID_MONTH_NOTE = "demo: 3 H800 servers for 7 months from the 17th, billed by contract month"


@dataclass(frozen=True)
class DemoBilling:
    invoices: list[Invoice]
    issued_now: int  # 0 when the demo was already billed


def seed_mid_month_contract(
    accounts: DemoAccounts, *, today: date | None = None
) -> Contract | None:
    """The issue's example, running: 3 H800 servers (15.832 P each) for 7 months from the 17th
    of the month three months ago, signed through quotes and approved. Its invoices are
    contract months, 17th to 17th. None when no cluster can take it."""
    today = today or timezone.localdate()
    existing = Contract.objects.filter(customer=accounts.customer, request__note=MID_MONTH_NOTE)
    if existing.exists():
        return existing.first()
    three_months_ago = date(today.year - (today.month <= 3), (today.month - 4) % 12 + 1, 1)
    start = three_months_ago.replace(day=17)
    user = accounts.customer.memberships.first().user
    request = market.request_create(
        customer=accounts.customer,
        by=user,
        gpu_models=list(GpuModel.objects.filter(code="H800-80G")),
        servers=3,
        interconnect="infiniband",
        single_cluster=True,
        start_date=start,
        term_months=7,
        note=MID_MONTH_NOTE,
        today=start,  # signed back then
    )
    result = market.quotes_generate(capacity_request=request, by=user)
    if not result.quotes:
        return None
    contract = market.quote_accept(quote=result.quotes[0], by=user)
    if contract.status == ContractStatus.PENDING_APPROVAL:
        contract = market.contract_approve(contract=contract, by=accounts.admin)
    market.contracts_advance(today=today)
    contract.refresh_from_db()
    return contract


def seed_billing(contracts: Iterable[Contract], *, today: date | None = None) -> DemoBilling:
    """Issue every invoice due by ``today`` (default: today) for the demo contracts.

    The same service as the daily run, so the demo shows real invoices: each contract month
    started by today, anchored on its contract's start. Contracts not yet approved are left
    alone. Running it again issues nothing new.
    """
    today = today or timezone.localdate()
    ids = sorted(contract.pk for contract in contracts)
    result = invoices_issue_chunk(contract_ids=ids, today=today, actor_label="seed_demo")
    invoices = list(
        Invoice.objects.filter(contract_id__in=ids).select_related("customer").order_by("pk")
    )
    return DemoBilling(invoices=invoices, issued_now=result.invoices)


REFUND_REASON = "demo: one day of the period lost to a network outage, refunded"
DISPUTE_REASON = "demo: the invoice counts a maintenance day the provider had announced"


@dataclass(frozen=True)
class DemoDisputes:
    refund: Refund | None
    dispute: InvoiceDispute | None


def seed_refund_and_dispute(accounts: DemoAccounts, contract: Contract | None) -> DemoDisputes:
    """On the mid-month contract's invoices: the first paid by bank transfer and part of it
    refunded (with its credit note); the second disputed by the customer and resolved by the
    admin with a credit note. Through the services, as people would; idempotent."""
    if contract is None:
        return DemoDisputes(refund=None, dispute=None)
    invoices = list(
        Invoice.objects.filter(contract=contract)
        .exclude(status__in=[InvoiceStatus.DRAFT, InvoiceStatus.VOID])
        .order_by("period_start")
    )
    customer_user = accounts.customer.memberships.order_by("pk").first().user
    refund = _demo_refund(accounts, invoices[0]) if invoices else None
    dispute = _demo_dispute(accounts, invoices[1], customer_user) if len(invoices) > 1 else None
    return DemoDisputes(refund=refund, dispute=dispute)


def _one_day(invoice: Invoice) -> Decimal:
    days = (invoice.period_end - invoice.period_start).days
    return quantize_money(invoice.total / days)


def _demo_refund(accounts: DemoAccounts, invoice: Invoice) -> Refund | None:
    existing = Refund.objects.filter(payment__invoice=invoice, reason=REFUND_REASON).first()
    if existing is not None:
        return existing
    if invoice.status in PAYABLE:
        bank_transfer_record(
            invoice=invoice,
            amount=invoice.amount_due,
            reference=f"DEMO-{invoice.number}",
            actor=accounts.admin,
            actor_label="seed_demo",
        )
    payment = invoice.payments.filter(status=PaymentStatus.SUCCEEDED).order_by("-amount").first()
    if payment is None:
        return None
    amount = min(_one_day(invoice), payment.amount - payment.amount_refunded)
    return refund_issue(
        payment=payment,
        amount=amount,
        reason=REFUND_REASON,
        actor=accounts.admin,
        actor_label="seed_demo",
    ).refund


def _demo_dispute(accounts: DemoAccounts, invoice: Invoice, customer_user) -> InvoiceDispute:
    existing = invoice.disputes.filter(reason=DISPUTE_REASON).first()
    if existing is not None:
        return existing
    dispute = dispute_open(invoice=invoice, reason=DISPUTE_REASON, by=customer_user)
    return dispute_resolve(
        dispute=dispute,
        outcome=DisputeStatus.CREDITED,
        amount=_one_day(invoice),
        reason="demo: agreed, the announced maintenance day is credited",
        by=accounts.admin,
    )


@dataclass(frozen=True)
class DemoFapiaoAndPayouts:
    fapiao_requests: list[FapiaoRequest]
    payouts: list[PayoutStatement]


DEMO_FAPIAO_NUMBER = "24312000000000000001"


def seed_fapiao_and_payouts(
    accounts: DemoAccounts, invoices: Iterable[Invoice]
) -> DemoFapiaoAndPayouts:
    """The customer's two oldest invoices paid by bank transfer, one with its special VAT fapiao
    issued and one with a request waiting for the finance team; then this month's payout
    statements, with their VAT, built from those payments. Idempotent: paid invoices are not
    paid again, requested ones not requested again, and an open statement is rebuilt the same.
    """
    mine = sorted(
        (i for i in invoices if i.customer_id == accounts.customer.pk and i.number),
        key=lambda i: (i.period_start, i.pk),
    )[:2]
    user = accounts.customer.memberships.first().user
    requests: list[FapiaoRequest] = []
    for position, invoice in enumerate(mine):
        invoice.refresh_from_db()
        if invoice.status in (InvoiceStatus.OPEN, InvoiceStatus.OVERDUE):
            bank_transfer_record(
                invoice=invoice,
                amount=invoice.amount_due,
                reference=f"DEMO-{invoice.number}",
                actor=accounts.admin,
                actor_label="seed_demo",
            )
            invoice.refresh_from_db()
        if invoice.status != InvoiceStatus.PAID:
            continue
        existing = FapiaoRequest.objects.filter(invoice=invoice).first()
        if existing is None:
            existing = fapiao_request_create(
                invoice=invoice,
                kind=FapiaoKind.SPECIAL,
                by=user,
                **fapiao_defaults(accounts.customer),
            )
            if position == 0:
                existing = fapiao_mark_issued(
                    request=existing,
                    fapiao_number=DEMO_FAPIAO_NUMBER,
                    issued_on=timezone.localdate(),
                    by=accounts.admin,
                )
        requests.append(existing)
    payouts = payouts_build(month=timezone.localdate(), actor_label="seed_demo")
    return DemoFapiaoAndPayouts(fapiao_requests=requests, payouts=payouts)
