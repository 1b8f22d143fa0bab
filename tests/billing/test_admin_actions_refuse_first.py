"""Admin-only billing actions answer 403 to everyone else before looking the object up, so the
answer is the same for an invoice of the caller's own, another organisation's or none at all
(the permission matrix's rule). A fapiao is the buyer's own request: admins get 403 too."""

import pytest
from django.test import Client

from tests.conftest import client_for
from tests.factories import OrganizationFactory, ProviderFactory, member_of

pytestmark = pytest.mark.django_db

MISSING = 999_999


@pytest.fixture(params=["customer", "provider"])
def outsider(request):
    factory = OrganizationFactory if request.param == "customer" else ProviderFactory
    return member_of(factory())


@pytest.mark.parametrize(
    "path",
    [f"/api/v1/payments/{MISSING}/refund/", f"/api/v1/disputes/{MISSING}/resolve/"],
)
def test_api_refuses_non_admins_before_the_lookup(outsider, path):
    response = client_for(outsider).post(path, {}, format="json")
    assert response.status_code == 403, response.content


@pytest.mark.parametrize(
    "path",
    [f"/billing/invoices/{MISSING}/refund/", f"/billing/invoices/{MISSING}/disputes/1/resolve/"],
)
def test_pages_refuse_non_admins_before_the_lookup(outsider, path):
    client = Client()
    client.force_login(outsider)
    assert client.post(path, {}).status_code == 403


def test_admins_do_not_request_fapiao_through_the_api(staff_user):
    response = client_for(staff_user).post(
        f"/api/v1/invoices/{MISSING}/fapiao-requests/", {}, format="json"
    )
    assert response.status_code == 403, response.content
