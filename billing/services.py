"""Writes of billing. Each service is one transaction (or a loop of independent ones).

Issuing invoices
----------------
A contract bills monthly in advance: one invoice per billing period (``billing.proration``),
issued on or after the period's first day. ``invoices_issue_chunk`` issues every period due by
the run day for a chunk of contracts, catching up missed periods, in a constant number of
queries: read the contracts and what is already invoiced, plan the invoices and SLA credits in
Python, then in one transaction lock the year's ``DocumentSequence`` row once, reserve a block
of numbers and bulk-insert invoices, lines, credits and audit rows. Exactly one live invoice per
contract and period is guaranteed by the partial unique index; a run that races another (same
chunk twice, two workers) finds the other's invoices under the sequence lock, or hits the index,
rolls back whole (so numbering stays gap-free) and re-plans from fresh reads.

State machines
--------------
Invoices: draft -> open -> (overdue) -> paid; open/overdue -> void. ``invoice_transition`` is
the one place an invoice changes state (bulk overdue marking shares its table and audit).
Payout statements: open -> closed -> paid (``payout_transition``). Every state change of an
invoice, payment, credit note or statement writes a ``BillingEvent`` (``billing_event_record``).
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Exists, F, OuterRef, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from accounts.errors import DomainError, InvalidInput
from accounts.models import Organization, User
from accounts.money import ZERO, quantize_money, split_tax
from billing import emails, proration, sla
from billing.models import (
    BalanceEntry,
    BillingEvent,
    ContractOverdueFlag,
    CreditNote,
    DocumentSequence,
    Invoice,
    InvoiceLine,
    InvoiceLineKind,
    InvoiceStatus,
    PayoutLine,
    PayoutStatement,
    PayoutStatus,
    SlaCredit,
)
from billing.selectors import BILLABLE_STATUSES
from inventory import services as inventory
from inventory.models import Outage
from marketplace.models import Contract, ContractLine

INVOICE_PREFIX = "INV"
CREDIT_NOTE_PREFIX = "CN"
ISSUE_ATTEMPTS = 3
HOURS_PLACES = Decimal("0.0001")  # SlaCredit.credited_hours


class InvalidInvoiceTransition(DomainError):
    code = "invalid_transition"
    status = 409


class InvoiceNotCreditable(DomainError):
    code = "invoice_not_creditable"
    status = 409


class InvalidPayoutTransition(DomainError):
    code = "invalid_transition"
    status = 409


class _ChunkRaced(Exception):
    """Another run issued some of this chunk's invoices first: re-plan from fresh reads."""


# --- Audit ----------------------------------------------------------------------------------
def billing_event_record(
    subject: str,
    subject_id: int,
    from_status: str,
    to_status: str,
    *,
    actor: User | None = None,
    actor_label: str = "",
    reason: str = "",
) -> BillingEvent:
    """Record one state change of an invoice, payment, credit note or payout statement.

    ``subject`` is a ``BillingEvent.Subject`` (``"invoice"``, ``"payment"``, ``"credit_note"``,
    ``"payout"``); ``from_status`` is blank when the object was created; ``actor`` is the user
    who did it, or ``actor_label`` names the task or hook (``"task:billing.run_day"``,
    ``"webhook:stripe"``). Call it inside the transaction that makes the change.
    """
    return BillingEvent.objects.create(
        subject=subject,
        subject_id=subject_id,
        from_status=from_status or "",
        to_status=to_status,
        actor=actor if actor is not None and actor.is_authenticated else None,
        actor_label=actor_label,
        reason=reason,
    )


_record = billing_event_record


def _event(subject: str, subject_id: int, from_status: str, to_status: str, **kwargs):
    """An unsaved event, for bulk inserts."""
    return BillingEvent(
        subject=subject,
        subject_id=subject_id,
        from_status=from_status,
        to_status=to_status,
        **kwargs,
    )


# --- Numbering ------------------------------------------------------------------------------
def _reserve_numbers(prefix: str, year: int, count: int) -> list[str]:
    """Take the next ``count`` numbers of the year's sequence, gap-free.

    Must run inside the transaction that creates the documents: the sequence row stays locked
    until it commits, and a rollback returns the numbers. One lock for a whole block.
    """
    if count < 1:
        return []
    sequence, _ = DocumentSequence.objects.select_for_update().get_or_create(
        prefix=prefix, year=year
    )
    first = sequence.last_number + 1
    sequence.last_number += count
    sequence.save(update_fields=["last_number"])
    return [f"{prefix}-{year}-{number:06d}" for number in range(first, first + count)]


# --- Schedules ------------------------------------------------------------------------------
@functools.lru_cache(maxsize=8192)
def _periods(
    start: date, term_months: int, annual_price: Decimal, total_price: Decimal
) -> tuple[proration.BillingPeriod, ...]:
    return tuple(
        proration.billing_periods(
            start=start, term_months=term_months, annual_price=annual_price, total_price=total_price
        )
    )


def contract_schedule(contract: Contract) -> list[proration.BillingPeriod]:
    """The periods the contract is billed for: its full schedule, or cut at termination."""
    periods = _periods(
        contract.start_date, contract.term_months, contract.annual_price, contract.total_price
    )
    if contract.termination_date is None:
        return list(periods)
    return proration.terminated_schedule(
        periods, effective_date=contract.termination_date, annual_price=contract.annual_price
    )


def periods_started_by(contract: Contract, day: date) -> list[proration.BillingPeriod]:
    """``[p for p in contract_schedule(contract) if p.start <= day]``, computed cheaply.

    Only the last period of a schedule depends on the term and total (it absorbs the rounding);
    every other period is its calendar slice priced by its days (``billing.proration``). So
    while ``day`` is well inside the term, the schedule of a term just two months past ``day``
    has the same periods up to ``day``, and costs a few periods instead of up to 61.
    """
    start = contract.start_date
    months = (day.year - start.year) * 12 + day.month - start.month + 2
    if contract.termination_date is not None or months >= contract.term_months:
        return [p for p in contract_schedule(contract) if p.start <= day]
    if months < 1:
        return []
    head = _periods(
        start,
        months,
        contract.annual_price,
        contract.annual_price * months,  # total: ample
    )[:-1]
    return [p for p in head if p.start <= day]


def _service_end(contract: Contract) -> date:
    return contract.termination_date or contract.end_date


def _local_midnight(day: date, tz: tzinfo) -> datetime:
    return datetime.combine(day, time.min, tzinfo=tz)


def _month_start(day: date) -> date:
    return day.replace(day=1)


def _next_month(day: date) -> date:
    return (day.replace(day=1) + timedelta(days=32)).replace(day=1)


def _plain(value: Decimal) -> str:
    """``Decimal("4.992000")`` -> ``"4.992"``, for descriptions."""
    return format(value.normalize(), "f")


# --- Issuing invoices -----------------------------------------------------------------------
@dataclass
class _Line:
    kind: str
    description: str
    amount: Decimal  # tax included; negative for credits


@dataclass
class _PlannedInvoice:
    contract: Contract
    period: proration.BillingPeriod
    lines: list[_Line]
    credits: list[_PlannedCredit] = field(default_factory=list)


@dataclass
class _PlannedCredit:
    contract_id: int
    outage_id: int
    amount: Decimal
    credited_hours: Decimal
    line: _Line | None  # None when within the allowance (amount 0): recorded, not invoiced


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


def _rental_line(contract: Contract, period: proration.BillingPeriod) -> _Line:
    last_day = period.end - timedelta(days=1)
    share = "" if period.is_full_month else f", {period.days}/{period.days_in_month} of the month"
    ends = ""
    if contract.termination_date is not None and period.end == contract.termination_date:
        ends = f"; service ends {contract.termination_date:%Y-%m-%d}"
    return _Line(
        kind=InvoiceLineKind.RENTAL,
        description=(
            f"Compute rental {period.start:%Y-%m-%d} to {last_day:%Y-%m-%d}: "
            f"{_plain(contract.total_p)} P at CNY {_plain(contract.price_per_p_year)}/P/year"
            f"{share}{ends}"
        ),
        amount=period.amount,
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
            pk__in=contract_ids, status__in=BILLABLE_STATUSES, start_date__lte=today
        ).order_by("pk")
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
    schedules: dict[int, list[proration.BillingPeriod]] = {}
    for contract in contracts:
        schedule = periods_started_by(contract, today)
        due = [p for p in schedule if p.start not in billed[contract.pk]]
        if due:
            schedules[contract.pk] = schedule
            plans[contract.pk] = [
                _PlannedInvoice(contract=contract, period=p, lines=[_rental_line(contract, p)])
                for p in due
            ]
    if not plans:
        return result
    billing_contracts = [c for c in contracts if c.pk in plans]
    for contract_id, credits in _plan_sla_credits(billing_contracts, schedules, today).items():
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
        numbers = _reserve_numbers(INVOICE_PREFIX, today.year, len(planned))
        # Under the sequence lock: a twin run that got here first has committed by now.
        raced = Invoice.objects.filter(
            contract_id__in={p.contract.pk for p in planned},
            period_start__in={p.period.start for p in planned},
        ).values_list("contract_id", "period_start")
        planned_keys = {(p.contract.pk, p.period.start) for p in planned}
        if any(key in planned_keys for key in raced):
            raise _ChunkRaced()

        invoices: list[Invoice] = []
        split_lines: list[list[tuple[_Line, Decimal, Decimal]]] = []
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
        row_of: dict[int, InvoiceLine] = {}  # id(_Line) -> its row, to link SLA credits
        for invoice, lines in zip(invoices, split_lines, strict=True):
            for position, (line, net, tax) in enumerate(lines):
                row = InvoiceLine(
                    invoice_id=invoice.pk,
                    kind=line.kind,
                    description=line.description[:300],
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
            _event(
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
                _settle_without_payment(invoice, actor_label=actor_label)
        ids = [invoice.pk for invoice in invoices]
        emails.send_after_commit(emails.ISSUED, ids)
    result.invoices = len(invoices)
    result.sla_credits = sum(1 for credit in credits if credit.line is not None)
    result.numbers = numbers
    return result


def _settle_without_payment(invoice: Invoice, *, actor_label: str) -> None:
    """An invoice whose credits reach its charges is paid on issue; a negative total becomes
    the customer's balance, applied later or refunded."""
    if invoice.total < ZERO:
        BalanceEntry.objects.create(
            organization_id=invoice.customer_id,
            amount=-invoice.total,
            invoice=invoice,
            description=f"Credits on {invoice.number} beyond its charges",
        )
    _transition(
        invoice,
        InvoiceStatus.PAID,
        actor=None,
        actor_label=actor_label,
        reason="Nothing to pay: credits cover the charges.",
    )


# --- SLA credits ----------------------------------------------------------------------------
@dataclass
class _Stake:
    cluster_id: int
    cluster_name: str
    server_count: int
    sla_uptime_percent: Decimal
    servers: int
    p: Decimal
    value: Decimal  # P x price per P per year: this cluster's part of the contract's price
    price_per_p_year: Decimal


def _months_touched(start: datetime, end: datetime, tz: tzinfo) -> list[date]:
    """First days of the local calendar months that ``[start, end)`` overlaps."""
    cursor = _month_start(timezone.localtime(start, tz).date())
    last = timezone.localtime(end - timedelta(microseconds=1), tz).date()
    months = []
    while cursor <= last:
        months.append(cursor)
        cursor = _next_month(cursor)
    return months


def _plan_sla_credits(
    contracts: list[Contract], schedules: dict[int, list[proration.BillingPeriod]], today: date
) -> dict[int, list[_PlannedCredit]]:
    """SLA credits for outages of complete months not yet credited to these contracts.

    An outage is credited once every month it touches has ended (its end is before the 1st of
    the run's month), so the month's SLA allowance is known. For each contract and cluster,
    ``billing.sla.sla_credits_for_month`` prices each month the outage touches, with all of
    the cluster's outages in that month using the allowance, capped at the contract's charge
    for that month (the cluster's share of the period's amount). Credits already given for
    the month also count against the cap. Three queries, whatever the chunk's size.
    """
    tz = timezone.get_current_timezone()
    cutoff = _local_midnight(_month_start(today), tz)
    ids = [c.pk for c in contracts]
    earliest = _local_midnight(_month_start(min(c.start_date for c in contracts)), tz)
    outages = list(
        Outage.objects.filter(
            cluster__contract_lines__contract_id__in=ids, start__lt=cutoff, end__gt=earliest
        )
        .distinct()
        .order_by("start", "pk")
    )
    if not outages:
        return {}
    credited: dict[tuple[int, int], Decimal] = {
        (contract_id, outage_id): amount
        for contract_id, outage_id, amount in SlaCredit.objects.filter(
            contract_id__in=ids, outage_id__in=[o.pk for o in outages]
        ).values_list("contract_id", "outage_id", "amount")
    }
    stakes: dict[int, dict[int, _Stake]] = defaultdict(dict)
    for (
        contract_id,
        cluster_id,
        name,
        server_count,
        sla_percent,
        servers,
        p,
        price,
    ) in ContractLine.objects.filter(contract_id__in=ids).values_list(
        "contract_id",
        "cluster_id",
        "cluster__name",
        "cluster__server_count",
        "cluster__sla_uptime_percent",
        "servers",
        "p",
        "price_per_p_year",
    ):
        stake = stakes[contract_id].get(cluster_id)
        if stake is None:
            stakes[contract_id][cluster_id] = _Stake(
                cluster_id=cluster_id,
                cluster_name=name,
                server_count=server_count,
                sla_uptime_percent=sla_percent,
                servers=servers,
                p=p,
                value=p * price,
                price_per_p_year=price,
            )
        else:  # one line per cluster in practice; merge if ever split
            stake.servers += servers
            stake.p += p
            stake.value += p * price
            stake.price_per_p_year = stake.value / stake.p
    by_cluster: dict[int, list[Outage]] = defaultdict(list)
    for outage in outages:
        by_cluster[outage.cluster_id].append(outage)

    planned: dict[int, list[_PlannedCredit]] = defaultdict(list)
    for contract in contracts:
        contract_value = sum((s.value for s in stakes[contract.pk].values()), ZERO)
        window = (
            _local_midnight(contract.start_date, tz),
            _local_midnight(_service_end(contract), tz),
        )
        charges: dict[date, Decimal] | None = None
        for stake in stakes[contract.pk].values():
            cluster_outages = by_cluster.get(stake.cluster_id, [])
            todo = [
                o
                for o in cluster_outages
                if o.end <= cutoff
                and o.end > window[0]
                and o.start < window[1]
                and (contract.pk, o.pk) not in credited
            ]
            if not todo:
                continue
            if charges is None:
                charges = {_month_start(p.start): p.amount for p in schedules[contract.pk]}
            share = stake.value / contract_value if contract_value else ZERO
            amounts, seconds = _price_outages(
                todo, cluster_outages, stake, window, charges, share, credited, contract.pk, tz
            )
            for outage in todo:
                amount = amounts[outage.pk]
                hours = (seconds[outage.pk] / sla.SECONDS_PER_HOUR).quantize(HOURS_PLACES)
                line = None
                if amount > ZERO:
                    local_start = timezone.localtime(outage.start, tz)
                    local_end = timezone.localtime(outage.end, tz)
                    line = _Line(
                        kind=InvoiceLineKind.SLA_CREDIT,
                        description=(
                            f"SLA credit: outage on {stake.cluster_name} "
                            f"{local_start:%Y-%m-%d %H:%M} to {local_end:%Y-%m-%d %H:%M}, "
                            f"{_plain(hours)} h beyond the "
                            f"{_plain(stake.sla_uptime_percent)}% monthly allowance"
                        ),
                        amount=-amount,
                    )
                planned[contract.pk].append(
                    _PlannedCredit(
                        contract_id=contract.pk,
                        outage_id=outage.pk,
                        amount=amount,
                        credited_hours=hours,
                        line=line,
                    )
                )
    return planned


def _price_outages(
    todo: list[Outage],
    cluster_outages: list[Outage],
    stake: _Stake,
    window: tuple[datetime, datetime],
    charges: dict[date, Decimal],
    share: Decimal,
    credited: dict[tuple[int, int], Decimal],
    contract_id: int,
    tz: tzinfo,
) -> tuple[dict[int, Decimal], dict[int, Decimal]]:
    """Credit amount and credited seconds per outage in ``todo``, summed over its months."""
    amounts = {o.pk: ZERO for o in todo}
    seconds = {o.pk: ZERO for o in todo}
    todo_ids = set(amounts)
    months = sorted({m for o in todo for m in _months_touched(o.start, o.end, tz)})
    server_count = max(
        stake.server_count, stake.servers, *(o.servers_affected for o in cluster_outages)
    )
    for month in months:
        month_start, month_end = sla.month_bounds(month.year, month.month, tz)
        in_month = [o for o in cluster_outages if o.start < month_end and o.end > month_start]
        charge = quantize_money(charges.get(month, ZERO) * share)
        credits = sla.sla_credits_for_month(
            [
                sla.OutageSpan(o.start, o.end, o.servers_affected, reference=str(o.pk))
                for o in in_month
            ],
            month_start=month_start,
            month_end=month_end,
            sla_uptime_percent=stake.sla_uptime_percent,
            cluster_server_count=server_count,
            contract=sla.ContractStake(
                price_per_p_year=stake.price_per_p_year,
                p_per_server=stake.p / stake.servers,
                servers=stake.servers,
                service_start=window[0],
                service_end=window[1],
            ),
            month_charge=charge,
        )
        # What earlier runs credited for this month still counts against its cap.
        remaining = charge - sum((credited.get((contract_id, o.pk), ZERO) for o in in_month), ZERO)
        for outage, credit in zip(in_month, credits, strict=True):  # chronological
            if outage.pk not in todo_ids:
                continue
            amount = max(ZERO, min(credit.amount, remaining))
            remaining -= amount
            amounts[outage.pk] += amount
            seconds[outage.pk] += credit.credited_seconds
    return amounts, seconds


# --- Invoice state machine ------------------------------------------------------------------
INVOICE_TRANSITIONS: dict[str, frozenset[str]] = {
    InvoiceStatus.DRAFT: frozenset({InvoiceStatus.OPEN, InvoiceStatus.VOID}),
    InvoiceStatus.OPEN: frozenset({InvoiceStatus.OVERDUE, InvoiceStatus.PAID, InvoiceStatus.VOID}),
    InvoiceStatus.OVERDUE: frozenset({InvoiceStatus.PAID, InvoiceStatus.VOID}),
    InvoiceStatus.PAID: frozenset(),
    InvoiceStatus.VOID: frozenset(),
}


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
        _transition(locked, to, actor=actor, actor_label=actor_label, reason=reason, today=today)
    return locked


def _transition(
    locked: Invoice,
    to: str,
    *,
    actor: User | None,
    actor_label: str,
    reason: str,
    today: date | None = None,
) -> None:
    """Move a row already locked by the caller's transaction."""
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
        [locked.number] = _reserve_numbers(INVOICE_PREFIX, today.year, 1)
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
    _record(
        BillingEvent.Subject.INVOICE,
        locked.pk,
        previous,
        to,
        actor=actor,
        actor_label=actor_label,
        reason=reason,
    )


def _transition_many(
    ids: list[int], *, current: str, to: str, actor_label: str, reason: str
) -> int:
    """``invoice_transition`` for many rows already locked in ``current`` (no side fields)."""
    _check_transition(current, to, f"batch of {len(ids)}")
    if to in (InvoiceStatus.OPEN, InvoiceStatus.PAID, InvoiceStatus.VOID):
        raise ValueError(f"bulk transitions to {to} are not supported; use invoice_transition")
    moved = Invoice.objects.filter(pk__in=ids, status=current).update(
        status=to, updated_at=timezone.now()
    )
    BillingEvent.objects.bulk_create(
        _event(
            BillingEvent.Subject.INVOICE, pk, current, to, actor_label=actor_label, reason=reason
        )
        for pk in ids
    )
    return moved


def _apply_to_invoice(
    locked: Invoice, amount: Decimal, *, actor: User | None, actor_label: str, reason: str
) -> Decimal:
    """Add ``amount`` to what was paid on a locked invoice; return what did not fit."""
    if locked.status not in (InvoiceStatus.OPEN, InvoiceStatus.OVERDUE):
        return amount
    applied = min(amount, max(ZERO, locked.amount_due))
    if applied > ZERO:
        locked.amount_paid += applied
        locked.save(update_fields=["amount_paid", "updated_at"])
    if locked.amount_paid >= locked.total:
        _transition(locked, InvoiceStatus.PAID, actor=actor, actor_label=actor_label, reason=reason)
    return amount - applied


def invoice_apply_payment(
    *, invoice: Invoice, amount: Decimal, actor: User | None = None, actor_label: str = ""
) -> Decimal:
    """Record money received for an invoice; returns the excess that did not fit.

    Locks the invoice, adds up to its amount due to ``amount_paid`` and moves it to paid once
    fully paid. An invoice that is not open or overdue takes nothing: all of ``amount`` comes
    back, for the caller to keep as the customer's balance (``BalanceEntry``).
    """
    amount = quantize_money(amount)
    if amount <= ZERO:
        raise InvalidInput("amount", "Must be more than 0.")
    with transaction.atomic():
        locked = Invoice.objects.select_for_update().get(pk=invoice.pk)
        excess = _apply_to_invoice(
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


# --- Credit notes ---------------------------------------------------------------------------
def _credited(invoice: Invoice) -> Decimal:
    return invoice.credit_notes.aggregate(total=Sum("amount"))["total"] or ZERO


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
        creditable = locked.total - _credited(locked)
        if amount > creditable:
            raise InvalidInput(
                "amount", f"At most {creditable} {locked.currency} can be credited on {locked}."
            )
        return _credit_note_create(
            locked, amount, reason=reason, by=by, actor_label=actor_label, today=today
        )


def _credit_note_create(
    locked: Invoice,
    amount: Decimal,
    *,
    reason: str,
    by: User | None,
    actor_label: str,
    today: date | None,
) -> CreditNote:
    """Issue a credit note on a locked invoice and settle it (see ``credit_note_issue``)."""
    today = today or timezone.localdate()
    rate = (
        locked.lines.filter(kind=InvoiceLineKind.RENTAL).values_list("tax_rate", flat=True).first()
    )
    rate = settings.VAT_RATE if rate is None else rate
    net, tax = split_tax(amount, rate)
    [number] = _reserve_numbers(CREDIT_NOTE_PREFIX, today.year, 1)
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
    _record(
        BillingEvent.Subject.CREDIT_NOTE,
        note.pk,
        "",
        "issued",
        actor=by,
        actor_label=actor_label,
        reason=reason,
    )
    settles = f"Credit note {number}: {reason}"
    whole = locked.amount_paid == ZERO and amount >= locked.total
    if locked.status in (InvoiceStatus.OPEN, InvoiceStatus.OVERDUE) and whole:
        _transition(locked, InvoiceStatus.VOID, actor=by, actor_label=actor_label, reason=settles)
        left = amount - locked.total
    else:
        left = _apply_to_invoice(locked, amount, actor=by, actor_label=actor_label, reason=settles)
    if left > ZERO:
        BalanceEntry.objects.create(
            organization_id=locked.customer_id,
            amount=left,
            invoice=locked,
            description=f"Credit note {number} beyond the amount due on {locked}",
        )
    return note


# --- Termination ----------------------------------------------------------------------------
def terminations_settle(*, today: date, actor_label: str = "task:billing") -> int:
    """Credit what terminated contracts were invoiced for service after their effective date.

    The final prorated invoice of a period not yet billed is issued by the regular run (from
    the terminated schedule); this handles periods invoiced in advance before the termination.
    Idempotent: amounts invoiced are counted net of earlier credit notes, so a settled
    contract owes nothing more. Returns the number of credit notes issued.
    """
    beyond = Invoice.objects.filter(
        contract_id=OuterRef("pk"),
        period_end__gt=OuterRef("termination_date"),
        status__in=[InvoiceStatus.OPEN, InvoiceStatus.OVERDUE, InvoiceStatus.PAID],
    )
    # Settled: a credit note on such an invoice since the termination (the contract's last
    # change). Anything else is looked at again; settling twice issues nothing.
    settled = CreditNote.objects.filter(
        invoice__contract_id=OuterRef("pk"),
        invoice__period_end__gt=OuterRef("termination_date"),
        created_at__gte=OuterRef("updated_at"),
        sla_credits__isnull=True,  # SLA credit notes compensate outages, not unused service
    )
    candidates = (
        Contract.objects.filter(termination_date__isnull=False, status__in=BILLABLE_STATUSES)
        .filter(Exists(beyond), ~Exists(settled))
        .values_list("pk", flat=True)
    )
    return sum(
        contract_termination_settle(contract_id=pk, today=today, actor_label=actor_label)
        for pk in list(candidates)
    )


def contract_termination_settle(
    *, contract_id: int, today: date | None = None, actor_label: str = ""
) -> int:
    """Settle one terminated contract (see ``terminations_settle``); one transaction."""
    today = today or timezone.localdate()
    with transaction.atomic():
        contract = Contract.objects.select_for_update().get(pk=contract_id)
        if contract.termination_date is None:
            return 0
        invoices = {
            invoice.period_index: invoice
            for invoice in Invoice.objects.select_for_update()
            .filter(contract=contract)
            .exclude(status__in=[InvoiceStatus.VOID, InvoiceStatus.DRAFT])
            .order_by("period_start")
        }
        if not invoices:
            return 0
        ids = [invoice.pk for invoice in invoices.values()]
        charged = dict(
            InvoiceLine.objects.filter(
                invoice_id__in=ids,
                kind__in=[InvoiceLineKind.RENTAL, InvoiceLineKind.ADJUSTMENT],
            )
            .values("invoice_id")
            .annotate(total=Sum("amount"))
            .values_list("invoice_id", "total")
        )
        credited = dict(
            CreditNote.objects.filter(invoice_id__in=ids, sla_credits__isnull=True)
            .values("invoice_id")
            .annotate(total=Sum("amount"))
            .values_list("invoice_id", "total")
        )
        adjustment = proration.termination_adjustment(
            _periods(
                contract.start_date,
                contract.term_months,
                contract.annual_price,
                contract.total_price,
            ),
            effective_date=contract.termination_date,
            annual_price=contract.annual_price,
            amounts_invoiced={
                index: charged.get(invoice.pk, ZERO) - credited.get(invoice.pk, ZERO)
                for index, invoice in invoices.items()
            },
        )
        issued = 0
        for line in adjustment.lines:
            if line.difference < ZERO and line.index in invoices:
                _credit_note_create(
                    invoices[line.index],
                    -line.difference,
                    reason=(
                        f"Contract {contract.pk} terminated effective "
                        f"{contract.termination_date:%Y-%m-%d}: service not provided in "
                        f"{invoices[line.index].period_start:%Y-%m}."
                    ),
                    by=None,
                    actor_label=actor_label,
                    today=today,
                )
                issued += 1
    return issued


# --- SLA credits of a contract's last month -------------------------------------------------
def sla_final_credits_settle(*, today: date, actor_label: str = "task:billing") -> int:
    """Credit outages no invoice can carry: those of a contract's last month(s).

    Outages are credited on the next invoice once every month they touch has ended
    (``_plan_sla_credits``); a contract whose service has ended has no next invoice. For each
    contract whose service ended by the 1st of ``today``'s month, whose last period is
    invoiced, and with an outage on its clusters during its service that ended by then and has
    no credit for it yet, ``contract_sla_final_credit`` credits it by a credit note on the
    contract's last invoice. Idempotent: credited outages are not candidates, and the unique
    credit per contract and outage stops a concurrent twin. Returns the credit notes issued.
    """
    tz = timezone.get_current_timezone()
    month_start = _month_start(today)
    service_end = Coalesce(OuterRef("termination_date"), OuterRef("end_date"))
    last_invoiced = Invoice.objects.filter(contract_id=OuterRef("pk"), period_end__gte=service_end)
    uncredited = Outage.objects.filter(
        cluster__contract_lines__contract_id=OuterRef("pk"),
        end__lte=_local_midnight(month_start, tz),
        start__date__lt=service_end,  # a superset: the plan checks the bounds exactly
        end__date__gte=OuterRef("start_date"),
    ).filter(
        ~Exists(
            SlaCredit.objects.filter(contract_id=OuterRef(OuterRef("pk")), outage_id=OuterRef("pk"))
        )
    )
    candidates = (
        Contract.objects.annotate(service_end=Coalesce("termination_date", "end_date"))
        .filter(status__in=BILLABLE_STATUSES, service_end__lte=month_start)
        .filter(Exists(last_invoiced), Exists(uncredited))
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    issued = 0
    for pk in list(candidates):
        try:
            note = contract_sla_final_credit(contract_id=pk, today=today, actor_label=actor_label)
        except IntegrityError:  # the regular run credited the same outage meanwhile
            continue
        issued += note is not None
    return issued


def contract_sla_final_credit(
    *, contract_id: int, today: date, actor_label: str = ""
) -> CreditNote | None:
    """Credit one ended contract's outages not yet credited; one transaction.

    Amounts as on invoices (``_plan_sla_credits``). Credits worth something go on one credit
    note on the contract's last finalised invoice (``credit_note_issue`` settles it: less to
    pay, or the customer's balance), at most what that invoice can still be credited; credits
    within the allowance are recorded at zero. The outages become invoiced (immutable).
    """
    with transaction.atomic():
        contract = Contract.objects.select_for_update().get(pk=contract_id)
        end = _service_end(contract)
        if end > _month_start(today):
            return None
        invoice = (
            Invoice.objects.select_for_update()
            .filter(contract=contract, period_start__lt=end)
            .exclude(status__in=[InvoiceStatus.DRAFT, InvoiceStatus.VOID])
            .order_by("-period_start")
            .first()
        )
        if invoice is None:
            return None
        schedules = {contract.pk: contract_schedule(contract)}
        credits = _plan_sla_credits([contract], schedules, today).get(contract.pk, [])
        if not credits:
            return None
        # A credit note cannot exceed what is left to credit on the invoice (rare: large
        # outages in both of the last two months); the latest credits give way.
        excess = sum((c.amount for c in credits), ZERO) - (invoice.total - _credited(invoice))
        for credit in reversed(credits):
            if excess <= ZERO:
                break
            cut = min(credit.amount, excess)
            credit.amount -= cut
            excess -= cut
        total = sum((c.amount for c in credits), ZERO)
        note = None
        if total > ZERO:
            details = "; ".join(
                f"{c.line.description}: CNY {c.amount}"
                for c in credits
                if c.line is not None and c.amount > ZERO
            )
            note = credit_note_issue(
                invoice=invoice,
                amount=total,
                reason=f"SLA credits after the last invoice of contract {contract.pk}. {details}",
                actor_label=actor_label,
                today=today,
            )
        SlaCredit.objects.bulk_create(
            SlaCredit(
                contract_id=credit.contract_id,
                outage_id=credit.outage_id,
                amount=credit.amount,
                credited_hours=credit.credited_hours,
                credit_note=note if credit.amount > ZERO else None,
            )
            for credit in credits
        )
        inventory.outages_mark_invoiced(outage_ids=sorted({c.outage_id for c in credits}))
    return note


# --- Overdue --------------------------------------------------------------------------------
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
            total += _transition_many(
                batch,
                current=InvoiceStatus.OPEN,
                to=InvoiceStatus.OVERDUE,
                actor_label=actor_label,
                reason=f"Unpaid after its due date (checked {today:%Y-%m-%d}).",
            )
            emails.send_after_commit(emails.OVERDUE, batch)
        if len(batch) < size:
            break
    return total


def contracts_flag_overdue(*, today: date) -> int:
    """Flag contracts whose invoice is still unpaid ``OVERDUE_GRACE_DAYS`` after its due date,
    for an admin to decide on suspension. One flag per invoice; returns how many were new."""
    limit = today - timedelta(days=settings.OVERDUE_GRACE_DAYS)
    candidates = list(
        Invoice.objects.filter(
            status=InvoiceStatus.OVERDUE, due_date__lt=limit, overdue_flag__isnull=True
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


# --- Provider payouts -----------------------------------------------------------------------
PAYOUT_TRANSITIONS: dict[str, frozenset[str]] = {
    PayoutStatus.OPEN: frozenset({PayoutStatus.CLOSED}),
    PayoutStatus.CLOSED: frozenset({PayoutStatus.PAID}),
    PayoutStatus.PAID: frozenset(),
}


@dataclass
class _PayoutLine:
    contract_id: int
    invoice_id: int
    description: str
    gross: Decimal
    sla_withheld: Decimal


def _split_pro_rata(amount: Decimal, weights: dict[int, Decimal]) -> dict[int, Decimal]:
    """Split ``amount`` by ``weights`` to the fen; the largest weight takes the rounding."""
    total = sum(weights.values(), ZERO)
    if not weights:
        return {}
    if total == ZERO:
        weights = dict.fromkeys(weights, Decimal(1))
        total = Decimal(len(weights))
    ordered = sorted(weights, key=lambda key: (weights[key], -key))
    *others, largest = ordered
    shares = {key: quantize_money(amount * weights[key] / total) for key in others}
    shares[largest] = amount - sum(shares.values(), ZERO)
    return shares


def payouts_build(*, month: date, actor_label: str = "") -> list[PayoutStatement]:
    """Build (or rebuild, while open) every provider's statement for the month of ``month``.

    Gross: invoices paid in full during the month, their rental charges less credit notes
    issued before payment, split between the contract's providers pro rata by the annual value
    of their lines (P x price per P per year); credit notes issued during the month on
    invoices paid earlier count negative. Commission: ``PLATFORM_COMMISSION_RATE`` of gross.
    SLA withheld: the SLA credits on those invoices for each provider's clusters, and those
    settled by credit notes issued during the month (a contract's last month: see
    ``sla_final_credits_settle``; such credit notes do not count in gross). Closed and paid
    statements are never touched. Idempotent.
    """
    tz = timezone.get_current_timezone()
    period_start = _month_start(month)
    period_end = _next_month(period_start)
    since, until = _local_midnight(period_start, tz), _local_midnight(period_end, tz)
    paid = list(
        Invoice.objects.filter(status=InvoiceStatus.PAID, paid_at__gte=since, paid_at__lt=until)
        .select_related("contract")
        .order_by("pk")
    )
    refunds = list(
        CreditNote.objects.filter(
            created_at__gte=since,
            created_at__lt=until,
            invoice__status=InvoiceStatus.PAID,
            invoice__paid_at__lt=F("created_at"),
            sla_credits__isnull=True,  # SLA credit notes are withheld, below
        )
        .select_related("invoice")
        .order_by("pk")
    )
    sla_notes = list(
        CreditNote.objects.filter(
            created_at__gte=since, created_at__lt=until, sla_credits__isnull=False
        )
        .distinct()
        .select_related("invoice")
        .order_by("pk")
    )
    invoice_ids = [i.pk for i in paid] + [n.invoice_id for n in refunds]
    contract_ids = {i.contract_id for i in paid} | {n.invoice.contract_id for n in refunds}
    weights: dict[int, dict[int, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for contract_id, provider_id, p, price in ContractLine.objects.filter(
        contract_id__in=contract_ids
    ).values_list("contract_id", "provider_id", "p", "price_per_p_year"):
        weights[contract_id][provider_id] += p * price
    charges = dict(
        InvoiceLine.objects.filter(
            invoice_id__in=invoice_ids,
            kind__in=[InvoiceLineKind.RENTAL, InvoiceLineKind.ADJUSTMENT],
        )
        .values("invoice_id")
        .annotate(total=Sum("amount"))
        .values_list("invoice_id", "total")
    )
    credited_before: dict[int, Decimal] = defaultdict(Decimal)
    for invoice_id, amount, created_at, paid_at in CreditNote.objects.filter(
        invoice_id__in=[i.pk for i in paid], sla_credits__isnull=True
    ).values_list("invoice_id", "amount", "created_at", "invoice__paid_at"):
        if created_at <= paid_at:
            credited_before[invoice_id] += amount
    withheld: dict[tuple[int, int], Decimal] = defaultdict(Decimal)
    for invoice_id, provider_id, amount in SlaCredit.objects.filter(
        invoice_line__invoice_id__in=[i.pk for i in paid]
    ).values_list("invoice_line__invoice_id", "outage__cluster__provider_id", "amount"):
        withheld[(invoice_id, provider_id)] += amount
    note_withheld: dict[tuple[int, int], Decimal] = defaultdict(Decimal)
    for note_id, provider_id, amount in SlaCredit.objects.filter(
        credit_note_id__in=[n.pk for n in sla_notes]
    ).values_list("credit_note_id", "outage__cluster__provider_id", "amount"):
        note_withheld[(note_id, provider_id)] += amount

    lines: dict[int, list[_PayoutLine]] = defaultdict(list)
    for invoice in paid:
        gross = charges.get(invoice.pk, ZERO) - credited_before[invoice.pk]
        providers = weights[invoice.contract_id]
        for provider_id, share in _split_pro_rata(gross, providers).items():
            lines[provider_id].append(
                _PayoutLine(
                    contract_id=invoice.contract_id,
                    invoice_id=invoice.pk,
                    description=(
                        f"{invoice.number} paid {timezone.localtime(invoice.paid_at, tz):%Y-%m-%d}"
                        f" (period {invoice.period_start:%Y-%m-%d} to "
                        f"{invoice.period_end - timedelta(days=1):%Y-%m-%d})"
                    ),
                    gross=share,
                    sla_withheld=withheld[(invoice.pk, provider_id)],
                )
            )
    for note in refunds:
        providers = weights[note.invoice.contract_id]
        for provider_id, share in _split_pro_rata(note.amount, providers).items():
            lines[provider_id].append(
                _PayoutLine(
                    contract_id=note.invoice.contract_id,
                    invoice_id=note.invoice_id,
                    description=f"Credit note {note.number} on {note.invoice.number}",
                    gross=-share,
                    sla_withheld=ZERO,
                )
            )
    notes = {n.pk: n for n in sla_notes}
    for (note_id, provider_id), amount in sorted(note_withheld.items()):
        note = notes[note_id]
        lines[provider_id].append(
            _PayoutLine(
                contract_id=note.invoice.contract_id,
                invoice_id=note.invoice_id,
                description=f"SLA credit note {note.number} on {note.invoice.number}",
                gross=ZERO,
                sla_withheld=amount,
            )
        )
    return [
        statement
        for provider_id, provider_lines in sorted(lines.items())
        if (
            statement := _statement_write(
                provider_id, period_start, period_end, provider_lines, actor_label
            )
        )
        is not None
    ]


def _statement_write(
    provider_id: int,
    period_start: date,
    period_end: date,
    lines: list[_PayoutLine],
    actor_label: str,
) -> PayoutStatement | None:
    rate = settings.PLATFORM_COMMISSION_RATE
    with transaction.atomic():
        statement, created = PayoutStatement.objects.select_for_update().get_or_create(
            provider_id=provider_id,
            period_start=period_start,
            defaults={"period_end": period_end, "commission_rate": rate},
        )
        if statement.status != PayoutStatus.OPEN:
            return None  # closed statements are final
        statement.lines.all().delete()
        rows = []
        for line in lines:
            commission = quantize_money(line.gross * rate)
            rows.append(
                PayoutLine(
                    statement=statement,
                    contract_id=line.contract_id,
                    invoice_id=line.invoice_id,
                    description=line.description[:300],
                    gross=line.gross,
                    commission=commission,
                    sla_withheld=line.sla_withheld,
                    net=line.gross - commission - line.sla_withheld,
                )
            )
        PayoutLine.objects.bulk_create(rows)
        statement.commission_rate = rate
        statement.gross = sum((r.gross for r in rows), ZERO)
        statement.commission = sum((r.commission for r in rows), ZERO)
        statement.sla_withheld = sum((r.sla_withheld for r in rows), ZERO)
        statement.net = sum((r.net for r in rows), ZERO)
        statement.save(
            update_fields=["commission_rate", "gross", "commission", "sla_withheld", "net"]
        )
        if created:
            _record(
                BillingEvent.Subject.PAYOUT,
                statement.pk,
                "",
                PayoutStatus.OPEN,
                actor_label=actor_label,
                reason=f"Statement for {period_start:%Y-%m}.",
            )
    return statement


def payout_transition(
    *,
    statement: PayoutStatement,
    to: str,
    actor: User | None = None,
    actor_label: str = "",
    reason: str = "",
) -> PayoutStatement:
    """The one place a payout statement changes state: lock, check the table, save, audit."""
    with transaction.atomic():
        locked = PayoutStatement.objects.select_for_update().get(pk=statement.pk)
        if to not in PAYOUT_TRANSITIONS[locked.status]:
            raise InvalidPayoutTransition(
                f"A statement that is {locked.status} cannot become {to}.",
                details={"status": [f"Cannot go from {locked.status} to {to}."]},
            )
        previous = locked.status
        locked.status = to
        fields = ["status"]
        if to == PayoutStatus.CLOSED:
            locked.closed_at = timezone.now()
            fields.append("closed_at")
        locked.save(update_fields=fields)
        _record(
            BillingEvent.Subject.PAYOUT,
            locked.pk,
            previous,
            to,
            actor=actor,
            actor_label=actor_label,
            reason=reason,
        )
    return locked


def payout_close(
    *, statement: PayoutStatement, by: User | None = None, actor_label: str = "", reason: str = ""
) -> PayoutStatement:
    """Close a statement: final and immutable from now on."""
    return payout_transition(
        statement=statement,
        to=PayoutStatus.CLOSED,
        actor=by,
        actor_label=actor_label,
        reason=reason,
    )


# --- Accounts -------------------------------------------------------------------------------
def customer_balance(*, organization: Organization) -> Decimal:
    """What the platform holds for a customer (over-payments and credits not yet used)."""
    return (
        BalanceEntry.objects.filter(organization=organization).aggregate(total=Sum("amount"))[
            "total"
        ]
        or ZERO
    )
