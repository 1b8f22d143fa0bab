"""Who may do what on the secondary market's API (anonymous, provider, owner, other, staff)."""

import pytest
from rest_framework.test import APIClient

from tests.conftest import client_for
from tests.factories import member_of
from tests.marketplace.resale_helpers import months_later, reseller_setup

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(other_customer_user, staff_user):
    cluster, _, owner, contract = reseller_setup()
    return {
        "cluster": cluster,
        "contract": contract,
        "anonymous": APIClient(),
        "owner": client_for(owner),
        "other": client_for(other_customer_user),
        "provider": client_for(member_of(cluster.provider)),
        "staff": client_for(staff_user),
    }


def _body(world):
    start = months_later(world["contract"].start_date, 3)
    return {
        "cluster": world["cluster"].pk,
        "servers": 1,
        "start": start.isoformat(),
        "end": months_later(start, 3).isoformat(),
        "price_per_p_year": "95000",
    }


# who -> expected status of: list on the contract, read listings, withdraw, read the index.
MATRIX = {
    "anonymous": (401, 401, 401, 200),
    "other": (404, 200, 404, 200),
    "provider": (403, 200, 404, 200),
    "staff": (403, 200, 200, 200),
    "owner": (201, 200, 200, 200),
}


@pytest.mark.parametrize("who", list(MATRIX))
def test_permission_matrix(world, who):
    client = world[who]
    url = f"/api/v1/contracts/{world['contract'].pk}/resale-listings/"
    create, read, withdraw, index = MATRIX[who]
    response = client.post(url, _body(world), format="json")
    assert response.status_code in ({create, 403} if create == 401 else {create}), response.content
    listing = world["owner"].post(url, _body(world) | {"servers": 1}, format="json").json()
    if who == "owner":
        listing = response.json()
    listed = client.get("/api/v1/resale-listings/")
    assert listed.status_code in ({read, 403} if read == 401 else {read})
    if read == 200:
        ids = [row["id"] for row in listed.json()["results"]]
        assert (listing["id"] in ids) == (who in ("owner", "staff"))
    response = client.post(f"/api/v1/resale-listings/{listing['id']}/withdraw/")
    assert response.status_code in ({withdraw, 403} if withdraw == 401 else {withdraw})
    assert client.get("/api/v1/market/index/").status_code == index


def test_listing_honours_idempotency_key(world):
    from marketplace.models import ResaleListing

    url = f"/api/v1/contracts/{world['contract'].pk}/resale-listings/"
    first = world["owner"].post(url, _body(world), format="json", HTTP_IDEMPOTENCY_KEY="list-1")
    again = world["owner"].post(url, _body(world), format="json", HTTP_IDEMPOTENCY_KEY="list-1")
    assert first.status_code == again.status_code == 201
    assert first.json()["id"] == again.json()["id"]
    assert ResaleListing.objects.count() == 1


@pytest.mark.parametrize("who", ["provider", "staff"])
def test_who_may_not_resell_gets_403_not_field_errors(world, client, staff_user, who):
    """The provider and admins see the contract but may not resell it: 403 even for a body that
    would not validate (no field errors about a listing they may not make)."""
    contract = world["contract"]
    response = world[who].post(
        f"/api/v1/contracts/{contract.pk}/resale-listings/", {"servers": 0}, format="json"
    )
    assert response.status_code == 403, response.content
    client.force_login(staff_user if who == "staff" else member_of(world["cluster"].provider))
    page = client.post(f"/market/contracts/{contract.pk}/resale/", {"servers": "0"})
    assert page.status_code == 403
