"""Resale on the pages: list and withdraw from the contract page, sales shown, resale offers
marked on the request's page; English and Chinese."""

from decimal import Decimal

import pytest

from marketplace import resale, services
from marketplace.models import ResaleListing
from tests.factories import capacity_request, member_of
from tests.marketplace.resale_helpers import buyer, months_later, reseller_setup
from tests.marketplace.test_pages import ZH, html_of, no_english

pytestmark = pytest.mark.django_db


@pytest.fixture
def setup():
    return reseller_setup()


def _form(contract, cluster, **overrides):
    start = months_later(contract.start_date, 3)
    data = {
        "cluster": cluster.pk,
        "servers": 2,
        "start": start.isoformat(),
        "end": months_later(start, 6).isoformat(),
        "price_per_p_year": "90000",
        "min_term_months": 1,
    }
    data.update(overrides)
    return data


def test_the_customer_lists_and_withdraws_from_the_contract_page(client, setup):
    cluster, _, user, contract = setup
    client.force_login(user)
    page = client.get(f"/market/contracts/{contract.pk}/")
    assert "List servers for resale" in html_of(page)
    url = f"/market/contracts/{contract.pk}/resale/"
    too_many = client.post(url, _form(contract, cluster, servers=5))
    assert too_many.status_code == 400 and "free to list" in html_of(too_many)
    assert not ResaleListing.objects.exists()
    response = client.post(url, _form(contract, cluster), follow=True)
    listing = ResaleListing.objects.get()
    assert "listed for resale" in html_of(response) and "Withdraw" in html_of(response)
    response = client.post(f"/market/resale/{listing.pk}/withdraw/", follow=True)
    listing.refresh_from_db()
    assert listing.status == "withdrawn" and "withdrawn" in html_of(response)


def test_others_cannot_list_or_withdraw(client, setup, other_customer_user):
    cluster, _, user, contract = setup
    listing = resale.resale_list(contract=contract, by=user, cluster=cluster, **_kwargs(contract))
    client.force_login(other_customer_user)
    assert client.post(f"/market/contracts/{contract.pk}/resale/", {}).status_code == 404
    assert client.post(f"/market/resale/{listing.pk}/withdraw/").status_code == 404
    client.force_login(member_of(cluster.provider))
    page = html_of(client.get(f"/market/contracts/{contract.pk}/"))
    assert "List servers for resale" not in page and "Listings" not in page
    # the provider sees the contract but may not resell it: refused, not a form with errors
    assert client.post(f"/market/contracts/{contract.pk}/resale/", {}).status_code == 403


def _kwargs(contract):
    start = months_later(contract.start_date, 3)
    return {
        "servers": 2,
        "start": start,
        "end": months_later(start, 6),
        "price_per_p_year": Decimal("90000"),
    }


def test_resale_offers_are_marked_and_sales_shown_in_both_languages(client, setup):
    cluster, _, user, contract = setup
    listing = resale.resale_list(contract=contract, by=user, cluster=cluster, **_kwargs(contract))
    organization, buyer_user = buyer()
    request = capacity_request(organization, servers=2, start_date=listing.start, term_months=3)
    result = services.quotes_generate(capacity_request=request, by=buyer_user)
    client.force_login(buyer_user)
    page = client.get(f"/market/requests/{request.pk}/")
    assert "Resale</span>" in html_of(page) and "Resold by another customer" in html_of(page)
    assert no_english(client.get(f"/market/requests/{request.pk}/", **ZH)) == []
    child = services.quote_accept(quote=result.quotes[0], by=buyer_user)
    bought = client.get(f"/market/contracts/{child.pk}/")
    assert "Resale: these servers are resold" in html_of(bought)
    assert "Give notice" not in html_of(bought)
    client.force_login(user)
    own = client.get(f"/market/contracts/{contract.pk}/")
    assert organization.name in html_of(own) and f"/market/contracts/{child.pk}/" in html_of(own)
    assert no_english(client.get(f"/market/contracts/{contract.pk}/", **ZH)) == []
    # The reseller sees the resale contract as its seller, and cannot end it.
    sold = html_of(client.get(f"/market/contracts/{child.pk}/"))
    assert "Give notice" not in sold and "only a platform admin can end it" not in sold
