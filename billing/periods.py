"""A contract's billing schedule: contract months anchored on its start, to the fen. Pure.

Rules
-----
- Period k runs over ``[start + k months, start + k + 1 months)``, each boundary computed from
  the start (``marketplace.terms.months_after``: the day clamped to a shorter month's end, as
  Stripe's billing cycle anchor does): from 31 January the periods start on 31 Jan, 28 Feb,
  31 Mar, 30 Apr, ... A term of N months has exactly N periods; the last ends at the contract's
  end date. Periods are billed monthly in advance, on their first day.
- Every period bills one month of the exact (unrounded) annual price, whatever the month's
  length: a contract month is a month. Rounding is cumulative: with ``C(k)`` = what the first k
  months cost, ``exact annual x k / 12`` rounded once (``marketplace.pricing.term_price``),
  period k bills ``C(k + 1) - C(k)``. So every period is within a fen of ``annual / 12`` (most
  are exactly ``monthly_price``; a sub-fen remainder surfaces as one fen now and then rather
  than piling up), and the periods add up to ``C(N)``, the contract's ``total_price``, exactly:
  the last absorbs only the fen rounding of the earlier ones.

Termination
-----------
Service stops at ``effective_date`` (exclusive: the last day of service is the day before).
``terminated_schedule`` keeps the periods before it, bills the period containing it by the days
actually served at that period's price per day (its charge / its days), rounded once, and drops
the rest. So ending k days early lowers the total by k days' price, within a fen.
``termination_adjustment`` compares the revised schedule with what was invoiced: what was paid
in advance for days not provided comes back as a credit.
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta, tzinfo
from decimal import Decimal, localcontext

from accounts.money import ZERO, quantize_money
from marketplace.pricing import term_price
from marketplace.terms import contract_end_date, contract_month_index, months_after

_PRECISION = 60  # a day's share is rounded once, at the fen, from this many digits


@dataclass(frozen=True)
class BillingPeriod:
    """One billed period ``[start, end)``: a contract month, or its served part when cut."""

    index: int  # 0-based contract month; stable across termination
    start: date
    end: date  # exclusive
    days: int  # days billed: end - start
    month_days: int  # days of the whole contract month (== days unless cut by a termination)
    amount: Decimal  # CNY, to the fen, tax included

    @property
    def is_full_month(self) -> bool:
        return self.days == self.month_days

    @property
    def last_day(self) -> date:
        return self.end - timedelta(days=1)


@dataclass(frozen=True)
class PeriodAdjustment:
    """One period's settlement at termination; ``difference`` > 0 is owed by the customer."""

    index: int
    revised_amount: Decimal  # what the period costs after termination (0 when dropped)
    invoiced_amount: Decimal  # what was invoiced for it so far (0 when not yet invoiced)

    @property
    def difference(self) -> Decimal:
        return self.revised_amount - self.invoiced_amount


@dataclass(frozen=True)
class TerminationAdjustment:
    """Settlement of a terminated contract against what has been invoiced.

    ``balance = revised_total - invoiced_total``: positive means the customer still owes that
    much (``extra_charge``), negative means they paid in advance for service they will not get
    (``credit_due``); ``lines`` give the per-period breakdown for a credit note.
    """

    effective_date: date
    schedule: tuple[BillingPeriod, ...]
    lines: tuple[PeriodAdjustment, ...]  # every period that is revised or was invoiced, by index
    revised_total: Decimal
    invoiced_total: Decimal

    @property
    def balance(self) -> Decimal:
        return self.revised_total - self.invoiced_total

    @property
    def credit_due(self) -> Decimal:
        return max(ZERO, -self.balance)

    @property
    def extra_charge(self) -> Decimal:
        return max(ZERO, self.balance)


def local_midnight(day: date, tz: tzinfo) -> datetime:
    """The first instant of ``day`` in ``tz``: where a period's dates meet time (outages)."""
    return datetime.combine(day, time.min, tzinfo=tz)


def _period(index: int, start: date, amount: Decimal) -> BillingPeriod:
    period_start = months_after(start, index)
    period_end = months_after(start, index + 1)
    days = (period_end - period_start).days
    return BillingPeriod(index, period_start, period_end, days, days, amount)


def billing_periods(
    *,
    start: date,
    term_months: int,
    exact_annual: Decimal,
    total_price: Decimal,
    through: date | None = None,
) -> list[BillingPeriod]:
    """The contract's periods (only those starting on or before ``through``, when given).

    Period k bills ``term_price(exact_annual, k + 1) - term_price(exact_annual, k)``; the last
    bills what is left of ``total_price`` (the price the contract was signed at, which is
    ``term_price(exact_annual, term_months)``), so the periods add up to it exactly. Cheap for
    any ``through``: no later period is built.
    """
    if exact_annual < ZERO:
        raise ValueError("exact_annual must not be negative")
    contract_end_date(start, term_months)  # validates the term
    last_index = term_months - 1
    balancing = quantize_money(total_price) - term_price(exact_annual, last_index)
    if balancing < ZERO:
        raise ValueError(
            f"total_price {total_price} is less than the {last_index} months before the last "
            f"({term_price(exact_annual, last_index)}); it does not match the annual price"
        )
    count = term_months
    if through is not None:
        count = min(term_months, contract_month_index(start, through) + 1)
    return [
        _period(
            index,
            start,
            balancing
            if index == last_index
            else term_price(exact_annual, index + 1) - term_price(exact_annual, index),
        )
        for index in range(max(0, count))
    ]


def period_for(periods: Sequence[BillingPeriod], day: date) -> BillingPeriod | None:
    """The period whose ``[start, end)`` contains ``day``, or None (periods sorted, contiguous)."""
    position = bisect.bisect_right([p.start for p in periods], day) - 1
    if position < 0:
        return None
    period = periods[position]
    return period if day < period.end else None


def served_part(period: BillingPeriod, end: date) -> BillingPeriod:
    """``period`` cut to ``[start, end)``, billed by the days served at its price per day."""
    if not period.start < end < period.end:
        raise ValueError("the cut must fall strictly inside the period")
    days = (end - period.start).days
    with localcontext() as ctx:
        ctx.prec = _PRECISION
        amount = quantize_money(period.amount * days / period.month_days)
    return replace(period, end=end, days=days, amount=amount)


def terminated_schedule(
    periods: Sequence[BillingPeriod], *, effective_date: date
) -> list[BillingPeriod]:
    """The schedule of a contract whose service stops at ``effective_date`` (exclusive).

    Periods ending on or before it are kept; the period containing it is billed for the days
    served (``served_part``); later periods are dropped. An ``effective_date`` at or after the
    end changes nothing; one at or before the start leaves an empty schedule.
    """
    revised = []
    for period in periods:
        if period.end <= effective_date:
            revised.append(period)
        elif period.start < effective_date:
            revised.append(served_part(period, effective_date))
    return revised


def termination_adjustment(
    periods: Sequence[BillingPeriod],
    *,
    effective_date: date,
    amounts_invoiced: Mapping[int, Decimal],
) -> TerminationAdjustment:
    """Compare the terminated schedule with what was invoiced, period by period.

    ``periods`` is the original schedule (``billing_periods``); ``amounts_invoiced`` maps a
    period index to the amount invoiced for it (net of any earlier credit notes).
    """
    known = {p.index for p in periods}
    unknown = sorted(set(amounts_invoiced) - known)
    if unknown:
        raise ValueError(f"amounts_invoiced names periods not in the schedule: {unknown}")
    invoiced = {index: quantize_money(amount) for index, amount in amounts_invoiced.items()}
    schedule = terminated_schedule(periods, effective_date=effective_date)
    revised = {p.index: p.amount for p in schedule}
    lines = tuple(
        PeriodAdjustment(
            index=index,
            revised_amount=revised.get(index, ZERO),
            invoiced_amount=invoiced.get(index, ZERO),
        )
        for index in sorted(revised.keys() | invoiced.keys())
    )
    return TerminationAdjustment(
        effective_date=effective_date,
        schedule=tuple(schedule),
        lines=lines,
        revised_total=sum(revised.values(), ZERO),
        invoiced_total=sum(invoiced.values(), ZERO),
    )
