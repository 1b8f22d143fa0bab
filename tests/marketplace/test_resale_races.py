"""Races on the secondary market, on PostgreSQL with real threads."""

import threading
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.db import connection, connections
from django.utils import timezone

from marketplace import resale, services
from marketplace.models import (
    Contract,
    ContractKind,
    Quote,
    ResaleHold,
    ResaleListing,
)
from tests.conftest import client_for
from tests.factories import ClusterFactory, capacity_request
from tests.marketplace.resale_helpers import (
    booked,
    buyer,
    ledger_peak,
    list_servers,
    months_later,
    reseller_setup,
)

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
SINCE = date(2020, 1, 1)


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


def _listed(servers=3):
    cluster, _, user, contract = reseller_setup(cluster_servers=4, contract_servers=4)
    return cluster, contract, list_servers(contract, user, cluster, servers)


def _quote_run(buyer_user, request_pk):
    def call():
        url = f"/api/v1/capacity-requests/{request_pk}/quotes/"
        response = client_for(buyer_user).post(url)
        return request_pk, response.status_code, response.json()

    return call


def _accept(buyer_user, quote_id):
    return lambda: client_for(buyer_user).post(f"/api/v1/quotes/{quote_id}/accept/").status_code


def _resale_reasons(payload) -> dict[int, list[str]]:
    return {
        row["resale_listing"]: [reason["code"] for reason in row["reasons"]]
        for row in payload["rejected"]
        if row["resale_listing"] is not None
    }


def test_sixteen_buyers_quoting_the_last_resold_servers_get_exactly_what_was_listed_held():
    if connection.vendor != "postgresql":
        pytest.skip("row locks are only proven on PostgreSQL")
    cluster, contract, listing = _listed(servers=3)
    buyers = {}
    for _ in range(16):
        organization, buyer_user = buyer()
        request = capacity_request(organization, servers=1, start_date=listing.start, term_months=6)
        buyers[request.pk] = buyer_user

    runs = _race([_quote_run(user, pk) for pk, user in buyers.items()])
    assert sorted(status for _, status, _ in runs) == [201] * 16
    held = {pk: payload for pk, _, payload in runs if payload["quotes"]}
    assert len(held) == 3  # one server each: exactly the three listed
    for payload in held.values():
        [quote] = payload["quotes"]
        assert [a["resale_listing"] for a in quote["allocations"]] == [listing.pk]
    for pk, _, payload in runs:
        if pk not in held:  # told why: the listing's servers are held for others' quotes
            assert _resale_reasons(payload) == {listing.pk: ["not_free_for_term"]}
    holds = ResaleHold.objects.filter(listing=listing)
    assert sorted(holds.values_list("reference", flat=True)) == sorted(
        f"request:{pk}" for pk in held
    )
    assert sum(holds.values_list("servers", flat=True)) == 3
    # Every held quote is then accepted, even all at once.
    statuses = _race([_accept(buyers[pk], held[pk]["quotes"][0]["id"]) for pk in held])
    assert statuses == [201] * 3
    assert not ResaleHold.objects.exists()
    sold = Contract.objects.filter(kind=ContractKind.RESALE)
    assert sold.count() == 3
    assert ledger_peak(cluster) <= cluster.server_count
    assert booked(contract.booking_reference, listing.start) == 1
    assert sum(booked(child.booking_reference, listing.start) for child in sold) == 3
    listing.refresh_from_db()
    assert listing.sold_servers == 3 and listing.status == "sold"


def test_two_buyers_quoting_the_last_resold_servers_one_held_the_other_offered_the_next_best(
    settings,
):
    if connection.vendor != "postgresql":
        pytest.skip("row locks are only proven on PostgreSQL")
    settings.QUOTES_PER_REQUEST = 1  # each run holds its best offer only
    cluster, contract, listing = _listed(servers=2)
    dearer = ClusterFactory(server_count=2, price_per_p_year=150_000, available_from=SINCE)
    buyers = {}
    for _ in range(2):
        organization, buyer_user = buyer()
        request = capacity_request(organization, servers=2, start_date=listing.start, term_months=6)
        buyers[request.pk] = buyer_user

    runs = _race([_quote_run(user, pk) for pk, user in buyers.items()])
    offered = {
        pk: payload["quotes"][0]["allocations"][0] for pk, status, payload in runs if status == 201
    }
    assert len(offered) == 2
    by_listing = {allocation["resale_listing"]: pk for pk, allocation in offered.items()}
    assert set(by_listing) == {listing.pk, None}
    assert offered[by_listing[None]]["cluster"] == dearer.pk
    loser = next(payload for pk, _, payload in runs if pk == by_listing[None])
    assert _resale_reasons(loser) == {listing.pk: ["not_free_for_term"]}
    # Both accept at once: each gets what it was quoted.
    quotes = {pk: payload["quotes"][0]["id"] for pk, _, payload in runs}
    assert _race([_accept(buyers[pk], quote) for pk, quote in quotes.items()]) == [201, 201]
    assert Contract.objects.filter(kind=ContractKind.RESALE).count() == 1
    assert ledger_peak(cluster) <= cluster.server_count
    assert ledger_peak(dearer) == 2
    assert booked(contract.booking_reference, listing.start) == 2


def test_sixteen_buyers_accepting_expired_quotes_for_the_last_resold_servers_get_what_was_listed():
    """Quotes that expired hold nothing: the sale itself, under the cluster's lock, still never
    sells more than was listed."""
    if connection.vendor != "postgresql":
        pytest.skip("row locks are only proven on PostgreSQL")
    cluster, contract, listing = _listed(servers=3)
    contenders = []
    past = timezone.now() - timedelta(minutes=1)
    for _ in range(16):
        organization, buyer_user = buyer()
        request = capacity_request(organization, servers=1, start_date=listing.start, term_months=6)
        quote = services.quotes_generate(capacity_request=request, by=buyer_user).quotes[0]
        assert quote.lines.get().resale_listing_id == listing.pk
        # The quote expires (and its hold with it) before the next buyer quotes.
        Quote.objects.filter(pk=quote.pk).update(expires_at=past)
        ResaleHold.objects.filter(reference=f"request:{request.pk}").update(expires_at=past)
        contenders.append((buyer_user, quote.pk))

    statuses = _race([_accept(*pair) for pair in contenders])
    assert sorted(statuses) == [201] * 3 + [409] * 13
    sold = Contract.objects.filter(kind=ContractKind.RESALE)
    assert sold.count() == 3
    assert ledger_peak(cluster) <= cluster.server_count
    assert booked(contract.booking_reference, listing.start) == 1
    assert sum(booked(child.booking_reference, listing.start) for child in sold) == 3
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
