"""Free capacity is server_count minus the PEAK usage in the window, never the sum."""

import itertools
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from inventory.capacity import FreeSpan, Usage, free_timeline, peak_usage, usage_steps
from inventory.models import Allocation, Cluster
from inventory.selectors import (
    cluster_availability,
    cluster_free_servers,
    free_servers,
    free_servers_from_ledger,
)
from inventory.services import usage_steps_rebuild
from tests.factories import ClusterFactory

JAN, APR, JUL = date(2027, 1, 1), date(2027, 4, 1), date(2027, 7, 1)


def book(cluster, servers, start, end, kind="booking", expires_at=None):
    """Write a ledger row directly (bypassing the capacity check) and refresh derived steps."""
    allocation = Allocation.objects.create(
        cluster=cluster,
        kind=kind,
        servers=servers,
        start=start,
        end=end,
        expires_at=expires_at,
        reference="test",
    )
    usage_steps_rebuild(cluster_ids=[cluster.pk])
    return allocation


# --- pure -----------------------------------------------------------------------------------
def test_peak_not_sum_for_sequential_bookings():
    usages = [Usage(JAN, APR, 3), Usage(APR, JUL, 3)]
    assert peak_usage(usages, start=JAN, end=JUL) == 3


def test_overlapping_bookings_add_up():
    usages = [Usage(JAN, APR, 3), Usage(date(2027, 3, 31), JUL, 1)]
    assert peak_usage(usages, start=JAN, end=JUL) == 4


def test_touching_window_edges_do_not_count():
    usages = [Usage(JAN, APR, 3)]
    assert peak_usage(usages, start=APR, end=JUL) == 0
    assert peak_usage(usages, start=date(2026, 10, 1), end=JAN) == 0


def test_timeline_is_piecewise_and_merged():
    spans = free_timeline(
        server_count=4,
        usages=[
            Usage(JAN, APR, 3),
            Usage(APR, JUL, 3),
            Usage(date(2027, 5, 1), date(2027, 6, 1), 1),
        ],
        start=date(2026, 12, 1),
        end=date(2027, 8, 1),
        available_from=JAN,
        available_until=None,
    )
    assert spans == [
        FreeSpan(date(2026, 12, 1), JAN, 0),  # before availability
        FreeSpan(JAN, date(2027, 5, 1), 1),  # merged across the back-to-back bookings
        FreeSpan(date(2027, 5, 1), date(2027, 6, 1), 0),
        FreeSpan(date(2027, 6, 1), JUL, 1),
        FreeSpan(JUL, date(2027, 8, 1), 4),
    ]


# --- SQL ------------------------------------------------------------------------------------
@pytest.mark.django_db
def test_four_server_cluster_with_3_booked_jan_mar_and_3_apr_jun_has_1_free_jan_jun():
    cluster = ClusterFactory(server_count=4, available_from=JAN)
    book(cluster, 3, JAN, APR)
    book(cluster, 3, APR, JUL)
    assert cluster_free_servers(cluster, start=JAN, end=JUL) == 1
    assert cluster_free_servers(cluster, start=JAN, end=APR) == 1
    assert cluster_free_servers(cluster, start=JUL, end=date(2027, 9, 1)) == 4


@pytest.mark.django_db
def test_back_to_back_and_touching_windows_in_sql():
    cluster = ClusterFactory(server_count=4, available_from=JAN)
    book(cluster, 4, JAN, APR)
    # A window that starts exactly when the booking ends is fully free.
    assert cluster_free_servers(cluster, start=APR, end=JUL) == 4
    # A window that ends exactly when a booking starts is fully free.
    book(cluster, 2, JUL, date(2027, 10, 1))
    assert cluster_free_servers(cluster, start=APR, end=JUL) == 4
    # Including one day of either booking counts it.
    assert cluster_free_servers(cluster, start=APR - timedelta(days=1), end=JUL) == 0
    assert cluster_free_servers(cluster, start=APR, end=JUL + timedelta(days=1)) == 2


@pytest.mark.django_db
def test_nothing_free_outside_availability_window():
    cluster = ClusterFactory(server_count=4, available_from=APR, available_until=JUL)
    assert cluster_free_servers(cluster, start=JAN, end=JUL) == 0
    assert cluster_free_servers(cluster, start=APR, end=date(2027, 8, 1)) == 0
    assert cluster_free_servers(cluster, start=APR, end=JUL) == 4


@pytest.mark.django_db
def test_expired_holds_stop_counting_at_once():
    cluster = ClusterFactory(server_count=4)
    now = timezone.now()
    book(cluster, 2, JAN, APR, kind="hold", expires_at=now + timedelta(minutes=5))
    book(cluster, 2, JAN, APR, kind="hold", expires_at=now - timedelta(seconds=1))
    assert cluster_free_servers(cluster, start=JAN, end=APR, now=now) == 2
    assert cluster_free_servers(cluster, start=JAN, end=APR, now=now + timedelta(minutes=6)) == 4


@pytest.mark.django_db
def test_free_capacity_filters_by_min_free_p_and_orders_by_price():
    cheap = ClusterFactory(server_count=2, price_per_p_year=100_000)
    dear = ClusterFactory(server_count=10, price_per_p_year=150_000)
    full = ClusterFactory(server_count=2, price_per_p_year=90_000)
    book(full, 2, JAN, JUL)
    everything = Cluster.objects.all()
    expected = {full.pk: 0, cheap.pk: 2, dear.pk: 10}
    assert list(free_servers(everything, start=JAN, end=JUL).items()) == list(expected.items())
    assert free_servers_from_ledger(everything, start=JAN, end=JUL) == expected
    # 2 A800 servers are 9.984 P: asking for 9.984 keeps them, 9.985 drops them.
    kept = free_servers(everything, start=JAN, end=JUL, min_free_p=Decimal("9.984"))
    assert list(kept) == [cheap.pk, dear.pk]
    dropped = free_servers(everything, start=JAN, end=JUL, min_free_p=Decimal("9.985"))
    assert list(dropped) == [dear.pk]


windows = st.tuples(st.integers(0, 40), st.integers(1, 20)).map(
    lambda pair: (JAN + timedelta(days=pair[0]), JAN + timedelta(days=pair[0] + pair[1]))
)


@pytest.mark.django_db
@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    bookings=st.lists(st.tuples(windows, st.integers(1, 3)), max_size=8),
    window=windows,
)
def test_sql_free_capacity_equals_the_pure_timeline(bookings, window):
    Allocation.objects.all().delete()
    Cluster.objects.all().delete()
    cluster = ClusterFactory(server_count=30, available_from=JAN)
    for (start, end), servers in bookings:
        book(cluster, servers, start, end)
    start, end = window
    expected = min(
        span.free_servers for span in cluster_availability(cluster, start=start, end=end)
    )
    assert cluster_free_servers(cluster, start=start, end=end) == expected
    usages = [Usage(s, e, n) for (s, e), n in bookings]
    assert expected == 30 - peak_usage(usages, start=start, end=end)
    # The pruned search decides exactly like the exact sweep, at every threshold.
    for need in {expected - 1, expected, expected + 1}:
        if need < 0:
            continue
        min_free_p = cluster.rated_p_per_server * need
        found = free_servers(Cluster.objects.all(), start=start, end=end, min_free_p=min_free_p)
        assert list(found) == ([cluster.pk] if expected >= need else [])
    assert free_servers_from_ledger(Cluster.objects.all(), start=start, end=end) == {
        cluster.pk: expected
    }
    narrow = free_servers(Cluster.objects.all(), start=start, end=end, narrow=True)
    assert narrow == {cluster.pk: expected}


@given(st.lists(st.tuples(windows, st.integers(1, 3)), max_size=8), windows)
def test_usage_steps_give_the_same_peak_as_the_sweep(bookings, window):
    usages = [Usage(s, e, n) for (s, e), n in bookings]
    steps = usage_steps(usages)
    start, end = window
    overlapping = [step.servers for step in steps if step.start < end and step.end > start]
    assert max(overlapping, default=0) == peak_usage(usages, start=start, end=end)
    assert all(a.end <= b.start for a, b in itertools.pairwise(steps))


@pytest.mark.django_db
def test_search_counts_unexpired_holds_exactly():
    cluster = ClusterFactory(server_count=4)
    now = timezone.now()
    book(cluster, 2, JAN, APR)
    book(cluster, 1, APR, JUL, kind="hold", expires_at=now + timedelta(minutes=5))
    one_server = cluster.rated_p_per_server

    # Jan-Jul: peak is 2 (booking) vs 1 (hold) at different times: 2 servers free.
    def found(servers, at):
        result = free_servers(
            Cluster.objects.all(), start=JAN, end=JUL, min_free_p=servers * one_server, now=at
        )
        return list(result)

    assert found(2, now) == [cluster.pk]
    assert found(3, now) == []
    book(cluster, 2, APR, JUL, kind="hold", expires_at=now + timedelta(minutes=5))
    assert found(2, now) == []
    assert found(2, now + timedelta(minutes=6)) == [cluster.pk]
