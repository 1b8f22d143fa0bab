"""Idempotency-Key on POSTs with capacity effects (here: a maintenance block)."""

from datetime import date

import pytest

from accounts.models import IdempotencyRecord
from inventory.models import Allocation
from tests.factories import ClusterFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def url(provider_org):
    cluster = ClusterFactory(provider=provider_org, server_count=4)
    return f"/api/v1/clusters/{cluster.pk}/maintenance/"


BODY = {"start": "2027-03-01", "end": "2027-03-03", "servers": 1, "note": "firmware"}


def test_same_key_replays_the_first_response_without_a_second_effect(provider_client, url):
    first = provider_client.post(url, BODY, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    again = provider_client.post(url, BODY, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    assert again["Idempotent-Replayed"] == "true"
    assert Allocation.objects.filter(start=date(2027, 3, 1)).count() == 1


def test_same_key_with_another_body_is_refused(provider_client, url):
    provider_client.post(url, BODY, format="json", HTTP_IDEMPOTENCY_KEY="k-2")
    other = provider_client.post(
        url, {**BODY, "servers": 2}, format="json", HTTP_IDEMPOTENCY_KEY="k-2"
    )
    assert other.status_code == 422
    assert other.json()["code"] == "idempotency_key_reused"
    assert Allocation.objects.count() == 1


def test_errors_are_not_stored_so_the_key_can_be_retried(provider_client, url):
    bad = provider_client.post(
        url, {**BODY, "servers": 5}, format="json", HTTP_IDEMPOTENCY_KEY="k-3"
    )
    assert bad.status_code == 409
    assert not IdempotencyRecord.objects.exists()
    ok = provider_client.post(url, BODY, format="json", HTTP_IDEMPOTENCY_KEY="k-3")
    assert ok.status_code == 201


def test_keys_are_per_user(provider_client, provider_org, url):
    from tests.conftest import client_for
    from tests.factories import member_of

    provider_client.post(url, BODY, format="json", HTTP_IDEMPOTENCY_KEY="shared")
    colleague = client_for(member_of(provider_org, role="member"))
    response = colleague.post(
        url,
        {**BODY, "start": "2027-04-01", "end": "2027-04-02"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="shared",
    )
    assert response.status_code == 201
    assert Allocation.objects.count() == 2


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_concurrent_requests_with_one_key_have_one_effect(provider_org, provider_user):
    import threading

    from django.db import connection, connections

    from tests.conftest import client_for

    if connection.vendor != "postgresql":
        pytest.skip("concurrency is only proven on PostgreSQL")
    cluster = ClusterFactory(provider=provider_org, server_count=4)
    target = f"/api/v1/clusters/{cluster.pk}/maintenance/"
    barrier = threading.Barrier(2)
    responses = []

    def post():
        try:
            barrier.wait(timeout=30)
            responses.append(
                client_for(provider_user).post(
                    target, BODY, format="json", HTTP_IDEMPOTENCY_KEY="race"
                )
            )
        finally:
            connections.close_all()

    threads = [threading.Thread(target=post) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert [r.status_code for r in responses] == [201, 201]
    assert responses[0].json() == responses[1].json()
    assert Allocation.objects.filter(cluster=cluster).count() == 1
