"""The public compute price index: P-weighted median of what was signed, shown from three
organisations on, with history and CSV for anyone."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from marketplace import index
from marketplace.index_models import MarketIndexDay
from tests.billing.conftest import make_contract, new_customer
from tests.factories import ClusterFactory

pytestmark = pytest.mark.django_db


def test_weighted_median_is_the_price_where_half_the_p_is_reached():
    assert index.weighted_median([]) is None
    assert index.weighted_median([(Decimal(100), Decimal(1))]) == 100
    # 40 P at 90,000 outweighs 1 P at 150,000 and 1 P at 200,000.
    pairs = [(Decimal(150_000), Decimal(1)), (Decimal(90_000), Decimal(40)), (Decimal(200_000), 1)]
    assert index.weighted_median(pairs) == 90_000
    assert index.weighted_median([(Decimal(1), Decimal(1)), (Decimal(3), Decimal(1))]) == 1


def _trade(cluster, price, servers=1):
    return make_contract(
        new_customer(),
        start=date(2027, 3, 1),
        stakes=[(cluster, servers)],
        price_per_p_year=Decimal(price),
    )


def test_index_needs_three_organisations_and_weighs_by_p(api_client):
    cluster = ClusterFactory(server_count=20, available_from=date(2020, 1, 1))
    today = timezone.localdate()
    _trade(cluster, 100_000, servers=5)
    _trade(cluster, 130_000)
    index.index_record(day=today)
    row = MarketIndexDay.objects.get(day=today, region__isnull=True)
    assert (row.trades, row.organizations, row.index_price_per_p_year) == (2, 2, None)
    assert not MarketIndexDay.objects.filter(day=today, region__isnull=False).exists()
    assert row.lowest_ask == row.median_ask == cluster.price_per_p_year
    assert row.free_p_30d == 20 * cluster.rated_p_per_server  # the bookings start in 2027

    _trade(cluster, 160_000)
    assert index.index_record(day=today) == 2  # replaces the day: the model, and its region
    row = MarketIndexDay.objects.get(day=today, region__isnull=True)
    assert (row.organizations, row.index_price_per_p_year) == (3, Decimal(100_000))
    regional = MarketIndexDay.objects.get(day=today, region=cluster.region)
    assert regional.index_price_per_p_year == Decimal(100_000)

    response = api_client.get("/api/v1/market/index/", {"gpu_model": cluster.gpu_model.code})
    assert response.status_code == 200
    [data] = response.json()
    assert data["date"] == today.isoformat() and data["region"] is None
    assert Decimal(data["index_price_per_p_year"]) == 100_000
    regional = api_client.get("/api/v1/market/index/", {"region": cluster.region.code}).json()
    assert [r["region"] for r in regional] == [cluster.region.code]
    csv = api_client.get("/api/v1/market/index/", {"format": "csv"})
    assert csv.status_code == 200 and csv["Content-Type"].startswith("text/csv")
    header, first = csv.content.decode().splitlines()[:2]
    assert header.startswith("date,gpu_model,region,index_price_per_p_year")
    assert first.startswith(today.isoformat())
    old = api_client.get("/api/v1/market/index/", {"until": (today - timedelta(days=1))})
    assert old.json() == []
    bad = api_client.get("/api/v1/market/index/", {"gpu_model": "nope"})
    assert bad.status_code == 400 and "gpu_model" in bad.json()["errors"]


def test_the_market_page_draws_the_index_and_explains_it(client, django_assert_max_num_queries):
    cluster = ClusterFactory(server_count=20, available_from=date(2020, 1, 1))
    today = timezone.localdate()
    for price in (100_000, 120_000, 140_000):
        _trade(cluster, price)
    for back in (60, 30, 0):
        index.index_record(day=today - timedelta(days=back))
    with django_assert_max_num_queries(40):
        response = client.get("/")
    page = response.content.decode()
    assert response.status_code == 200
    assert "Compute price index" in page and "P-weighted median" in page
    assert "<svg" in page and "index-A800-80G" in page
    assert "/api/v1/market/index/?format=csv" in page


def test_a_day_recorded_later_leaves_out_the_listings_made_after_it():
    from marketplace import resale
    from tests.marketplace.resale_helpers import months_later, reseller_setup

    cluster, _, user, contract = reseller_setup()
    start = months_later(contract.start_date, 1)
    resale.resale_list(
        contract=contract,
        by=user,
        cluster=cluster,
        servers=1,
        start=start,
        end=months_later(start, 2),
        price_per_p_year=Decimal("50000"),
    )
    today = timezone.localdate()
    index.index_record(day=today - timedelta(days=1))
    index.index_record(day=today)
    before = MarketIndexDay.objects.get(day=today - timedelta(days=1), region__isnull=True)
    assert before.lowest_ask == cluster.price_per_p_year and before.trades == 0
    listed = MarketIndexDay.objects.get(day=today, region__isnull=True)
    assert listed.lowest_ask == Decimal("50000") and listed.trades == 1
