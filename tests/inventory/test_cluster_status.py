"""Listing changes follow one table: draft -> listed, listed <-> delisted, never back to draft."""

import pytest
from django.utils import translation

from inventory import services
from inventory.errors import ClusterStatusChangeRefused
from inventory.models import ClusterStatus
from tests.factories import ClusterFactory

pytestmark = pytest.mark.django_db

ALLOWED = [
    ("draft", "listed"),
    ("listed", "delisted"),
    ("delisted", "listed"),
    ("draft", "draft"),
    ("listed", "listed"),
]
REFUSED = [("listed", "draft"), ("delisted", "draft"), ("draft", "delisted")]


@pytest.mark.parametrize(("current", "new"), ALLOWED)
def test_allowed_listing_changes(current, new):
    cluster = ClusterFactory(status=current)
    services.cluster_update(cluster=cluster, changes={"status": new})
    cluster.refresh_from_db()
    assert cluster.status == new


@pytest.mark.parametrize(("current", "new"), REFUSED)
def test_refused_listing_changes_change_nothing(current, new):
    cluster = ClusterFactory(status=current, name="Kept")
    with pytest.raises(ClusterStatusChangeRefused) as caught:
        services.cluster_update(cluster=cluster, changes={"status": new, "name": "Renamed"})
    assert caught.value.details["status"]
    cluster.refresh_from_db()
    assert (cluster.status, cluster.name) == (current, "Kept")


def test_the_refusal_names_both_states_in_words():
    cluster = ClusterFactory(status=ClusterStatus.DELISTED)
    with translation.override("zh-hans"), pytest.raises(ClusterStatusChangeRefused) as caught:
        services.cluster_update(cluster=cluster, changes={"status": ClusterStatus.DRAFT})
    assert "已下架" in caught.value.message and "草稿" in caught.value.message


def test_the_api_answers_a_refused_change_with_409(provider_client, provider_org):
    cluster = ClusterFactory(provider=provider_org, status=ClusterStatus.LISTED)
    response = provider_client.patch(
        f"/api/v1/clusters/{cluster.pk}/", {"status": "draft"}, format="json"
    )
    assert response.status_code == 409
    assert response.json()["errors"]["status"] == ["A listed cluster cannot become draft."]
