"""16 threads race for the last free servers of one cluster on PostgreSQL."""

import threading
from datetime import date

import pytest
from django.db import connection, connections

from inventory import services
from inventory.capacity import Usage, peak_usage
from inventory.errors import CapacityUnavailable
from inventory.models import Allocation, AllocationKind
from tests.factories import ClusterFactory

THREADS = 16
JAN, JUL = date(2027, 1, 1), date(2027, 7, 1)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_sixteen_threads_racing_for_the_last_servers_never_overbook():
    if connection.vendor != "postgresql":
        pytest.skip("row locks are only proven on PostgreSQL")
    cluster = ClusterFactory(server_count=10)
    services.capacity_reserve(
        cluster_id=cluster.pk,
        servers=7,
        start=JAN,
        end=JUL,
        kind=AllocationKind.BOOKING,
        reference="existing",
    )
    free = 3  # each thread wants 1 server over an overlapping window
    barrier = threading.Barrier(THREADS)
    won, lost, errors = [], [], []

    def worker(index: int) -> None:
        try:
            barrier.wait(timeout=30)
            services.capacity_reserve(
                cluster_id=cluster.pk,
                servers=1,
                start=date(2027, 2 + index % 3, 1),
                end=date(2027, 8, 1),
                kind=AllocationKind.BOOKING,
                reference=f"racer:{index}",
            )
            won.append(index)
        except CapacityUnavailable as exc:
            lost.append(exc.free_servers)
        except Exception as exc:  # any other error fails the test below
            errors.append(repr(exc))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    assert len(won) == free
    assert len(lost) == THREADS - free
    assert all(free_seen == 0 for free_seen in lost)
    rows = Allocation.objects.filter(cluster=cluster)
    usages = [Usage(a.start, a.end, a.servers) for a in rows]
    assert peak_usage(usages, start=JAN, end=date(2027, 9, 1)) == cluster.server_count
