import pytest
from django.contrib.admin.sites import site
from django.test import RequestFactory

from accounts.admin import OrganizationAdmin
from accounts.models import Organization
from tests.conftest import client_for
from tests.factories import OrganizationFactory, member_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def new_provider():
    return OrganizationFactory(name="Wuhu Cloud", is_provider=True, is_customer=False)


def test_provider_organizations_start_unverified(api_client):
    response = api_client.post(
        "/api/v1/auth/register/",
        {
            "username": "p1",
            "password": "a-long-unusual-passphrase-7",
            "organization": {"name": "P1", "roles": ["provider"]},
        },
        format="json",
    )
    assert response.json()["organization"]["is_verified"] is False


def test_admin_verifies_a_provider(new_provider, staff_client, staff_user):
    response = staff_client.post(f"/api/v1/organizations/{new_provider.pk}/verify/")
    assert response.status_code == 200
    assert response.json()["is_verified"] is True
    new_provider.refresh_from_db()
    assert new_provider.verified_at is not None
    assert new_provider.verified_by == staff_user


def test_verifying_twice_keeps_the_first_verification(new_provider, staff_client):
    staff_client.post(f"/api/v1/organizations/{new_provider.pk}/verify/")
    first = Organization.objects.get(pk=new_provider.pk).verified_at
    assert staff_client.post(f"/api/v1/organizations/{new_provider.pk}/verify/").status_code == 200
    assert Organization.objects.get(pk=new_provider.pk).verified_at == first


def test_provider_cannot_verify_itself(new_provider):
    owner = member_of(new_provider)
    response = client_for(owner).post(f"/api/v1/organizations/{new_provider.pk}/verify/")
    assert response.status_code == 403
    assert Organization.objects.get(pk=new_provider.pk).verified_at is None


def test_customer_organizations_cannot_be_verified(staff_client):
    customer = OrganizationFactory(name="Buyer")
    response = staff_client.post(f"/api/v1/organizations/{customer.pk}/verify/")
    assert response.status_code == 400
    assert "organization" in response.json()["errors"]


def test_admin_action_verifies_selected_providers(new_provider, staff_user):
    customer = OrganizationFactory(name="Buyer")
    request = RequestFactory().post("/admin/")
    request.user = staff_user
    request._messages = type("M", (), {"add": lambda *a, **k: None})()
    model_admin = OrganizationAdmin(Organization, site)
    model_admin.verify_providers(
        request, Organization.objects.filter(pk__in=[new_provider.pk, customer.pk])
    )
    assert Organization.objects.get(pk=new_provider.pk).verified_at is not None
    assert Organization.objects.get(pk=customer.pk).verified_at is None
