from datetime import timedelta

import pytest
from django.utils import timezone

from marketplace.models import CapacityRequest
from tests.conftest import client_for
from tests.factories import OrganizationFactory, future_start, member_of

pytestmark = pytest.mark.django_db

URL = "/api/v1/capacity-requests/"


def payload(**overrides):
    data = {
        "gpu_models": ["A800-80G", "H800-80G"],
        "min_p": "20",
        "region": "hefei",
        "interconnect": "rdma",
        "single_cluster": True,
        "start_date": future_start().isoformat(),
        "term_months": 12,
        "max_price_per_p_year": "130000",
    }
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


def test_customer_creates_a_request(customer_client):
    response = customer_client.post(URL, payload(), format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["gpu_models"] == ["A800-80G", "H800-80G"]
    assert body["regions"] == ["hefei"]
    assert body["min_p"] == "20.000000"
    start = future_start()
    assert body["end_date"] == start.replace(year=start.year + 1).isoformat()
    assert body["status"] == "open"


def test_request_by_servers_split_allowed(customer_client):
    data = payload(min_p=None, servers=6, single_cluster=False, region=None)
    response = customer_client.post(URL, data, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["servers"] == 6 and response.json()["single_cluster"] is False


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"term_months": 0}, "term_months"),
        ({"term_months": 61}, "term_months"),
        ({"start_date": (timezone.localdate() - timedelta(days=1)).isoformat()}, "start_date"),
        ({"gpu_models": ["RTX-4090"]}, "gpu_models"),
        ({"gpu_models": []}, "gpu_models"),
        ({"min_p": None}, "min_p"),  # neither
        ({"servers": 3}, "servers"),  # both
        ({"min_p": "0"}, "min_p"),
        ({"region": "atlantis"}, "region"),
        ({"interconnect": "smoke-signals"}, "interconnect"),
        ({"max_price_per_p_year": "-5"}, "max_price_per_p_year"),
    ],
)
def test_invalid_requests_get_field_errors_and_write_nothing(customer_client, overrides, field):
    response = customer_client.post(URL, payload(**overrides), format="json")
    assert response.status_code == 400, response.json()
    assert field in response.json()["errors"]
    assert not CapacityRequest.objects.exists()


def test_providers_cannot_request_capacity(provider_client):
    assert provider_client.post(URL, payload(), format="json").status_code == 403


def test_requests_are_scoped_to_the_customer(customer_client, other_customer_user):
    created = customer_client.post(URL, payload(), format="json").json()
    other = client_for(other_customer_user)
    assert other.get(f"{URL}{created['id']}/").status_code == 404
    assert other.get(URL).json()["count"] == 0
    assert other.post(f"{URL}{created['id']}/quotes/").status_code == 404
    assert customer_client.get(URL).json()["count"] == 1


def test_member_of_same_customer_sees_the_request(customer_client, customer_org):
    created = customer_client.post(URL, payload(), format="json").json()
    colleague = client_for(member_of(customer_org, role="member"))
    assert colleague.get(f"{URL}{created['id']}/").status_code == 200
    stranger = client_for(member_of(OrganizationFactory()))
    assert stranger.get(f"{URL}{created['id']}/").status_code == 404
