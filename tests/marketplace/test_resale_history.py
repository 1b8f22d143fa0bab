"""Resale events in the reseller's contract history: listed, sold from, withdrawn; written by
the services in the same transaction, read in words in English and Chinese."""

from decimal import Decimal

import pytest

from accounts.errors import InvalidInput
from marketplace import resale, services
from marketplace.models import ContractEvent, ContractEventKind, ContractStatus
from marketplace.selectors import contract_history
from tests.factories import capacity_request
from tests.marketplace.resale_helpers import buyer, months_later, reseller_setup
from tests.marketplace.test_pages import ZH, html_of, no_english

pytestmark = pytest.mark.django_db


def _list(contract, user, cluster, servers=2):
    start = months_later(contract.start_date, 3)
    return resale.resale_list(
        contract=contract,
        by=user,
        cluster=cluster,
        servers=servers,
        start=start,
        end=months_later(start, 6),
        price_per_p_year=Decimal("90000"),
    )


def _buy(listing, servers=2):
    organization, user = buyer("Buyer Labs")
    request = capacity_request(
        organization, servers=servers, term_months=3, start_date=listing.start
    )
    quote = services.quotes_generate(capacity_request=request, by=user).quotes[0]
    return services.quote_accept(quote=quote, by=user)


def _events(contract):
    return list(contract.history.exclude(kind="").order_by("id"))


def test_listing_selling_and_withdrawing_are_in_the_parents_history():
    cluster, _, user, contract = reseller_setup()
    transitions = contract.history.count()
    listing = _list(contract, user, cluster)
    child = _buy(listing)
    resale.resale_withdraw(listing=listing, by=user)
    listed, sold, withdrawn = _events(contract)
    assert [e.kind for e in (listed, sold, withdrawn)] == [
        ContractEventKind.RESALE_LISTED,
        ContractEventKind.RESALE_SOLD,
        ContractEventKind.RESALE_WITHDRAWN,
    ]
    assert {e.resale_listing_id for e in (listed, sold, withdrawn)} == {listing.pk}
    # The contract's state is unchanged; the events say so.
    assert {(e.from_status, e.to_status) for e in (listed, sold, withdrawn)} == {
        (ContractStatus.APPROVED, ContractStatus.APPROVED)
    }
    assert listed.actor == user and withdrawn.actor == user and sold.actor is None
    assert sold.details == {"servers": 2, "buyer": "Buyer Labs", "contract": child.pk}
    assert contract.history.count() == transitions + 3
    # The buyer's contract has only its own signing.
    assert not child.history.exclude(kind="").exists()

    rows = [row for row in contract_history(contract) if row.to_code]
    words = [row.reason for row in rows[-3:]]
    assert words[0].startswith(f"Listed 2 servers on cluster {cluster.name} from ")
    assert "per P per year" in words[0]
    assert words[1] == f"Sold 2 servers to Buyer Labs, resale contract {child.pk}."
    assert words[2] == f"Withdrew resale listing {listing.pk}."
    # Approval is read from the transitions only.
    assert not any(row.to_code == ContractStatus.APPROVED for row in rows[-3:])


def test_a_refused_listing_writes_no_history():
    cluster, _, user, contract = reseller_setup()
    before = ContractEvent.objects.count()
    with pytest.raises(InvalidInput):
        _list(contract, user, cluster, servers=5)
    assert ContractEvent.objects.count() == before


def test_an_admin_withdrawal_names_the_admin(staff_user):
    cluster, _, user, contract = reseller_setup()
    listing = _list(contract, user, cluster)
    resale.resale_withdraw(listing=listing, by=staff_user)
    assert _events(contract)[-1].actor == staff_user


def test_the_contract_page_shows_the_events_in_both_languages(client):
    cluster, _, user, contract = reseller_setup()
    listing = _list(contract, user, cluster)
    child = _buy(listing)
    resale.resale_withdraw(listing=listing, by=user)
    client.force_login(user)
    page = html_of(client.get(f"/market/contracts/{contract.pk}/"))
    assert "Listed for resale" in page and "Resold" in page
    assert f"resale contract {child.pk}" in page and "Withdrew resale listing" in page
    response = client.get(f"/market/contracts/{contract.pk}/", **ZH)
    assert "已挂牌转售" in html_of(response)
    assert no_english(response) == []
    api = client.get(f"/api/v1/contracts/{contract.pk}/").json()
    assert any(row["reason"].startswith("Sold 2 servers") for row in api["history"])
