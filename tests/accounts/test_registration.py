import pytest

from accounts.models import Membership, MembershipRole, Organization, User
from tests.factories import OrganizationFactory, UserFactory

REGISTER = "/api/v1/auth/register/"


def payload(**overrides):
    data = {
        "username": "li.wei",
        "password": "a-long-unusual-passphrase-7",
        "email": "li.wei@example.cn",
        "organization": {"name": "Hefei Compute", "roles": ["provider"]},
    }
    data.update(overrides)
    return data


def nothing_written():
    return not User.objects.exists() and not Organization.objects.exists()


@pytest.mark.django_db
def test_registration_creates_user_organization_owner_membership_and_token(api_client):
    response = api_client.post(REGISTER, payload(), format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["user"]["username"] == "li.wei"
    assert body["organization"]["roles"] == ["provider"]
    assert body["organization"]["is_verified"] is False
    membership = Membership.objects.get(user__username="li.wei")
    assert membership.role == MembershipRole.OWNER
    assert membership.organization.name == "Hefei Compute"
    me = api_client.get("/api/v1/me/", HTTP_AUTHORIZATION=f"Token {body['token']}")
    assert me.status_code == 200
    assert me.json()["organization"]["name"] == "Hefei Compute"


@pytest.mark.django_db
def test_registration_with_both_roles(api_client):
    data = payload(organization={"name": "Both Ltd", "roles": ["provider", "customer"]})
    response = api_client.post(REGISTER, data, format="json")
    assert response.status_code == 201
    assert sorted(response.json()["organization"]["roles"]) == ["customer", "provider"]


@pytest.mark.django_db
def test_duplicate_username_is_refused_with_a_field_error_and_writes_nothing(api_client):
    UserFactory(username="li.wei")
    response = api_client.post(
        REGISTER, payload(organization={"name": "New Org", "roles": ["customer"]}), format="json"
    )
    assert response.status_code == 400
    assert "username" in response.json()["errors"]
    assert not Organization.objects.filter(name="New Org").exists()
    assert User.objects.count() == 1


@pytest.mark.django_db
def test_duplicate_username_differing_only_in_case_is_refused(api_client):
    UserFactory(username="li.wei")
    response = api_client.post(REGISTER, payload(username="LI.WEI"), format="json")
    assert response.status_code == 400
    assert "username" in response.json()["errors"]


@pytest.mark.django_db
def test_duplicate_organization_name_is_refused(api_client):
    OrganizationFactory(name="Hefei Compute")
    response = api_client.post(REGISTER, payload(), format="json")
    assert response.status_code == 400
    assert "organization.name" in response.json()["errors"]
    assert not User.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("password", ["short", "password123", "12345678901", "li.wei2027"])
def test_weak_password_is_refused_with_a_field_error_and_writes_nothing(api_client, password):
    response = api_client.post(REGISTER, payload(password=password), format="json")
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert body["errors"]["password"]
    assert nothing_written()


@pytest.mark.django_db
@pytest.mark.parametrize("roles", [["landlord"], [], ["customer", "reseller"]])
def test_unknown_or_missing_role_is_refused_and_writes_nothing(api_client, roles):
    data = payload(organization={"name": "X", "roles": roles})
    response = api_client.post(REGISTER, data, format="json")
    assert response.status_code == 400
    assert "organization.roles" in response.json()["errors"]
    assert nothing_written()


@pytest.mark.django_db
def test_missing_fields_are_each_reported(api_client):
    response = api_client.post(REGISTER, {}, format="json")
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert {"username", "password", "organization"} <= set(errors)


@pytest.mark.django_db
def test_registration_page_creates_account_and_logs_in(client):
    response = client.post(
        "/accounts/register/",
        {
            "username": "page.user",
            "email": "page.user@example.cn",
            "password": "a-long-unusual-passphrase-7",
            "password_confirm": "a-long-unusual-passphrase-7",
            "organization_name": "Page Org",
            "roles": ["customer"],
        },
    )
    assert response.status_code == 302
    home = client.get("/")
    assert b"page.user" in home.content and b"Page Org" in home.content


@pytest.mark.django_db
def test_registration_page_shows_weak_password_error(client):
    response = client.post(
        "/accounts/register/",
        {
            "username": "page.user",
            "email": "page.user@example.cn",
            "password": "123",
            "password_confirm": "123",
            "organization_name": "O",
            "roles": ["customer"],
        },
    )
    assert response.status_code == 200
    assert b"too short" in response.content
    assert nothing_written()
