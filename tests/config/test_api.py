import pytest
import yaml
from django.core.management import call_command


@pytest.mark.django_db
def test_api_root_lists_entry_points(api_client):
    response = api_client.get("/api/v1/")
    assert response.status_code == 200
    assert response.json()["docs"].endswith("/api/v1/docs/")


@pytest.mark.django_db
def test_openapi_schema_generates_and_validates(tmp_path):
    out = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))
    schema = yaml.safe_load(out.read_text())
    assert "/api/v1/auth/register/" in schema["paths"]
    assert "/api/v1/organizations/{id}/verify/" in schema["paths"]


@pytest.mark.django_db
def test_swagger_ui_is_served_with_local_assets(client):
    response = client.get("/api/v1/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "swagger-ui" in html
    assert "cdn" not in html.lower()


@pytest.mark.django_db
def test_schema_endpoint_serves_openapi(client):
    response = client.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    assert response.json()["openapi"].startswith("3.")


@pytest.mark.django_db
def test_unknown_api_path_and_method_errors_use_the_error_shape(customer_client):
    response = customer_client.delete("/api/v1/me/")
    assert response.status_code == 405
    assert set(response.json()) == {"errors", "code", "detail"}


@pytest.mark.django_db
def test_home_page_renders(client):
    response = client.get("/")
    assert response.status_code == 200
    assert b"Rent AI compute" in response.content


@pytest.mark.django_db
def test_seed_demo_is_idempotent():
    from accounts.models import Organization, User
    from inventory.models import Allocation, Cluster, Outage
    from marketplace.models import CapacityRequest, Contract, MarketIndexDay, Quote, ResaleListing

    models = (
        User,
        Organization,
        Cluster,
        Allocation,
        Outage,
        CapacityRequest,
        Quote,
        Contract,
        ResaleListing,
        MarketIndexDay,
    )

    def counts():
        return [m.objects.count() for m in models]

    call_command("seed_demo")
    first = counts()
    call_command("seed_demo")
    assert counts() == first
    assert Cluster.objects.filter(status="listed").count() >= 4
    # Approved: a third organisation's contract and the earlier trades, all starting later.
    statuses = {"active", "pending_approval", "approved"}
    assert set(Contract.objects.values_list("status", flat=True)) == statuses
    assert Organization.objects.get(name="Hefei Compute Co.").is_verified
    assert User.objects.get(username="admin").is_staff
