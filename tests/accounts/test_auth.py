import pytest

from tests.factories import TEST_PASSWORD, OrganizationFactory, member_of

TOKEN = "/api/v1/auth/token/"


@pytest.fixture
def user(db):
    return member_of(OrganizationFactory(name="Acme"))


def test_token_login_returns_a_token_that_authenticates(api_client, user):
    response = api_client.post(TOKEN, {"username": user.username, "password": TEST_PASSWORD})
    assert response.status_code == 200
    token = response.json()["token"]
    me = api_client.get("/api/v1/me/", HTTP_AUTHORIZATION=f"Token {token}")
    assert me.status_code == 200
    assert me.json()["user"]["username"] == user.username
    assert me.json()["membership_role"] == "owner"


def test_wrong_password_is_401_with_error_shape(api_client, user):
    response = api_client.post(TOKEN, {"username": user.username, "password": "nope"})
    assert response.status_code == 401
    assert response.json()["errors"]["non_field_errors"]


def test_unauthenticated_requests_get_401(api_client, db):
    assert api_client.get("/api/v1/me/").status_code == 401
    assert api_client.get("/api/v1/me/", HTTP_AUTHORIZATION="Token not-a-token").status_code == 401


def test_revoked_token_stops_working(api_client, user):
    token = api_client.post(TOKEN, {"username": user.username, "password": TEST_PASSWORD}).json()[
        "token"
    ]
    assert api_client.delete(TOKEN, HTTP_AUTHORIZATION=f"Token {token}").status_code == 204
    assert api_client.get("/api/v1/me/", HTTP_AUTHORIZATION=f"Token {token}").status_code == 401


def test_session_login_authenticates_the_api_and_logout_ends_it(client, user):
    response = client.post(
        "/accounts/login/", {"username": user.username, "password": TEST_PASSWORD}
    )
    assert response.status_code == 302
    assert client.get("/api/v1/me/").status_code == 200
    client.post("/accounts/logout/")
    assert client.get("/api/v1/me/").status_code in (401, 403)


def test_session_api_writes_require_csrf(user):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    org_id = user.membership.organization_id
    response = client.patch(
        f"/api/v1/organizations/{org_id}/", {"name": "Renamed"}, content_type="application/json"
    )
    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]


def test_every_token_login_makes_a_new_named_key(api_client, user):
    first = api_client.post(TOKEN, {"username": user.username, "password": TEST_PASSWORD})
    second = api_client.post(TOKEN, {"username": user.username, "password": TEST_PASSWORD})
    assert first.json()["token"] != second.json()["token"]
    assert user.api_tokens.count() == 2
    assert {t.name for t in user.api_tokens.all()} == {"Logged in through the API"}


def test_revoking_one_token_leaves_the_others_working(api_client, user):
    keys = [
        api_client.post(TOKEN, {"username": user.username, "password": TEST_PASSWORD}).json()[
            "token"
        ]
        for _ in range(2)
    ]
    assert api_client.delete(TOKEN, HTTP_AUTHORIZATION=f"Token {keys[0]}").status_code == 204
    assert api_client.get("/api/v1/me/", HTTP_AUTHORIZATION=f"Token {keys[0]}").status_code == 401
    assert api_client.get("/api/v1/me/", HTTP_AUTHORIZATION=f"Token {keys[1]}").status_code == 200


def test_delete_without_a_token_is_401(api_client, user):
    assert api_client.delete(TOKEN).status_code == 401
