"""The secondary market in the admins' work queue: resale contracts awaiting approval marked as
such with their parent, the open resale listings (newest first, bounded) with their audit
trails, and the withdraw action through the resale service, with and without htmx."""

from decimal import Decimal

import pytest

from marketplace import resale, services
from marketplace.models import ContractEventKind, ContractStatus, ResaleListing, ResaleStatus
from tests.factories import TEST_PASSWORD, capacity_request
from tests.marketplace.resale_helpers import buyer, list_servers, months_later, reseller_setup
from tests.translations import data_words, untranslated_words

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def admin(django_user_model):
    return django_user_model.objects.create_user("ops", password=TEST_PASSWORD, is_staff=True)


_list = list_servers


@pytest.fixture
def market():
    """A reseller's contract with a listing partly sold (the resale awaiting approval) and a
    second, unsold listing."""
    cluster, _, user, contract = reseller_setup()
    sold_from = _list(contract, user, cluster, servers=2)
    organization, buyer_user = buyer("Buyer Labs")
    request = capacity_request(organization, servers=2, term_months=3, start_date=sold_from.start)
    quote = services.quotes_generate(capacity_request=request, by=buyer_user).quotes[0]
    child = services.quote_accept(quote=quote, by=buyer_user)
    unsold = _list(contract, user, cluster, servers=2)
    return {
        "cluster": cluster,
        "user": user,
        "contract": contract,
        "sold_from": sold_from,
        "unsold": unsold,
        "child": child,
        "buyer_user": buyer_user,
    }


def post(client, pk, *, htmx=False):
    url = f"/dashboard/queue/listing/{pk}/withdraw/"
    return client.post(url, {}, **(HTMX if htmx else {}))


def test_resales_awaiting_approval_and_open_listings_are_on_the_queue(client, admin, market):
    child, contract = market["child"], market["contract"]
    assert child.status == ContractStatus.PENDING_APPROVAL
    client.force_login(admin)
    response = client.get("/dashboard/queue/")
    html = response.content.decode()
    assert response.status_code == 200
    assert f'id="queue-contract-{child.pk}"' in html
    assert f'<a href="/market/contracts/{contract.pk}/">contract {contract.pk}</a>' in html
    assert "Secondary market: open resale listings" in html
    newer, older = market["unsold"], market["sold_from"]
    assert html.index(f'id="queue-listing-{newer.pk}"') < html.index(
        f'id="queue-listing-{older.pk}"'
    )
    assert "Reseller Co" in html and "Buyer Labs" in html
    assert f"Sold 2 servers to Buyer Labs, resale contract {child.pk}." in html  # the trail
    assert f'hx-post="/dashboard/queue/listing/{newer.pk}/withdraw/"' in html
    assert f'<form method="post" action="/dashboard/queue/listing/{newer.pk}/withdraw/"' in html


def test_the_section_reads_in_chinese(client, admin, market):
    client.force_login(admin)
    response = client.get("/dashboard/queue/", HTTP_ACCEPT_LANGUAGE="zh-hans")
    html = response.content.decode()
    assert "二级市场" in html and "已挂牌转售" in html
    assert untranslated_words(html, data_words()) == []


def test_an_admin_withdraws_with_htmx_and_it_is_in_the_trail(client, admin, market):
    listing = market["unsold"]
    client.force_login(admin)
    response = post(client, listing.pk, htmx=True)
    assert response.status_code == 200
    assert "left the queue" in response.content.decode()
    assert "<html" not in response.content.decode()
    listing.refresh_from_db()
    assert listing.status == ResaleStatus.WITHDRAWN
    event = listing.history.get(kind=ContractEventKind.RESALE_WITHDRAWN)
    assert event.actor == admin and event.contract_id == market["contract"].pk
    # Once more: it has left the queue, nothing is written twice.
    again = post(client, listing.pk, htmx=True)
    assert "already left the queue" in again.content.decode()
    assert listing.history.filter(kind=ContractEventKind.RESALE_WITHDRAWN).count() == 1


def test_withdraw_without_javascript_redirects_to_the_queue(client, admin, market):
    listing = market["sold_from"]
    client.force_login(admin)
    response = post(client, listing.pk)
    assert response.status_code == 302 and response["Location"] == "/dashboard/queue/"
    listing.refresh_from_db()
    assert listing.status == ResaleStatus.WITHDRAWN and listing.sold_servers == 2
    page = client.get("/dashboard/queue/").content.decode()
    assert f"Resale listing {listing.pk} withdrawn" in page
    assert f'id="queue-listing-{listing.pk}"' not in page


def test_only_admins_withdraw_from_the_queue(client, market):
    listing = market["unsold"]
    for user in (market["user"], market["buyer_user"]):
        client.force_login(user)
        assert client.get("/dashboard/queue/").status_code == 403
        assert post(client, listing.pk).status_code == 403
    client.logout()
    response = post(client, listing.pk)
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    listing.refresh_from_db()
    assert listing.status == ResaleStatus.LISTED
    assert not listing.history.filter(kind=ContractEventKind.RESALE_WITHDRAWN).exists()


def test_listings_are_bounded_and_the_queries_do_not_grow(
    client, admin, market, settings, django_assert_max_num_queries
):
    from billing import work_queue

    settings.DEBUG = False
    contract, user, cluster = market["contract"], market["user"], market["cluster"]
    # The months before the first listing are free: one-server listings of one of them.
    for _ in range(3):
        resale.resale_list(
            contract=contract,
            by=user,
            cluster=cluster,
            servers=1,
            start=months_later(contract.start_date, 1),
            end=months_later(contract.start_date, 2),
            price_per_p_year=Decimal("80000"),
        )
    client.force_login(admin)
    with django_assert_max_num_queries(22):
        few = client.get("/dashboard/queue/")
    assert few.content.decode().count('queue-item" id="queue-listing-') == 5
    limit = 2
    work_queue.QUEUE_LIMIT, saved = limit, work_queue.QUEUE_LIMIT
    try:
        with django_assert_max_num_queries(22):
            bounded = client.get("/dashboard/queue/")
    finally:
        work_queue.QUEUE_LIMIT = saved
    html = bounded.content.decode()
    assert html.count('queue-item" id="queue-listing-') == limit
    assert "The newest 2 are shown." in html
    newest = ResaleListing.objects.order_by("-created_at", "-id").first()
    assert f'id="queue-listing-{newest.pk}"' in html
