"""Named API tokens: stored hashed, shown once, one indexed lookup, revocable."""

import hashlib
from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts import services
from accounts.errors import InvalidInput, PermissionDeniedError
from accounts.models import ApiToken
from tests.factories import OrganizationFactory, member_of, token_of
from tests.translations import data_words, untranslated_words

pytestmark = pytest.mark.django_db


@pytest.fixture
def user():
    return member_of(OrganizationFactory(name="Acme"))


def test_a_token_is_stored_as_its_sha256_with_a_visible_prefix(user):
    token, key = services.api_token_create(user=user, name="scheduler")
    assert key.startswith("cm_") and len(key) > 40
    assert token.key_hash == hashlib.sha256(key.encode()).hexdigest()
    assert key not in {token.key_hash, token.prefix, token.name}
    assert key.startswith(token.prefix) and len(token.prefix) == 11
    assert ApiToken.objects.filter(key_hash__contains=key[3:20]).count() == 0


def test_a_token_needs_a_name(user):
    with pytest.raises(InvalidInput) as exc:
        services.api_token_create(user=user, name="  ")
    assert exc.value.field == "name"
    assert not ApiToken.objects.exists()


def test_authenticating_is_one_query_and_records_the_last_use(api_client, user):
    key = token_of(user)
    with CaptureQueriesContext(connection) as queries:
        response = api_client.get("/api/v1/me/", HTTP_AUTHORIZATION=f"Token {key}")
    assert response.status_code == 200
    lookups = [q["sql"] for q in queries if "accounts_apitoken" in q["sql"]]
    # One SELECT (with user, membership and organisation joined) and the first-use UPDATE.
    assert len(lookups) == 2 and lookups[0].startswith("SELECT")
    assert "accounts_membership" in lookups[0] and "accounts_organization" in lookups[0]
    assert user.api_tokens.get().last_used_at is not None


def test_last_use_is_written_at_most_once_a_minute(api_client, user):
    key = token_of(user)
    api_client.get("/api/v1/me/", HTTP_AUTHORIZATION=f"Token {key}")
    with CaptureQueriesContext(connection) as queries:
        api_client.get("/api/v1/me/", HTTP_AUTHORIZATION=f"Token {key}")
    assert [q for q in queries if q["sql"].startswith("UPDATE")] == []
    token = user.api_tokens.get()
    earlier = timezone.now() - timedelta(minutes=5)
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=earlier)
    api_client.get("/api/v1/me/", HTTP_AUTHORIZATION=f"Token {key}")
    assert user.api_tokens.get().last_used_at > earlier


def test_a_deactivated_users_token_is_refused(api_client, user):
    key = token_of(user)
    user.is_active = False
    user.save()
    assert api_client.get("/api/v1/me/", HTTP_AUTHORIZATION=f"Token {key}").status_code == 401


def test_only_the_owner_or_an_admin_revokes_a_token(user, staff_user):
    token, _ = services.api_token_create(user=user, name="ci")
    other = member_of(OrganizationFactory(name="Other"))
    with pytest.raises(PermissionDeniedError):
        services.api_token_revoke(token=token, by=other)
    services.api_token_revoke(token=token, by=staff_user)
    assert not ApiToken.objects.exists()


def test_old_authtoken_keys_are_carried_over_hashed(user):
    """The data migration's rule: an old DRF key authenticates as the same user."""
    import importlib

    from django.apps import apps

    migration = importlib.import_module("accounts.migrations.0005_api_tokens_from_authtoken")
    old_key = "0123456789abcdef0123456789abcdef01234567"
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE authtoken_token (key varchar(40) PRIMARY KEY, user_id bigint, "
            "created timestamp with time zone)"
            if connection.vendor == "postgresql"
            else "CREATE TABLE authtoken_token (key varchar(40) PRIMARY KEY, user_id bigint, "
            "created datetime)"
        )
        cursor.execute(
            "INSERT INTO authtoken_token VALUES (%s, %s, %s)", [old_key, user.pk, timezone.now()]
        )
    editor = SimpleNamespace(connection=connection)
    migration.copy_tokens(apps, editor)
    migration.copy_tokens(apps, editor)  # twice: no duplicate
    token = ApiToken.objects.get(user=user)
    assert token.key_hash == hashlib.sha256(old_key.encode()).hexdigest()
    from accounts.selectors import api_token_for_key

    assert api_token_for_key(old_key) == token


# --- The page -------------------------------------------------------------------------------
def test_tokens_page_needs_login(client):
    response = client.get("/accounts/tokens/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_creating_a_token_shows_the_key_once(client, user):
    client.force_login(user)
    response = client.post("/accounts/tokens/", {"name": "training scheduler"})
    assert response.status_code == 200
    token = user.api_tokens.get()
    html = response.content.decode()
    key = html.split('id="new-key" type="text" value="', 1)[1].split('"', 1)[0]
    assert token.key_hash == hashlib.sha256(key.encode()).hexdigest()
    assert response["Cache-Control"] == "no-store"
    again = client.get("/accounts/tokens/").content.decode()
    assert key not in again and token.prefix in again and "training scheduler" in again


def test_a_token_without_a_name_is_refused_inline(client, user):
    client.force_login(user)
    response = client.post("/accounts/tokens/", {"name": ""})
    assert response.status_code == 200
    assert "invalid-feedback" in response.content.decode()
    assert not ApiToken.objects.exists()


def test_revoking_from_the_page_stops_the_key(client, api_client, user):
    token, key = services.api_token_create(user=user, name="ci")
    client.force_login(user)
    response = client.post(f"/accounts/tokens/{token.pk}/revoke/", follow=True)
    assert "was revoked" in response.content.decode()
    assert api_client.get("/api/v1/me/", HTTP_AUTHORIZATION=f"Token {key}").status_code == 401


def test_another_users_token_answers_404(client, user):
    other = member_of(user.membership.organization, role="member")
    token, _ = services.api_token_create(user=other, name="theirs")
    client.force_login(user)
    assert client.post(f"/accounts/tokens/{token.pk}/revoke/").status_code == 404
    assert ApiToken.objects.filter(pk=token.pk).exists()


def test_tokens_page_queries_are_bounded(client, user, django_assert_max_num_queries):
    for n in range(15):
        services.api_token_create(user=user, name=f"token {n}")
    client.force_login(user)
    with django_assert_max_num_queries(8):
        assert client.get("/accounts/tokens/").status_code == 200


def test_tokens_page_in_chinese_has_no_english_left(client, user):
    services.api_token_create(user=user, name="ci")
    client.force_login(user)
    response = client.post("/accounts/tokens/", {"name": "调度器"}, HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert untranslated_words(response.content.decode(), data_words()) == []
