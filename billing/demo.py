"""Demo billing for `manage.py seed_demo`: a contract that started mid-month, every invoice due
by today for the demo contracts, something of each kind in the admins' work queue (an overdue
invoice whose contract is flagged, a payment whose outcome is unknown), a refund and a resolved
dispute, fapiao requests on paid invoices (one issued, one requested), this month's payout
statements with their VAT, and the demo customer's resale proceeds of last month taken as
balance, which pays its own invoice (idempotent)."""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from accounts.demo import DemoAccounts
from accounts.models import User
from accounts.money import quantize_money
from billing.credits.disputes import dispute_open, dispute_resolve
from billing.fapiao.requests import fapiao_defaults, fapiao_mark_issued, fapiao_request_create
from billing.invoicing.issue import invoices_issue_chunk
from billing.invoicing.overdue import contracts_flag_overdue, invoices_mark_overdue
from billing.ledger.invoices import PAYABLE
from billing.models import (
    IN_FLIGHT,
    BillingEvent,
    DisputeStatus,
    FapiaoKind,
    FapiaoRequest,
    Gateway,
    Invoice,
    InvoiceDispute,
    InvoiceStatus,
    Payment,
    PaymentStatus,
    PayoutStatement,
    PayoutStatus,
    Refund,
    ResaleProceeds,
)
from billing.payments.gateways import ChargeOutcome, ChargeResult
from billing.payments.outcomes import payment_apply_outcome
from billing.payments.refunds import refund_issue
from billing.payments.transfers import balance_apply, bank_transfer_record
from billing.payouts.proceeds import resale_proceeds_set
from billing.payouts.statements import payout_close, payouts_build
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
    """On the mid-month contract's invoices: the second paid by bank transfer and part of it
    refunded (with its credit note); the third disputed by the customer and resolved by the
    admin with a credit note. Through the services, as people would; idempotent."""
    if contract is None:
        return DemoDisputes(refund=None, dispute=None)
    invoices = list(
        Invoice.objects.filter(contract=contract)
        .exclude(status__in=[InvoiceStatus.DRAFT, InvoiceStatus.VOID])
        .order_by("period_start")
    )
    customer_user = accounts.customer.memberships.order_by("pk").first().user
    # The first month stays overdue (the admins' work queue shows it, see seed_overdue_invoice).
    refund = _demo_refund(accounts, invoices[1]) if len(invoices) > 1 else None
    dispute = _demo_dispute(accounts, invoices[2], customer_user) if len(invoices) > 2 else None
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


def seed_fapiao_and_payouts(accounts: DemoAccounts) -> DemoFapiaoAndPayouts:
    """Fapiao on the customer's two oldest paid invoices: one special VAT fapiao issued, one
    request waiting for the finance team; then this month's payout statements, with their VAT,
    built from the month's payments. Run after the demo's payments. Idempotent: requested
    invoices are not requested again, and an open statement is rebuilt the same."""
    paid = Invoice.objects.filter(customer=accounts.customer, status=InvoiceStatus.PAID).order_by(
        "period_start", "pk"
    )[:2]
    user = accounts.customer.memberships.order_by("pk").first().user
    requests: list[FapiaoRequest] = []
    for position, invoice in enumerate(paid):
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


# --- The admins' work queue and the provider's payout ---------------------------------------
DEMO_TRANSFER_REFERENCE = "DEMO-ICBC-20270001"
DEMO_UNKNOWN_PAYMENT_KEY = "demo-stripe-timeout-invoice-{invoice}"


def seed_overdue_invoice(contract: Contract | None) -> Invoice | None:
    """The mid-month contract's first month, billed back when it started and never paid: by
    today it is overdue and, past the grace period, its contract flagged for an admin. Run
    before ``seed_billing`` (which issues the later months today)."""
    if contract is None:
        return None
    first = Invoice.objects.filter(contract=contract, period_index=0).first()
    if first is None:
        invoices_issue_chunk(
            contract_ids=[contract.pk], today=contract.start_date, actor_label="seed_demo"
        )
    today = timezone.localdate()
    invoices_mark_overdue(today=today, actor_label="seed_demo")
    contracts_flag_overdue(today=today)
    return Invoice.objects.filter(contract=contract, period_index=0).first()


def seed_paid_month(contract: Contract | None, *, admin: User) -> Invoice | None:
    """The running training contract's first invoice (last month's, billed late with this
    month's) paid by bank transfer today (recorded by the admin, as the queue does): this
    month's payout statement (``seed_fapiao_and_payouts``) counts it, and the provider's
    dashboard shows its next payout."""
    if contract is None:
        return None
    invoice = (
        Invoice.objects.filter(contract=contract, period_index=0)
        .exclude(status__in=[InvoiceStatus.DRAFT, InvoiceStatus.VOID])
        .first()
    )
    if invoice is None:
        return None
    if not invoice.payments.filter(reference=DEMO_TRANSFER_REFERENCE).exists():
        bank_transfer_record(
            invoice=invoice,
            amount=invoice.amount_due,
            reference=DEMO_TRANSFER_REFERENCE,
            actor=admin,
        )
    return invoice


def seed_unknown_payment(contract: Contract | None) -> Payment | None:
    """A card payment whose outcome never came back (the gateway timed out) on the contract's
    latest open invoice: it waits in the queue for an admin to ask the gateway again."""
    if contract is None:
        return None
    invoice = (
        Invoice.objects.filter(contract=contract, status=InvoiceStatus.OPEN)
        .order_by("-period_index")
        .first()
    )
    if invoice is None:
        return None
    key = DEMO_UNKNOWN_PAYMENT_KEY.format(invoice=invoice.pk)
    payment = Payment.objects.filter(idempotency_key=key).first()
    if payment is not None:
        return payment
    if invoice.payments.filter(status__in=IN_FLIGHT).exists():
        return None
    payment = Payment.objects.create(
        invoice=invoice,
        gateway=Gateway.STRIPE,
        amount=invoice.amount_due,
        status=PaymentStatus.PENDING,
        idempotency_key=key,
    )
    return payment_apply_outcome(
        payment_id=payment.pk,
        result=ChargeResult(
            ChargeOutcome.UNKNOWN,
            failure_code="timeout",
            failure_message="The card gateway did not answer within 30 seconds.",
        ),
        actor_label="seed_demo",
    )


# --- A reseller that takes its proceeds as balance ------------------------------------------
DEMO_RESALE_TRANSFER_REFERENCE = "DEMO-LINGXI-RESALE-1"
# The resale's first month: billed when it started (the 1st of last month, after its signing
# at 10:00) and paid by the buyer nine days later.
RESALE_ISSUED_AT = time(10, 5)
RESALE_PAID_AFTER = timedelta(days=9, minutes=-5)  # on the 10th, at 10:00


@dataclass(frozen=True)
class DemoProceeds:
    statement: PayoutStatement | None  # the reseller's, closed and applied to its balance
    invoice: Invoice | None  # the reseller's own invoice that balance paid


def _issued_back_then(invoice: Invoice, at: datetime) -> None:
    """Set an invoice issued by the demo for a past day back to when it was issued then."""
    if invoice.finalized_at == at:
        return
    Invoice.objects.filter(pk=invoice.pk).update(finalized_at=at, created_at=at, updated_at=at)
    BillingEvent.objects.filter(subject=BillingEvent.Subject.INVOICE, subject_id=invoice.pk).update(
        created_at=at
    )


def _paid_back_then(payment: Payment, at: datetime) -> None:
    """Set a bank transfer recorded by the demo, and the invoice it paid, back to ``at``."""
    Payment.objects.filter(pk=payment.pk).update(created_at=at, updated_at=at)
    BillingEvent.objects.filter(subject=BillingEvent.Subject.PAYMENT, subject_id=payment.pk).update(
        created_at=at
    )
    Invoice.objects.filter(pk=payment.invoice_id).update(paid_at=at, updated_at=at)
    BillingEvent.objects.filter(
        subject=BillingEvent.Subject.INVOICE,
        subject_id=payment.invoice_id,
        to_status=InvoiceStatus.PAID,
    ).update(created_at=at)


@transaction.atomic
def seed_resale_proceeds(
    accounts: DemoAccounts,
    *,
    sale: Contract | None,
    own: Contract | None,
    today: date | None = None,
) -> DemoProceeds:
    """The demo customer takes its resale proceeds as balance on its own invoices: the buyer's
    first month of the resale (which started on the 1st of last month, ``seed_resale``) was
    billed that day and paid by bank transfer on the 10th; the customer's statement as a
    seller for last month, a month that has ended, is built and closed by the admin, its
    payable amount credited to the customer's balance, and the balance applied to its one
    unpaid invoice then, the month of the server it rents from today. Run right after
    ``seed_resale``, before the customer's other invoices are issued (the balance pays the
    oldest due first). Idempotent: the statement is closed, credited and applied once."""
    if sale is None or own is None:
        return DemoProceeds(statement=None, invoice=None)
    today = today or timezone.localdate()
    tz = timezone.get_current_timezone()
    resale_proceeds_set(organization=accounts.customer, choice=ResaleProceeds.BALANCE)
    invoices_issue_chunk(contract_ids=[sale.pk], today=sale.start_date, actor_label="seed_demo")
    invoices_issue_chunk(contract_ids=[own.pk], today=today, actor_label="seed_demo")
    sold = Invoice.objects.filter(contract=sale, period_index=0).first()
    issued = datetime.combine(sale.start_date, RESALE_ISSUED_AT, tzinfo=tz)
    paid = issued + RESALE_PAID_AFTER
    if sold is not None and sold.issue_date == sale.start_date:
        _issued_back_then(sold, issued)
        if (
            sold.status in PAYABLE
            and not sold.payments.filter(reference=DEMO_RESALE_TRANSFER_REFERENCE).exists()
        ):
            transfer = bank_transfer_record(
                invoice=sold,
                amount=sold.amount_due,
                reference=DEMO_RESALE_TRANSFER_REFERENCE,
                actor=accounts.admin,
            )
            _paid_back_then(transfer.payment, paid)
    month = timezone.localdate(paid).replace(day=1)  # last month: it has ended
    statement = PayoutStatement.objects.filter(
        provider=accounts.customer, period_start=month
    ).first()
    if statement is None or statement.status == PayoutStatus.OPEN:
        payouts_build(month=month, actor_label="seed_demo")
        statement = PayoutStatement.objects.filter(
            provider=accounts.customer, period_start=month
        ).first()
        if statement is not None:
            statement = payout_close(statement=statement, by=accounts.admin)
            # What the closing queues for after the commit (applying the balance), at once, so
            # the same invoice is paid whether tasks run eagerly or not at all (inside a test's
            # transaction). The rest stays on the balance.
            balance_apply(organization=accounts.customer, actor_label="seed_demo")
    return DemoProceeds(
        statement=statement, invoice=Invoice.objects.filter(contract=own, period_index=0).first()
    )
