from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from inventory import services
from inventory.models import AllocationKind, Cluster
from tests.conftest import client_for
from tests.factories import ClusterFactory, ProviderFactory, gpu, member_of, region

pytestmark = pytest.mark.django_db

CLUSTERS = "/api/v1/clusters/"


def new_cluster_payload(**overrides):
    data = {
        "name": "Hefei IB-01",
        "region": "hefei",
        "gpu_model": "A800-80G",
        "gpus_per_server": 8,
        "server_count": 16,
        "interconnect": "infiniband",
        "interconnect_gbps": 1600,
        "price_per_p_year": "120000",
        "min_term_months": 3,
        "available_from": "2027-01-01",
        "sla_uptime_percent": "99.9",
        "status": "listed",
    }
    data.update(overrides)
    return data


def names(response):
    return [row["name"] for row in response.json()["results"]]


def test_provider_creates_a_cluster_with_exact_rating(provider_client, provider_org):
    response = provider_client.post(CLUSTERS, new_cluster_payload(), format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["rated_p_per_server"] == "4.992"
    assert body["rated_p"] == "79.872"
    assert body["price_per_p_year"] == "120000.000000"
    assert body["provider"]["id"] == provider_org.pk
    assert body["uptime_90d"] == "100.000"


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"gpu_model": "RTX-4090"}, "gpu_model"),
        ({"region": "atlantis"}, "region"),
        ({"server_count": -1}, "server_count"),
        ({"price_per_p_year": "0"}, "price_per_p_year"),
        ({"interconnect": "carrier-pigeon"}, "interconnect"),
        ({"available_until": "2026-12-01"}, "available_until"),
        ({"min_term_months": 61}, "min_term_months"),
        ({"price_per_p_year": "abc"}, "price_per_p_year"),
    ],
)
def test_bad_cluster_input_is_400_with_field_errors(provider_client, overrides, field):
    response = provider_client.post(CLUSTERS, new_cluster_payload(**overrides), format="json")
    assert response.status_code == 400
    assert field in response.json()["errors"]
    assert not Cluster.objects.exists()


def test_customers_cannot_create_clusters(customer_client):
    response = customer_client.post(CLUSTERS, new_cluster_payload(), format="json")
    assert response.status_code == 403


def test_customers_never_see_unverified_or_unlisted_clusters(customer_client):
    verified = ProviderFactory()
    unverified = ProviderFactory(verified_at=None)
    ClusterFactory(name="visible", provider=verified, status="listed")
    ClusterFactory(name="draft", provider=verified, status="draft")
    ClusterFactory(name="delisted", provider=verified, status="delisted")
    hidden = ClusterFactory(name="unverified", provider=unverified, status="listed")
    assert names(customer_client.get(CLUSTERS)) == ["visible"]
    assert customer_client.get(f"{CLUSTERS}{hidden.pk}/").status_code == 404


def test_providers_see_their_own_drafts_but_not_others(provider_client, provider_org):
    ClusterFactory(name="mine-draft", provider=provider_org, status="draft")
    ClusterFactory(name="theirs-draft", status="draft")
    ClusterFactory(name="theirs-listed", status="listed")
    assert sorted(names(provider_client.get(CLUSTERS))) == ["mine-draft", "theirs-listed"]


def test_admin_sees_everything(staff_client):
    ClusterFactory(status="draft", provider=ProviderFactory(verified_at=None))
    assert staff_client.get(CLUSTERS).json()["count"] == 1


def test_another_provider_cannot_edit_a_cluster(provider_org):
    listed = ClusterFactory(provider=provider_org, status="listed", price_per_p_year=120_000)
    draft = ClusterFactory(provider=provider_org, status="draft")
    intruder = client_for(member_of(ProviderFactory()))
    visible = intruder.patch(f"{CLUSTERS}{listed.pk}/", {"price_per_p_year": "1"}, format="json")
    assert visible.status_code == 403
    invisible = intruder.patch(f"{CLUSTERS}{draft.pk}/", {"server_count": 1}, format="json")
    assert invisible.status_code == 404
    listed.refresh_from_db()
    assert listed.price_per_p_year == 120_000


def test_provider_changes_price_and_size(provider_client, provider_org):
    cluster = ClusterFactory(provider=provider_org, server_count=4)
    response = provider_client.patch(
        f"{CLUSTERS}{cluster.pk}/", {"price_per_p_year": "110000", "server_count": 8}, format="json"
    )
    assert response.status_code == 200, response.json()
    assert response.json()["price_per_p_year"] == "110000.000000"
    assert response.json()["server_count"] == 8


def test_shrinking_below_booked_servers_is_refused(provider_client, provider_org):
    cluster = ClusterFactory(provider=provider_org, server_count=8, available_from=date(2026, 1, 1))
    start = timezone.localdate() + timedelta(days=30)
    services.capacity_reserve(
        cluster_id=cluster.pk,
        servers=5,
        start=start,
        end=start + timedelta(days=90),
        kind=AllocationKind.BOOKING,
        reference="contract:1",
    )
    refused = provider_client.patch(f"{CLUSTERS}{cluster.pk}/", {"server_count": 4}, format="json")
    assert refused.status_code == 400
    assert "cannot shrink below 5" in refused.json()["errors"]["server_count"][0]
    assert Cluster.objects.get(pk=cluster.pk).server_count == 8
    allowed = provider_client.patch(f"{CLUSTERS}{cluster.pk}/", {"server_count": 5}, format="json")
    assert allowed.status_code == 200


def test_shrinking_ignores_past_bookings(provider_client, provider_org):
    cluster = ClusterFactory(provider=provider_org, server_count=8, available_from=date(2020, 1, 1))
    services.capacity_reserve(
        cluster_id=cluster.pk,
        servers=8,
        start=date(2020, 1, 1),
        end=date(2021, 1, 1),
        kind=AllocationKind.BOOKING,
        reference="contract:old",
    )
    response = provider_client.patch(f"{CLUSTERS}{cluster.pk}/", {"server_count": 2}, format="json")
    assert response.status_code == 200


def test_hardware_of_booked_cluster_cannot_change(provider_client, provider_org):
    cluster = ClusterFactory(provider=provider_org, available_from=date(2026, 1, 1))
    start = timezone.localdate() + timedelta(days=1)
    services.capacity_reserve(
        cluster_id=cluster.pk,
        servers=1,
        start=start,
        end=start + timedelta(days=30),
        kind=AllocationKind.BOOKING,
        reference="contract:1",
    )
    response = provider_client.patch(
        f"{CLUSTERS}{cluster.pk}/", {"gpu_model": "H800-80G"}, format="json"
    )
    assert response.status_code == 400
    assert "gpu_model" in response.json()["errors"]


def test_search_filters_and_orders_by_price(customer_client):
    ClusterFactory(
        name="h800-wuhu", gpu_model=gpu("H800-80G"), region=region("wuhu"), price_per_p_year=110_000
    )
    ClusterFactory(name="a800-hefei-roce", interconnect="roce", price_per_p_year=100_000)
    ClusterFactory(name="a800-hefei-ib", price_per_p_year=125_000)
    ClusterFactory(name="a800-shanghai", region=region("shanghai"), price_per_p_year=90_000)
    assert names(customer_client.get(CLUSTERS)) == [
        "a800-shanghai",
        "a800-hefei-roce",
        "h800-wuhu",
        "a800-hefei-ib",
    ]
    assert names(customer_client.get(CLUSTERS, {"gpu_model": "H800-80G"})) == ["h800-wuhu"]
    assert names(customer_client.get(CLUSTERS, {"region": "hefei,wuhu"})) == [
        "a800-hefei-roce",
        "h800-wuhu",
        "a800-hefei-ib",
    ]
    assert names(customer_client.get(CLUSTERS, {"interconnect": "roce"})) == ["a800-hefei-roce"]
    assert names(customer_client.get(CLUSTERS, {"max_price": "105000"})) == [
        "a800-shanghai",
        "a800-hefei-roce",
    ]


def test_search_by_free_p_over_a_window(customer_client):
    small = ClusterFactory(name="small", server_count=2, price_per_p_year=100_000)
    big = ClusterFactory(name="big", server_count=10, price_per_p_year=130_000)
    services.capacity_reserve(
        cluster_id=big.pk,
        servers=8,
        start=date(2027, 3, 1),
        end=date(2027, 6, 1),
        kind=AllocationKind.BOOKING,
        reference="c",
    )
    window = {"start": "2027-01-01", "end": "2027-07-01"}
    response = customer_client.get(CLUSTERS, window)
    rows = {row["name"]: row for row in response.json()["results"]}
    assert rows["big"]["free_servers"] == 2 and rows["big"]["free_p"] == "9.984"
    assert rows["small"]["free_servers"] == 2
    wanted = customer_client.get(CLUSTERS, {**window, "min_free_p": "10"})
    assert names(wanted) == []
    after = customer_client.get(
        CLUSTERS, {"start": "2027-06-01", "end": "2027-12-01", "min_free_p": "10"}
    )
    assert names(after) == ["big"]
    assert small.pk not in [row["id"] for row in after.json()["results"]]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"start": "2027-01-01"}, "end"),
        ({"start": "2027-02-01", "end": "2027-01-01"}, "end"),
        ({"min_free_p": "5"}, "min_free_p"),
        ({"start": "tomorrow", "end": "2027-01-01"}, "start"),
        ({"start": "2027-01-01", "end": "2027-02-01", "min_free_p": "-1"}, "min_free_p"),
        ({"max_price": "cheap"}, "max_price"),
    ],
)
def test_bad_search_parameters_are_400(customer_client, params, field):
    response = customer_client.get(CLUSTERS, params)
    assert response.status_code == 400
    assert field in response.json()["errors"]


def test_search_query_count_does_not_grow_with_clusters(
    customer_client, django_assert_max_num_queries
):
    for index in range(25):
        ClusterFactory(name=f"c{index}", server_count=4)
    params = {"start": "2027-01-01", "end": "2027-07-01", "min_free_p": "5"}
    with django_assert_max_num_queries(5):
        response = customer_client.get(CLUSTERS, params)
    assert response.json()["count"] == 25
    with django_assert_max_num_queries(5):
        customer_client.get(CLUSTERS)


def test_availability_endpoint_is_piecewise(customer_client):
    cluster = ClusterFactory(server_count=4, available_from=date(2027, 1, 1))
    services.capacity_reserve(
        cluster_id=cluster.pk,
        servers=3,
        start=date(2027, 2, 1),
        end=date(2027, 3, 1),
        kind=AllocationKind.BOOKING,
        reference="c",
    )
    response = customer_client.get(
        f"{CLUSTERS}{cluster.pk}/availability/", {"start": "2026-12-01", "end": "2027-04-01"}
    )
    assert response.status_code == 200
    assert response.json() == [
        {"start": "2026-12-01", "end": "2027-01-01", "free_servers": 0},
        {"start": "2027-01-01", "end": "2027-02-01", "free_servers": 4},
        {"start": "2027-02-01", "end": "2027-03-01", "free_servers": 1},
        {"start": "2027-03-01", "end": "2027-04-01", "free_servers": 4},
    ]
    bad = customer_client.get(f"{CLUSTERS}{cluster.pk}/availability/", {"start": "2027-01-01"})
    assert bad.status_code == 400 and "end" in bad.json()["errors"]


def test_provider_blocks_maintenance_but_not_over_bookings(provider_client, provider_org):
    cluster = ClusterFactory(provider=provider_org, server_count=2)
    services.capacity_reserve(
        cluster_id=cluster.pk,
        servers=2,
        start=date(2027, 2, 1),
        end=date(2027, 3, 1),
        kind=AllocationKind.BOOKING,
        reference="c",
    )
    url = f"{CLUSTERS}{cluster.pk}/maintenance/"
    ok = provider_client.post(
        url,
        {"start": "2027-03-01", "end": "2027-03-03", "servers": 2, "note": "firmware"},
        format="json",
    )
    assert ok.status_code == 201
    clash = provider_client.post(
        url, {"start": "2027-02-20", "end": "2027-03-02", "servers": 1}, format="json"
    )
    assert clash.status_code == 409
    assert clash.json()["code"] == "capacity_unavailable"
    ledger = provider_client.get(f"{CLUSTERS}{cluster.pk}/allocations/")
    assert [row["kind"] for row in ledger.json()["results"]] == ["booking", "maintenance"]


def test_customers_cannot_see_the_ledger_or_block_maintenance(customer_client):
    cluster = ClusterFactory()
    assert customer_client.get(f"{CLUSTERS}{cluster.pk}/allocations/").status_code == 403
    response = customer_client.post(
        f"{CLUSTERS}{cluster.pk}/maintenance/",
        {"start": "2027-03-01", "end": "2027-03-03", "servers": 1},
        format="json",
    )
    assert response.status_code == 403


def test_price_per_p_accepts_decimal_strings_exactly(provider_client):
    response = provider_client.post(
        CLUSTERS, new_cluster_payload(price_per_p_year="118888.88"), format="json"
    )
    assert Cluster.objects.get(pk=response.json()["id"]).price_per_p_year == Decimal("118888.88")
