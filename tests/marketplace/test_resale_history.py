"""Resale events in the reseller's contract history: listed, sold from, withdrawn; written by
the services in the same transaction, read in words in English and Chinese."""

import pytest

from accounts.errors import InvalidInput
from marketplace import resale, services
from marketplace.models import (
    ContractEvent,
    ContractEventKind,
    ContractHistoryKind,
    ContractStatus,
)
from marketplace.selectors import contract_history, history_kind
from tests.factories import capacity_request
from tests.marketplace.resale_helpers import buyer, list_servers, months_later, reseller_setup
from tests.marketplace.test_pages import ZH, html_of, no_english

pytestmark = pytest.mark.django_db


_list = list_servers


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


def _api_history(client, user, contract):
    client.force_login(user)
    response = client.get(f"/api/v1/contracts/{contract.pk}/")
    assert response.status_code == 200
    return response.json()["history"]


def test_every_api_history_item_says_what_it_is(client, staff_user):
    """The API's history names each row's ``kind``: the signing, changes of state, the resale
    events on the reseller's contract (with their listing) and, on the buyer's, the end its
    resale contract met because the contract it resold ended."""
    cluster, _, user, contract = reseller_setup()
    listing = _list(contract, user, cluster)
    child = _buy(listing)
    buyer_user = child.customer.memberships.first().user
    if child.status == ContractStatus.PENDING_APPROVAL:
        child = services.contract_approve(contract=child, by=staff_user)
    resale.resale_withdraw(listing=listing, by=user)
    services.contract_terminate(
        contract=contract,
        by=staff_user,
        reason="provider lost the site",
        effective_date=months_later(listing.start, 1),
    )

    parent_rows = _api_history(client, user, contract)
    assert [row["kind"] for row in parent_rows] == [
        ContractHistoryKind.SIGNED,
        ContractHistoryKind.RESALE_LISTED,
        ContractHistoryKind.RESALE_SOLD,
        ContractHistoryKind.RESALE_WITHDRAWN,
        ContractHistoryKind.TRANSITION,
    ]
    resale_rows = parent_rows[1:4]
    assert {row["resale_listing"] for row in resale_rows} == {listing.pk}
    assert all(row["from_status"] == row["to_status"] == "approved" for row in resale_rows)
    assert parent_rows[0]["from_status"] == "" and parent_rows[0]["resale_listing"] is None
    assert (parent_rows[-1]["from_status"], parent_rows[-1]["to_status"]) == (
        "approved",
        "terminated",
    )
    assert parent_rows[-1]["by"] == staff_user.username

    child_rows = _api_history(client, buyer_user, child)
    kinds = [row["kind"] for row in child_rows]
    assert kinds[0] == ContractHistoryKind.SIGNED
    assert set(kinds[1:-1]) <= {ContractHistoryKind.TRANSITION}  # its approval
    assert kinds[-1] == ContractHistoryKind.ENDED_WITH_PARENT
    assert child_rows[-1]["to_status"] == "terminated"
    assert str(contract.pk) in child_rows[-1]["reason"]
    assert all(row["resale_listing"] is None for row in child_rows)
    # The same kinds as the selector gives the pages.
    assert [history_kind(e) for e in child.history.all()] == kinds


def test_the_schema_names_every_history_kind():
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    components = schema["components"]["schemas"]
    assert components["ContractHistoryKindEnum"]["enum"] == list(ContractHistoryKind.values)
    event = components["ContractEvent"]["properties"]
    assert event["kind"]["allOf"][0]["$ref"].endswith("/ContractHistoryKindEnum")
    assert {"kind", "resale_listing"} <= set(components["ContractEvent"]["required"])
