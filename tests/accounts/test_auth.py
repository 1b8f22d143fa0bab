import pytest
from django.test import override_settings

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


@override_settings(LOGIN_RATE_LIMIT_ATTEMPTS=3)
def test_token_login_is_rate_limited_after_repeated_failures(api_client, user):
    for _ in range(3):
        assert (
            api_client.post(TOKEN, {"username": user.username, "password": "x"}).status_code == 401
        )
    # Even the right password is refused while the limit holds.
    blocked = api_client.post(TOKEN, {"username": user.username, "password": TEST_PASSWORD})
    assert blocked.status_code == 429
    assert blocked.json()["code"] == "throttled"


@override_settings(LOGIN_RATE_LIMIT_ATTEMPTS=3)
def test_page_login_is_rate_limited_after_repeated_failures(client, user):
    for _ in range(3):
        client.post("/accounts/login/", {"username": user.username, "password": "x"})
    response = client.post(
        "/accounts/login/", {"username": user.username, "password": TEST_PASSWORD}
    )
    assert response.status_code == 200
    assert b"Too many failed login attempts" in response.content
    assert client.get("/api/v1/me/").status_code in (401, 403)


@override_settings(LOGIN_RATE_LIMIT_ATTEMPTS=3)
def test_rate_limit_is_per_username(api_client, user):
    other = member_of(OrganizationFactory(name="Other"))
    for _ in range(3):
        api_client.post(TOKEN, {"username": user.username, "password": "x"})
    response = api_client.post(TOKEN, {"username": other.username, "password": TEST_PASSWORD})
    assert response.status_code == 200
