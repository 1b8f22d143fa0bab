"""Races on the secondary market, on PostgreSQL with real threads."""

import threading
from decimal import Decimal

import pytest
from django.db import connection, connections

from marketplace import resale, services
from marketplace.models import Contract, ContractKind, ResaleListing
from tests.conftest import client_for
from tests.factories import capacity_request
from tests.marketplace.resale_helpers import (
    booked,
    buyer,
    ledger_peak,
    months_later,
    reseller_setup,
)

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _race(calls):
    barrier = threading.Barrier(len(calls))
    results: list = []

    def run(call):
        try:
            barrier.wait(timeout=30)
            results.append(call())
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results


def test_a_reseller_listing_the_same_servers_twice_gets_one_listing():
    if connection.vendor != "postgresql":
        pytest.skip("row locks are only proven on PostgreSQL")
    cluster, _, user, contract = reseller_setup()
    start = months_later(contract.start_date, 3)
    body = {
        "cluster": cluster.pk,
        "servers": 3,
        "start": start.isoformat(),
        "end": months_later(start, 6).isoformat(),
        "price_per_p_year": "90000",
    }
    url = f"/api/v1/contracts/{contract.pk}/resale-listings/"

    def post():
        return client_for(user).post(url, body, format="json").status_code

    assert sorted(_race([post, post])) == [201, 400]
    assert ResaleListing.objects.count() == 1


def test_sixteen_buyers_racing_for_the_last_resold_servers_get_exactly_what_was_listed():
    if connection.vendor != "postgresql":
        pytest.skip("row locks are only proven on PostgreSQL")
    cluster, _, user, contract = reseller_setup(cluster_servers=4, contract_servers=4)
    start = months_later(contract.start_date, 3)
    listing = resale.resale_list(
        contract=contract,
        by=user,
        cluster=cluster,
        servers=3,
        start=start,
        end=months_later(start, 6),
        price_per_p_year=Decimal("90000"),
    )
    contenders = []
    for _ in range(16):
        organization, buyer_user = buyer()
        request = capacity_request(organization, servers=1, start_date=start, term_months=6)
        quote = services.quotes_generate(capacity_request=request, by=buyer_user).quotes[0]
        assert quote.lines.get().resale_listing_id == listing.pk
        contenders.append((buyer_user, quote))

    def accept(buyer_user, quote):
        return lambda: client_for(buyer_user).post(f"/api/v1/quotes/{quote.pk}/accept/").status_code

    statuses = _race([accept(*pair) for pair in contenders])
    assert sorted(statuses) == [201] * 3 + [409] * 13
    sold = Contract.objects.filter(kind=ContractKind.RESALE)
    assert sold.count() == 3
    assert ledger_peak(cluster) <= cluster.server_count
    assert booked(contract.booking_reference, start) == 1
    assert sum(booked(child.booking_reference, start) for child in sold) == 3
    listing.refresh_from_db()
    assert listing.sold_servers == 3 and listing.status == "sold"


def test_a_termination_racing_a_resale_purchase_leaves_nothing_beyond_the_parent():
    if connection.vendor != "postgresql":
        pytest.skip("row locks are only proven on PostgreSQL")
    from tests.factories import UserFactory

    cluster, _, user, contract = reseller_setup()
    start = months_later(contract.start_date, 3)
    resale.resale_list(
        contract=contract,
        by=user,
        cluster=cluster,
        servers=2,
        start=start,
        end=months_later(start, 6),
        price_per_p_year=Decimal("90000"),
    )
    organization, buyer_user = buyer()
    request = capacity_request(organization, servers=2, start_date=start, term_months=3)
    quote = services.quotes_generate(capacity_request=request, by=buyer_user).quotes[0]
    staff = UserFactory(is_staff=True)
    effective = months_later(start, 1)

    def accept():
        return client_for(buyer_user).post(f"/api/v1/quotes/{quote.pk}/accept/").status_code

    def terminate():
        body = {"reason": "site lost", "effective_date": effective.isoformat()}
        url = f"/api/v1/contracts/{contract.pk}/terminate/"
        return client_for(staff).post(url, body, format="json").status_code

    statuses = _race([accept, terminate])
    assert all(code in (200, 201, 409) for code in statuses), statuses
    contract.refresh_from_db()
    assert contract.status == "terminated"
    for child in Contract.objects.filter(kind=ContractKind.RESALE):
        assert child.status in ("terminated", "cancelled")
        assert booked(child.booking_reference, effective) == 0
    assert booked(contract.booking_reference, effective) == 0
    assert ledger_peak(cluster) <= cluster.server_count
