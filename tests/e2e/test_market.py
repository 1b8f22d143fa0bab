"""The market in a real browser: a customer sizes a workload, requests from the result, reads
the offers and the reasons, signs through the confirmation; an admin approves; a provider sees
only its own lines. Every page: both languages, desktop and phone, axe-clean, no sideways
scroll, screenshots in ``artifacts/screenshots``."""

import re
from datetime import date

import pytest
from playwright.sync_api import expect

from marketplace import services
from marketplace.models import Contract, ContractStatus, QuoteStatus
from tests.e2e.conftest import log_in, scrolls_sideways, serious_axe_violations, snap
from tests.factories import (
    TEST_PASSWORD,
    ClusterFactory,
    OrganizationFactory,
    ProviderFactory,
    UserFactory,
    capacity_request,
    gpu,
    member_of,
    region,
)

pytestmark = pytest.mark.django_db(transaction=True)
SINCE = date(2020, 1, 1)


@pytest.fixture
def market():
    hefei = ProviderFactory(
        name="Hefei Compute Co.",
        legal_name="合肥算力科技有限公司",
        unified_social_credit_code="91340100MA2T000013",
        registered_address="安徽省合肥市高新区望江西路 800 号",
    )
    wuhu = ProviderFactory(name="Wuhu Cloud", legal_name="芜湖云算有限公司")
    ClusterFactory(
        provider=hefei,
        name="Hefei A800 IB-01",
        server_count=4,
        price_per_p_year=110_000,
        available_from=SINCE,
    )
    ClusterFactory(
        provider=wuhu,
        name="Wuhu A800 IB-02",
        server_count=4,
        region=region("wuhu"),
        price_per_p_year=115_000,
        available_from=SINCE,
    )
    ClusterFactory(
        provider=hefei,
        name="Hefei H800 IB-03",
        gpu_model=gpu("H800-80G"),
        price_per_p_year=135_000,
        available_from=SINCE,
    )
    ClusterFactory(
        provider=wuhu,
        name="Wuhu H20 Eth-04",
        gpu_model=gpu("H20-96G"),
        interconnect="ethernet",
        price_per_p_year=95_000,
        available_from=SINCE,
    )
    customer = OrganizationFactory(
        name="Zhipu Start-up Lab",
        legal_name="北京智谱创新实验室有限公司",
        unified_social_credit_code="91110108MA01A2B3CF",
    )
    return {
        "customer": member_of(customer),
        "hefei": member_of(hefei),
        "wuhu": member_of(wuhu),
        "admin": UserFactory(username="platform-admin", is_staff=True),
    }


def check(page, name: str) -> None:
    """Axe-clean, no sideways scroll on a phone, no script errors; then a screenshot."""
    page.wait_for_load_state("networkidle")
    assert serious_axe_violations(page) == [], name
    if page.viewport_size["width"] < 576:
        assert not scrolls_sideways(page), name
    assert page.errors == [], name
    snap(page, name)


def test_customer_sizes_requests_accepts_admin_approves_provider_sees_its_lines(new_page, market):
    page = new_page(lang="en")
    log_in(page, market["customer"].username, TEST_PASSWORD)

    # Size an inference service: 7B parameters, 1M visits x 20 questions x 2,000 tokens a day.
    page.goto("/market/sizing/")
    page.get_by_label("Inference", exact=True).check()
    page.get_by_label("Model size, billions of parameters").fill("7")
    page.get_by_label("Visits per day").fill("1000000")
    page.get_by_label("Questions per visit").fill("20")
    page.get_by_label("Tokens per question and answer").fill("2000")
    page.get_by_label("FP16 (dense peak)").check()
    page.get_by_label("NVIDIA A800 80GB").check()
    page.get_by_role("button", name="Calculate").click()
    # 2 x 7e9 x 4e10 / 86,400 / 0.45 = 14.403 PFLOPS -> 47 cards of 312 TFLOPS -> 6 servers.
    expect(page.get_by_text("14.403 PFLOPS").first).to_be_visible()
    expect(page.locator("ol.formulas")).to_contain_text("servers = ceil(47 cards / 8 per server)")
    check(page, "sizing-result")

    # The result opens the request form, pre-filled.
    page.get_by_role("link", name=re.compile("Request 6 servers")).click()
    expect(page.get_by_label("NVIDIA A800 80GB")).to_be_checked()
    expect(page.get_by_label("Servers", exact=True)).to_have_value("6")
    expect(page.get_by_label(re.compile("All servers in one cluster"))).not_to_be_checked()
    page.get_by_role("button", name="Submit and get offers").click()

    # Offers, ranked, with the breakdown; and the reasons in words.
    expect(page.get_by_role("heading", name="Offer 1")).to_be_visible()
    offer = page.locator("article.offer").first
    expect(offer).to_contain_text("Hefei A800 IB-01")
    expect(offer).to_contain_text("Wuhu A800 IB-02")
    expect(offer).to_contain_text("29.952")  # 6 x 4.992 P
    expect(page.locator("time[data-countdown]").first).to_have_text(re.compile(r"^\d+:\d\d$"))
    expect(
        page.get_by_text("It has NVIDIA H800 80GB; you asked for NVIDIA A800 80GB.")
    ).to_be_visible()
    expect(page.get_by_role("heading", name=re.compile("A different GPU model"))).to_be_visible()
    assert "gpu_model" not in page.locator("main").inner_text()
    check(page, "quotes")

    # Accept through the confirmation step: what is signed, then sign.
    page.get_by_role("link", name="Review and accept offer 1").click()
    expect(page.get_by_role("heading", name="Review and sign")).to_be_visible()
    expect(page.locator("main")).to_contain_text("北京智谱创新实验室有限公司")
    expect(page.locator("main")).to_contain_text("芜湖云算有限公司")
    expect(page.locator("main")).to_contain_text("A platform admin approves the contract")
    check(page, "accept")
    page.get_by_role("button", name="Confirm and sign").click()
    expect(page.get_by_text(re.compile(r"signed; it awaits approval"))).to_be_visible()
    contract = Contract.objects.get()
    assert contract.status == ContractStatus.PENDING_APPROVAL
    assert contract.lines.count() == 2

    # The admin approves from the contract page.
    admin = new_page(lang="en")
    log_in(admin, market["admin"].username, TEST_PASSWORD)
    admin.goto(f"/market/contracts/{contract.pk}/")
    admin.get_by_role("button", name="Approve contract").click()
    expect(admin.get_by_text(f"Contract {contract.pk} approved.")).to_be_visible()
    contract.refresh_from_db()
    assert contract.status == ContractStatus.APPROVED

    # The second provider sees its own line only, and no totals.
    provider = new_page(lang="en")
    log_in(provider, market["wuhu"].username, TEST_PASSWORD)
    provider.goto("/market/contracts/")
    expect(provider.get_by_text("your lines only")).to_be_visible()
    provider.get_by_role("link", name=f"Contract {contract.pk}").click()
    main = provider.locator("main")
    expect(main).to_contain_text("Wuhu A800 IB-02")
    expect(main).not_to_contain_text("Hefei A800 IB-01")
    expect(main).not_to_contain_text("Total for the term")
    expect(main).to_contain_text("only a platform admin can end it early")


def test_every_market_page_in_both_languages_on_desktop_and_phone(new_page, market):
    """Screenshots of each page (zh-hans and en, desktop and phone), each axe-clean."""
    customer = market["customer"]
    organization = customer.membership.organization
    signed = capacity_request(organization, servers=2, single_cluster=False)
    result = services.quotes_generate(capacity_request=signed, by=customer)
    contract = services.quote_accept(quote=result.quotes[0], by=customer)
    services.contract_approve(contract=contract, by=market["admin"])
    live = capacity_request(organization, servers=1)
    services.quotes_generate(capacity_request=live, by=customer)
    quote = live.quotes.filter(status=QuoteStatus.OPEN).first()
    nothing = capacity_request(organization, servers=40)
    services.quotes_generate(capacity_request=nothing, by=customer)

    sizing = (
        "/market/sizing/?workload=training&mode=duration&params_billions=70"
        "&training_tokens_billions=2000&activation_recomputation=no&servers=64"
        "&utilisation_percent=45&gpus_per_server=8&gpu_models=A800-80G&gpu_models=H800-80G"
    )
    pages = {
        "anonymous": [("home", "/"), ("sizing", "/market/sizing/"), ("sizing-days", sizing)],
        "customer": [
            ("requests", "/market/requests/"),
            ("request-form", "/market/requests/new/?gpu_model=A800-80G&servers=4"),
            ("quotes", f"/market/requests/{live.pk}/"),
            ("quotes-no-match", f"/market/requests/{nothing.pk}/"),
            ("accept", f"/market/quotes/{quote.pk}/accept/"),
            ("contracts", "/market/contracts/"),
            ("contract", f"/market/contracts/{contract.pk}/"),
            ("home-customer", "/"),
        ],
        "admin": [("contract-admin", f"/market/contracts/{contract.pk}/")],
        "provider": [
            ("contracts-provider", "/market/contracts/"),
            ("contract-provider", f"/market/contracts/{contract.pk}/"),
        ],
    }
    users = {"customer": customer, "admin": market["admin"], "provider": market["hefei"]}
    for lang in ("zh-hans", "en"):
        for phone in (False, True):
            for who, urls in pages.items():
                page = new_page(lang=lang, phone=phone)
                if who in users:
                    log_in(page, users[who].username, TEST_PASSWORD)
                    page.wait_for_url(re.compile(r"/$"))
                for name, url in urls:
                    page.goto(url)
                    assert page.evaluate("document.documentElement.lang") == lang
                    check(page, name)


def test_reasons_page_through_htmx_in_the_browser(new_page, market):
    hefei = market["hefei"].membership.organization
    for index in range(8):
        ClusterFactory(
            provider=hefei,
            name=f"H20 spare {index}",
            gpu_model=gpu("H20-96G"),
            price_per_p_year=90_000 + index,
            available_from=SINCE,
        )
    customer = market["customer"]
    request = capacity_request(customer.membership.organization, servers=1)
    services.quotes_generate(capacity_request=request, by=customer)
    page = new_page(lang="en")
    log_in(page, customer.username, TEST_PASSWORD)
    page.goto(f"/market/requests/{request.pk}/")
    group = page.locator("#reasons-gpu_model")
    expect(group).to_contain_text("Page 1 of 2")
    group.get_by_role("link", name="Next").click()
    expect(page.locator("#reasons-gpu_model")).to_contain_text("Page 2 of 2")
    assert page.url.endswith(f"/market/requests/{request.pk}/")  # swapped in, no reload
    expect(page.locator("#reasons-gpu_model")).to_contain_text("H20 spare")
