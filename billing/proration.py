"""Billing schedule of a contract: calendar-month periods, prorated, to the fen. Pure: no ORM.

Rules
-----
- A contract runs over ``[start, end)`` where ``end = start + term_months`` months, with
  ``dateutil.relativedelta`` semantics: the day of month is kept and clamped to the last day of
  a shorter month, always counted from ``start`` (never month by month), so 2027-01-31 + 1 month
  is 2027-02-28 and + 2 months is 2027-03-31. That is the usual reading of "a term of N months"
  in a contract and keeps ``end`` independent of how the months in between are stepped through.
- It bills monthly in advance, one period per calendar month touched by ``[start, end)``: a
  first period from ``start`` to the end of its month, full calendar months, and a last period
  from the 1st of ``end``'s month to ``end``. A contract starting on the 1st has only full months.
- A full calendar month costs ``annual_price / 12``; a partial month costs
  ``days / days_in_that_month`` of that. Each period is quantised to the fen on its own.
- The last period absorbs the difference, so the periods add up to ``total_price`` (fixed on the
  quote as ``quantize_money(annual_price * term_months / 12)``) exactly. With a start on day d > 1
  the first and last partial periods together make up one "anniversary" month, which costs one
  month's price: when the two calendar months have the same length the last period is its own
  prorated price give or take the other periods' rounding (at most half a fen each); when they
  differ (start 2027-01-31, or a leap February at one end) it also carries that calendar
  difference, a few days' worth at most. A contract starting on the 1st has no partial period
  and its last full month absorbs only the rounding.

Termination
-----------
Service stops at ``effective_date`` (exclusive: the last day of service is the day before).
``terminated_schedule`` keeps the periods before it, prorates the period containing it by its
remaining days (``days / days_in_month`` of a full month, quantised) and drops the rest. Since
``total_price`` no longer applies, nothing absorbs anything: the revised total is the sum of the
revised periods. One guard: a cut period never costs more than it did in the original schedule.
Without it, a contract whose balancing last period is short (start 2027-01-25, the first month
has 31 days, the last is February) would cost more when terminated a day early than when run to
its end. With it, the revised total never exceeds ``total_price`` and never decreases as the
effective date moves later. ``termination_adjustment`` compares it with what was invoiced.
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta
from decimal import Decimal, localcontext
from fractions import Fraction

from dateutil.relativedelta import relativedelta

from accounts.money import ZERO, quantize_money

MONTHS_PER_YEAR = 12
# Enough digits that a quotient is rounded exactly once, by quantize_money (a tie at the fen is
# a terminating decimal and comes out exact; anything else is far from a tie).
_PRECISION = 50


@dataclass(frozen=True)
class BillingPeriod:
    """One billed period ``[start, end)``, inside a single calendar month.

    ``days`` and ``days_in_month`` are the exact proration ratio; ``fraction`` is the same ratio
    as a Decimal for display (inexact for e.g. 17/31). Amounts are computed from the integers.
    """

    index: int  # 0-based position in the contract's schedule; stable across termination
    start: date
    end: date  # exclusive
    days: int
    days_in_month: int
    fraction: Decimal  # days / days_in_month, for display only
    amount: Decimal  # CNY, to the fen, tax included

    @property
    def is_full_month(self) -> bool:
        return self.days == self.days_in_month

    @property
    def exact_fraction(self) -> Fraction:
        return Fraction(self.days, self.days_in_month)


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
    (``credit_due``). Settling ``balance`` once leaves the customer having paid exactly
    ``revised_total``, so a caller that issues it as the final document must stop regular
    invoicing of the contract; ``lines`` give the per-period breakdown for a credit note.
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


def contract_end(start: date, term_months: int) -> date:
    """Exclusive end of a contract: ``start + term_months`` months (relativedelta, day clamped)."""
    if term_months < 1:
        raise ValueError("term_months must be at least 1")
    return start + relativedelta(months=term_months)


def _first_of_next_month(day: date) -> date:
    return (day.replace(day=1) + timedelta(days=32)).replace(day=1)


def _days_in_month(day: date) -> int:
    return (_first_of_next_month(day) - day.replace(day=1)).days


def _prorated(annual_price: Decimal, days: int, days_in_month: int) -> Decimal:
    """``annual_price / 12 * days / days_in_month``, quantised to the fen (half-up) once."""
    with localcontext() as ctx:
        ctx.prec = _PRECISION
        exact = annual_price * days / (MONTHS_PER_YEAR * days_in_month)
    return quantize_money(exact)


def _period(index: int, start: date, end: date, annual_price: Decimal) -> BillingPeriod:
    days = (end - start).days
    days_in_month = _days_in_month(start)
    return BillingPeriod(
        index=index,
        start=start,
        end=end,
        days=days,
        days_in_month=days_in_month,
        fraction=Decimal(days) / Decimal(days_in_month),
        amount=_prorated(annual_price, days, days_in_month),
    )


def _calendar_periods(start: date, end: date, annual_price: Decimal) -> list[BillingPeriod]:
    """Split ``[start, end)`` at month boundaries; each period priced by its own days."""
    periods = []
    cursor = start
    while cursor < end:
        period_end = min(_first_of_next_month(cursor), end)
        periods.append(_period(len(periods), cursor, period_end, annual_price))
        cursor = period_end
    return periods


def billing_periods(
    *, start: date, term_months: int, annual_price: Decimal, total_price: Decimal
) -> list[BillingPeriod]:
    """The contract's billing schedule; amounts add up to ``total_price`` exactly.

    Steps: split ``[start, contract_end)`` at calendar-month boundaries; price each period as
    ``annual_price / 12 * days / days_in_month`` quantised to the fen; set the last period to
    ``total_price`` minus the others (see the module docstring for what it absorbs).
    """
    if annual_price < ZERO:
        raise ValueError("annual_price must not be negative")
    total_price = quantize_money(total_price)
    periods = _calendar_periods(start, contract_end(start, term_months), annual_price)
    *head, last = periods
    balancing = total_price - sum((p.amount for p in head), ZERO)
    if balancing < ZERO:
        raise ValueError(
            f"total_price {total_price} is less than the periods before the last "
            f"({total_price - balancing}); it does not match annual_price and term_months"
        )
    return [*head, replace(last, amount=balancing)]


def period_for(periods: Sequence[BillingPeriod], day: date) -> BillingPeriod | None:
    """The period whose ``[start, end)`` contains ``day``, or None (periods sorted, contiguous)."""
    position = bisect.bisect_right([p.start for p in periods], day) - 1
    if position < 0:
        return None
    period = periods[position]
    return period if day < period.end else None


def terminated_schedule(
    periods: Sequence[BillingPeriod], *, effective_date: date, annual_price: Decimal
) -> list[BillingPeriod]:
    """The schedule of a contract whose service stops at ``effective_date`` (exclusive).

    Periods ending on or before ``effective_date`` are kept as they are; the period containing it
    is cut to ``[start, effective_date)`` and priced by its days, capped at its original amount
    (see the module docstring); later periods are dropped. An
    ``effective_date`` at or after the contract's end changes nothing (the original schedule,
    whose last period balances to ``total_price``, is returned); one at or before its start
    leaves an empty schedule.
    """
    revised = []
    for period in periods:
        if period.end <= effective_date:
            revised.append(period)
        elif period.start < effective_date:
            cut = _period(period.index, period.start, effective_date, annual_price)
            revised.append(replace(cut, amount=min(cut.amount, period.amount)))
    return revised


def termination_adjustment(
    periods: Sequence[BillingPeriod],
    *,
    effective_date: date,
    annual_price: Decimal,
    amounts_invoiced: Mapping[int, Decimal],
) -> TerminationAdjustment:
    """Compare the terminated schedule with what was invoiced, period by period.

    ``periods`` is the original schedule (from ``billing_periods``); ``amounts_invoiced`` maps a
    period index to the amount invoiced for it (net of any earlier credit notes). Returns the
    revised schedule, one line per period that is in it or was invoiced, and the balance.
    """
    known = {p.index for p in periods}
    unknown = sorted(set(amounts_invoiced) - known)
    if unknown:
        raise ValueError(f"amounts_invoiced names periods not in the schedule: {unknown}")
    invoiced = {index: quantize_money(amount) for index, amount in amounts_invoiced.items()}
    schedule = terminated_schedule(
        periods, effective_date=effective_date, annual_price=annual_price
    )
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
