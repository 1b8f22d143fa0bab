"""Issuing invoices: one per contract month, on or after its first day, in advance.

``invoices_issue_chunk`` issues every period due by the run day for a chunk of contracts,
catching up missed periods, in a constant number of queries: read the contracts (with their
lines and clusters) and what is already invoiced, plan the invoices and SLA credits in Python,
then in one transaction lock the year's ``DocumentSequence`` row once, reserve a block of
numbers and bulk-insert invoices, lines, credits and audit rows. Exactly one live invoice per
contract and period is guaranteed by the partial unique index; a run that races another (same
chunk twice, two workers) finds the other's invoices under the sequence lock, or hits the
index, rolls back whole (so numbering stays gap-free) and re-plans from fresh reads.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.money import ZERO, split_tax
from billing import selectors
from billing.credits.sla_credits import PlannedCredit, plan_sla_credits
from billing.ledger.audit import unsaved_event
from billing.ledger.invoices import PlannedLine, invoice_settle_on_issue
from billing.ledger.numbering import INVOICE_PREFIX, numbers_reserve
from billing.models import (
    BillingEvent,
    Invoice,
    InvoiceLine,
    InvoiceLineKind,
    InvoiceStatus,
    SlaCredit,
)
from billing.notifications import emails
from billing.periods import BillingPeriod
from inventory import services as inventory
from marketplace.models import Contract

ISSUE_ATTEMPTS = 3


class _ChunkRaced(Exception):
    """Another run issued some of this chunk's invoices first: re-plan from fresh reads."""


@dataclass
class _PlannedInvoice:
    contract: Contract
    period: BillingPeriod
    lines: list[PlannedLine]
    credits: list[PlannedCredit] = field(default_factory=list)


@dataclass
class IssueResult:
    contracts: int = 0  # contracts looked at
    invoices: int = 0  # invoices issued
    sla_credits: int = 0  # credit lines put on them
    numbers: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        first, last = (self.numbers[0], self.numbers[-1]) if self.numbers else ("", "")
        return {
            "contracts": self.contracts,
            "invoices": self.invoices,
            "sla_credits": self.sla_credits,
            "first_number": first,
            "last_number": last,
        }


def _plain(value: Decimal) -> str:
    """``Decimal("4.992000")`` -> ``"4.992"``, for descriptions."""
    return format(value.normalize(), "f")


def rental_line(contract: Contract, period: BillingPeriod) -> PlannedLine:
    """The period's rental line, stating the dates it covers and which contract month it is."""
    month = f"contract month {period.index + 1} of {contract.term_months}"
    served = ""
    if not period.is_full_month:
        served = f", {period.days} of its {period.month_days} days (service ends {period.end})"
    return PlannedLine(
        kind=InvoiceLineKind.RENTAL,
        description=(
            f"Compute rental {period.start:%Y-%m-%d} to {period.last_day:%Y-%m-%d} "
            f"({month}{served}): {_plain(contract.total_p)} P at CNY "
            f"{_plain(contract.price_per_p_year)}/P/year"
        ),
        amount=period.amount,
        period_start=period.start,
        period_end=period.end,
    )


def invoices_issue_chunk(
    *,
    contract_ids: Sequence[int],
    today: date,
    actor_label: str = "task:billing.issue_invoices_chunk",
) -> IssueResult:
    """Issue every invoice due by ``today`` for these contracts (catching up missed periods).

    Idempotent: periods that already have an invoice are skipped, so a repeat, a concurrent
    twin or a retry after a crash issues nothing twice. Constant number of queries per call.
    """
    for attempt in range(ISSUE_ATTEMPTS):
        try:
            return _issue_chunk_once(list(contract_ids), today, actor_label)
        except (IntegrityError, _ChunkRaced):
            if attempt == ISSUE_ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")


def _issue_chunk_once(contract_ids: list[int], today: date, actor_label: str) -> IssueResult:
    contracts = list(
        Contract.objects.filter(
            pk__in=contract_ids, status__in=selectors.BILLABLE_STATUSES, start_date__lte=today
        )
        .prefetch_related("lines__cluster")
        .order_by("pk")
    )
    result = IssueResult(contracts=len(contracts))
    if not contracts:
        return result
    billed: dict[int, set[date]] = defaultdict(set)
    for contract_id, period_start in Invoice.objects.filter(
        contract_id__in=[c.pk for c in contracts]
    ).values_list("contract_id", "period_start"):
        billed[contract_id].add(period_start)

    plans: dict[int, list[_PlannedInvoice]] = {}
    schedules: dict[int, list[BillingPeriod]] = {}
    for contract in contracts:
        schedule = selectors.contract_schedule(contract, through=today)
        due = [p for p in schedule if p.start not in billed[contract.pk]]
        if due:
            schedules[contract.pk] = schedule
            plans[contract.pk] = [
                _PlannedInvoice(contract=contract, period=p, lines=[rental_line(contract, p)])
                for p in due
            ]
    if not plans:
        return result
    billing_contracts = [c for c in contracts if c.pk in plans]
    for contract_id, credits in plan_sla_credits(billing_contracts, schedules, today).items():
        latest = plans[contract_id][-1]  # the contract's newest invoice carries its credits
        latest.credits.extend(credits)
        latest.lines.extend(credit.line for credit in credits if credit.line is not None)
    planned = [invoice for contract in billing_contracts for invoice in plans[contract.pk]]
    return _issue_planned(planned, today, actor_label, result)


def _issue_planned(
    planned: list[_PlannedInvoice], today: date, actor_label: str, result: IssueResult
) -> IssueResult:
    now = timezone.now()
    tax_rate = settings.VAT_RATE
    due_date = today + timedelta(days=settings.INVOICE_NET_DAYS)
    with transaction.atomic():
        numbers = numbers_reserve(INVOICE_PREFIX, today.year, len(planned))
        # Under the sequence lock: a twin run that got here first has committed by now.
        raced = Invoice.objects.filter(
            contract_id__in={p.contract.pk for p in planned},
            period_start__in={p.period.start for p in planned},
        ).values_list("contract_id", "period_start")
        planned_keys = {(p.contract.pk, p.period.start) for p in planned}
        if any(key in planned_keys for key in raced):
            raise _ChunkRaced()

        invoices: list[Invoice] = []
        split_lines: list[list[tuple[PlannedLine, Decimal, Decimal]]] = []
        for plan, number in zip(planned, numbers, strict=True):
            lines = [(line, *split_tax(line.amount, tax_rate)) for line in plan.lines]
            split_lines.append(lines)
            invoices.append(
                Invoice(
                    customer_id=plan.contract.customer_id,
                    contract_id=plan.contract.pk,
                    period_index=plan.period.index,
                    period_start=plan.period.start,
                    period_end=plan.period.end,
                    number=number,
                    status=InvoiceStatus.OPEN,
                    currency=plan.contract.currency,
                    subtotal=sum((net for _, net, _ in lines), ZERO),
                    tax=sum((tax for _, _, tax in lines), ZERO),
                    total=sum((line.amount for line, _, _ in lines), ZERO),
                    issue_date=today,
                    due_date=due_date,
                    finalized_at=now,
                )
            )
        Invoice.objects.bulk_create(invoices)

        line_rows: list[InvoiceLine] = []
        row_of: dict[int, InvoiceLine] = {}  # id(PlannedLine) -> its row, to link SLA credits
        for invoice, lines in zip(invoices, split_lines, strict=True):
            for position, (line, net, tax) in enumerate(lines):
                row = InvoiceLine(
                    invoice_id=invoice.pk,
                    kind=line.kind,
                    description=line.description[:300],
                    period_start=line.period_start,
                    period_end=line.period_end,
                    amount=line.amount,
                    tax_rate=tax_rate,
                    net=net,
                    tax=tax,
                    position=position,
                )
                line_rows.append(row)
                row_of[id(line)] = row
        InvoiceLine.objects.bulk_create(line_rows)

        credits = [credit for plan in planned for credit in plan.credits]
        if credits:
            SlaCredit.objects.bulk_create(
                SlaCredit(
                    contract_id=credit.contract_id,
                    outage_id=credit.outage_id,
                    amount=credit.amount,
                    credited_hours=credit.credited_hours,
                    invoice_line_id=row_of[id(credit.line)].pk if credit.line else None,
                )
                for credit in credits
            )
            inventory.outages_mark_invoiced(
                outage_ids=sorted({credit.outage_id for credit in credits}), at=now
            )
        BillingEvent.objects.bulk_create(
            unsaved_event(
                BillingEvent.Subject.INVOICE,
                invoice.pk,
                "",
                InvoiceStatus.OPEN,
                actor_label=actor_label,
                reason=(
                    f"Issued for {invoice.period_start:%Y-%m-%d} "
                    f"to {invoice.period_end:%Y-%m-%d} (exclusive)."
                ),
            )
            for invoice in invoices
        )
        for invoice in invoices:
            if invoice.total <= ZERO:  # rare: credits exceed the period's charge
                invoice_settle_on_issue(invoice, actor_label=actor_label)
        emails.send_after_commit(emails.ISSUED, [invoice.pk for invoice in invoices])
    result.invoices = len(invoices)
    result.sla_credits = sum(1 for credit in credits if credit.line is not None)
    result.numbers = numbers
    return result
