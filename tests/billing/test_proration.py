"""Billing schedule: calendar-month periods, prorated to the fen, adding up to the quoted total."""

import itertools
from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from accounts.money import ZERO, quantize_money
from billing.proration import (
    BillingPeriod,
    billing_periods,
    contract_end,
    period_for,
    terminated_schedule,
    termination_adjustment,
)

A800_YEAR = Decimal("599040.00")  # one 8-card A800 server: 4.992 P x CNY 120,000
A800_MONTH = Decimal("49920.00")


def schedule(start: date, term_months: int, annual: Decimal = A800_YEAR) -> list[BillingPeriod]:
    total = quantize_money(annual * term_months / 12)
    return billing_periods(
        start=start, term_months=term_months, annual_price=annual, total_price=total
    )


def amounts(periods: list[BillingPeriod]) -> list[Decimal]:
    return [p.amount for p in periods]


# --- contract_end -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "term", "end"),
    [
        (date(2027, 1, 15), 12, date(2028, 1, 15)),
        (date(2027, 1, 31), 1, date(2027, 2, 28)),  # clamped to the shorter month
        (date(2027, 1, 31), 2, date(2027, 3, 31)),  # counted from start, not month by month
        (date(2028, 1, 31), 1, date(2028, 2, 29)),  # leap year
        (date(2028, 2, 29), 12, date(2029, 2, 28)),
        (date(2027, 3, 1), 60, date(2032, 3, 1)),
    ],
)
def test_contract_end_adds_months_with_relativedelta_semantics(start, term, end):
    assert contract_end(start, term) == end


def test_contract_end_refuses_a_term_under_one_month():
    with pytest.raises(ValueError):
        contract_end(date(2027, 1, 1), 0)


# --- hand cases ---------------------------------------------------------------------------------


def test_contract_starting_on_the_first_bills_twelve_full_months():
    periods = schedule(date(2027, 3, 1), 12)

    assert len(periods) == 12
    assert amounts(periods) == [A800_MONTH] * 12
    assert all(p.is_full_month for p in periods)
    assert periods[0].start == date(2027, 3, 1)
    assert periods[-1].end == date(2028, 3, 1)
    assert [p.index for p in periods] == list(range(12))


def test_mid_month_start_bills_partial_first_and_last_months():
    periods = schedule(date(2027, 1, 15), 12)

    assert len(periods) == 13
    first, last = periods[0], periods[-1]
    assert (first.start, first.end, first.days, first.days_in_month) == (
        date(2027, 1, 15),
        date(2027, 2, 1),
        17,
        31,
    )
    assert first.amount == Decimal("27375.48")  # 49,920 x 17/31 = 27,375.4839
    assert amounts(periods[1:-1]) == [A800_MONTH] * 11
    assert (last.start, last.end, last.days, last.days_in_month) == (
        date(2028, 1, 1),
        date(2028, 1, 15),
        14,
        31,
    )
    assert last.amount == Decimal("22544.52")  # 49,920 x 14/31 = 22,544.5161, plus the balance
    assert sum(amounts(periods)) == A800_YEAR


def test_full_leap_february_costs_one_month():
    [february] = schedule(date(2028, 2, 1), 1)

    assert (february.days, february.days_in_month) == (29, 29)
    assert february.amount == A800_MONTH


def test_leap_february_partial_is_prorated_over_29_days():
    first, last = schedule(date(2028, 2, 10), 1)

    assert (first.start, first.end, first.days, first.days_in_month) == (
        date(2028, 2, 10),
        date(2028, 3, 1),
        20,
        29,
    )
    assert first.amount == Decimal("34427.59")  # 49,920 x 20/29 = 34,427.586
    assert (last.start, last.end, last.days, last.days_in_month) == (
        date(2028, 3, 1),
        date(2028, 3, 10),
        9,
        31,
    )
    # The last period balances the month: 49,920.00 - 34,427.59, not 49,920 x 9/31 = 14,492.90,
    # because the first month has 29 days and the last 31 (documented in billing.proration).
    assert last.amount == Decimal("15492.41")


def test_start_on_the_31st_clamps_the_end_and_balances_in_the_last_period():
    first, last = schedule(date(2027, 1, 31), 1)

    assert (first.days, first.days_in_month, first.amount) == (1, 31, Decimal("1610.32"))
    assert (last.start, last.end, last.days, last.days_in_month) == (
        date(2027, 2, 1),
        date(2027, 2, 28),
        27,
        28,
    )
    assert last.amount == A800_MONTH - Decimal("1610.32")


def test_fraction_is_days_over_days_in_month():
    first = schedule(date(2027, 1, 15), 12)[0]

    assert first.exact_fraction.numerator == 17
    assert first.exact_fraction.denominator == 31
    assert abs(first.fraction - Decimal(17) / Decimal(31)) < Decimal("1e-20")


def test_total_price_that_does_not_match_the_schedule_is_refused():
    with pytest.raises(ValueError):
        billing_periods(
            start=date(2027, 1, 15),
            term_months=12,
            annual_price=A800_YEAR,
            total_price=Decimal("100000.00"),
        )


def test_period_for_finds_the_period_containing_a_day():
    periods = schedule(date(2027, 1, 15), 12)

    assert period_for(periods, date(2027, 1, 15)) == periods[0]
    assert period_for(periods, date(2027, 1, 31)) == periods[0]
    assert period_for(periods, date(2027, 2, 1)) == periods[1]
    assert period_for(periods, date(2028, 1, 14)) == periods[-1]
    assert period_for(periods, date(2028, 1, 15)) is None  # end is exclusive
    assert period_for(periods, date(2027, 1, 14)) is None
    assert period_for([], date(2027, 1, 14)) is None


# --- properties ---------------------------------------------------------------------------------

start_dates = st.dates(min_value=date(2026, 1, 1), max_value=date(2032, 12, 31))
terms = st.integers(min_value=1, max_value=60)
annual_prices = st.decimals(
    min_value=Decimal("1000.00"),
    max_value=Decimal("50000000.00"),
    places=2,
    allow_nan=False,
    allow_infinity=False,
)


@given(start=start_dates, term=terms, annual=annual_prices)
def test_schedule_adds_up_and_covers_the_term(start, term, annual):
    total = quantize_money(annual * term / 12)
    periods = billing_periods(start=start, term_months=term, annual_price=annual, total_price=total)

    assert sum(amounts(periods)) == total
    assert periods[0].start == start
    assert periods[-1].end == contract_end(start, term)
    for previous, following in itertools.pairwise(periods):
        assert previous.end == following.start  # contiguous, no overlap
    monthly = quantize_money(annual / 12)
    for position, period in enumerate(periods):
        assert period.index == position
        assert period.start < period.end
        assert period.days == (period.end - period.start).days
        last_day = period.end - timedelta(days=1)
        assert (period.start.year, period.start.month) == (last_day.year, last_day.month)
        assert period.amount >= ZERO
        assert period.amount == quantize_money(period.amount)
        if period is not periods[-1]:
            if period.is_full_month:
                assert period.amount == monthly
            else:
                assert period.amount == quantize_money(
                    annual * period.days / (12 * period.days_in_month)
                )
    # Full months everywhere but possibly the two ends.
    assert all(p.is_full_month for p in periods[1:-1])
    assert len(periods) in (term, term + 1)


@given(
    start=start_dates,
    term=terms,
    annual=annual_prices,
    offset=st.integers(min_value=0, max_value=1900),
    later=st.integers(min_value=0, max_value=400),
)
def test_terminated_schedule_is_truncated_bounded_and_monotone(start, term, annual, offset, later):
    total = quantize_money(annual * term / 12)
    periods = billing_periods(start=start, term_months=term, annual_price=annual, total_price=total)
    end = periods[-1].end
    effective = min(start + timedelta(days=offset), end)

    revised = terminated_schedule(periods, effective_date=effective, annual_price=annual)
    revised_later = terminated_schedule(
        periods, effective_date=effective + timedelta(days=later), annual_price=annual
    )

    revised_total = sum(amounts(revised), ZERO)
    assert revised_total <= total
    assert revised_total <= sum(amounts(revised_later), ZERO)
    if effective == start:
        assert revised == []
    else:
        assert revised[0].start == start
        assert revised[-1].end == effective
    for previous, following in itertools.pairwise(revised):
        assert previous.end == following.start
    for period in revised:
        original = periods[period.index]
        assert period.start == original.start
        assert period.amount <= original.amount
        assert period.amount >= ZERO
    if effective == end:
        assert revised == periods


# --- termination --------------------------------------------------------------------------------


def test_termination_mid_month_prorates_the_cut_period_and_credits_the_advance():
    periods = schedule(date(2027, 1, 15), 12)
    # Billing in advance: January (partial) to June invoiced, i.e. periods 0-5.
    invoiced = {p.index: p.amount for p in periods[:6]}

    result = termination_adjustment(
        periods,
        effective_date=date(2027, 6, 20),
        annual_price=A800_YEAR,
        amounts_invoiced=invoiced,
    )

    assert [p.index for p in result.schedule] == [0, 1, 2, 3, 4, 5]
    june = result.schedule[-1]
    assert (june.start, june.end, june.days, june.days_in_month) == (
        date(2027, 6, 1),
        date(2027, 6, 20),
        19,
        30,
    )
    assert june.amount == Decimal("31616.00")  # 49,920 x 19/30
    assert result.revised_total == Decimal("27375.48") + 4 * A800_MONTH + Decimal("31616.00")
    assert result.invoiced_total == Decimal("27375.48") + 5 * A800_MONTH
    assert result.credit_due == Decimal("18304.00")  # 49,920.00 - 31,616.00
    assert result.extra_charge == ZERO
    assert [line.difference for line in result.lines] == [ZERO] * 5 + [Decimal("-18304.00")]


def test_termination_credits_periods_paid_beyond_the_effective_date():
    periods = schedule(date(2027, 1, 15), 12)
    invoiced = {p.index: p.amount for p in periods[:7]}  # July paid too

    result = termination_adjustment(
        periods,
        effective_date=date(2027, 6, 20),
        annual_price=A800_YEAR,
        amounts_invoiced=invoiced,
    )

    assert result.credit_due == Decimal("18304.00") + A800_MONTH
    july = result.lines[-1]
    assert (july.index, july.revised_amount, july.invoiced_amount) == (6, ZERO, A800_MONTH)


def test_termination_before_the_cut_period_was_invoiced_is_an_extra_charge():
    periods = schedule(date(2027, 1, 15), 12)
    invoiced = {p.index: p.amount for p in periods[:5]}  # June not invoiced yet

    result = termination_adjustment(
        periods,
        effective_date=date(2027, 6, 20),
        annual_price=A800_YEAR,
        amounts_invoiced=invoiced,
    )

    assert result.extra_charge == Decimal("31616.00")
    assert result.credit_due == ZERO


def test_termination_on_a_month_boundary_keeps_whole_periods():
    periods = schedule(date(2027, 1, 15), 12)

    revised = terminated_schedule(periods, effective_date=date(2027, 7, 1), annual_price=A800_YEAR)

    assert revised == periods[:6]


def test_termination_in_the_last_partial_period_prorates_it():
    periods = schedule(date(2027, 1, 15), 12)

    revised = terminated_schedule(periods, effective_date=date(2028, 1, 10), annual_price=A800_YEAR)

    assert revised[:-1] == periods[:-1]
    assert (revised[-1].days, revised[-1].days_in_month) == (9, 31)
    assert revised[-1].amount == Decimal("14492.90")  # 49,920 x 9/31 = 14,492.903


def test_cut_period_never_costs_more_than_the_original_balancing_period():
    # Start on the 25th of a 31-day month, end in February: the balancing last period
    # (24/31 of a month) is shorter than 23/28 of a month, the price of cutting it a day early.
    periods = schedule(date(2027, 1, 25), 1)
    assert periods[-1].end == date(2027, 2, 25)

    revised = terminated_schedule(periods, effective_date=date(2027, 2, 24), annual_price=A800_YEAR)

    assert revised[-1].amount == periods[-1].amount
    assert sum(amounts(revised)) == A800_MONTH


def test_termination_at_or_after_the_end_changes_nothing():
    periods = schedule(date(2027, 1, 15), 12)
    invoiced = {p.index: p.amount for p in periods}

    result = termination_adjustment(
        periods,
        effective_date=date(2028, 3, 1),
        annual_price=A800_YEAR,
        amounts_invoiced=invoiced,
    )

    assert list(result.schedule) == periods
    assert result.revised_total == A800_YEAR
    assert result.balance == ZERO


def test_termination_before_the_start_credits_everything_invoiced():
    periods = schedule(date(2027, 1, 15), 12)

    result = termination_adjustment(
        periods,
        effective_date=date(2027, 1, 15),
        annual_price=A800_YEAR,
        amounts_invoiced={0: periods[0].amount},
    )

    assert result.schedule == ()
    assert result.revised_total == ZERO
    assert result.credit_due == Decimal("27375.48")


def test_termination_refuses_invoiced_amounts_for_unknown_periods():
    periods = schedule(date(2027, 1, 15), 12)

    with pytest.raises(ValueError):
        termination_adjustment(
            periods,
            effective_date=date(2027, 6, 20),
            annual_price=A800_YEAR,
            amounts_invoiced={99: A800_MONTH},
        )
