"""The secondary market in a real browser: a customer lists part of its contract, another buys
it, both see the result, and the public price index moves once the day is recorded."""

import re
from datetime import date

import pytest
from playwright.sync_api import expect

from marketplace import index, services
from marketplace.models import Contract, ContractKind, ResaleListing
from marketplace.terms import months_after
from tests.e2e.conftest import log_in
from tests.e2e.test_market import check
from tests.factories import (
    TEST_PASSWORD,
    ClusterFactory,
    OrganizationFactory,
    ProviderFactory,
    UserFactory,
    capacity_request,
    member_of,
)
from tests.marketplace.resale_helpers import signed_contract
from tests.translations import data_words, untranslated_words

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def resale_market():
    provider = ProviderFactory(name="Hefei Compute Co.")
    cluster = ClusterFactory(
        provider=provider, name="Hefei A800 IB-01", server_count=4, available_from=date(2020, 1, 1)
    )
    other = ClusterFactory(
        provider=provider, name="Hefei A800 IB-02", available_from=cluster.available_from
    )
    reseller = OrganizationFactory(name="Zhipu Start-up Lab")
    reseller_user = member_of(reseller)
    contract = signed_contract(reseller, cluster=cluster, servers=4)
    early = OrganizationFactory(name="Early Bird Labs")
    member_of(early)
    signed_contract(early, cluster=other, servers=1)
    buyer = OrganizationFactory(name="Lingxi Inference Studio")
    return {
        "contract": contract,
        "reseller": reseller_user,
        "buyer": member_of(buyer),
        "admin": UserFactory(username="platform-admin", is_staff=True),
    }


def test_a_customer_resells_part_of_its_contract_and_another_buys_it(new_page, resale_market):
    contract = resale_market["contract"]
    index.index_record()  # two organisations traded so far: no index shown
    start = months_after(contract.start_date, 3)

    seller = new_page(lang="en")
    log_in(seller, resale_market["reseller"].username, TEST_PASSWORD)
    seller.goto(f"/market/contracts/{contract.pk}/")
    form = seller.locator("form", has=seller.get_by_role("button", name="List for resale"))
    form.get_by_label("Servers").fill("2")
    form.get_by_label("From").fill(start.isoformat())
    form.get_by_label("Until").fill(months_after(start, 6).isoformat())
    form.get_by_label(re.compile("Ask per P per year")).fill("90000")
    form.get_by_label("Minimum term (months)").fill("2")
    form.get_by_role("button", name="List for resale").click()
    expect(seller.get_by_text(re.compile("2 servers listed for resale"))).to_be_visible()
    check(seller, "resale-listed")
    listing = ResaleListing.objects.get()

    buyer_user = resale_market["buyer"]
    request = capacity_request(
        buyer_user.membership.organization, servers=2, start_date=listing.start, term_months=3
    )
    services.quotes_generate(capacity_request=request, by=buyer_user)
    buyer = new_page(lang="en")
    log_in(buyer, buyer_user.username, TEST_PASSWORD)
    buyer.goto(f"/market/requests/{request.pk}/")
    expect(buyer.locator(".offer").first).to_contain_text("Resale")
    expect(buyer.locator(".offer").first).to_contain_text("Resold by another customer")
    check(buyer, "resale-offer")
    # Held for the first buyer's offers: a second buyer is told why it is not offered them.
    second = OrganizationFactory(name="Second Look Labs")
    second_user = member_of(second)
    late_request = capacity_request(second, servers=2, start_date=listing.start, term_months=3)
    assert not services.quotes_generate(capacity_request=late_request, by=second_user).quotes
    late = new_page(lang="en")
    log_in(late, second_user.username, TEST_PASSWORD)
    late.goto(f"/market/requests/{late_request.pk}/")
    reasons = late.get_by_role("region", name=re.compile("Fully booked for your term"))
    expect(reasons).to_contain_text(f"Resale listing {listing.pk} of servers on this cluster")
    expect(reasons).to_contain_text("No server is free for the whole term")
    check(late, "resale-reasons")
    # The same two pages in Chinese on a phone: resale marked, reasons worded, all translated.
    allowed = data_words()
    for user, url, name in (
        (buyer_user, f"/market/requests/{request.pk}/", "resale-offer"),
        (second_user, f"/market/requests/{late_request.pk}/", "resale-reasons"),
    ):
        phone = new_page(lang="zh-hans", phone=True)
        log_in(phone, user.username, TEST_PASSWORD)
        phone.goto(url)
        expect(phone.locator("main")).to_contain_text("转售")
        check(phone, name)
        assert untranslated_words(phone.content(), allowed) == [], name
    buyer.get_by_role("link", name="Review and accept offer 1").click()
    buyer.get_by_role("button", name="Confirm and sign").click()
    expect(buyer.get_by_text(re.compile(r"signed; it awaits approval"))).to_be_visible()
    sale = Contract.objects.get(kind=ContractKind.RESALE)
    assert sale.parent_contract_id == contract.pk
    expect(buyer.locator("main")).to_contain_text("Resale: these servers are resold")

    seller.goto(f"/market/contracts/{contract.pk}/")
    expect(seller.locator("main")).to_contain_text("Lingxi Inference Studio")
    check(seller, "resale-sold")

    index.index_record()  # the daily task: three organisations have traded now
    buyer.goto("/")
    expect(buyer.get_by_role("heading", name="Compute price index")).to_be_visible()
    expect(buyer.locator("svg[role=img]").first).to_be_visible()
    zh = new_page(lang="zh-hans", phone=True)
    zh.goto("/")
    expect(zh.get_by_role("heading", name="算力价格指数")).to_be_visible()
    check(zh, "index")
