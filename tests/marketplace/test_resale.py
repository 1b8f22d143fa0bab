"""The secondary market: listing, matching, buying and ending resold capacity."""

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.errors import InvalidInput, PermissionDeniedError
from marketplace import resale, services
from marketplace.models import Contract, ContractKind, ContractStatus, ResaleStatus
from tests.conftest import client_for
from tests.factories import capacity_request
from tests.marketplace.resale_helpers import (
    booked,
    buyer,
    ledger_peak,
    list_servers,
    months_later,
    reseller_setup,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def setup():
    return reseller_setup()


_list = list_servers


def test_list_is_bounded_by_what_the_contract_holds(setup):
    cluster, _, user, contract = setup
    first = _list(contract, user, cluster, servers=3)
    assert first.status == ResaleStatus.LISTED
    with pytest.raises(InvalidInput) as error:
        _list(contract, user, cluster, servers=2)  # 3 of 4 listed for the same months
    assert error.value.field == "servers"
    # Later, non-overlapping months are free to list again.
    _list(contract, user, cluster, servers=4, offset=9, months=3)
    # Withdrawing frees what it did not sell.
    resale.resale_withdraw(listing=first, by=user)
    assert _list(contract, user, cluster, servers=4).servers == 4


def test_only_the_customer_lists_inside_the_term(setup, other_customer_user):
    cluster, _, user, contract = setup
    with pytest.raises(PermissionDeniedError):
        _list(contract, other_customer_user, cluster)
    with pytest.raises(InvalidInput):
        _list(contract, user, cluster, offset=9, months=6)  # runs past the contract's end
    with pytest.raises(InvalidInput):
        _list(contract, user, cluster, months=2, min_term=3)  # window shorter than min term


def test_api_lists_shows_and_withdraws(setup, other_customer_user):
    cluster, _, user, contract = setup
    client = client_for(user)
    start = months_later(contract.start_date, 3)
    body = {
        "cluster": cluster.pk,
        "servers": 2,
        "start": start.isoformat(),
        "end": months_later(start, 6).isoformat(),
        "price_per_p_year": "90000",
        "min_term_months": 2,
    }
    url = f"/api/v1/contracts/{contract.pk}/resale-listings/"
    response = client.post(url, body, format="json")
    assert response.status_code == 201, response.json()
    listing = response.json()
    assert listing["status"] == "listed" and listing["sold_servers"] == 0
    too_many = client.post(url, {**body, "servers": 3}, format="json")
    assert too_many.status_code == 400 and "servers" in too_many.json()["errors"]
    bad = client.post(url, {**body, "cluster": "x"}, format="json")
    assert bad.status_code == 400
    # Another organisation cannot see the contract, nor the listing.
    assert client_for(other_customer_user).post(url, body, format="json").status_code == 404
    listings = client.get("/api/v1/resale-listings/").json()
    assert [row["id"] for row in listings["results"]] == [listing["id"]]
    assert client_for(other_customer_user).get("/api/v1/resale-listings/").json()["count"] == 0
    withdraw = f"/api/v1/resale-listings/{listing['id']}/withdraw/"
    assert client_for(other_customer_user).post(withdraw).status_code == 404
    assert client.post(withdraw).json()["status"] == "withdrawn"
    assert client.post(withdraw).status_code == 409


def _buyer_quote(listing, *, servers=2, months=3, **fields):
    organization, user = buyer()
    fields.setdefault("start_date", listing.start)
    request = capacity_request(organization, servers=servers, term_months=months, **fields)
    return user, services.quotes_generate(capacity_request=request, by=user)


def test_matching_offers_resale_with_the_underlying_cluster_facts(setup):
    cluster, _, user, contract = setup
    listing = _list(contract, user, cluster, servers=2, min_term=2)
    buyer_user, result = _buyer_quote(listing)
    assert result.quotes, "the cluster is sold out: only the resale can serve"
    line = result.quotes[0].lines.get()
    assert (line.resale_listing_id, line.cluster_id) == (listing.pk, cluster.pk)
    assert line.price_per_p_year == Decimal("90000")
    data = client_for(buyer_user).get(f"/api/v1/quotes/{result.quotes[0].pk}/").json()
    allocation = data["allocations"][0]
    assert allocation["resale_listing"] == listing.pk
    assert allocation["resale_until"] == listing.end.isoformat()
    assert allocation["gpu_model"] == cluster.gpu_model.code
    assert allocation["interconnect"] == cluster.interconnect
    # Same rules as provider clusters: a term below the listing's minimum is not offered.
    _, short = _buyer_quote(listing, months=1)
    assert not short.quotes
    # A price cap below the ask is not offered either.
    _, capped = _buyer_quote(listing, max_price_per_p_year=Decimal("80000"))
    assert not capped.quotes
    # The reseller is never offered its own listing.
    own = capacity_request(contract.customer, servers=2, start_date=listing.start, term_months=3)
    assert not services.quotes_generate(capacity_request=own, by=user).quotes


def test_accepting_books_the_buyer_and_shrinks_the_resellers_booking(setup):
    cluster, reseller, user, contract = setup
    listing = _list(contract, user, cluster, servers=2)
    buyer_user, result = _buyer_quote(listing)
    child = services.quote_accept(quote=result.quotes[0], by=buyer_user)
    assert child.kind == ContractKind.RESALE and child.parent_contract_id == contract.pk
    line = child.lines.get()
    assert (line.provider_id, line.resale_listing_id) == (reseller.pk, listing.pk)
    inside = listing.start
    assert booked(child.booking_reference, inside) == 2
    assert booked(contract.booking_reference, inside) == 2
    assert booked(contract.booking_reference, contract.start_date) == 4
    assert ledger_peak(cluster) == 4
    # The reseller's contract with the provider is unchanged.
    contract.refresh_from_db()
    assert contract.lines.get().servers == 4 and contract.total_price > 0
    listing.refresh_from_db()
    assert listing.sold_servers == 2
    # Sold for 3 of the listing's 6 months: the rest is still for sale.
    assert listing.status == ResaleStatus.LISTED
    # Both parties see the resale contract.
    assert client_for(user).get(f"/api/v1/contracts/{child.pk}/").status_code == 200
    data = client_for(buyer_user).get(f"/api/v1/contracts/{child.pk}/").json()
    assert data["kind"] == "resale" and data["parent_contract"] == contract.pk


def test_a_split_request_mixes_provider_and_resale_capacity(setup):
    cluster, _, user, contract = setup
    listing = _list(contract, user, cluster, servers=2, price="200000")
    from tests.factories import ClusterFactory

    ClusterFactory(server_count=1, available_from=cluster.available_from)
    buyer_user, result = _buyer_quote(listing, servers=3, single_cluster=False)
    best = result.quotes[0]
    assert sorted(line.resale_listing_id is not None for line in best.lines.all()) == [
        False,
        True,
    ]
    primary = services.quote_accept(quote=best, by=buyer_user)
    contracts = Contract.objects.filter(request=best.request)
    assert sorted(contracts.values_list("kind", flat=True)) == ["primary", "resale"]
    assert primary.quote_id == best.pk


def test_parent_termination_ends_the_resale_prorated_and_both_are_told(
    setup, staff_user, django_capture_on_commit_callbacks, mailoutbox
):
    cluster, _, user, contract = setup
    listing = _list(contract, user, cluster, servers=2)
    buyer_user, result = _buyer_quote(listing)
    child = services.quote_accept(quote=result.quotes[0], by=buyer_user)
    Contract.objects.filter(pk=child.pk).update(status=ContractStatus.ACTIVE)
    Contract.objects.filter(pk=contract.pk).update(status=ContractStatus.ACTIVE)
    effective = months_later(listing.start, 1)
    with django_capture_on_commit_callbacks(execute=True):
        services.contract_terminate(
            contract=contract,
            by=staff_user,
            reason="provider lost the site",
            effective_date=effective,
        )
    assert sorted(m.to[0].split("@")[0] for m in mailoutbox) == sorted(
        [buyer_user.username, user.username]
    )
    assert all(f"Resale contract {child.pk}" in m.subject for m in mailoutbox)
    child.refresh_from_db()
    assert child.status == ContractStatus.TERMINATED and child.termination_date == effective
    event = child.history.last()
    assert str(contract.pk) in event.reason
    assert booked(child.booking_reference, effective) == 0
    assert ledger_peak(cluster) <= 4
    listing.refresh_from_db()
    assert listing.end == effective


def test_query_count_per_quote_does_not_grow_with_listings(setup, settings):
    settings.QUOTES_PER_REQUEST = 1  # one offer either way: count the reads, not the writes
    cluster, _, user, contract = setup

    def queries_for_quote(count):
        for index in range(count):
            _list(contract, user, cluster, servers=1, offset=3 + index % 2, months=3)
            if index % 4 == 3:
                break
        organization, buyer_user = buyer(f"Buyer {count}")
        request = capacity_request(
            organization,
            servers=1,
            start_date=months_later(contract.start_date, 4),
            term_months=1,
        )
        with CaptureQueriesContext(connection) as captured:
            services.quotes_generate(capacity_request=request, by=buyer_user)
        return len(captured)

    few = queries_for_quote(1)
    many = queries_for_quote(3)
    assert few == many


def test_a_single_cluster_request_takes_a_clusters_free_and_resold_servers_together():
    cluster, _, user, contract = reseller_setup(cluster_servers=4, contract_servers=2)
    listing = _list(contract, user, cluster, servers=2)
    buyer_user, result = _buyer_quote(listing, servers=3, single_cluster=True)
    best = result.quotes[0]
    lines = sorted(best.lines.all(), key=lambda line: line.resale_listing_id or 0)
    assert [(line.cluster_id, line.servers, line.resale_listing_id) for line in lines] == [
        (cluster.pk, 1, None),
        (cluster.pk, 2, listing.pk),
    ]
    primary = services.quote_accept(quote=best, by=buyer_user)
    resold = Contract.objects.get(kind=ContractKind.RESALE)
    assert booked(primary.booking_reference, listing.start) == 1
    assert booked(resold.booking_reference, listing.start) == 2
    assert booked(contract.booking_reference, listing.start) == 0
    assert ledger_peak(cluster) == 3  # the reseller's 2, then the buyer's 3 in their place


def test_a_resale_ended_on_its_own_gives_the_servers_back_to_the_reseller(setup, staff_user):
    cluster, _, user, contract = setup
    listing = _list(contract, user, cluster, servers=2)
    buyer_user, result = _buyer_quote(listing, months=3)
    child = services.contract_approve(
        contract=services.quote_accept(quote=result.quotes[0], by=buyer_user), by=staff_user
    )
    effective = months_later(listing.start, 1)
    services.contract_terminate(
        contract=child, by=staff_user, reason="buyer defaulted", effective_date=effective
    )
    assert booked(child.booking_reference, effective) == 0
    assert booked(contract.booking_reference, effective) == 4  # back with the reseller
    assert booked(contract.booking_reference, listing.start) == 2
    assert ledger_peak(cluster) == 4
    contract.refresh_from_db()
    assert contract.status == ContractStatus.APPROVED  # the reseller's contract runs on
    # The months the buyer gave up can be sold again.
    _, again = _buyer_quote(listing, months=2, start_date=effective)
    assert again.quotes and again.quotes[0].lines.get().resale_listing_id == listing.pk
