"""Organisation scoping: members of A can neither read nor change B's objects (404, not 403)."""

import pytest

from accounts.models import Organization
from accounts.selectors import scope_to_organization
from tests.conftest import client_for
from tests.factories import MembershipFactory, OrganizationFactory, member_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def org_a():
    return OrganizationFactory(name="A Corp")


@pytest.fixture
def org_b():
    return OrganizationFactory(name="B Corp")


def test_list_shows_only_own_organization(org_a, org_b):
    response = client_for(member_of(org_a)).get("/api/v1/organizations/")
    assert response.status_code == 200
    assert [row["name"] for row in response.json()["results"]] == ["A Corp"]
    assert response.json()["count"] == 1


def test_reading_another_organization_is_404(org_a, org_b):
    response = client_for(member_of(org_a)).get(f"/api/v1/organizations/{org_b.pk}/")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_changing_another_organization_is_404_and_changes_nothing(org_a, org_b):
    response = client_for(member_of(org_a)).patch(
        f"/api/v1/organizations/{org_b.pk}/", {"name": "Hijacked"}, format="json"
    )
    assert response.status_code == 404
    org_b.refresh_from_db()
    assert org_b.name == "B Corp"


def test_owner_can_rename_own_organization(org_a):
    response = client_for(member_of(org_a)).patch(
        f"/api/v1/organizations/{org_a.pk}/", {"name": "A Holdings"}, format="json"
    )
    assert response.status_code == 200
    assert Organization.objects.get(pk=org_a.pk).name == "A Holdings"


def test_plain_member_cannot_rename_own_organization_403(org_a):
    response = client_for(member_of(org_a, role="member")).patch(
        f"/api/v1/organizations/{org_a.pk}/", {"name": "A Holdings"}, format="json"
    )
    assert response.status_code == 403
    assert Organization.objects.get(pk=org_a.pk).name == "A Corp"


def test_admin_sees_all_organizations(org_a, org_b, staff_client):
    response = staff_client.get("/api/v1/organizations/")
    assert {row["name"] for row in response.json()["results"]} == {"A Corp", "B Corp"}
    assert staff_client.get(f"/api/v1/organizations/{org_b.pk}/").status_code == 200


def test_scope_helper_for_anonymous_and_orgless_users_is_empty(org_a):
    from django.contrib.auth.models import AnonymousUser

    from tests.factories import UserFactory

    queryset = Organization.objects.all()
    assert not scope_to_organization(queryset, user=AnonymousUser(), org_field="pk").exists()
    assert not scope_to_organization(queryset, user=UserFactory(), org_field="pk").exists()
    member = MembershipFactory(organization=org_a).user
    assert list(scope_to_organization(queryset, user=member, org_field="pk")) == [org_a]


def test_organization_list_query_count_does_not_grow(
    org_a, staff_client, django_assert_max_num_queries
):
    for index in range(30):
        OrganizationFactory(name=f"Extra {index}")
    with django_assert_max_num_queries(4):
        response = staff_client.get("/api/v1/organizations/")
    assert response.json()["count"] == 31
