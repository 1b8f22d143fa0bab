"""Two customers accept quotes for the last servers at once, on PostgreSQL: one wins."""

import threading
from datetime import date, timedelta

import pytest
from django.db import connection, connections
from django.utils import timezone

from inventory.capacity import Usage, peak_usage
from inventory.models import Allocation, AllocationKind
from marketplace import services
from marketplace.models import Contract, Quote
from tests.conftest import client_for
from tests.factories import ClusterFactory, OrganizationFactory, capacity_request, member_of


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_customers_racing_for_the_last_servers_one_wins_one_gets_409():
    if connection.vendor != "postgresql":
        pytest.skip("row locks are only proven on PostgreSQL")
    cluster = ClusterFactory(server_count=2, available_from=date(2020, 1, 1))
    contenders = []
    for name in ("Racer A", "Racer B"):
        customer = OrganizationFactory(name=name)
        user = member_of(customer)
        request = capacity_request(customer, servers=2, single_cluster=True)
        # Each gets a quote for both servers: A's hold is lapsed first so B can be quoted too.
        Allocation.objects.filter(kind=AllocationKind.HOLD).update(
            expires_at=timezone.now() - timedelta(seconds=1)
        )
        quote = services.quotes_generate(capacity_request=request, by=user).quotes[0]
        contenders.append((user, quote))
    # Both quotes have lapsed: neither holds the servers, both are still within their price.
    Quote.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    Allocation.objects.filter(kind=AllocationKind.HOLD).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    barrier = threading.Barrier(len(contenders))
    statuses: list[int] = []

    def accept(user, quote):
        try:
            barrier.wait(timeout=30)
            response = client_for(user).post(f"/api/v1/quotes/{quote.pk}/accept/")
            statuses.append(response.status_code)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=accept, args=pair) for pair in contenders]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert sorted(statuses) == [201, 409]
    assert Contract.objects.count() == 1
    bookings = Allocation.objects.filter(cluster=cluster, kind=AllocationKind.BOOKING)
    usages = [Usage(a.start, a.end, a.servers) for a in bookings]
    assert peak_usage(usages, start=date(2020, 1, 1), end=date(2040, 1, 1)) == 2
