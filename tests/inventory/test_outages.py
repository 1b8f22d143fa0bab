from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from inventory import services
from inventory.models import Outage, OutageCorrection
from tests.conftest import client_for
from tests.factories import ClusterFactory, member_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def cluster(provider_org):
    return ClusterFactory(provider=provider_org, server_count=10)


def outage_payload(hours_ago=10, hours=2, servers=5):
    start = timezone.now() - timedelta(hours=hours_ago)
    return {
        "start": start.isoformat(),
        "end": (start + timedelta(hours=hours)).isoformat(),
        "servers_affected": servers,
        "description": "IB switch failure",
    }


def test_provider_records_an_outage_and_uptime_drops(provider_client, cluster, customer_client):
    response = provider_client.post(
        f"/api/v1/clusters/{cluster.pk}/outages/",
        outage_payload(hours=216, hours_ago=300),
        format="json",
    )
    assert response.status_code == 201, response.json()
    # 5 of 10 servers down 216 h of the last 90 days (2160 h): 5% of server-time lost.
    detail = customer_client.get(f"/api/v1/clusters/{cluster.pk}/").json()
    assert Decimal(detail["uptime_90d"]) == Decimal("95.000")
    listed = customer_client.get(f"/api/v1/clusters/{cluster.pk}/outages/").json()
    assert listed["count"] == 1


def test_outage_validation(provider_client, cluster):
    url = f"/api/v1/clusters/{cluster.pk}/outages/"
    too_many = provider_client.post(url, outage_payload(servers=11), format="json")
    assert too_many.status_code == 400 and "servers_affected" in too_many.json()["errors"]
    backwards = outage_payload()
    backwards["end"] = backwards["start"]
    response = provider_client.post(url, backwards, format="json")
    assert response.status_code == 400 and "end" in response.json()["errors"]
    assert not Outage.objects.exists()


def test_customers_and_other_providers_cannot_record_outages(customer_client, cluster):
    response = customer_client.post(
        f"/api/v1/clusters/{cluster.pk}/outages/", outage_payload(), format="json"
    )
    assert response.status_code == 403


def test_invoiced_outages_are_immutable_for_providers(provider_client, cluster, provider_user):
    outage = services.outage_record(
        cluster=cluster,
        by=provider_user,
        **{
            "start": timezone.now() - timedelta(hours=5),
            "end": timezone.now() - timedelta(hours=1),
            "servers_affected": 2,
            "description": "PSU",
        },
    )
    assert (
        provider_client.patch(
            f"/api/v1/outages/{outage.pk}/", {"servers_affected": 3}, format="json"
        ).status_code
        == 200
    )
    services.outages_mark_invoiced(outage_ids=[outage.pk])
    response = provider_client.patch(
        f"/api/v1/outages/{outage.pk}/", {"servers_affected": 1}, format="json"
    )
    assert response.status_code == 409
    assert response.json()["code"] == "outage_locked"
    assert Outage.objects.get(pk=outage.pk).servers_affected == 3


def test_admin_corrections_of_invoiced_outages_need_a_reason_and_are_audited(
    staff_client, staff_user, cluster, provider_user
):
    outage = services.outage_record(
        cluster=cluster,
        by=provider_user,
        start=timezone.now() - timedelta(hours=5),
        end=timezone.now() - timedelta(hours=1),
        servers_affected=2,
        description="PSU",
    )
    services.outages_mark_invoiced(outage_ids=[outage.pk])
    url = f"/api/v1/outages/{outage.pk}/"
    no_reason = staff_client.patch(url, {"servers_affected": 1}, format="json")
    assert no_reason.status_code == 400 and "reason" in no_reason.json()["errors"]
    fixed = staff_client.patch(
        url, {"servers_affected": 1, "reason": "provider over-reported"}, format="json"
    )
    assert fixed.status_code == 200
    correction = OutageCorrection.objects.get(outage=outage)
    assert correction.before["servers_affected"] == 2
    assert correction.after["servers_affected"] == 1
    assert correction.corrected_by == staff_user


def test_outages_of_other_providers_drafts_are_invisible(cluster, provider_user):
    cluster.status = "draft"
    cluster.save()
    outage = services.outage_record(
        cluster=cluster,
        by=provider_user,
        start=timezone.now() - timedelta(hours=5),
        end=timezone.now(),
        servers_affected=1,
        description="x",
    )
    stranger = client_for(member_of(ClusterFactory().provider))
    assert stranger.get(f"/api/v1/outages/{outage.pk}/").status_code == 404
