"""The read cache (accounts.readcache): cached answers are never stale after a write, never
shown to another user, and a cached public page still gives each visitor their own CSRF token."""

import re
import socket
import threading
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.test import Client

from accounts import readcache
from inventory.models import Cluster
from tests.conftest import client_for
from tests.factories import ClusterFactory, OrganizationFactory, ProviderFactory, member_of

TOKEN = re.compile(r'name="csrfmiddlewaretoken" value="([A-Za-z0-9]+)"')


def _cluster_names(api) -> set[str]:
    response = api.get("/api/v1/clusters/")
    assert response.status_code == 200
    return {row["name"] for row in response.json()["results"]}


@pytest.mark.parametrize(
    ("sql", "writes"),
    [
        ('SELECT "inventory_cluster"."id" FROM "inventory_cluster"', False),
        ('SELECT 1 FROM "inventory_cluster" FOR UPDATE', False),
        ("WITH days AS (SELECT 1) SELECT * FROM days", False),
        ('SAVEPOINT "s1"', False),
        ('INSERT INTO "inventory_cluster" ("name") VALUES (%s)', True),
        ('UPDATE "billing_invoice" SET "status" = %s', True),
        ('DELETE FROM "marketplace_quote" WHERE "id" = %s', True),
        ('WITH x AS (DELETE FROM "inventory_allocation" RETURNING 1) SELECT 1', True),
        ('TRUNCATE "inventory_cluster"', True),
        ('UPDATE "django_session" SET "expire_date" = %s', False),
        ('INSERT INTO "axes_accessattempt" ("username") VALUES (%s)', False),
    ],
)
def test_statements_that_write_are_told_from_reads(sql, writes):
    assert readcache.is_write(sql) is writes


@pytest.mark.django_db
def test_a_write_in_the_same_transaction_is_seen_at_once():
    customer = client_for(member_of(OrganizationFactory()))
    ClusterFactory(name="First")
    assert _cluster_names(customer) == {"First"}
    ClusterFactory(name="Second")
    assert _cluster_names(customer) == {"First", "Second"}
    Cluster.objects.filter(name="First").update(price_per_p_year=Decimal("99000"))
    prices = {
        row["name"]: row["price_per_p_year"]
        for row in customer.get("/api/v1/clusters/").json()["results"]
    }
    assert Decimal(prices["First"]) == Decimal("99000")


@pytest.mark.django_db
def test_a_write_rolled_back_does_not_stop_the_next_one_from_being_seen():
    customer = client_for(member_of(OrganizationFactory()))
    ClusterFactory(name="Kept")
    with pytest.raises(RuntimeError), transaction.atomic():
        ClusterFactory(name="Rolled back")
        raise RuntimeError
    assert _cluster_names(customer) == {"Kept"}
    with transaction.atomic():
        ClusterFactory(name="Later")
        assert _cluster_names(customer) == {"Kept", "Later"}


@pytest.mark.django_db
def test_a_cached_answer_is_never_another_users():
    provider = ProviderFactory()
    ClusterFactory(provider=provider, name="Listed")
    owner = client_for(member_of(provider))
    stranger = client_for(member_of(OrganizationFactory()))
    Cluster.objects.filter(name="Listed").update(status="draft")
    # The provider sees its draft; the cached copy must not reach a customer.
    assert _cluster_names(owner) == {"Listed"}
    assert _cluster_names(stranger) == set()
    assert _cluster_names(owner) == {"Listed"}


@pytest.mark.django_db
def test_a_repeated_read_is_answered_from_the_cache(django_assert_max_num_queries):
    customer = client_for(member_of(OrganizationFactory()))
    ClusterFactory.create_batch(3)
    first = customer.get("/api/v1/clusters/")
    with django_assert_max_num_queries(0):
        again = customer.get("/api/v1/clusters/")
    assert again.status_code == 200
    assert again.json() == first.json()
    assert again["Content-Type"] == first["Content-Type"]


@pytest.mark.django_db
def test_each_visitor_of_a_cached_page_gets_their_own_csrf_token():
    ClusterFactory(name="On the home page")
    first, second = Client(enforce_csrf_checks=True), Client(enforce_csrf_checks=True)
    page_one = first.get("/")
    page_two = second.get("/")
    assert page_one.status_code == page_two.status_code == 200
    token_one = TOKEN.search(page_one.content.decode()).group(1)
    token_two = TOKEN.search(page_two.content.decode()).group(1)
    assert token_one != token_two
    # The rest of the page is the same copy.
    assert page_one.content.decode().replace(token_one, "") == page_two.content.decode().replace(
        token_two, ""
    )
    # Each token works with its visitor's cookie: switching the language is not refused.
    for client, token in ((first, token_one), (second, token_two)):
        answer = client.post(
            "/i18n/setlang/", {"language": "zh-hans", "next": "/", "csrfmiddlewaretoken": token}
        )
        assert answer.status_code == 302
    refused = Client(enforce_csrf_checks=True)
    refused.get("/clusters/")
    swapped = refused.post(
        "/i18n/setlang/", {"language": "zh-hans", "next": "/", "csrfmiddlewaretoken": token_one}
    )
    assert swapped.status_code == 403


@pytest.mark.django_db
def test_a_signed_in_visitor_never_gets_the_anonymous_copy():
    organization = OrganizationFactory(name="Signed In Lab")
    Client().get("/")  # the anonymous copy is made
    browser = Client()
    browser.force_login(member_of(organization))
    page = browser.get("/").content.decode()
    assert "Log out" in page


@pytest.mark.django_db
def test_each_language_has_its_own_copy():
    Client().get("/", HTTP_ACCEPT_LANGUAGE="en")
    chinese = Client().get("/", HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert chinese["Content-Language"] == "zh-hans"
    assert "算力" in chinese.content.decode()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_copy_made_while_another_transaction_writes_is_retired_when_it_commits():
    """A reader caches what it sees between another transaction's first write and its commit;
    once that commits, the copy is not served."""
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL")
    customer = client_for(member_of(OrganizationFactory()))
    ClusterFactory(name="Before")
    wrote, read = threading.Event(), threading.Event()
    failures: list[BaseException] = []

    def writer() -> None:
        try:
            with transaction.atomic():
                ClusterFactory(name="Committed later")
                wrote.set()
                read.wait(timeout=30)
        except BaseException as exc:  # reported by the main thread
            failures.append(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=writer)
    thread.start()
    assert wrote.wait(timeout=30)
    assert _cluster_names(customer) == {"Before"}  # not committed yet: cached like this
    read.set()
    thread.join(timeout=30)
    assert not failures
    assert _cluster_names(customer) == {"Before", "Committed later"}


@pytest.mark.django_db
def test_while_the_cache_is_unreachable_every_read_is_computed_and_writes_go_through(
    settings, monkeypatch
):
    monkeypatch.setattr(readcache, "_paused_until", [0.0])
    with socket.socket() as probe:  # a port where nothing listens
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings.CACHES = {
        "default": {
            "BACKEND": "config.cache.ResilientRedisCache",
            "LOCATION": f"redis://127.0.0.1:{port}/0",
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        }
    }
    customer = client_for(member_of(OrganizationFactory()))
    ClusterFactory(name="Before")
    assert _cluster_names(customer) == {"Before"}
    ClusterFactory(name="During")
    assert _cluster_names(customer) == {"Before", "During"}
