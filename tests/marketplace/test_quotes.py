from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from inventory import services as inventory
from inventory.models import Allocation, AllocationKind
from inventory.selectors import cluster_free_servers
from marketplace.models import Contract, MarketSettings, Quote
from tests.conftest import client_for
from tests.factories import (
    ClusterFactory,
    ProviderFactory,
    capacity_request,
    future_start,
    gpu,
    region,
)

pytestmark = pytest.mark.django_db


def quotes_for(client, request_id):
    response = client.post(f"/api/v1/capacity-requests/{request_id}/quotes/")
    assert response.status_code == 201, response.json()
    return response.json()


def test_one_a800_server_at_120000_costs_599040_a_year(customer_client, customer_org):
    ClusterFactory(server_count=1, price_per_p_year=120_000, available_from=date(2020, 1, 1))
    request = capacity_request(customer_org, servers=1, term_months=12)
    quote = quotes_for(customer_client, request.pk)["quotes"][0]
    assert quote["total_p"] == "4.992000"
    assert quote["price_per_p_year"] == "120000.000000"
    assert quote["annual_price"] == "599040.00"
    assert quote["total_price"] == "599040.00"
    assert quote["net_amount"] == "565132.08"
    assert quote["tax_amount"] == "33907.92"
    assert quote["vat_rate"] == "0.0600"


def test_total_price_is_prorated_by_term(customer_client, customer_org):
    ClusterFactory(server_count=1, price_per_p_year=120_000, available_from=date(2020, 1, 1))
    request = capacity_request(customer_org, servers=1, term_months=7)
    quote = quotes_for(customer_client, request.pk)["quotes"][0]
    assert quote["annual_price"] == "599040.00"
    assert quote["total_price"] == "349440.00"  # 599,040 x 7 / 12


def test_single_cluster_offers_rank_by_price(customer_client, customer_org, market):
    request = capacity_request(customer_org, servers=3, single_cluster=True)
    result = quotes_for(customer_client, request.pk)
    offers = [[line["cluster_name"] for line in q["allocations"]] for q in result["quotes"]]
    assert offers == [["mid"], ["dear"]]
    assert result["quotes"][0]["annual_price"] == "1797120.00"  # 3 x 4.992 x 120,000
    cheap = next(r for r in result["rejected"] if r["cluster"] == market["cheap"].pk)
    assert [reason["code"] for reason in cheap["reasons"]] == ["too_small_for_single_cluster"]


def test_split_offer_is_cheapest_cover_with_p_weighted_price(customer_client, customer_org, market):
    request = capacity_request(customer_org, servers=5, single_cluster=False)
    best = quotes_for(customer_client, request.pk)["quotes"][0]
    lines = {line["cluster_name"]: line["servers"] for line in best["allocations"]}
    assert lines == {"cheap": 2, "mid": 3}
    assert best["price_per_p_year"] == "112000.000000"  # (2 x 100k + 3 x 120k) / 5
    assert best["annual_price"] == "2795520.00"  # 24.96 P x 112,000
    assert best["total_p"] == "24.960000"


def test_min_p_demand_rounds_up_to_whole_servers(customer_client, customer_org, market):
    request = capacity_request(customer_org, min_p=Decimal("10"), single_cluster=True)
    best = quotes_for(customer_client, request.pk)["quotes"][0]
    # 10 P needs 3 A800 servers (2 give only 9.984 P); "cheap" has 2, so "mid" wins.
    assert best["allocations"][0]["cluster_name"] == "mid"
    assert best["allocations"][0]["servers"] == 3


def test_every_unused_cluster_gets_its_reasons(customer_client, customer_org):
    since = date(2020, 1, 1)
    start = future_start()
    winner = ClusterFactory(name="winner", price_per_p_year=100_000, available_from=since)
    clusters = {
        "gpu_model": ClusterFactory(gpu_model=gpu("H800-80G"), available_from=since),
        "region": ClusterFactory(region=region("shanghai"), available_from=since),
        "interconnect": ClusterFactory(interconnect="ethernet", available_from=since),
        "price_above_max": ClusterFactory(price_per_p_year=200_000, available_from=since),
        "term_below_minimum": ClusterFactory(min_term_months=24, available_from=since),
        "outside_availability": ClusterFactory(available_from=start + timedelta(days=10)),
        "not_free_for_term": ClusterFactory(server_count=1, available_from=since),
        "too_small_for_single_cluster": ClusterFactory(server_count=1, available_from=since),
        "outranked": ClusterFactory(price_per_p_year=110_000, available_from=since),
    }
    inventory.capacity_reserve(
        cluster_id=clusters["not_free_for_term"].pk,
        servers=1,
        start=start,
        end=start + timedelta(days=1),
        kind=AllocationKind.BOOKING,
        reference="other",
    )
    hidden = ClusterFactory(provider=ProviderFactory(verified_at=None), available_from=since)
    request = capacity_request(
        customer_org,
        servers=2,
        gpu_models=["A800-80G"],
        regions=[region("hefei")],
        interconnect="rdma",
        max_price_per_p_year=Decimal("150000"),
        term_months=12,
    )
    result = quotes_for(customer_client, request.pk)
    used = {line["cluster"] for quote in result["quotes"] for line in quote["allocations"]}
    assert winner.pk in used
    reasons = {row["cluster"]: [r["code"] for r in row["reasons"]] for row in result["rejected"]}
    for code, cluster in clusters.items():
        if cluster.pk in used:
            continue
        assert code in reasons[cluster.pk], (code, reasons.get(cluster.pk))
    assert hidden.pk not in reasons  # customers never learn of unverified providers
    assert result["rejected_count"] == len(result["rejected"])
    assert result["rejection_summary"]["gpu_model"] == 1
    full = customer_client.get(f"/api/v1/capacity-requests/{request.pk}/rejections/").json()
    assert full["count"] == result["rejected_count"]


def test_quotes_hold_capacity_and_regenerating_replaces_them(customer_client, customer_org, market):
    request = capacity_request(customer_org, servers=3, single_cluster=True)
    first = quotes_for(customer_client, request.pk)
    mid = market["mid"]
    term = (request.start_date, request.end_date)
    assert cluster_free_servers(mid, start=term[0], end=term[1]) == 1
    second = quotes_for(customer_client, request.pk)
    assert cluster_free_servers(mid, start=term[0], end=term[1]) == 1  # not held twice
    old = Quote.objects.get(pk=first["quotes"][0]["id"])
    assert old.status == "superseded"
    assert second["quotes"][0]["id"] != old.pk
    response = customer_client.post(f"/api/v1/quotes/{old.pk}/accept/")
    assert response.status_code == 409
    assert response.json()["code"] == "quote_not_open"


def test_holds_expire_by_themselves(customer_client, customer_org, market, settings):
    request = capacity_request(customer_org, servers=4, single_cluster=True)
    quotes_for(customer_client, request.pk)
    mid = market["mid"]
    start, end = request.start_date, request.end_date
    assert cluster_free_servers(mid, start=start, end=end) == 0
    later = timezone.now() + timedelta(minutes=settings.QUOTE_VALIDITY_MINUTES, seconds=1)
    assert cluster_free_servers(mid, start=start, end=end, now=later) == 4


def test_accepting_books_the_capacity_and_signs_a_contract(customer_client, customer_org, market):
    request = capacity_request(customer_org, servers=3, single_cluster=True)
    quotes = quotes_for(customer_client, request.pk)["quotes"]
    response = customer_client.post(f"/api/v1/quotes/{quotes[0]['id']}/accept/")
    assert response.status_code == 201, response.json()
    contract = response.json()
    assert contract["status"] == "pending_approval"
    assert contract["total_price"] == quotes[0]["total_price"]
    assert [e["to_status"] for e in contract["history"]] == ["pending_approval"]
    bookings = Allocation.objects.filter(reference=f"contract:{contract['id']}")
    assert [(a.cluster_id, a.servers, a.kind) for a in bookings] == [
        (market["mid"].pk, 3, "booking")
    ]
    assert not Allocation.objects.filter(kind="hold").exists()  # the other quote's hold is gone
    assert Quote.objects.get(pk=quotes[1]["id"]).status == "superseded"
    request.refresh_from_db()
    assert request.status == "booked"


def test_accept_with_idempotency_key_replays_and_books_once(customer_client, customer_org, market):
    request = capacity_request(customer_org, servers=1)
    quote_id = quotes_for(customer_client, request.pk)["quotes"][0]["id"]
    url = f"/api/v1/quotes/{quote_id}/accept/"
    first = customer_client.post(url, HTTP_IDEMPOTENCY_KEY="accept-123")
    again = customer_client.post(url, HTTP_IDEMPOTENCY_KEY="accept-123")
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    assert again["Idempotent-Replayed"] == "true"
    assert Contract.objects.count() == 1
    without_key = customer_client.post(url)
    assert without_key.status_code == 409


def test_expired_quote_with_capacity_gone_is_409(customer_client, customer_org, market):
    request = capacity_request(customer_org, servers=4, single_cluster=True)
    quote = Quote.objects.get(pk=quotes_for(customer_client, request.pk)["quotes"][0]["id"])
    Quote.objects.filter(pk=quote.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    Allocation.objects.filter(kind="hold").update(expires_at=timezone.now() - timedelta(seconds=1))
    inventory.capacity_reserve(
        cluster_id=market["mid"].pk,
        servers=1,
        start=request.start_date,
        end=request.end_date,
        kind=AllocationKind.BOOKING,
        reference="someone-else",
    )
    response = customer_client.post(f"/api/v1/quotes/{quote.pk}/accept/")
    assert response.status_code == 409
    assert response.json()["code"] == "quote_expired"
    assert "taken" in response.json()["detail"]
    assert not Contract.objects.exists()


def test_expired_quote_with_capacity_still_free_is_honoured(customer_client, customer_org, market):
    request = capacity_request(customer_org, servers=2, single_cluster=True)
    quote_id = quotes_for(customer_client, request.pk)["quotes"][0]["id"]
    Quote.objects.filter(pk=quote_id).update(expires_at=timezone.now() - timedelta(seconds=1))
    response = customer_client.post(f"/api/v1/quotes/{quote_id}/accept/")
    assert response.status_code == 201


def test_expired_quote_is_refused_after_a_price_rise(customer_client, customer_org, market):
    request = capacity_request(customer_org, servers=2, single_cluster=True)
    quote_id = quotes_for(customer_client, request.pk)["quotes"][0]["id"]
    Quote.objects.filter(pk=quote_id).update(expires_at=timezone.now() - timedelta(seconds=1))
    market["cheap"].price_per_p_year = 130_000
    market["cheap"].save()
    response = customer_client.post(f"/api/v1/quotes/{quote_id}/accept/")
    assert response.status_code == 409
    assert "raised its price" in response.json()["detail"]


def test_price_is_frozen_at_quote_time(customer_client, customer_org, market):
    request = capacity_request(customer_org, servers=2, single_cluster=True)
    quote = quotes_for(customer_client, request.pk)["quotes"][0]
    market["cheap"].price_per_p_year = 90_000
    market["cheap"].save()
    contract = customer_client.post(f"/api/v1/quotes/{quote['id']}/accept/").json()
    assert contract["price_per_p_year"] == "100000.000000"
    assert contract["total_price"] == quote["total_price"]


def test_auto_approval(customer_client, customer_org, market):
    settings_row = MarketSettings.load()
    settings_row.auto_approve_contracts = True
    settings_row.save()
    request = capacity_request(customer_org, servers=1)
    quote_id = quotes_for(customer_client, request.pk)["quotes"][0]["id"]
    contract = customer_client.post(f"/api/v1/quotes/{quote_id}/accept/").json()
    assert contract["status"] == "approved"
    assert [e["to_status"] for e in contract["history"]] == ["pending_approval", "approved"]


def test_no_offer_when_nothing_fits(customer_client, customer_org, market):
    request = capacity_request(customer_org, servers=100, single_cluster=False)
    result = quotes_for(customer_client, request.pk)
    assert result["quotes"] == []
    assert result["rejection_summary"] == {"market_too_small": 3}


def test_other_customers_cannot_accept(customer_client, customer_org, other_customer_user, market):
    request = capacity_request(customer_org, servers=1)
    quote_id = quotes_for(customer_client, request.pk)["quotes"][0]["id"]
    response = client_for(other_customer_user).post(f"/api/v1/quotes/{quote_id}/accept/")
    assert response.status_code == 404
    assert not Contract.objects.exists()


def test_quote_generation_query_count_does_not_grow_with_clusters(
    customer_client, customer_org, django_assert_max_num_queries
):
    for index in range(30):
        ClusterFactory(
            name=f"c{index}", available_from=date(2020, 1, 1), price_per_p_year=100_000 + index
        )
    request = capacity_request(customer_org, servers=3, single_cluster=False)
    with django_assert_max_num_queries(60):
        response = customer_client.post(f"/api/v1/capacity-requests/{request.pk}/quotes/")
    assert response.status_code == 201
    for index in range(30, 90):
        ClusterFactory(
            name=f"c{index}", available_from=date(2020, 1, 1), price_per_p_year=100_000 + index
        )
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as small:
        customer_client.post(f"/api/v1/capacity-requests/{request.pk}/quotes/")
    for index in range(90, 200):
        ClusterFactory(
            name=f"c{index}", available_from=date(2020, 1, 1), price_per_p_year=100_000 + index
        )
    with CaptureQueriesContext(connection) as large:
        customer_client.post(f"/api/v1/capacity-requests/{request.pk}/quotes/")
    assert len(large) == len(small)
