from datetime import date, timedelta

import pytest
from django.utils import timezone

from inventory import services
from inventory.errors import CapacityUnavailable
from inventory.models import Allocation, AllocationKind
from inventory.selectors import cluster_free_servers
from inventory.services import ReservationRequest
from inventory.tasks import purge_expired_holds
from tests.factories import ClusterFactory

pytestmark = pytest.mark.django_db

JAN, APR, JUL = date(2027, 1, 1), date(2027, 4, 1), date(2027, 7, 1)


def reserve(cluster, servers, start=JAN, end=APR, **kwargs):
    kwargs.setdefault("kind", AllocationKind.BOOKING)
    kwargs.setdefault("reference", "contract:1")
    return services.capacity_reserve(
        cluster_id=cluster.pk, servers=servers, start=start, end=end, **kwargs
    )


def test_reserving_within_free_capacity_records_the_allocation():
    cluster = ClusterFactory(server_count=4)
    allocation = reserve(cluster, 3)
    assert (allocation.servers, allocation.start, allocation.end) == (3, JAN, APR)
    assert cluster_free_servers(cluster, start=JAN, end=APR) == 1


def test_reserving_more_than_free_raises_with_what_is_free_and_writes_nothing():
    cluster = ClusterFactory(server_count=4)
    reserve(cluster, 3)
    with pytest.raises(CapacityUnavailable) as caught:
        reserve(cluster, 2, start=date(2027, 3, 1), end=JUL)
    assert caught.value.free_servers == 1
    assert caught.value.requested == 2
    assert "has 1 server free" in caught.value.message
    assert Allocation.objects.count() == 1


def test_sequential_bookings_can_share_servers_over_time():
    cluster = ClusterFactory(server_count=4)
    reserve(cluster, 3, JAN, APR)
    reserve(cluster, 3, APR, JUL)
    reserve(cluster, 1, JAN, JUL)
    with pytest.raises(CapacityUnavailable):
        reserve(cluster, 1, JAN, JUL)


def test_reserve_many_is_all_or_nothing():
    a, b = ClusterFactory(server_count=2), ClusterFactory(server_count=2)
    with pytest.raises(CapacityUnavailable) as caught:
        services.capacity_reserve_many(
            requests=[ReservationRequest(a.pk, 2, JAN, APR), ReservationRequest(b.pk, 3, JAN, APR)],
            kind=AllocationKind.BOOKING,
            reference="contract:2",
        )
    assert caught.value.cluster_id == b.pk
    assert not Allocation.objects.exists()


def test_two_requests_on_one_cluster_in_one_call_both_count():
    cluster = ClusterFactory(server_count=3)
    with pytest.raises(CapacityUnavailable):
        services.capacity_reserve_many(
            requests=[ReservationRequest(cluster.pk, 2, JAN, APR)] * 2,
            kind=AllocationKind.BOOKING,
            reference="x",
        )


def test_reserving_outside_the_availability_window_is_refused():
    cluster = ClusterFactory(server_count=4, available_from=APR)
    with pytest.raises(CapacityUnavailable):
        reserve(cluster, 1, JAN, JUL)


def test_holds_need_an_expiry_and_bookings_must_not_have_one():
    cluster = ClusterFactory()
    with pytest.raises(Exception, match="hold needs an expiry"):
        reserve(cluster, 1, kind=AllocationKind.HOLD)
    with pytest.raises(Exception, match="Only holds expire"):
        reserve(cluster, 1, expires_at=timezone.now())


def test_an_expired_hold_frees_its_servers_before_any_job_runs():
    cluster = ClusterFactory(server_count=4)
    now = timezone.now()
    reserve(
        cluster,
        4,
        kind=AllocationKind.HOLD,
        reference="quote:1",
        expires_at=now + timedelta(minutes=30),
    )
    with pytest.raises(CapacityUnavailable):
        reserve(cluster, 1, now=now)
    later = now + timedelta(minutes=31)
    assert reserve(cluster, 4, now=later).servers == 4


def test_purge_task_deletes_only_expired_holds_and_is_idempotent():
    cluster = ClusterFactory(server_count=10)
    now = timezone.now()
    reserve(cluster, 1, kind=AllocationKind.HOLD, reference="q1", expires_at=now - timedelta(1))
    reserve(cluster, 1, kind=AllocationKind.HOLD, reference="q2", expires_at=now + timedelta(1))
    reserve(cluster, 1)
    assert purge_expired_holds.delay().get() == 1
    assert purge_expired_holds.delay().get() == 0
    assert set(Allocation.objects.values_list("reference", flat=True)) == {"q2", "contract:1"}


def test_confirming_valid_holds_turns_them_into_bookings():
    cluster = ClusterFactory(server_count=4)
    reserve(
        cluster,
        2,
        kind=AllocationKind.HOLD,
        reference="quote:9",
        expires_at=timezone.now() + timedelta(minutes=30),
    )
    booked = services.holds_confirm(hold_reference="quote:9", booking_reference="contract:9")
    assert [(a.kind, a.servers, a.expires_at) for a in booked] == [("booking", 2, None)]
    assert not Allocation.objects.filter(reference="quote:9").exists()


def test_confirming_an_expired_hold_rebooks_if_still_free_else_refuses():
    cluster = ClusterFactory(server_count=4)
    now = timezone.now()
    reserve(
        cluster,
        3,
        kind=AllocationKind.HOLD,
        reference="quote:1",
        expires_at=now - timedelta(minutes=1),
    )
    booked = services.holds_confirm(hold_reference="quote:1", booking_reference="contract:1")
    assert sum(a.servers for a in booked) == 3

    reserve(
        cluster,
        1,
        kind=AllocationKind.HOLD,
        reference="quote:2",
        expires_at=now - timedelta(minutes=1),
    )
    reserve(cluster, 1, reference="contract:other")  # takes the last server
    with pytest.raises(CapacityUnavailable):
        services.holds_confirm(hold_reference="quote:2", booking_reference="contract:2")
    assert Allocation.objects.filter(reference="quote:2", kind="hold").exists()


def test_release_and_truncate():
    cluster = ClusterFactory(server_count=4)
    reserve(cluster, 4, JAN, JUL, reference="contract:5")
    assert services.allocations_truncate(reference="contract:5", end=APR) == 1
    assert cluster_free_servers(cluster, start=APR, end=JUL) == 4
    assert cluster_free_servers(cluster, start=JAN, end=APR) == 0
    assert services.capacity_release(reference="contract:5") == 1
    assert cluster_free_servers(cluster, start=JAN, end=APR) == 4
