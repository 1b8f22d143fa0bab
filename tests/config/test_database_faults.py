"""PostgreSQL drops the connection in the middle of a request.

What a user sees: a 503 with Retry-After, in the API's error shape (or the error page), never a
500. What is kept: nothing half-written; the transaction the request was in is rolled back by
the server. And the next try works on a fresh connection.
"""

from collections.abc import Callable

import pytest
from django.db import connection, connections
from django.test import Client

from inventory.models import Cluster
from marketplace.models import CapacityRequest
from tests.conftest import client_for
from tests.factories import ClusterFactory, OrganizationFactory, future_start, member_of

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _postgres_only():
    if connection.vendor != "postgresql":
        pytest.skip("a dropped server connection is a PostgreSQL fault")


class DropConnection:
    """A query wrapper that has the server terminate our connection just before the first
    statement that ``when`` picks, as a crashed or restarted PostgreSQL would."""

    def __init__(self, when: Callable[[str], bool]):
        self.when = when
        self.fired = 0

    def __call__(self, execute, sql, params, many, context):
        if not self.fired and self.when(sql):
            self.fired += 1
            pid = context["connection"].connection.info.backend_pid
            other = connections.create_connection("default")
            try:
                with other.cursor() as cursor:
                    cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
            finally:
                other.close()
        return execute(sql, params, many, context)


def _request_body() -> dict:
    return {
        "gpu_models": ["A800-80G"],
        "servers": 1,
        "start_date": future_start().isoformat(),
        "term_months": 12,
        "note": "written in two statements: the request, then its GPU models",
    }


def test_a_dropped_connection_mid_write_is_a_503_and_nothing_is_half_saved():
    customer = member_of(OrganizationFactory(name="Lab"))
    api = client_for(customer)
    before = CapacityRequest.objects.count()
    # The request row is inserted, then the connection dies before its GPU models are.
    drop = DropConnection(lambda sql: 'INSERT INTO "marketplace_capacityrequest_gpu_models"' in sql)
    with connection.execute_wrapper(drop):
        response = api.post("/api/v1/capacity-requests/", _request_body(), format="json")
    assert drop.fired == 1
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    body = response.json()
    assert body["code"] == "database_unavailable"
    assert body["errors"]["non_field_errors"] == [body["detail"]]
    assert "Nothing was saved" in body["detail"]
    assert CapacityRequest.objects.count() == before  # the first INSERT was rolled back

    retry = api.post("/api/v1/capacity-requests/", _request_body(), format="json")
    assert retry.status_code == 201, retry.json()
    assert CapacityRequest.objects.count() == before + 1
    created = CapacityRequest.objects.get(pk=retry.json()["id"])
    assert list(created.gpu_models.values_list("code", flat=True)) == ["A800-80G"]


def test_a_dropped_connection_on_a_read_is_a_503_then_the_retry_answers():
    ClusterFactory()
    customer = member_of(OrganizationFactory(name="Reader"))
    api = client_for(customer)
    drop = DropConnection(lambda sql: 'FROM "inventory_cluster"' in sql)
    with connection.execute_wrapper(drop):
        response = api.get("/api/v1/clusters/")
    assert drop.fired == 1
    assert response.status_code == 503
    assert response.json()["code"] == "database_unavailable"
    again = api.get("/api/v1/clusters/")
    assert again.status_code == 200
    assert again.json()["count"] == Cluster.objects.filter(status="listed").count()


def test_a_page_whose_connection_drops_shows_the_error_page_in_the_users_language():
    ClusterFactory()
    user = member_of(OrganizationFactory(name="Browser"))
    browser = Client()
    browser.force_login(user)
    drop = DropConnection(lambda sql: 'FROM "inventory_cluster"' in sql)
    with connection.execute_wrapper(drop):
        response = browser.get("/clusters/", HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert drop.fired == 1
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    page = response.content.decode()
    assert "503" in page and 'lang="zh-hans"' in page
    assert "Temporarily unavailable" not in page  # translated
    assert browser.get("/clusters/").status_code == 200


def test_the_english_error_page_says_nothing_was_saved():
    user = member_of(OrganizationFactory(name="Browser EN"))
    ClusterFactory()
    browser = Client()
    browser.force_login(user)
    drop = DropConnection(lambda sql: 'FROM "inventory_cluster"' in sql)
    with connection.execute_wrapper(drop):
        response = browser.get("/clusters/", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 503
    assert "Nothing you submitted was saved" in response.content.decode()
