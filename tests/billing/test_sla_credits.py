"""SLA credits on invoices: outage hours beyond the cluster's monthly allowance, the contract's
proportional share, capped at the month's charge, once per outage and contract.

Figures by hand. The cluster has 10 A800 servers (4.992 P each) at CNY 120,000 per P per year
with a 99.9 % SLA. One server-hour costs 4.992 x 120,000 / 8,760 = CNY 68.38356... June has
720 h, so its allowance is 0.72 h; July's (744 h) is 0.744 h.
"""

from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from accounts.money import ZERO
from billing.models import Invoice, SlaCredit
from inventory.models import Outage
from tests.billing.conftest import make_contract, new_customer

pytestmark = pytest.mark.django_db

SHANGHAI = ZoneInfo("Asia/Shanghai")
MARCH, JUNE, JULY, AUGUST = date(2027, 3, 1), date(2027, 6, 1), date(2027, 7, 1), date(2027, 8, 1)
TWO_SERVERS_MONTH = Decimal("99840.00")  # 2 x 599,040 / 12


def at(month: int, day: int, hour: int = 0) -> datetime:
    return datetime(2027, month, day, hour, tzinfo=SHANGHAI)


def outage(cluster, start: datetime, end: datetime, servers: int) -> Outage:
    return Outage.objects.create(
        cluster=cluster, start=start, end=end, servers_affected=servers, description="PSU fault"
    )


def invoice_for(contract, month: date) -> Invoice:
    return Invoice.objects.get(contract=contract, period_start=month)


def credit_lines(invoice: Invoice) -> list[Decimal]:
    return [line.amount for line in invoice.lines.filter(kind="sla_credit")]


@pytest.fixture
def contract(customer, cluster):
    """Two of the ten servers for a year from March."""
    return make_contract(customer, start=MARCH, term_months=12, stakes=[(cluster, 2)])


def test_an_outage_within_the_allowance_earns_no_credit(contract, cluster, run_day):
    outage(cluster, at(6, 10, 8), at(6, 10, 8) + (at(6, 1, 1) - at(6, 1)) / 2, servers=10)  # 0.5 h
    run_day(JULY)
    july = invoice_for(contract, JULY)
    assert credit_lines(july) == []
    assert july.total == TWO_SERVERS_MONTH
    [credit] = SlaCredit.objects.all()  # looked at once, worth nothing
    assert credit.amount == ZERO and credit.invoice_line is None


def test_hours_beyond_the_allowance_are_credited_on_the_next_invoice(contract, cluster, run_day):
    # 5 of 10 servers down 2 h: the contract's share is 2 x 5 / 10 = 1 server. Beyond the
    # allowance: 2 - 0.72 = 1.28 h. 1 x 68.38356... x 1.28 = 87.5309... -> CNY 87.53.
    down = outage(cluster, at(6, 10, 8), at(6, 10, 10), servers=5)
    run_day(JUNE)
    assert credit_lines(invoice_for(contract, JUNE)) == []  # June is not over yet
    run_day(JULY)
    july = invoice_for(contract, JULY)
    assert credit_lines(july) == [Decimal("-87.53")]
    assert july.total == TWO_SERVERS_MONTH - Decimal("87.53")
    assert july.subtotal + july.tax == july.total
    line = july.lines.get(kind="sla_credit")
    assert "1.28 h beyond the 99.9% allowance of the contract month" in line.description
    assert (line.period_start, line.period_end) == (date(2027, 6, 10), date(2027, 6, 11))
    [credit] = SlaCredit.objects.all()
    assert (credit.contract, credit.outage, credit.amount) == (contract, down, Decimal("87.53"))
    assert credit.credited_hours == Decimal("1.2800")
    assert credit.invoice_line == line
    down.refresh_from_db()
    assert down.invoiced_at is not None  # used by billing: now locked


def test_each_contract_on_the_cluster_gets_its_proportional_share(customer, cluster, run_day):
    two = make_contract(customer, start=MARCH, stakes=[(cluster, 2)])
    three = make_contract(new_customer(), start=MARCH, stakes=[(cluster, 3)])
    outage(cluster, at(6, 10, 8), at(6, 10, 10), servers=5)
    run_day(JULY)
    assert credit_lines(invoice_for(two, JULY)) == [Decimal("-87.53")]
    # 3 x 5 / 10 = 1.5 servers: 1.5 x 68.38356... x 1.28 = 131.296... -> 131.30
    assert credit_lines(invoice_for(three, JULY)) == [Decimal("-131.30")]


def test_credits_are_capped_at_the_months_charge(contract, cluster, run_day):
    # Two records of every server down all June (a duplicate report). Each alone would be worth
    # 2 x 68.38356... x (720 - 0.72) = 98,373.86; together they are capped at June's charge.
    first = outage(cluster, at(6, 1), at(7, 1), servers=10)
    second = outage(cluster, at(6, 1), at(7, 1), servers=10)
    run_day(JULY)
    july = invoice_for(contract, JULY)
    by_outage = {c.outage_id: c.amount for c in SlaCredit.objects.all()}
    assert by_outage[first.pk] == Decimal("98373.86")
    assert by_outage[first.pk] + by_outage[second.pk] == TWO_SERVERS_MONTH
    assert sum(credit_lines(july), ZERO) == -TWO_SERVERS_MONTH
    assert july.total == ZERO
    assert july.status == "paid"  # nothing left to pay


def test_an_outage_is_credited_once_per_contract(contract, cluster, run_day):
    outage(cluster, at(6, 10, 8), at(6, 10, 10), servers=5)
    run_day(JULY)
    run_day(JULY)
    run_day(AUGUST)
    assert SlaCredit.objects.count() == 1
    assert credit_lines(invoice_for(contract, AUGUST)) == []


def test_an_outage_over_a_month_end_is_credited_when_both_months_are_over(
    contract, cluster, run_day
):
    # June 30 23:00 to July 1 02:00, every server: the contract's share is 2 servers.
    # June: 1 h - 0.72 = 0.28 h -> 38.29; July: 2 h - 0.744 = 1.256 h -> 171.78.
    outage(cluster, at(6, 30, 23), at(7, 1, 2), servers=10)
    run_day(JULY)
    assert credit_lines(invoice_for(contract, JULY)) == []
    run_day(AUGUST)
    assert credit_lines(invoice_for(contract, AUGUST)) == [Decimal("-210.07")]


def test_outages_before_the_contract_started_earn_nothing(customer, cluster, run_day):
    outage(cluster, at(5, 10, 8), at(5, 10, 20), servers=10)
    late = make_contract(customer, start=JUNE, stakes=[(cluster, 2)])
    run_day(JULY)
    assert credit_lines(invoice_for(late, JULY)) == []
    assert not SlaCredit.objects.exists()


def test_outages_of_other_clusters_do_not_count(contract, provider, run_day):
    from tests.factories import ClusterFactory

    elsewhere = ClusterFactory(provider=provider, available_from=date(2020, 1, 1))
    outage(elsewhere, at(6, 10, 8), at(6, 10, 20), servers=4)
    run_day(JULY)
    assert credit_lines(invoice_for(contract, JULY)) == []
