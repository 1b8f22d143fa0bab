"""Login throttling (django-axes): per username and address, per address, behind proxies,
on the login page, the admin's login and the token API; reset on success."""

import pytest
from axes.models import AccessAttempt
from django.test import Client, override_settings

from tests.factories import TEST_PASSWORD, OrganizationFactory, UserFactory, member_of

pytestmark = pytest.mark.django_db

TOKEN = "/api/v1/auth/token/"
LOGIN = "/accounts/login/"
LIMITS = {"AXES_FAILURE_LIMIT": 3, "LOGIN_FAILURE_LIMIT_PER_ADDRESS": 5}


@pytest.fixture
def user():
    return member_of(OrganizationFactory(name="Acme"))


def fail_token(api_client, username: str, **extra):
    return api_client.post(TOKEN, {"username": username, "password": "wrong"}, **extra)


@override_settings(**LIMITS)
def test_token_login_locks_after_repeated_failures_even_with_the_right_password(api_client, user):
    for _ in range(2):
        assert fail_token(api_client, user.username).status_code == 401
    third = fail_token(api_client, user.username)
    assert third.status_code == 429  # the failure that reaches the limit already says so
    blocked = api_client.post(TOKEN, {"username": user.username, "password": TEST_PASSWORD})
    assert blocked.status_code == 429
    assert blocked.json()["code"] == "throttled"
    assert "Too many failed login attempts" in blocked.json()["detail"]
    assert not user.api_tokens.exists()


@override_settings(**LIMITS)
def test_the_pair_limit_is_per_username(api_client, user):
    other = member_of(OrganizationFactory(name="Other"))
    for _ in range(3):
        fail_token(api_client, user.username)
    response = api_client.post(TOKEN, {"username": other.username, "password": TEST_PASSWORD})
    assert response.status_code == 200


@override_settings(**LIMITS)
def test_one_address_trying_many_usernames_is_locked_out(api_client, user):
    for n in range(5):
        fail_token(api_client, f"guess{n}")
    response = api_client.post(TOKEN, {"username": user.username, "password": TEST_PASSWORD})
    assert response.status_code == 429


@override_settings(**LIMITS)
def test_another_address_is_not_locked_out(api_client, user):
    for _ in range(3):
        fail_token(api_client, user.username, REMOTE_ADDR="203.0.113.7")
    response = api_client.post(
        TOKEN,
        {"username": user.username, "password": TEST_PASSWORD},
        REMOTE_ADDR="198.51.100.20",
    )
    assert response.status_code == 200


@override_settings(**LIMITS, TRUSTED_PROXIES=["10.0.0.0/8"])
def test_behind_a_trusted_proxy_the_forwarded_client_is_counted(api_client, user):
    for _ in range(3):
        fail_token(
            api_client, user.username, REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="203.0.113.7"
        )
    assert AccessAttempt.objects.get().ip_address == "203.0.113.7"
    # Another client behind the same proxy is not locked out ...
    ok = api_client.post(
        TOKEN,
        {"username": user.username, "password": TEST_PASSWORD},
        REMOTE_ADDR="10.0.0.2",
        HTTP_X_FORWARDED_FOR="198.51.100.20",
    )
    assert ok.status_code == 200
    # ... and the locked-out one is, whichever proxy it comes through.
    blocked = api_client.post(
        TOKEN,
        {"username": user.username, "password": TEST_PASSWORD},
        REMOTE_ADDR="10.9.9.9",
        HTTP_X_FORWARDED_FOR="203.0.113.7",
    )
    assert blocked.status_code == 429


@override_settings(**LIMITS, TRUSTED_PROXIES=[])
def test_a_forged_forwarded_for_from_an_untrusted_peer_is_ignored(api_client, user):
    for n in range(3):
        fail_token(
            api_client,
            user.username,
            REMOTE_ADDR="203.0.113.7",
            HTTP_X_FORWARDED_FOR=f"192.0.2.{n}",
        )
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"203.0.113.7"}
    blocked = api_client.post(
        TOKEN,
        {"username": user.username, "password": TEST_PASSWORD},
        REMOTE_ADDR="203.0.113.7",
        HTTP_X_FORWARDED_FOR="192.0.2.200",
    )
    assert blocked.status_code == 429


@override_settings(**LIMITS)
def test_success_clears_only_that_usernames_failures_from_that_address(api_client, user):
    victim = UserFactory(username="victim")
    for _ in range(2):
        fail_token(api_client, victim.username)
    fail_token(api_client, user.username)
    assert (
        api_client.post(TOKEN, {"username": user.username, "password": TEST_PASSWORD}).status_code
        == 200
    )
    assert list(AccessAttempt.objects.values_list("username", flat=True)) == ["victim"]
    # The victim's count survived the attacker's own successful login.
    assert fail_token(api_client, victim.username).status_code == 429


@override_settings(**LIMITS)
def test_failures_are_kept_in_the_database_for_every_process(api_client, user):
    fail_token(api_client, user.username)
    attempt = AccessAttempt.objects.get()
    assert attempt.username == user.username and attempt.failures_since_start == 1


@override_settings(**LIMITS)
def test_login_page_shows_the_lockout_in_words(client, user):
    for _ in range(3):
        client.post(LOGIN, {"username": user.username, "password": "x"})
    response = client.post(LOGIN, {"username": user.username, "password": TEST_PASSWORD})
    assert response.status_code == 429
    assert "Too many failed login attempts" in response.content.decode()
    assert client.get("/api/v1/me/").status_code in (401, 403)


@override_settings(**LIMITS)
def test_lockout_message_is_in_the_users_language(client, user):
    for _ in range(3):
        client.post(LOGIN, {"username": user.username, "password": "x"})
    response = client.post(
        LOGIN,
        {"username": user.username, "password": TEST_PASSWORD},
        HTTP_ACCEPT_LANGUAGE="zh-hans",
    )
    assert response.status_code == 429
    assert "登录失败次数过多" in response.content.decode()


@override_settings(**LIMITS)
def test_login_page_success_resets_the_count(client, user):
    for _ in range(2):
        client.post(LOGIN, {"username": user.username, "password": "x"})
    response = client.post(LOGIN, {"username": user.username, "password": TEST_PASSWORD})
    assert response.status_code == 302
    assert not AccessAttempt.objects.exists()


@override_settings(**LIMITS)
def test_admin_login_is_throttled_too(user):
    staff = UserFactory(username="root", is_staff=True, is_superuser=True)
    client = Client()
    for _ in range(3):
        client.post("/admin/login/", {"username": staff.username, "password": "x"})
    response = client.post(
        "/admin/login/?next=/admin/", {"username": staff.username, "password": TEST_PASSWORD}
    )
    assert response.status_code == 429
    assert "Too many failed login attempts" in response.content.decode()
    assert client.get("/admin/").status_code == 302  # still not logged in
