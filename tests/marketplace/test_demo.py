"""The demo data leaves the market pages full of life, in both languages."""

import pytest
from django.core.management import call_command

from accounts.models import User
from marketplace import selectors
from marketplace.models import CapacityRequest, Contract, QuoteStatus
from tests.translations import data_words, untranslated_words

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo():
    call_command("seed_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115


def test_the_customer_has_live_quotes_a_contract_and_a_request_that_matched_nothing(client, demo):
    customer = User.objects.get(username="customer").membership.organization
    requests = CapacityRequest.objects.filter(customer=customer)
    live = [r for r in requests if r.quotes.filter(status=QuoteStatus.OPEN).exists()]
    assert live, "a request with live quotes"
    unmatched = requests.get(note__contains="24 H800")
    assert not unmatched.quotes.exists()
    assert Contract.objects.filter(customer=customer).count() >= 2
    client.force_login(User.objects.get(username="customer"))
    page = client.get(f"/market/requests/{live[0].pk}/").content.decode()
    assert "Offer 1" in page and "Why other clusters did not match" in page
    nothing = client.get(f"/market/requests/{unmatched.pk}/").content.decode()
    assert "No offer right now" in nothing
    assert "Too few free servers for one cluster" in nothing
    assert "A different GPU model" in nothing


def _pages(username: str) -> list[str]:
    if username == "customer":
        request = CapacityRequest.objects.filter(quotes__status=QuoteStatus.OPEN).first()
        quote = request.quotes.filter(status=QuoteStatus.OPEN).first()
        return [
            "/",
            "/market/sizing/",
            "/market/requests/",
            "/market/requests/new/",
            f"/market/requests/{request.pk}/",
            f"/market/quotes/{quote.pk}/accept/",
            "/market/contracts/",
            *(f"/market/contracts/{c.pk}/" for c in _visible(username)),
        ]
    return [
        "/",
        "/market/contracts/",
        *(f"/market/contracts/{c.pk}/" for c in _visible(username)),
    ]


def _visible(username: str):
    """The contracts this demo login may open (other demo organisations sign some too)."""
    return selectors.contract_list(user=User.objects.get(username=username))


@pytest.mark.parametrize("username", ["customer", "provider", "admin"])
def test_every_market_page_is_all_chinese_in_chinese(client, demo, username):
    client.force_login(User.objects.get(username=username))
    allowed = data_words()
    for url in _pages(username):
        response = client.get(url, HTTP_ACCEPT_LANGUAGE="zh-hans")
        assert response.status_code == 200, url
        assert untranslated_words(response.content.decode(), allowed) == [], url


def test_the_demo_resells_part_of_a_contract_and_the_index_has_history(client, demo):
    from marketplace.index_models import MarketIndexDay
    from marketplace.models import ResaleListing

    listing = ResaleListing.objects.get()
    assert listing.sold_servers == 2
    sale = Contract.objects.get(kind="resale")
    assert sale.parent_contract == listing.contract
    assert MarketIndexDay.objects.filter(index_price_per_p_year__isnull=False).count() >= 12
    client.force_login(User.objects.get(username="customer"))
    page = client.get(f"/market/contracts/{listing.contract_id}/").content.decode()
    assert "Lingxi Inference Studio" in page and "List servers for resale" in page
    home = client.get("/").content.decode()
    assert "Compute price index" in home and "<svg" in home
