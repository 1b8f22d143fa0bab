"""SLA service credits for cluster outages, one contract and one billing period at a time. Pure.

credit = P of the contract affected x hourly rate per P x outage hours beyond the cluster's SLA
allowance for the period, quantised to the fen, the period's credits capped at its charge.

The period is the contract month being measured (``billing.periods``): the SLA promises a
monthly uptime, and each contract's month is its own billing period, anchored on its start.

Definitions
-----------
- Hourly rate per P = ``price_per_p_year / (365 x 24)``: the price the contract was signed at,
  spread over a 365-day year whatever the year's length.
- Allowance for a period = ``(1 - sla_uptime_percent / 100) x hours in the period``; 99.9 % of
  a 30-day month allows 0.72 h. It is the downtime the cluster may have in that period without
  breaking its SLA, so every outage of the cluster in the period uses it.
- Affected share: the platform books a contract's capacity as a number of servers on a cluster,
  not as named machines, so it cannot know which of its servers an outage hit. The contract is
  credited its proportional (expected) share: ``servers x servers_affected / server_count``
  servers, i.e. that many times ``p_per_server`` P. Summed over all contracts on the cluster
  this never credits more server-hours than actually went down, which a "worst case for each
  contract" rule (``min(servers, servers_affected)``) would, many times over.

Algorithm (``sla_credits_for_period``)
-------------------------------------
1. Clip each outage to ``[period_start, period_end)``; the rest belongs to another period.
2. Walk the union of the clipped outages in time order and find the instant at which the cluster's
   downtime reaches the allowance. Downtime before it is covered by the allowance; any outage
   time after it is credited. Non-overlapping outages thus consume the allowance one after the
   other, and hours beyond it are credited once. Overlapping outages (different servers) use the
   allowance once for their common wall-clock time, and both are credited after it.
3. Clip each outage's credited time to the contract's service window.
4. Price it: ``price_per_p_year x P affected x credited seconds / (365 x 24 x 3600)``, quantised
   to the fen once (all intermediate arithmetic exact: time is kept in Decimal seconds, and the
   only division is the last one, at high precision).
5. Tiers (the cluster's published table, ``inventory.SlaCreditTier``): the period's measured
   uptime is ``1 - union of the clipped outages / period length``; the highest tier whose
   threshold it is below gives ``credit_percent`` of the affected servers' monthly charge:
   ``period_charge x credit_percent / 100 x max servers_affected / server_count`` (the
   contract's proportional share, as above), to the fen. The period's credit is the larger of
   that and the hour-based credits; the difference goes on the period's last new outage.
6. The cap (this module is its one home): in chronological order, each credit is cut to what is
   left of the period's charge after the credits already given for the period.
Credits are returned in the order of the outages given.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, localcontext

from accounts.money import ZERO, quantize_money

SECONDS_PER_HOUR = 3600
HOURS_PER_RATE_YEAR = 365 * 24  # the hourly rate spreads price_per_p_year over 8,760 hours
_PRECISION = 50
_MICROSECONDS_PER_SECOND = Decimal(1_000_000)


@dataclass(frozen=True)
class OutageSpan:
    """An outage of ``servers_affected`` servers of one cluster over ``[start, end)`` (aware)."""

    start: datetime
    end: datetime
    servers_affected: int
    reference: str = ""  # the caller's id for the outage, echoed back on its credit


@dataclass(frozen=True)
class ContractStake:
    """What one contract holds on the cluster that had the outages."""

    price_per_p_year: Decimal  # CNY per P per year, as signed
    p_per_server: Decimal  # rated P of one server of the cluster
    servers: int  # servers of this cluster booked by the contract
    service_start: datetime  # the contract's service window on the cluster, [start, end)
    service_end: datetime


@dataclass(frozen=True)
class CreditTier:
    """Below ``below_uptime_percent`` of monthly uptime, ``credit_percent`` of the charge."""

    below_uptime_percent: Decimal
    credit_percent: Decimal


def tier_credit_percent(tiers: Sequence[CreditTier], uptime_percent: Decimal) -> Decimal:
    """The credit of the highest tier that applies to ``uptime_percent`` (0 when none)."""
    return max(
        (t.credit_percent for t in tiers if uptime_percent < t.below_uptime_percent),
        default=ZERO,
    )


def _union_seconds(intervals: Sequence[tuple[Decimal, Decimal]]) -> Decimal:
    total, reach = ZERO, None
    for start, end in sorted(intervals):
        if reach is None or start > reach:
            total += end - start
            reach = end
        elif end > reach:
            total += end - reach
            reach = end
    return total


@dataclass(frozen=True)
class OutageCredit:
    outage: OutageSpan
    downtime_seconds: Decimal  # the outage clipped to the period
    credited_seconds: Decimal  # beyond the allowance and inside the service window
    affected_p: Decimal  # the contract's proportional share, display precision
    computed_amount: Decimal  # CNY to the fen, before the period's cap
    amount: Decimal  # CNY to the fen, after the period's cap
    uptime_percent: Decimal = Decimal(100)  # the period's measured uptime
    tier_percent: Decimal = ZERO  # the tier that applied to the period (0: none)
    tier_amount: Decimal = ZERO  # what the tier added beyond the hour-based credit

    @property
    def credited_hours(self) -> Decimal:
        return self.credited_seconds / SECONDS_PER_HOUR

    @property
    def downtime_hours(self) -> Decimal:
        return self.downtime_seconds / SECONDS_PER_HOUR


def _seconds(delta: timedelta) -> Decimal:
    """A timedelta as exact Decimal seconds (microsecond resolution)."""
    return Decimal(delta // timedelta(microseconds=1)) / _MICROSECONDS_PER_SECOND


def sla_allowance_seconds(
    *, period_start: datetime, period_end: datetime, sla_uptime_percent: Decimal
) -> Decimal:
    """Downtime the cluster may have in the period without breaking its SLA, exact seconds."""
    if not ZERO <= sla_uptime_percent <= 100:
        raise ValueError("sla_uptime_percent must be between 0 and 100")
    if period_end <= period_start:
        raise ValueError("period_end must be after period_start")
    with localcontext() as ctx:
        ctx.prec = _PRECISION
        return (100 - sla_uptime_percent) / 100 * _seconds(period_end - period_start)


def _allowance_exhausted_at(
    intervals: Sequence[tuple[Decimal, Decimal]], allowance: Decimal
) -> Decimal | None:
    """Offset at which the union of ``intervals`` has covered ``allowance`` seconds, or None."""
    union: list[list[Decimal]] = []
    for start, end in sorted(intervals):
        if union and start <= union[-1][1]:
            union[-1][1] = max(union[-1][1], end)
        else:
            union.append([start, end])
    used = ZERO
    for start, end in union:
        if used + (end - start) >= allowance:
            return start + (allowance - used)
        used += end - start
    return None


def sla_credits_for_period(
    outages: Sequence[OutageSpan],
    *,
    period_start: datetime,
    period_end: datetime,
    sla_uptime_percent: Decimal,
    cluster_server_count: int,
    contract: ContractStake,
    period_charge: Decimal,
    credited: Mapping[str, Decimal] | None = None,
    tiers: Sequence[CreditTier] = (),
) -> list[OutageCredit]:
    """Credits due to ``contract`` for the cluster's ``outages`` in one period (see module doc).

    ``outages`` are all the cluster's outages touching the period (each uses the allowance);
    ``period_charge`` is what the contract is charged for the period (its billing period's
    amount, or the cluster's share of it), the cap on the period's credits. ``credited`` maps
    the references of outages already credited to this contract to what they got: they are not
    credited again (amount 0) and what they got counts against the cap first. Returns one
    credit per outage, in the order given.
    """
    already = dict(credited or {})
    if cluster_server_count < 1:
        raise ValueError("cluster_server_count must be at least 1")
    if not 1 <= contract.servers <= cluster_server_count:
        raise ValueError("the contract must hold between 1 and cluster_server_count servers")
    for outage in outages:
        if not 0 <= outage.servers_affected <= cluster_server_count:
            raise ValueError("servers_affected must be between 0 and cluster_server_count")
        if outage.end < outage.start:
            raise ValueError("an outage must not end before it starts")
    allowance = sla_allowance_seconds(
        period_start=period_start, period_end=period_end, sla_uptime_percent=sla_uptime_percent
    )

    def offset(moment: datetime) -> Decimal:
        return _seconds(moment - period_start)

    period_length = offset(period_end)
    clipped = [(max(offset(o.start), ZERO), min(offset(o.end), period_length)) for o in outages]
    downtime = [(start, end) for start, end in clipped if start < end]
    exhausted_at = _allowance_exhausted_at(downtime, allowance)
    service = (offset(contract.service_start), offset(contract.service_end))

    with localcontext() as ctx:
        ctx.prec = _PRECISION
        computed = []
        for outage, (start, end) in zip(outages, clipped, strict=True):
            credited = ZERO
            if exhausted_at is not None:
                credited_start = max(start, exhausted_at, service[0])
                credited_end = min(end, service[1])
                credited = max(ZERO, credited_end - credited_start)
            amount = quantize_money(
                contract.price_per_p_year
                * contract.p_per_server
                * contract.servers
                * outage.servers_affected
                * credited
                / (cluster_server_count * HOURS_PER_RATE_YEAR * SECONDS_PER_HOUR)
            )
            computed.append((max(ZERO, end - start), credited, amount))

    affected_p_per_outage = [
        contract.p_per_server * contract.servers * o.servers_affected / cluster_server_count
        for o in outages
    ]
    given = sum((already.get(o.reference, ZERO) for o in outages if o.reference), ZERO)
    charge = quantize_money(period_charge)
    remaining = charge - given
    capped = [ZERO] * len(outages)
    chronological = sorted(range(len(outages)), key=lambda i: (clipped[i], i))
    new = [
        i for i in chronological if not (outages[i].reference and outages[i].reference in already)
    ]
    for i in new:
        capped[i] = max(ZERO, min(computed[i][2], remaining))
        remaining -= capped[i]

    with localcontext() as ctx:
        ctx.prec = _PRECISION
        uptime = 100 * (1 - _union_seconds(downtime) / period_length)
    tier_percent = tier_credit_percent(tiers, uptime)
    hit = [o.servers_affected for o, (s, e) in zip(outages, clipped, strict=True) if s < e]
    tier_total = quantize_money(
        charge * tier_percent / 100 * max(hit, default=0) / cluster_server_count
    )
    # The period's credit is the larger of the tier's and the hour-based; new outages get what
    # the tier adds beyond everything credited so far (the last new one), within the cap.
    extra = max(ZERO, min(tier_total, charge) - given - sum((capped[i] for i in new), ZERO))
    extra = min(extra, remaining)
    tier_added = [ZERO] * len(outages)
    if new and extra > ZERO:
        capped[new[-1]] += extra
        tier_added[new[-1]] = extra
    return [
        OutageCredit(
            outage=outage,
            downtime_seconds=downtime_seconds,
            credited_seconds=credited,
            affected_p=affected_p,
            computed_amount=amount,
            amount=capped_amount,
            uptime_percent=uptime,
            tier_percent=tier_percent,
            tier_amount=added,
        )
        for outage, (downtime_seconds, credited, amount), affected_p, capped_amount, added in zip(
            outages, computed, affected_p_per_outage, capped, tier_added, strict=True
        )
    ]


def sla_credit(
    outage: OutageSpan,
    *,
    period_start: datetime,
    period_end: datetime,
    sla_uptime_percent: Decimal,
    cluster_server_count: int,
    contract: ContractStake,
    period_charge: Decimal,
) -> OutageCredit:
    """The credit for a single outage, when it is the cluster's only one in the period."""
    [credit] = sla_credits_for_period(
        [outage],
        period_start=period_start,
        period_end=period_end,
        sla_uptime_percent=sla_uptime_percent,
        cluster_server_count=cluster_server_count,
        contract=contract,
        period_charge=period_charge,
    )
    return credit
