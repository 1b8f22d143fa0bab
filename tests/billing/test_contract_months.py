"""Contract months through the real services, on PostgreSQL: invoices anchored on the start,
every month annual / 12, the total to the fen, and termination by the days served.

Property tests draw starts (the 29th-31st and 29 February often), terms of 1-60 months and
prices, sign contracts as ``quote_accept`` leaves them, bill them with
``invoices_issue_chunk`` and settle terminations with ``terminations_settle`` and
``marketplace.services.contract_terminate``: the same services the daily run calls.
"""

import calendar
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts.money import ZERO
from billing import selectors
from billing.credits.terminations import terminations_settle
from billing.invoicing.issue import invoices_issue_chunk
from billing.models import CreditNote, Invoice, InvoiceLine
from billing.tasks.daily import run_day_now
from marketplace import services as market
from marketplace.pricing import exact_annual_price
from marketplace.terms import months_after
from tests.billing.conftest import make_contract, new_customer
from tests.factories import ClusterFactory, gpu

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

FEN = Decimal("0.01")
DB_SETTINGS = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture(autouse=True)
def _postgres_only():
    if connection.vendor != "postgresql":
        pytest.skip("the billing properties are proven on PostgreSQL")


month_ends = st.builds(
    lambda year, month, day: date(year, month, min(day, calendar.monthrange(year, month)[1])),
    st.integers(2026, 2031),
    st.integers(1, 12),
    st.integers(28, 31),
)
starts = st.one_of(
    st.dates(min_value=date(2026, 1, 1), max_value=date(2031, 12, 31)),
    month_ends,
    st.sampled_from([date(2028, 2, 29), date(2027, 1, 31), date(2027, 2, 17)]),
)
terms = st.integers(min_value=1, max_value=60)
prices = st.decimals(min_value=Decimal("1000"), max_value=Decimal("400000"), places=6)


def rentals(contract) -> list[InvoiceLine]:
    return list(
        InvoiceLine.objects.filter(invoice__contract=contract, kind="rental").order_by(
            "invoice__period_start"
        )
    )


def exact_annual(contract) -> Decimal:
    return exact_annual_price((line.p, line.price_per_p_year) for line in contract.lines.all())


def charged(contract) -> Decimal:
    """What the customer is charged net of credit notes: rentals less credits."""
    lines = sum((line.amount for line in rentals(contract)), ZERO)
    notes = sum((n.amount for n in CreditNote.objects.filter(invoice__contract=contract)), ZERO)
    return lines - notes


@DB_SETTINGS
@given(start=starts, term=terms, servers=st.integers(1, 8), price=prices)
def test_invoices_are_contract_months_at_annual_over_twelve_adding_up_to_the_price(
    cluster, start, term, servers, price
):
    contract = make_contract(
        new_customer(),
        start=start,
        term_months=term,
        stakes=[(cluster, servers)],
        price_per_p_year=price,
    )
    annual = exact_annual(contract)
    # Billed as the daily run would: on the start, a month and a bit later, then caught up.
    for day in (start, start + timedelta(days=40), contract.end_date):
        invoices_issue_chunk(contract_ids=[contract.pk], today=day)

    invoices = list(Invoice.objects.filter(contract=contract).order_by("period_start"))
    assert len(invoices) == term
    for k, invoice in enumerate(invoices):
        assert invoice.period_start == months_after(start, k)  # anchored on the start
        assert invoice.period_end == months_after(start, k + 1)
        [line] = invoice.lines.all()
        assert (line.period_start, line.period_end) == (invoice.period_start, invoice.period_end)
    # Every month, the last included, bills annual / 12 within a fen; the sum is the
    # contract's price to the fen.
    for invoice in invoices:
        assert abs(invoice.total - annual / 12) < FEN
    assert sum((i.total for i in invoices), ZERO) == contract.total_price


@DB_SETTINGS
@given(
    start=starts,
    term=st.integers(min_value=2, max_value=60),
    price=prices,
    k=st.integers(min_value=1, max_value=27),
    in_advance=st.booleans(),
)
def test_ending_k_days_early_lowers_the_total_by_k_days_price_within_a_fen(
    cluster, staff_user, start, term, price, k, in_advance
):
    contract = make_contract(
        new_customer(), start=start, term_months=term, stakes=[(cluster, 1)], price_per_p_year=price
    )
    full = selectors.contract_periods(contract)
    last = full[-1]
    effective = last.end - timedelta(days=k)
    if in_advance:  # the last month was invoiced before the termination: a credit note
        invoices_issue_chunk(contract_ids=[contract.pk], today=last.start)
    market.contract_terminate(
        contract=contract,
        by=staff_user,
        reason="Property test",
        effective_date=effective,
        today=start,
    )
    contract.refresh_from_db()
    invoices_issue_chunk(contract_ids=[contract.pk], today=contract.end_date)
    terminations_settle(today=contract.end_date)
    terminations_settle(today=contract.end_date)  # settling again changes nothing

    day_price = last.amount / last.days  # that period's charge / its days
    saved = contract.total_price - charged(contract)
    assert abs(saved - k * day_price) <= FEN
    assert CreditNote.objects.filter(invoice__contract=contract).count() == (1 if in_advance else 0)


# --- the issue's contract -------------------------------------------------------------------
@pytest.fixture
def h800(provider):
    """Three 8-card H800 servers (15.832 P each) at CNY 135,000 per P per year."""
    return ClusterFactory(
        provider=provider,
        gpu_model=gpu("H800-80G"),
        server_count=3,
        price_per_p_year=Decimal("135000"),
        available_from=date(2020, 1, 1),
    )


def test_seven_months_from_17_february_bill_seven_equal_contract_months(
    customer, h800, payments_calls
):
    contract = make_contract(customer, start=date(2027, 2, 17), term_months=7, stakes=[(h800, 3)])
    assert contract.total_p == Decimal("47.496")
    assert contract.total_price == Decimal("3740310.00")

    run_day_now(date(2027, 9, 17))

    invoices = list(Invoice.objects.filter(contract=contract).order_by("period_start"))
    assert [(i.period_start, i.period_end, i.total) for i in invoices] == [
        (date(2027, 2, 17), date(2027, 3, 17), Decimal("534330.00")),
        (date(2027, 3, 17), date(2027, 4, 17), Decimal("534330.00")),
        (date(2027, 4, 17), date(2027, 5, 17), Decimal("534330.00")),
        (date(2027, 5, 17), date(2027, 6, 17), Decimal("534330.00")),
        (date(2027, 6, 17), date(2027, 7, 17), Decimal("534330.00")),
        (date(2027, 7, 17), date(2027, 8, 17), Decimal("534330.00")),
        (date(2027, 8, 17), date(2027, 9, 17), Decimal("534330.00")),
    ]
    last_line = invoices[-1].lines.get()
    assert "2027-08-17 to 2027-09-16 (contract month 7 of 7)" in last_line.description
    assert sum(i.total for i in invoices) == contract.total_price


def test_ending_that_contract_a_day_early_credits_one_days_price(
    customer, h800, staff_user, payments_calls
):
    contract = make_contract(customer, start=date(2027, 2, 17), term_months=7, stakes=[(h800, 3)])
    run_day_now(date(2027, 8, 17))  # the last month billed in advance
    market.contract_terminate(
        contract=contract,
        by=staff_user,
        reason="Ends a day early",
        effective_date=date(2027, 9, 16),
        today=date(2027, 8, 20),
    )
    run_day_now(date(2027, 8, 21))

    [note] = CreditNote.objects.filter(invoice__contract=contract)
    assert note.amount == Decimal("17236.45")  # 534,330.00 / 31 days
    assert "1 day(s) of the contract month 2027-08-17 to 2027-09-16 not provided" in note.reason
