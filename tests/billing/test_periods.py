"""Billing schedule: contract months anchored on the start, each a month's price, to the fen."""

import calendar
import itertools
from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from accounts.money import ZERO
from billing.periods import (
    BillingPeriod,
    billing_periods,
    period_for,
    served_part,
    terminated_schedule,
    termination_adjustment,
)
from marketplace.pricing import monthly_price, term_price
from marketplace.terms import contract_end_date, contract_month_index, months_after

A800_YEAR = Decimal("599040")  # one 8-card A800 server: 4.992 P x CNY 120,000, exact
A800_MONTH = Decimal("49920.00")


def schedule(start: date, term_months: int, annual: Decimal = A800_YEAR) -> list[BillingPeriod]:
    return billing_periods(
        start=start,
        term_months=term_months,
        exact_annual=annual,
        total_price=term_price(annual, term_months),
    )


def amounts(periods) -> list[Decimal]:
    return [p.amount for p in periods]


# --- dates --------------------------------------------------------------------------------------


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
def test_a_term_ends_its_months_after_the_start_with_the_day_clamped(start, term, end):
    assert contract_end_date(start, term) == end


def test_a_term_under_one_month_is_refused():
    with pytest.raises(ValueError):
        contract_end_date(date(2027, 1, 1), 0)


def test_from_the_31st_every_boundary_is_counted_from_the_start():
    periods = schedule(date(2027, 1, 31), 6)

    assert [p.start for p in periods] == [
        date(2027, 1, 31),
        date(2027, 2, 28),
        date(2027, 3, 31),  # back to the 31st: never stepped from 28 February
        date(2027, 4, 30),
        date(2027, 5, 31),
        date(2027, 6, 30),
    ]
    assert periods[-1].end == date(2027, 7, 31)
    assert [p.days for p in periods] == [28, 31, 30, 31, 30, 31]
    assert amounts(periods) == [A800_MONTH] * 6  # a contract month is a month, whatever its days


def test_from_the_31st_of_january_in_a_leap_year_february_ends_on_the_29th():
    assert [p.start for p in schedule(date(2028, 1, 31), 3)] == [
        date(2028, 1, 31),
        date(2028, 2, 29),
        date(2028, 3, 31),
    ]


def test_a_start_on_29_february_clamps_to_28_february_a_year_later():
    periods = schedule(date(2028, 2, 29), 13)
    assert periods[11].start == date(2029, 1, 29)
    assert periods[12].start == date(2029, 2, 28)
    assert periods[12].end == date(2029, 3, 29)


def test_the_issue_example_from_17_february_bills_seven_equal_contract_months():
    # 3 H800 servers: 3 x 15.832 P x CNY 135,000 = 6,411,960 a year, 534,330 a month.
    annual = 3 * Decimal("15.832") * Decimal("135000")
    periods = schedule(date(2027, 2, 17), 7, annual)

    assert [(p.start, p.end) for p in periods] == [
        (date(2027, 2, 17), date(2027, 3, 17)),
        (date(2027, 3, 17), date(2027, 4, 17)),
        (date(2027, 4, 17), date(2027, 5, 17)),
        (date(2027, 5, 17), date(2027, 6, 17)),
        (date(2027, 6, 17), date(2027, 7, 17)),
        (date(2027, 7, 17), date(2027, 8, 17)),
        (date(2027, 8, 17), date(2027, 9, 17)),  # 31 days, at a month's price, not 16/28
    ]
    assert amounts(periods) == [Decimal("534330.00")] * 7
    assert sum(amounts(periods)) == Decimal("3740310.00")


def test_period_for_finds_the_period_containing_a_day():
    periods = schedule(date(2027, 1, 15), 12)

    assert period_for(periods, date(2027, 1, 15)) == periods[0]
    assert period_for(periods, date(2027, 2, 14)) == periods[0]
    assert period_for(periods, date(2027, 2, 15)) == periods[1]
    assert period_for(periods, date(2028, 1, 14)) == periods[-1]
    assert period_for(periods, date(2028, 1, 15)) is None  # end is exclusive
    assert period_for(periods, date(2027, 1, 14)) is None
    assert period_for([], date(2027, 1, 14)) is None


def test_a_total_below_the_months_before_the_last_is_refused():
    with pytest.raises(ValueError):
        billing_periods(
            start=date(2027, 1, 15),
            term_months=12,
            exact_annual=A800_YEAR,
            total_price=Decimal("100000.00"),
        )


def test_sub_fen_remainders_surface_one_fen_at_a_time_instead_of_piling_up():
    """60 months of one A800 at ¥120,000.000801: ¥49,920.000333216 a month, ¥2,995,200.02 in
    all. The two fen the term adds up to land where the running total crosses them (months 16
    and 46), not both on the last month."""
    annual = Decimal("4.992") * Decimal("120000.000801")
    periods = schedule(date(2027, 1, 15), 60, annual)
    assert sum(amounts(periods)) == Decimal("2995200.02")
    assert sorted(set(amounts(periods))) == [Decimal("49920.00"), Decimal("49920.01")]
    assert amounts(periods).count(Decimal("49920.01")) == 2
    assert all(abs(a - annual / 12) < Decimal("0.01") for a in amounts(periods))


# --- properties ---------------------------------------------------------------------------------

# Random starts, with the 29th-31st and 29 February drawn often.
month_ends = st.builds(
    lambda year, month, day: date(year, month, min(day, calendar.monthrange(year, month)[1])),
    st.integers(2026, 2032),
    st.integers(1, 12),
    st.integers(28, 31),
)
start_dates = st.one_of(
    st.dates(min_value=date(2026, 1, 1), max_value=date(2032, 12, 31)),
    month_ends,
    st.sampled_from([date(2028, 2, 29), date(2032, 2, 29), date(2027, 1, 31), date(2027, 3, 30)]),
)
terms = st.integers(min_value=1, max_value=60)
# Exact annual prices: P (3 places) x a rate (6 places), as contracts carry them.
annual_prices = st.builds(
    lambda servers, p, rate: servers * p * rate,
    st.integers(1, 64),
    st.sampled_from([Decimal("4.992"), Decimal("15.832"), Decimal("2.368"), Decimal("5.864")]),
    st.decimals(min_value=Decimal("1"), max_value=Decimal("500000"), places=6),
)


@given(start=start_dates, term=terms, annual=annual_prices)
def test_the_schedule_covers_the_term_in_contract_months_and_adds_up(start, term, annual):
    periods = schedule(start, term, annual)
    monthly = monthly_price(annual)

    assert len(periods) == term
    assert sum(amounts(periods)) == term_price(annual, term)  # the contract price, to the fen
    assert periods[0].start == start
    assert periods[-1].end == contract_end_date(start, term)
    for previous, following in itertools.pairwise(periods):
        assert previous.end == following.start  # contiguous, no overlap
    for k, period in enumerate(periods):
        assert period.index == k
        assert period.start == months_after(start, k)  # from the start, every time
        assert period.is_full_month
        assert contract_month_index(start, period.start) == k
        assert contract_month_index(start, period.last_day) == k
    # Every period, the last included, bills annual / 12 within a fen (cumulative rounding);
    # most bill exactly the rounded monthly price.
    for period in periods:
        assert abs(period.amount - annual / 12) < Decimal("0.01")
        assert abs(period.amount - monthly) <= Decimal("0.01")


@given(
    start=start_dates,
    term=terms,
    annual=annual_prices,
    offset=st.integers(min_value=0, max_value=1900),
    day=st.integers(min_value=0, max_value=1900),
)
def test_the_periods_through_a_day_are_those_of_the_full_schedule(start, term, annual, offset, day):
    full = schedule(start, term, annual)
    through = start + timedelta(days=day) - timedelta(days=offset // 2)
    cheap = billing_periods(
        start=start,
        term_months=term,
        exact_annual=annual,
        total_price=term_price(annual, term),
        through=through,
    )
    assert cheap == [p for p in full if p.start <= through]


@given(
    start=start_dates,
    term=terms,
    annual=annual_prices,
    offset=st.integers(min_value=0, max_value=1900),
    later=st.integers(min_value=0, max_value=400),
)
def test_a_terminated_schedule_bills_the_days_served_and_only_those(
    start, term, annual, offset, later
):
    periods = schedule(start, term, annual)
    total = sum(amounts(periods))
    end = periods[-1].end
    effective = min(start + timedelta(days=offset), end)

    revised = terminated_schedule(periods, effective_date=effective)
    revised_later = terminated_schedule(periods, effective_date=effective + timedelta(days=later))

    revised_total = sum(amounts(revised), ZERO)
    assert revised_total <= total
    assert revised_total <= sum(amounts(revised_later), ZERO)  # later ends never cost less
    if effective == start:
        assert revised == []
    else:
        assert revised[0].start == start
        assert revised[-1].end == effective
    if effective == end:
        assert revised == periods
    # What ending early saves is the unserved days at each period's price per day, to a fen.
    unserved = ZERO
    for period in periods:
        days = max(0, (period.end - max(period.start, effective)).days)
        unserved += period.amount * days / period.days
    assert abs((total - revised_total) - unserved) <= Decimal("0.01")


@given(
    start=start_dates,
    term=terms,
    annual=annual_prices,
    k=st.integers(min_value=1, max_value=27),
)
def test_ending_k_days_early_lowers_the_total_by_k_days_price_within_a_fen(start, term, annual, k):
    periods = schedule(start, term, annual)
    last = periods[-1]
    revised = terminated_schedule(periods, effective_date=last.end - timedelta(days=k))

    saved = sum(amounts(periods)) - sum(amounts(revised))
    day_price = last.amount / last.days  # the period's charge / its days
    assert abs(saved - k * day_price) <= Decimal("0.01")


# --- termination --------------------------------------------------------------------------------


def test_a_termination_bills_the_current_contract_month_by_its_days_and_credits_the_advance():
    periods = schedule(date(2027, 1, 15), 12)
    invoiced = {p.index: p.amount for p in periods[:6]}  # in advance: up to 15 June - 15 July

    result = termination_adjustment(
        periods, effective_date=date(2027, 6, 20), amounts_invoiced=invoiced
    )

    assert [p.index for p in result.schedule] == [0, 1, 2, 3, 4, 5]
    june = result.schedule[-1]
    assert (june.start, june.end, june.days, june.month_days) == (
        date(2027, 6, 15),
        date(2027, 6, 20),
        5,
        30,
    )
    assert june.amount == Decimal("8320.00")  # 49,920 / 30 days x 5
    assert result.revised_total == 5 * A800_MONTH + Decimal("8320.00")
    assert result.invoiced_total == 6 * A800_MONTH
    assert result.credit_due == Decimal("41600.00")  # 25 days not provided
    assert result.extra_charge == ZERO
    assert [line.difference for line in result.lines] == [ZERO] * 5 + [Decimal("-41600.00")]


def test_one_day_early_saves_one_days_price():
    # The issue's contract ended a day early: its last contract month has 31 days.
    annual = 3 * Decimal("15.832") * Decimal("135000")
    periods = schedule(date(2027, 2, 17), 7, annual)
    revised = terminated_schedule(periods, effective_date=date(2027, 9, 16))

    assert revised[-1].amount == Decimal("517093.55")  # 534,330 x 30/31
    assert sum(amounts(periods)) - sum(amounts(revised)) == Decimal("17236.45")  # 534,330 / 31


def test_termination_credits_periods_paid_beyond_the_effective_date():
    periods = schedule(date(2027, 1, 15), 12)
    invoiced = {p.index: p.amount for p in periods[:7]}  # the month from 15 July paid too

    result = termination_adjustment(
        periods, effective_date=date(2027, 6, 20), amounts_invoiced=invoiced
    )

    assert result.credit_due == Decimal("41600.00") + A800_MONTH
    dropped = result.lines[-1]
    assert (dropped.index, dropped.revised_amount, dropped.invoiced_amount) == (6, ZERO, A800_MONTH)


def test_termination_before_the_cut_period_was_invoiced_is_an_extra_charge():
    periods = schedule(date(2027, 1, 15), 12)
    invoiced = {p.index: p.amount for p in periods[:5]}

    result = termination_adjustment(
        periods, effective_date=date(2027, 6, 20), amounts_invoiced=invoiced
    )

    assert result.extra_charge == Decimal("8320.00")
    assert result.credit_due == ZERO


def test_termination_on_a_period_boundary_keeps_whole_periods():
    periods = schedule(date(2027, 1, 15), 12)
    assert terminated_schedule(periods, effective_date=date(2027, 7, 15)) == periods[:6]


def test_a_cut_period_is_priced_from_its_own_charge():
    periods = schedule(date(2027, 1, 31), 2)
    cut = served_part(periods[0], date(2027, 2, 14))  # 14 of February's 28 days

    assert (cut.days, cut.month_days, cut.amount) == (14, 28, Decimal("24960.00"))
    with pytest.raises(ValueError):
        served_part(periods[0], periods[0].end)


def test_termination_at_or_after_the_end_changes_nothing():
    periods = schedule(date(2027, 1, 15), 12)
    invoiced = {p.index: p.amount for p in periods}

    result = termination_adjustment(
        periods, effective_date=date(2028, 3, 1), amounts_invoiced=invoiced
    )

    assert list(result.schedule) == periods
    assert result.revised_total == Decimal("599040.00")
    assert result.balance == ZERO


def test_termination_at_the_start_credits_everything_invoiced():
    periods = schedule(date(2027, 1, 15), 12)

    result = termination_adjustment(
        periods, effective_date=date(2027, 1, 15), amounts_invoiced={0: periods[0].amount}
    )

    assert result.schedule == ()
    assert result.revised_total == ZERO
    assert result.credit_due == A800_MONTH


def test_termination_refuses_invoiced_amounts_for_unknown_periods():
    periods = schedule(date(2027, 1, 15), 12)

    with pytest.raises(ValueError):
        termination_adjustment(
            periods, effective_date=date(2027, 6, 20), amounts_invoiced={99: A800_MONTH}
        )
