from datetime import date

import pytest

from inventory import services
from inventory.models import AllocationKind
from tests.factories import ClusterFactory, ProviderFactory

pytestmark = pytest.mark.django_db


def test_cluster_page_lists_visible_clusters_with_free_capacity(client, customer_user):
    cluster = ClusterFactory(name="Hefei IB", server_count=4)
    ClusterFactory(name="Hidden", provider=ProviderFactory(verified_at=None))
    services.capacity_reserve(
        cluster_id=cluster.pk,
        servers=3,
        start=date(2027, 1, 1),
        end=date(2027, 4, 1),
        kind=AllocationKind.BOOKING,
        reference="c",
    )
    client.force_login(customer_user)
    response = client.get("/clusters/", {"start": "2027-01-01", "end": "2027-07-01"})
    html = response.content.decode()
    assert response.status_code == 200
    assert "Hefei IB" in html and "Hidden" not in html
    assert "4.992" in html  # free P: one A800 server


def test_cluster_page_reports_bad_window(client, customer_user):
    client.force_login(customer_user)
    response = client.get("/clusters/", {"start": "2027-01-01"})
    assert response.status_code == 200
    assert "Give both a start and an end date" in response.content.decode()


def test_cluster_detail_page_shows_availability(client, customer_user):
    cluster = ClusterFactory(name="Wuhu H800", available_from=date(2020, 1, 1))
    client.force_login(customer_user)
    response = client.get(f"/clusters/{cluster.pk}/")
    assert response.status_code == 200
    assert "Free servers, next 12 months" in response.content.decode()


def test_cluster_pages_need_login(client):
    assert client.get("/clusters/").status_code == 302
