"""SLA credits of contracts for their clusters' outages, measured per contract month.

An outage is credited to a contract once every billing period it touches has ended (it ended
before the start of the period containing the run day), so each period's allowance is known.
The regular run puts the credits on the contract's next invoice (``billing.invoicing.issue``);
outages of a contract's last period(s), which no invoice follows, are credited by a credit note
on its last invoice once its service has ended (``sla_final_credits_settle``). Amounts, the
allowance and the cap come from ``billing.credits.sla``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef
from django.db.models.functions import Coalesce
from django.utils import timezone

from accounts.money import ZERO, quantize_money
from billing import selectors
from billing.credits import sla
from billing.credits.credit_notes import credit_note_issue, creditable
from billing.ledger.invoices import PlannedLine
from billing.models import CreditNote, Invoice, InvoiceLineKind, InvoiceStatus, SlaCredit
from billing.periods import BillingPeriod, local_midnight, period_for
from inventory import services as inventory
from inventory.models import Outage, SlaCreditTier
from inventory.sla_tiers import sla_tiers_by_cluster
from marketplace.models import Contract

HOURS_PLACES = Decimal("0.0001")  # SlaCredit.credited_hours


@dataclass
class PlannedCredit:
    contract_id: int
    outage_id: int
    amount: Decimal
    credited_hours: Decimal
    line: PlannedLine | None  # None when within the allowance (amount 0): recorded, not invoiced


@dataclass
class _Stake:
    cluster_id: int
    cluster_name: str
    server_count: int
    sla_uptime_percent: Decimal
    servers: int
    p: Decimal
    value: Decimal  # P x price per P per year: this cluster's part of the contract's price
    tiers: tuple[sla.CreditTier, ...] = ()

    @property
    def price_per_p_year(self) -> Decimal:
        return self.value / self.p


def credit_cutoff(schedule: Sequence[BillingPeriod], today: date) -> date:
    """Outages ending by this day (local midnight) are credited on ``today``'s run: the start
    of the period containing ``today`` while the contract is in service, else ``today``."""
    current = period_for(schedule, today)
    return current.start if current is not None else today


def _stakes(
    contract: Contract, tiers: dict[int, list[SlaCreditTier]] | None = None
) -> list[_Stake]:
    """The contract's clusters (one stake per cluster) from its prefetched lines, with their
    credit tiers (``tiers`` by cluster id)."""
    tiers = tiers or {}
    stakes: dict[int, _Stake] = {}
    for line in contract.lines.all():
        stake = stakes.get(line.cluster_id)
        if stake is None:
            stakes[line.cluster_id] = _Stake(
                cluster_id=line.cluster_id,
                cluster_name=line.cluster.name,
                server_count=line.cluster.server_count,
                sla_uptime_percent=line.cluster.sla_uptime_percent,
                servers=line.servers,
                p=line.p,
                value=line.p * line.price_per_p_year,
                tiers=tuple(
                    sla.CreditTier(t.below_uptime_percent, t.credit_percent)
                    for t in tiers.get(line.cluster_id, [])
                ),
            )
        else:  # one line per cluster in practice; merge if ever split
            stake.servers += line.servers
            stake.p += line.p
            stake.value += line.p * line.price_per_p_year
    return list(stakes.values())


def _day_after_last(moment: datetime) -> date:
    """The exclusive end date of a span ending at local ``moment``."""
    day = moment.date()
    return day if moment.time() == time.min else day + timedelta(days=1)


def _plain(value: Decimal) -> str:
    return format(value.normalize(), "f")


def plan_sla_credits(
    contracts: Sequence[Contract],
    schedules: dict[int, list[BillingPeriod]],
    today: date,
) -> dict[int, list[PlannedCredit]]:
    """SLA credits due on ``today``'s run for outages not yet credited to these contracts.

    ``contracts`` come with ``lines__cluster`` prefetched; ``schedules`` are their periods
    started by ``today`` (``selectors.contract_schedule``). Three queries, whatever the count.
    """
    tz = timezone.get_current_timezone()
    if not contracts:
        return {}
    cutoffs = {c.pk: credit_cutoff(schedules[c.pk], today) for c in contracts}
    ids = [c.pk for c in contracts]
    earliest = local_midnight(min(c.start_date for c in contracts), tz)
    outages = list(
        Outage.objects.filter(
            cluster__contract_lines__contract_id__in=ids,
            start__lt=local_midnight(max(cutoffs.values()), tz),
            end__gt=earliest,
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
    by_cluster: dict[int, list[Outage]] = defaultdict(list)
    for outage in outages:
        by_cluster[outage.cluster_id].append(outage)
    tiers = sla_tiers_by_cluster(by_cluster)

    planned: dict[int, list[PlannedCredit]] = defaultdict(list)
    for contract in contracts:
        cutoff = local_midnight(cutoffs[contract.pk], tz)
        stakes = _stakes(contract, tiers)
        contract_value = sum((s.value for s in stakes), ZERO)
        service = (
            local_midnight(contract.start_date, tz),
            local_midnight(contract.termination_date or contract.end_date, tz),
        )
        mine = {o_id: amount for (c_id, o_id), amount in credited.items() if c_id == contract.pk}
        for stake in stakes:
            cluster_outages = by_cluster.get(stake.cluster_id, [])
            todo = [
                o
                for o in cluster_outages
                if o.end <= cutoff
                and o.end > service[0]
                and o.start < service[1]
                and o.pk not in mine
            ]
            if not todo:
                continue
            share = stake.value / contract_value if contract_value else ZERO
            amounts, seconds, tiered = _price_outages(
                todo, cluster_outages, stake, service, schedules[contract.pk], share, mine, tz
            )
            for outage in todo:
                planned[contract.pk].append(
                    _planned_credit(contract, stake, outage, amounts, seconds, tiered, tz)
                )
    return planned


def _planned_credit(contract, stake, outage, amounts, seconds, tiered, tz) -> PlannedCredit:
    amount = amounts[outage.pk]
    hours = (seconds[outage.pk] / sla.SECONDS_PER_HOUR).quantize(HOURS_PLACES)
    line = None
    if amount > ZERO:
        local_start = timezone.localtime(outage.start, tz)
        local_end = timezone.localtime(outage.end, tz)
        tier = ""
        if outage.pk in tiered:
            uptime, percent = tiered[outage.pk]
            tier = (
                f"; monthly uptime {_plain(uptime.quantize(Decimal('0.001')))}%: "
                f"tier credit {_plain(percent)}% of the affected servers' monthly charge"
            )
        line = PlannedLine(
            kind=InvoiceLineKind.SLA_CREDIT,
            description=(
                f"SLA credit: outage on {stake.cluster_name} "
                f"{local_start:%Y-%m-%d %H:%M} to {local_end:%Y-%m-%d %H:%M}, "
                f"{_plain(hours)} h beyond the "
                f"{_plain(stake.sla_uptime_percent)}% allowance of the contract month{tier}"
            )[:300],
            amount=-amount,
            period_start=local_start.date(),
            period_end=_day_after_last(local_end),
        )
    return PlannedCredit(
        contract_id=contract.pk,
        outage_id=outage.pk,
        amount=amount,
        credited_hours=hours,
        line=line,
    )


def _price_outages(
    todo: list[Outage],
    cluster_outages: list[Outage],
    stake: _Stake,
    service: tuple[datetime, datetime],
    schedule: Sequence[BillingPeriod],
    share: Decimal,
    credited: dict[int, Decimal],
    tz: tzinfo,
) -> tuple[dict[int, Decimal], dict[int, Decimal], dict[int, tuple[Decimal, Decimal]]]:
    """Credit amount and credited seconds per outage in ``todo``, summed over its periods, and
    for outages a tier raised, the period's measured uptime and the tier's percentage."""
    amounts = {o.pk: ZERO for o in todo}
    seconds = {o.pk: ZERO for o in todo}
    tiered: dict[int, tuple[Decimal, Decimal]] = {}
    server_count = max(
        stake.server_count, stake.servers, *(o.servers_affected for o in cluster_outages)
    )
    for period in schedule:
        period_start = local_midnight(period.start, tz)
        period_end = local_midnight(period.end, tz)
        if not any(o.start < period_end and o.end > period_start for o in todo):
            continue
        in_period = [o for o in cluster_outages if o.start < period_end and o.end > period_start]
        credits = sla.sla_credits_for_period(
            [
                sla.OutageSpan(o.start, o.end, o.servers_affected, reference=str(o.pk))
                for o in in_period
            ],
            period_start=period_start,
            period_end=period_end,
            sla_uptime_percent=stake.sla_uptime_percent,
            cluster_server_count=server_count,
            contract=sla.ContractStake(
                price_per_p_year=stake.price_per_p_year,
                p_per_server=stake.p / stake.servers,
                servers=stake.servers,
                service_start=service[0],
                service_end=service[1],
            ),
            period_charge=quantize_money(period.amount * share),
            credited={str(pk): amount for pk, amount in credited.items()},
            tiers=stake.tiers,
        )
        for outage, credit in zip(in_period, credits, strict=True):
            if outage.pk in amounts:
                amounts[outage.pk] += credit.amount
                seconds[outage.pk] += credit.credited_seconds
                if credit.tier_amount > ZERO:
                    tiered[outage.pk] = (credit.uptime_percent, credit.tier_percent)
    return amounts, seconds, tiered


# --- a contract's last period(s) ------------------------------------------------------------
def sla_final_credits_settle(*, today: date, actor_label: str = "task:billing") -> int:
    """Credit outages no invoice can carry: those after a contract's last invoice.

    For each contract whose service ended by ``today``, whose last period is invoiced, and with
    an outage on its clusters during its service that ended by then and has no credit for it
    yet, ``contract_sla_final_credit`` credits it by a credit note on the contract's last
    invoice. Idempotent: credited outages are not candidates, and the unique credit per
    contract and outage stops a concurrent twin. Returns the credit notes issued.
    """
    tz = timezone.get_current_timezone()
    service_end = Coalesce(OuterRef("termination_date"), OuterRef("end_date"))
    last_invoiced = Invoice.objects.filter(contract_id=OuterRef("pk"), period_end__gte=service_end)
    uncredited = Outage.objects.filter(
        cluster__contract_lines__contract_id=OuterRef("pk"),
        end__lte=local_midnight(today, tz),
        start__date__lt=service_end,  # a superset: the plan checks the bounds exactly
        end__date__gte=OuterRef("start_date"),
    ).filter(
        ~Exists(
            SlaCredit.objects.filter(contract_id=OuterRef(OuterRef("pk")), outage_id=OuterRef("pk"))
        )
    )
    candidates = (
        Contract.objects.annotate(service_end=Coalesce("termination_date", "end_date"))
        .filter(status__in=selectors.BILLABLE_STATUSES, service_end__lte=today)
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

    Amounts as on invoices (``plan_sla_credits``). Credits worth something go on one credit
    note on the contract's last finalised invoice (``credit_note_issue`` settles it: less to
    pay, or the customer's balance), at most what that invoice can still be credited; credits
    within the allowance are recorded at zero. The outages become invoiced (immutable).
    """
    with transaction.atomic():
        contract = (
            Contract.objects.select_for_update()
            .prefetch_related("lines__cluster")
            .get(pk=contract_id)
        )
        end = contract.termination_date or contract.end_date
        if end > today:
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
        schedules = {contract.pk: selectors.contract_schedule(contract)}
        credits = plan_sla_credits([contract], schedules, today).get(contract.pk, [])
        if not credits:
            return None
        # A credit note cannot exceed what is left to credit on the invoice (rare: large
        # outages in both of the last two periods); the latest credits give way.
        excess = sum((c.amount for c in credits), ZERO) - creditable(invoice)
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
