import pytest

from marketplace.models import Contract
from tests.factories import capacity_request

pytestmark = pytest.mark.django_db


def test_customer_quotes_and_accepts_from_the_page(client, customer_user, customer_org, market):
    request = capacity_request(customer_org, servers=2)
    client.force_login(customer_user)
    response = client.post(f"/market/requests/{request.pk}/quote/", follow=True)
    assert b"offer(s), capacity held" in response.content
    quote = request.quotes.get(rank=1)
    response = client.post(f"/market/quotes/{quote.pk}/accept/", follow=True)
    contract = Contract.objects.get()
    assert f"Contract #{contract.pk}".encode() in response.content
    listing = client.get("/market/contracts/")
    assert b"Pending approval" in listing.content


def test_other_customers_cannot_accept_from_the_page(
    client, other_customer_user, customer_org, customer_user, market
):
    request = capacity_request(customer_org, servers=2)
    client.force_login(customer_user)
    client.post(f"/market/requests/{request.pk}/quote/")
    quote = request.quotes.get(rank=1)
    client.force_login(other_customer_user)
    assert client.post(f"/market/quotes/{quote.pk}/accept/").status_code == 404
    assert not Contract.objects.exists()
