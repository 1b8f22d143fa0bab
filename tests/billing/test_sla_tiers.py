"""SLA credit tiers as data: the credit of a contract month is the larger of the tier credit
(a share of the affected servers' monthly charge, by the month's measured uptime) and the
hour-based refund, capped at the month's charge."""

from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accounts.money import ZERO, quantize_money
from billing.credits.sla import CreditTier, OutageSpan, tier_credit_percent
from billing.models import Invoice, InvoiceLineKind
from inventory.models import Outage, SlaCreditTier
from inventory.sla_tiers import default_tiers, sla_tiers_create_defaults
from tests.billing.conftest import make_contract
from tests.billing.test_sla import JUNE, SHANGHAI, TWO_SERVERS_MONTH, at, june_credits, stake

DEFAULT = (
    CreditTier(Decimal("99.9"), Decimal("10")),
    CreditTier(Decimal("99"), Decimal("25")),
    CreditTier(Decimal("95"), Decimal("100")),
)


def tiered(outages, *, tiers=DEFAULT, **kwargs):
    from billing.credits.sla import sla_credits_for_period

    return sla_credits_for_period(
        outages,
        period_start=JUNE[0],
        period_end=JUNE[1],
        sla_uptime_percent=Decimal("99.9"),
        cluster_server_count=10,
        contract=kwargs.pop("contract", stake()),
        period_charge=kwargs.pop("period_charge", TWO_SERVERS_MONTH),
        tiers=tiers,
        **kwargs,
    )


@pytest.mark.parametrize(
    ("uptime", "percent"),
    [("100", "0"), ("99.9", "0"), ("99.899", "10"), ("99", "10"), ("98.99", "25"), ("94", "100")],
)
def test_the_highest_tier_below_which_the_uptime_falls_applies(uptime, percent):
    assert tier_credit_percent(DEFAULT, Decimal(uptime)) == Decimal(percent)


def test_default_tiers_start_at_the_promised_uptime():
    assert default_tiers(Decimal("99.9")) == [
        (Decimal("99.9"), Decimal("10")),
        (Decimal("99"), Decimal("25")),
        (Decimal("95"), Decimal("100")),
    ]
    assert default_tiers(Decimal("98")) == [(Decimal("98"), Decimal("10")), (Decimal("95"), 100)]


def test_a_whole_cluster_down_two_hours_gets_the_10_percent_tier_not_87_yuan():
    # 2 h of 720 h: 99.722 % uptime, below 99.9 %: 10 % of the two servers' month, all
    # affected (10 of 10 servers down). The hour-based refund is 1.28 h: 175.06.
    outage = OutageSpan(at(6, 10, 8), at(6, 10, 10), servers_affected=10)
    [hourly] = june_credits([outage])
    [credit] = tiered([outage])
    assert hourly.amount == Decimal("175.06")
    assert credit.amount == Decimal("9984.00")
    assert (credit.tier_percent, credit.tier_amount) == (Decimal("10"), Decimal("9808.94"))
    assert credit.uptime_percent.quantize(Decimal("0.001")) == Decimal("99.722")


def test_the_tier_credit_is_the_affected_servers_share():
    # 5 of 10 servers down: half of the contract's servers are expected to be hit.
    [credit] = tiered([OutageSpan(at(6, 10, 8), at(6, 10, 10), servers_affected=5)])
    assert credit.amount == Decimal("4992.00")


def test_within_the_promise_no_tier_applies():
    [credit] = tiered([OutageSpan(at(6, 10, 8), at(6, 10, 8, 30), servers_affected=10)])
    assert credit.amount == ZERO and credit.tier_percent == ZERO


def test_a_long_outage_credits_the_whole_month_but_never_more():
    # 40 h down: 94.4 % uptime, the 100 % tier, capped at the month's charge.
    [credit] = tiered([OutageSpan(at(6, 10), at(6, 11, 16), servers_affected=10)])
    assert credit.amount == TWO_SERVERS_MONTH


def test_what_was_credited_before_counts_toward_the_tier():
    first = OutageSpan(at(6, 3, 8), at(6, 3, 9), servers_affected=10, reference="1")
    second = OutageSpan(at(6, 20, 8), at(6, 20, 10), servers_affected=10, reference="2")
    credits = tiered([first, second], credited={"1": Decimal("500.00")})
    assert credits[0].amount == ZERO  # already credited
    # 3 h down: 99.583 %, the 10 % tier: 9,984.00 in all, of which 500.00 was given.
    assert credits[1].amount == Decimal("9484.00")


outage_spans = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=719 * 60),  # start, minutes into June
        st.integers(min_value=1, max_value=80 * 60),  # length in minutes
        st.integers(min_value=1, max_value=10),  # servers affected
    ),
    min_size=1,
    max_size=5,
)
tier_tables = st.lists(
    st.tuples(
        st.decimals(min_value=Decimal("80"), max_value=Decimal("100"), places=3),
        st.decimals(min_value=Decimal("0.01"), max_value=Decimal("100"), places=2),
    ),
    max_size=4,
    unique_by=lambda t: t[0],
)


@settings(max_examples=150, deadline=None)
@given(
    spans=outage_spans,
    table=tier_tables,
    charge=st.decimals(min_value=Decimal("0.01"), max_value=Decimal("500000"), places=2),
)
def test_the_month_credit_is_the_larger_of_tier_and_hours_capped_at_the_charge(
    spans, table, charge
):
    outages = [
        OutageSpan(JUNE[0] + timedelta(minutes=s), JUNE[0] + timedelta(minutes=s + n), k)
        for s, n, k in spans
    ]
    tiers = tuple(CreditTier(b, c) for b, c in table)
    hourly = sum((c.amount for c in june_credits(outages, period_charge=charge)), ZERO)
    credits = tiered(outages, tiers=tiers, period_charge=charge)
    total = sum((c.amount for c in credits), ZERO)
    percent = credits[0].tier_percent
    hit = max(o.servers_affected for o in outages)
    tier_total = quantize_money(charge * percent / 100 * hit / 10)
    assert total == min(charge, max(hourly, tier_total))
    assert hourly <= total <= charge
    assert all(c.amount >= ZERO for c in credits)
    assert percent == tier_credit_percent(tiers, credits[0].uptime_percent)


# --- through billing ------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_new_cluster_gets_the_default_tiers(cluster):
    created = sla_tiers_create_defaults(cluster=cluster)
    assert [(t.below_uptime_percent, t.credit_percent) for t in created] == default_tiers(
        cluster.sla_uptime_percent
    )
    assert len(sla_tiers_create_defaults(cluster=cluster)) == 3  # idempotent


@pytest.mark.django_db
def test_the_invoice_carries_the_tier_credit(customer, cluster, run_day):
    sla_tiers_create_defaults(cluster=cluster)
    contract = make_contract(customer, start=date(2027, 3, 1), stakes=[(cluster, 2)])
    Outage.objects.create(
        cluster=cluster,
        start=datetime(2027, 6, 10, 8, tzinfo=SHANGHAI),
        end=datetime(2027, 6, 10, 10, tzinfo=SHANGHAI),
        servers_affected=10,
        description="Power loss",
    )
    run_day(date(2027, 7, 1))
    july = Invoice.objects.get(contract=contract, period_start=date(2027, 7, 1))
    [line] = july.lines.filter(kind=InvoiceLineKind.SLA_CREDIT)
    assert line.amount == Decimal("-9984.00")  # 10 % of the month, not the 175.06 hours give
    assert "tier credit 10%" in line.description and "99.722%" in line.description


@pytest.mark.django_db
def test_a_cluster_without_tiers_keeps_the_hour_based_credit(customer, cluster, run_day):
    assert not SlaCreditTier.objects.filter(cluster=cluster).exists()
    contract = make_contract(customer, start=date(2027, 3, 1), stakes=[(cluster, 2)])
    Outage.objects.create(
        cluster=cluster,
        start=datetime(2027, 6, 10, 8, tzinfo=SHANGHAI),
        end=datetime(2027, 6, 10, 10, tzinfo=SHANGHAI),
        servers_affected=10,
        description="Power loss",
    )
    run_day(date(2027, 7, 1))
    july = Invoice.objects.get(contract=contract, period_start=date(2027, 7, 1))
    assert july.lines.get(kind=InvoiceLineKind.SLA_CREDIT).amount == Decimal("-175.06")


@pytest.mark.django_db
def test_default_tiers_follow_a_changed_promise(cluster):
    from inventory.services import cluster_update

    sla_tiers_create_defaults(cluster=cluster)
    cluster_update(cluster=cluster, changes={"sla_uptime_percent": Decimal("99.5")})
    tiers = SlaCreditTier.objects.filter(cluster=cluster)
    assert [(t.below_uptime_percent, t.credit_percent) for t in tiers] == default_tiers(
        Decimal("99.5")
    )
    SlaCreditTier.objects.filter(cluster=cluster, credit_percent=Decimal("25")).update(
        credit_percent=Decimal("30")
    )
    cluster_update(cluster=cluster, changes={"sla_uptime_percent": Decimal("99.9")})
    assert SlaCreditTier.objects.get(cluster=cluster, credit_percent=Decimal("30"))  # kept
