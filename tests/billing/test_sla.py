"""SLA credits: hours beyond the allowance of a contract month, proportional share, capped."""

from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from accounts.money import ZERO
from billing.credits.sla import (
    ContractStake,
    OutageSpan,
    sla_allowance_seconds,
    sla_credit,
    sla_credits_for_period,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
# Contract months from the 1st (any [start, end) window works the same).
JUNE = (datetime(2027, 6, 1, tzinfo=SHANGHAI), datetime(2027, 7, 1, tzinfo=SHANGHAI))  # 720 h
JULY = (datetime(2027, 7, 1, tzinfo=SHANGHAI), datetime(2027, 8, 1, tzinfo=SHANGHAI))  # 744 h
# 99.9 % of June's 720 h allows 0.72 h = 2,592 s.
A800_P = Decimal("4.992")
PRICE_PER_P_YEAR = Decimal("120000")
TWO_SERVERS_MONTH = Decimal("99840.00")  # 2 x 599,040 / 12


def at(month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(2027, month, day, hour, minute, tzinfo=SHANGHAI)


def stake(
    *, servers: int = 2, service_start: datetime | None = None, service_end: datetime | None = None
) -> ContractStake:
    return ContractStake(
        price_per_p_year=PRICE_PER_P_YEAR,
        p_per_server=A800_P,
        servers=servers,
        service_start=service_start or at(1, 1),
        service_end=service_end or datetime(2028, 1, 1, tzinfo=SHANGHAI),
    )


def june_credits(
    outages, *, contract=None, period_charge=TWO_SERVERS_MONTH, uptime="99.9", credited=None
):
    return sla_credits_for_period(
        outages,
        period_start=JUNE[0],
        period_end=JUNE[1],
        sla_uptime_percent=Decimal(uptime),
        cluster_server_count=10,
        contract=contract or stake(),
        period_charge=period_charge,
        credited=credited,
    )


def test_allowance_of_a_30_day_month_at_99_9_percent_is_0_72_hours():
    allowance = sla_allowance_seconds(
        period_start=JUNE[0], period_end=JUNE[1], sla_uptime_percent=Decimal("99.9")
    )
    assert allowance == Decimal("2592")  # 0.72 h


def test_outage_within_the_allowance_earns_nothing():
    [credit] = june_credits([OutageSpan(at(6, 3, 10), at(6, 3, 10, 43), servers_affected=10)])

    assert credit.credited_seconds == ZERO
    assert credit.amount == ZERO


def test_outage_beyond_the_allowance_is_credited_for_the_excess_hours():
    # 3 h outage of 5 of the cluster's 10 servers; the contract holds 2 of them, so its share is
    # 2 x 5/10 = 1 server = 4.992 P. Excess 3 - 0.72 = 2.28 h.
    # 4.992 P x 120,000 / 8,760 h x 2.28 h = 599,040 x 2.28 / 8,760 = 155.9145... -> 155.91
    credit = sla_credit(
        OutageSpan(at(6, 3, 10), at(6, 3, 13), servers_affected=5, reference="outage-1"),
        period_start=JUNE[0],
        period_end=JUNE[1],
        sla_uptime_percent=Decimal("99.9"),
        cluster_server_count=10,
        contract=stake(),
        period_charge=TWO_SERVERS_MONTH,
    )

    assert credit.outage.reference == "outage-1"
    assert credit.downtime_hours == Decimal(3)
    assert credit.credited_hours == Decimal("2.28")
    assert credit.affected_p == A800_P
    assert credit.amount == Decimal("155.91")


def test_share_is_proportional_to_the_contract_servers_on_the_cluster():
    # 1 server of 10 down; a 2-server contract is credited 2 x 1/10 = 0.2 server = 0.9984 P.
    # 0.9984 x 120,000 x 2.28 / 8,760 = 31.1829... -> 31.18
    [credit] = june_credits([OutageSpan(at(6, 3, 10), at(6, 3, 13), servers_affected=1)])

    assert credit.affected_p == Decimal("0.9984")
    assert credit.amount == Decimal("31.18")


def test_two_outages_in_a_month_share_one_allowance():
    # 0.5 h then 1 h: the first uses 1,800 s of the 2,592 s allowance, the second the other
    # 792 s, leaving 2,808 s = 0.78 h credited. 599,040 x 0.78 / 8,760 = 53.3391... -> 53.34
    first = OutageSpan(at(6, 3, 10), at(6, 3, 10, 30), servers_affected=5, reference="a")
    second = OutageSpan(at(6, 10, 8), at(6, 10, 9), servers_affected=5, reference="b")

    credits = june_credits([second, first])  # given out of order; allowance used in time order

    assert [c.outage.reference for c in credits] == ["b", "a"]  # returned in the order given
    assert [c.credited_seconds for c in credits] == [Decimal(2808), ZERO]
    assert [c.amount for c in credits] == [Decimal("53.34"), ZERO]


def test_overlapping_outages_use_the_allowance_once_for_their_common_time():
    # 09:00-10:00 (5 servers) and 09:30-10:30 (5 other servers): downtime union starts 09:00 and
    # reaches 2,592 s at 09:43:12. Credited: 16 min 48 s of the first, 46 min 48 s of the second.
    first = OutageSpan(at(6, 3, 9), at(6, 3, 10), servers_affected=5)
    second = OutageSpan(at(6, 3, 9, 30), at(6, 3, 10, 30), servers_affected=5)

    credits = june_credits([first, second])

    assert [c.credited_seconds for c in credits] == [Decimal(1008), Decimal(2808)]


def test_outage_spanning_a_month_boundary_is_split_between_the_months():
    # 22:00 on 30 June to 04:00 on 1 July: 2 h in June, 4 h in July, each month its own allowance.
    outage = OutageSpan(at(6, 30, 22), at(7, 1, 4), servers_affected=5)

    [june] = june_credits([outage])
    [july] = sla_credits_for_period(
        [outage],
        period_start=JULY[0],
        period_end=JULY[1],
        sla_uptime_percent=Decimal("99.9"),
        cluster_server_count=10,
        contract=stake(),
        period_charge=TWO_SERVERS_MONTH,
    )

    assert june.downtime_hours == Decimal(2)
    assert june.credited_hours == Decimal("1.28")  # 2 - 0.72
    assert june.amount == Decimal("87.53")  # 599,040 x 1.28 / 8,760 = 87.5287...
    assert july.downtime_hours == Decimal(4)
    assert july.credited_hours == Decimal("3.256")  # 4 - 0.744 (99.9 % of 744 h)
    assert july.amount == Decimal("222.66")  # 599,040 x 3.256 / 8,760 = 222.6575...


def test_only_time_in_the_contract_service_window_is_credited():
    # Service starts 15 June. The outage from 22:00 on the 14th uses the allowance before the
    # contract starts (the allowance is the cluster's); 2 h after midnight are credited.
    outage = OutageSpan(at(6, 14, 22), at(6, 15, 2), servers_affected=5)

    [credit] = june_credits([outage], contract=stake(service_start=at(6, 15)))

    assert credit.credited_hours == Decimal(2)
    assert credit.amount == Decimal("136.77")  # 599,040 x 2 / 8,760 = 136.7671...


def test_outage_outside_the_month_earns_nothing_this_month():
    [credit] = june_credits([OutageSpan(at(7, 2, 0), at(7, 2, 5), servers_affected=10)])

    assert credit.downtime_seconds == ZERO
    assert credit.amount == ZERO


def test_credit_is_capped_at_the_period_charge():
    # The whole of July down on every server: 743.256 h beyond the allowance x 1,198,080 / 8,760
    # = 101,652.98 for a month charged 99,840.00 (a 31-day month is more than 1/12 of 365 days).
    outage = OutageSpan(JULY[0], JULY[1], servers_affected=10)

    [credit] = sla_credits_for_period(
        [outage],
        period_start=JULY[0],
        period_end=JULY[1],
        sla_uptime_percent=Decimal("99.9"),
        cluster_server_count=10,
        contract=stake(),
        period_charge=TWO_SERVERS_MONTH,
    )

    assert credit.computed_amount == Decimal("101652.98")
    assert credit.amount == TWO_SERVERS_MONTH


def test_cap_is_shared_by_the_month_outages_in_time_order():
    first = OutageSpan(at(6, 3, 10), at(6, 3, 13), servers_affected=5)  # 155.91 uncapped
    second = OutageSpan(at(6, 10, 10), at(6, 10, 13), servers_affected=5)  # 3 h: 205.15

    credits = june_credits([second, first], period_charge=Decimal("200.00"))

    assert [c.computed_amount for c in credits] == [Decimal("205.15"), Decimal("155.91")]
    assert [c.amount for c in credits] == [Decimal("44.09"), Decimal("155.91")]


def test_outages_credited_before_are_not_credited_again_and_use_the_cap_first():
    first = OutageSpan(at(6, 3, 10), at(6, 3, 13), servers_affected=5, reference="1")
    second = OutageSpan(at(6, 10, 10), at(6, 10, 13), servers_affected=5, reference="2")

    credits = june_credits(
        [first, second], period_charge=Decimal("200.00"), credited={"1": Decimal("155.91")}
    )

    assert [c.amount for c in credits] == [ZERO, Decimal("44.09")]


def test_full_uptime_sla_credits_every_second():
    [credit] = june_credits(
        [OutageSpan(at(6, 3, 10), at(6, 3, 11), servers_affected=5)], uptime="100"
    )

    assert credit.credited_hours == Decimal(1)
    assert credit.amount == Decimal("68.38")  # 599,040 / 8,760 = 68.3835...


@pytest.mark.parametrize(
    "outage",
    [
        OutageSpan(at(6, 3, 10), at(6, 3, 9), servers_affected=1),  # ends before it starts
        OutageSpan(at(6, 3, 10), at(6, 3, 11), servers_affected=11),  # more than the cluster
    ],
)
def test_invalid_outages_are_refused(outage):
    with pytest.raises(ValueError):
        june_credits([outage])


def test_invalid_uptime_is_refused():
    with pytest.raises(ValueError):
        june_credits([], uptime="100.1")


@given(
    starts=st.lists(st.integers(min_value=-100_000, max_value=2_600_000), min_size=1, max_size=6),
    lengths=st.lists(st.integers(min_value=0, max_value=200_000), min_size=6, max_size=6),
    affected=st.lists(st.integers(min_value=0, max_value=10), min_size=6, max_size=6),
    charge=st.decimals(min_value=0, max_value=200_000, places=2),
)
def test_credits_never_exceed_the_charge_or_the_excess_downtime(starts, lengths, affected, charge):
    outages = [
        OutageSpan(
            JUNE[0] + timedelta(seconds=s),
            JUNE[0] + timedelta(seconds=s + length),
            servers_affected=n,
        )
        for s, length, n in zip(starts, lengths, affected, strict=False)
    ]

    credits = june_credits(outages, period_charge=charge)

    assert sum((c.amount for c in credits), ZERO) <= charge
    assert all(ZERO <= c.amount <= c.computed_amount for c in credits)
    assert all(c.credited_seconds <= c.downtime_seconds for c in credits)
    total_downtime = sum((c.downtime_seconds for c in credits), ZERO)
    total_credited = sum((c.credited_seconds for c in credits), ZERO)
    assert total_credited <= max(ZERO, total_downtime - Decimal(2592))
