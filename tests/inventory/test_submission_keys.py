"""A page form sent twice (double click, reload) blocks servers or records an outage once."""

import re
import threading
from datetime import date, timedelta

import pytest
from django.db import connection, connections
from django.utils import timezone

from inventory import services
from inventory.models import Allocation, AllocationKind, Outage
from tests.factories import ClusterFactory, ProviderFactory, member_of

START = date(2027, 3, 1)


@pytest.fixture
def owner_client(client, db):
    provider = ProviderFactory()
    cluster = ClusterFactory(provider=provider, server_count=4)
    client.force_login(member_of(provider))
    return client, cluster


def key_in(html: str) -> str:
    return re.search(r'name="submission_key" value="([0-9a-f]{32})"', html).group(1)


def test_each_form_carries_a_fresh_key(owner_client):
    client, cluster = owner_client
    first = key_in(client.get(f"/clusters/{cluster.pk}/maintenance/new/").content.decode())
    second = key_in(client.get(f"/clusters/{cluster.pk}/maintenance/new/").content.decode())
    assert first != second
    assert key_in(client.get(f"/clusters/{cluster.pk}/outages/new/").content.decode())


def test_a_maintenance_form_sent_twice_blocks_once(owner_client):
    client, cluster = owner_client
    url = f"/clusters/{cluster.pk}/maintenance/new/"
    data = {
        "servers": "3",
        "start": START,
        "end": START + timedelta(days=2),
        "submission_key": key_in(client.get(url).content.decode()),
    }
    assert client.post(url, data).status_code == 302
    assert client.post(url, data).status_code == 302  # the same block, not a second one
    assert Allocation.objects.filter(kind=AllocationKind.MAINTENANCE).count() == 1
    data["submission_key"] = key_in(client.get(url).content.decode())  # a new form
    response = client.post(url, data)
    assert "Only 1 server is free" in response.content.decode()


def test_an_outage_form_sent_twice_records_once(owner_client):
    client, cluster = owner_client
    url = f"/clusters/{cluster.pk}/outages/new/"
    data = {
        "start": "2026-11-02T08:00",
        "end": "2026-11-02T09:00",
        "servers_affected": "1",
        "description": "PSU",
        "submission_key": key_in(client.get(url).content.decode()),
    }
    client.post(url, data)
    client.post(url, data)
    assert Outage.objects.filter(cluster=cluster).count() == 1
    data["submission_key"] = key_in(client.get(url).content.decode())
    client.post(url, data)
    assert Outage.objects.filter(cluster=cluster).count() == 2


def test_a_tampered_key_is_refused(owner_client):
    client, cluster = owner_client
    response = client.post(
        f"/clusters/{cluster.pk}/outages/new/",
        {
            "start": "2026-11-02T08:00",
            "end": "2026-11-02T09:00",
            "servers_affected": "1",
            "description": "x",
            "submission_key": "'; drop table",
        },
    )
    assert response.status_code == 200
    assert not Outage.objects.exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_twin_submissions_racing_act_once():
    if connection.vendor != "postgresql":
        pytest.skip("row locks and unique indexes under concurrency are proven on PostgreSQL")
    provider = ProviderFactory()
    cluster = ClusterFactory(provider=provider, server_count=4)
    user = member_of(provider)
    barrier = threading.Barrier(8)
    errors: list[str] = []
    now = timezone.now()

    def twin(index: int) -> None:
        try:
            barrier.wait(timeout=30)
            if index % 2:
                services.maintenance_block(
                    cluster=cluster,
                    servers=3,
                    start=START,
                    end=START + timedelta(days=2),
                    note="",
                    by=user,
                    submission_key="a" * 32,
                )
            else:
                services.outage_record(
                    cluster=cluster,
                    start=now - timedelta(hours=2),
                    end=now - timedelta(hours=1),
                    servers_affected=1,
                    description="x",
                    by=user,
                    submission_key="b" * 32,
                )
        except Exception as exc:
            errors.append(repr(exc))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=twin, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert Allocation.objects.filter(kind=AllocationKind.MAINTENANCE).count() == 1
    assert Outage.objects.count() == 1
