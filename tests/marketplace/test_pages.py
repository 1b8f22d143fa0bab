"""The market's pages: home, sizing, requests, quotes, accepting, contracts (Django's client)."""

import re
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from inventory import services as inventory
from inventory.models import AllocationKind
from marketplace import services
from marketplace.models import CapacityRequest, Contract, ContractStatus, Quote, QuoteStatus
from tests.factories import (
    ClusterFactory,
    ProviderFactory,
    capacity_request,
    future_start,
    gpu,
    member_of,
    region,
)
from tests.translations import data_words, untranslated_words

pytestmark = pytest.mark.django_db
SINCE = date(2020, 1, 1)
ZH = {"HTTP_ACCEPT_LANGUAGE": "zh-hans"}


def html_of(response) -> str:
    return response.content.decode()


def no_english(response) -> list[str]:
    return untranslated_words(html_of(response), data_words())


def quoted(customer_org, customer_user, **fields):
    request = capacity_request(customer_org, **fields)
    result = services.quotes_generate(capacity_request=request, by=customer_user)
    return request, result


def signed(customer_org, customer_user, **fields) -> Contract:
    _, result = quoted(customer_org, customer_user, **fields)
    return services.quote_accept(quote=result.quotes[0], by=customer_user)


# --- Home -----------------------------------------------------------------------------------
def test_home_shows_the_market_and_reference_figures_to_everyone(client, market):
    ClusterFactory(gpu_model=gpu("H800-80G"), region=region("wuhu"), available_from=SINCE)
    response = client.get("/")
    html = html_of(response)
    assert response.status_code == 200
    assert "Rent AI compute" in html
    # Reference figures from the catalog: 8 x 624 and 8 x 1,979 TFLOPS; 4.992 P x ¥120,000.
    assert "4.992 P" in html and "15.832 P" in html and "¥599,040.00" in html
    assert "¥120,000.00" in html
    # The market view: A800 in Hefei has 2 + 4 + 10 servers free = 79.872 P; asks.
    assert "79.872" in html and "¥100,000.00" in html
    assert 'action="/clusters/"' in html and 'name="min_free_p"' in html
    assert 'href="/accounts/register/"' in html


def test_home_in_chinese_is_all_chinese(client, market):
    response = client.get("/", **ZH)
    assert "按 P 租用 AI 算力" in html_of(response)
    assert "合肥" in html_of(response)  # the region's Chinese name
    assert no_english(response) == []


def test_home_reads_a_bounded_number_of_queries(
    client, customer_user, django_assert_max_num_queries
):
    for index in range(30):
        ClusterFactory(region=region(["hefei", "wuhu", "beijing"][index % 3]), available_from=SINCE)
    client.force_login(customer_user)
    with django_assert_max_num_queries(16):
        assert client.get("/").status_code == 200


def test_signed_in_customers_get_links_to_their_work(client, customer_user, market):
    client.force_login(customer_user)
    html = html_of(client.get("/"))
    assert 'href="/market/requests/new/"' in html and 'href="/market/requests/"' in html


# --- Sizing ---------------------------------------------------------------------------------
TRAINING = {
    "workload": "training",
    "mode": "deadline",
    "params_billions": "70",
    "training_tokens_billions": "2000",
    "activation_recomputation": "no",
    "days": "30",
    "utilisation_percent": "45",
    "gpus_per_server": "8",
    "gpu_models": ["H800-80G", "A800-80G"],
}


def test_sizing_shows_servers_formulas_and_opens_a_prefilled_request(client):
    ClusterFactory(gpu_model=gpu("H800-80G"), price_per_p_year=130_000, available_from=SINCE)
    response = client.get("/market/sizing/", TRAINING)
    html = html_of(response)
    assert response.status_code == 200
    # 6 x 70e9 x 2e12 / (30 d x 86,400 s) / 0.45 = 720.165 PFLOPS dense; H800 989 TFLOPS.
    assert "720.165 PFLOPS" in html
    assert "training FLOPs = 6 x 70,000,000,000 parameters" in html
    assert "NVIDIA H800 80GB: servers = ceil(729 cards / 8 per server) = 92" in html
    assert "1,456.544" in html  # 92 x 15.832 P
    # A 30-day run needs two whole months (the shortest month has 28 days).
    link = "/market/requests/new/?gpu_model=H800-80G&amp;servers=92&amp;single_cluster=1"
    assert f"{link}&amp;term_months=2" in html


def test_sizing_answers_how_many_days_on_n_servers(client):
    query = {**TRAINING, "mode": "duration", "servers": "64", "days": ""}
    html = html_of(client.get("/market/sizing/", query))
    # 8.4e23 FLOPs / (64 x 8 x 989e12 x 0.45) / 86,400 = 42.67 days on H800; 2 months.
    assert "= 42.7 days" in html
    assert "term = 2 months" in html
    # With activation recomputation (an explicit choice): 8 / 6 of the work.
    recomputed = html_of(
        client.get("/market/sizing/", {**query, "activation_recomputation": "yes"})
    )
    assert "= 56.9 days" in recomputed and "8 (activation recomputation) x" in recomputed


def test_sizing_errors_are_inline_and_keep_the_input(client):
    response = client.get("/market/sizing/", {**TRAINING, "days": ""})
    html = html_of(response)
    assert response.status_code == 400
    assert re.search(r'id="id_days_error"[^>]*>Required for this question\.', html)
    assert 'value="2000"' in html  # what was typed stays
    inference_days = client.get(
        "/market/sizing/", {**TRAINING, "workload": "inference", "mode": "duration"}
    )
    assert "applies to training only" in html_of(inference_days)
    too_big = client.get("/market/sizing/", {**TRAINING, "params_billions": "2000000"})
    assert too_big.status_code == 400 and "id_params_billions_error" in html_of(too_big)


def test_sizing_in_chinese_is_all_chinese(client):
    response = client.get("/market/sizing/", {**TRAINING, "mode": "duration", "servers": "8"}, **ZH)
    assert "天数 =" in html_of(response) and "需要多少天" in html_of(response)
    assert no_english(response) == []
    assert no_english(client.get("/market/sizing/", TRAINING, **ZH)) == []


# --- Capacity requests ----------------------------------------------------------------------
def test_request_form_is_prefilled_from_the_link(client, customer_user):
    client.force_login(customer_user)
    start = future_start()
    response = client.get(
        "/market/requests/new/",
        {
            "gpu_model": "H800-80G",
            "region": "wuhu",
            "servers": "12",
            "min_p": "not a number",
            "term_months": "6",
            "start_date": start.isoformat(),
            "single_cluster": "0",
        },
    )
    html = html_of(response)
    assert response.status_code == 200
    assert re.search(r'value="H800-80G"[^>]*checked', html)
    assert re.search(r'value="wuhu"[^>]*checked', html)
    assert 'name="servers" value="12"' in html
    assert 'name="term_months" value="6"' in html
    assert f'value="{start.isoformat()}"' in html
    assert not re.search(r'name="single_cluster"[^>]*checked', html)
    assert "is-invalid" not in html  # a pre-fill never shows errors


def test_submitting_the_form_creates_the_request_and_shows_its_offers(
    client, customer_user, market
):
    client.force_login(customer_user)
    response = client.post(
        "/market/requests/new/",
        {
            "gpu_models": ["A800-80G"],
            "servers": "3",
            "interconnect": "any",
            "single_cluster": "on",
            "start_date": future_start().isoformat(),
            "term_months": "12",
        },
        follow=True,
    )
    request = CapacityRequest.objects.get()
    assert response.redirect_chain[-1][0] == f"/market/requests/{request.pk}/"
    html = html_of(response)
    assert "2 offers, their capacity held until" in html
    assert "Offer 1" in html and "mid" in html
    assert request.quotes.filter(status=QuoteStatus.OPEN).count() == 2


def test_form_errors_are_inline_keep_the_input_and_write_nothing(client, customer_user, market):
    client.force_login(customer_user)
    both = client.post(
        "/market/requests/new/",
        {
            "gpu_models": ["A800-80G"],
            "servers": "3",
            "min_p": "10",
            "interconnect": "any",
            "start_date": future_start().isoformat(),
            "term_months": "12",
            "note": "keep me",
        },
    )
    assert both.status_code == 400
    assert re.search(r'id="id_servers_error"[^>]*>Give servers or P, not both\.', html_of(both))
    assert "keep me" in html_of(both)
    past = client.post(
        "/market/requests/new/",
        {
            "gpu_models": ["A800-80G"],
            "servers": "1",
            "interconnect": "any",
            "start_date": (timezone.localdate() - timedelta(days=1)).isoformat(),
            "term_months": "61",
        },
    )
    html = html_of(past)
    assert "id_term_months_error" in html
    assert not CapacityRequest.objects.exists()
    service_error = client.post(
        "/market/requests/new/",
        {
            "gpu_models": ["A800-80G"],
            "servers": "1",
            "interconnect": "any",
            "start_date": (timezone.localdate() - timedelta(days=1)).isoformat(),
            "term_months": "6",
        },
    )
    assert re.search(
        r'id="id_start_date_error"[^>]*>Must not be in the past', html_of(service_error)
    )
    assert not CapacityRequest.objects.exists()


def test_only_customers_request_capacity(client, provider_user):
    assert client.get("/market/requests/new/").status_code == 302  # to the login page
    client.force_login(provider_user)
    assert client.get("/market/requests/new/").status_code == 403


def test_request_list_shows_status_in_words(
    client, customer_org, customer_user, market, django_assert_max_num_queries
):
    for _ in range(8):
        quoted(customer_org, customer_user, servers=1)
    cancelled = capacity_request(customer_org, servers=1)
    services.request_cancel(capacity_request=cancelled)
    client.force_login(customer_user)
    with django_assert_max_num_queries(12):
        response = client.get("/market/requests/")
    html = html_of(response)
    assert "Cancelled" in html and ">cancelled<" not in html
    assert "offers, from ¥100,000.00 per P per year" in html or "offer, from" in html
    assert no_english(client.get("/market/requests/", **ZH)) == []


def test_customer_cancels_a_request_from_its_page(client, customer_org, customer_user, market):
    request, _ = quoted(customer_org, customer_user, servers=1)
    client.force_login(customer_user)
    response = client.post(f"/market/requests/{request.pk}/cancel/", follow=True)
    assert "cancelled; its holds are released" in html_of(response)
    request.refresh_from_db()
    assert request.status == "cancelled"
    assert not request.quotes.filter(status=QuoteStatus.OPEN).exists()


# --- The quotes page ------------------------------------------------------------------------
def test_quotes_page_breaks_each_offer_down_with_its_costs_and_countdown(
    client, customer_org, customer_user, market
):
    request, result = quoted(customer_org, customer_user, servers=1, term_months=12)
    best = result.quotes[0]
    client.force_login(customer_user)
    html = html_of(client.get(f"/market/requests/{request.pk}/"))
    assert "cheap" in html and "Hefei Compute" in html and "Hefei" in html
    assert "100.00%" in html  # measured uptime
    assert "4.992" in html and "¥100,000.00" in html
    assert "¥41,600.00" in html  # monthly: 499,200 / 12
    assert "¥499,200.00" in html  # annual and total for 12 months
    assert "¥470,943.40" in html and "¥28,256.60" in html  # VAT split at 6%
    expires = timezone.localtime(best.expires_at).isoformat()
    assert f'datetime="{expires}" data-countdown' in html
    assert f'href="/market/quotes/{best.pk}/accept/"' in html


def test_reasons_are_grouped_in_plain_words_without_codes(client, customer_org, customer_user):
    provider = ProviderFactory(name="Wuhu Cloud")
    ClusterFactory(provider=provider, name="h800", gpu_model=gpu("H800-80G"), available_from=SINCE)
    ClusterFactory(provider=provider, name="dear", price_per_p_year=300_000, available_from=SINCE)
    ClusterFactory(provider=provider, name="eth", interconnect="ethernet", available_from=SINCE)
    ClusterFactory(provider=provider, name="late", available_from=date(2099, 1, 1))
    ClusterFactory(provider=provider, name="tiny", server_count=1, available_from=SINCE)
    request, result = quoted(
        customer_org,
        customer_user,
        servers=2,
        interconnect="rdma",
        max_price_per_p_year=Decimal("200000"),
    )
    assert result.quotes == []
    client.force_login(customer_user)
    response = client.get(f"/market/requests/{request.pk}/")
    html = html_of(response)
    for title in (
        "A different GPU model",
        "Price above your maximum",
        "Network does not meet your requirement",
        "Not offered for your dates",
        "Too few free servers for one cluster",
    ):
        assert title in html, title
    assert "It has NVIDIA H800 80GB; you asked for NVIDIA A800 80GB." in html
    assert "It asks ¥300,000.00 per P per year, above your maximum of ¥200,000.00." in html
    assert "Its network is Ethernet; you require RDMA (InfiniBand or RoCE)." in html
    assert "Only 1 server is free for the whole term; a single-cluster booking needs 2." in html
    text = re.sub(r"<[^>]+>", " ", html)
    for code in ("gpu_model", "price_above_max", "too_small_for_single_cluster", "interconnect"):
        assert code not in text, code
    # No offer is an explanation, not a green success box.
    assert "No offer right now" in html and "alert-success" not in html
    zh = client.get(f"/market/requests/{request.pk}/", **ZH)
    assert "GPU 型号不符" in html_of(zh) and "它的报价为每 P 每年 ¥300,000.00" in html_of(zh)
    assert no_english(zh) == []


def test_reasons_are_paged_with_htmx_and_without(client, customer_org, customer_user):
    provider = ProviderFactory(name="Many GPUs")
    for index in range(12):
        ClusterFactory(
            provider=provider,
            name=f"h800-{index:02}",
            gpu_model=gpu("H800-80G"),
            price_per_p_year=100_000 + index,
            available_from=SINCE,
        )
    request, _ = quoted(customer_org, customer_user, servers=1)
    client.force_login(customer_user)
    first = html_of(client.get(f"/market/requests/{request.pk}/"))
    assert "h800-00" in first and "h800-04" in first and "h800-05" not in first
    assert "Page 1 of 3" in first
    url = f"/market/requests/{request.pk}/reasons/?reason=gpu_model&page=2"
    assert f'hx-get="{url.replace("&", "&amp;")}"' in first
    part = client.get(url, HTTP_HX_REQUEST="true")
    assert part.status_code == 200
    body = html_of(part)
    assert "<html" not in body and 'id="reasons-gpu_model"' in body
    assert "h800-05" in body and "h800-09" in body and "h800-04" not in body
    # Without JavaScript the same link lands on the full page at that page of the group.
    plain = client.get(url)
    assert plain.status_code == 302
    assert plain["Location"].endswith("?reason=gpu_model&page=2#reasons-gpu_model")
    full = html_of(client.get(plain["Location"].split("#")[0]))
    assert "h800-05" in full and "Page 2 of 3" in full


def test_quotes_page_queries_stay_bounded_however_many_clusters_fail(
    client, customer_org, customer_user, market, django_assert_max_num_queries
):
    request, _ = quoted(customer_org, customer_user, servers=1)
    client.force_login(customer_user)

    def add_failing(count: int) -> None:
        provider = ProviderFactory()
        for index in range(count):
            ClusterFactory(
                provider=provider,
                gpu_model=gpu(["H800-80G", "H20-96G"][index % 2]),
                interconnect=["infiniband", "ethernet"][index % 2],
                available_from=SINCE,
            )

    add_failing(20)
    with django_assert_max_num_queries(30) as small:
        client.get(f"/market/requests/{request.pk}/")
    add_failing(60)
    with django_assert_max_num_queries(len(small.captured_queries)):
        assert client.get(f"/market/requests/{request.pk}/").status_code == 200


def test_regenerate_replaces_the_offers(client, customer_org, customer_user, market):
    request, result = quoted(customer_org, customer_user, servers=1)
    client.force_login(customer_user)
    response = client.post(f"/market/requests/{request.pk}/quote/", follow=True)
    assert "offers, their capacity held until" in html_of(response)
    assert Quote.objects.get(pk=result.quotes[0].pk).status == QuoteStatus.SUPERSEDED
    assert request.quotes.filter(status=QuoteStatus.OPEN).count() == len(result.quotes)


def test_other_organisations_cannot_see_or_act_on_a_request(
    client, customer_org, customer_user, other_customer_user, market, staff_user
):
    request, result = quoted(customer_org, customer_user, servers=1)
    client.force_login(other_customer_user)
    assert client.get(f"/market/requests/{request.pk}/").status_code == 404
    assert client.post(f"/market/requests/{request.pk}/quote/").status_code == 404
    assert client.get(f"/market/quotes/{result.quotes[0].pk}/accept/").status_code == 404
    client.force_login(staff_user)  # admins see it, but only the customer acts on it
    assert client.get(f"/market/requests/{request.pk}/").status_code == 200
    assert client.post(f"/market/requests/{request.pk}/cancel/").status_code == 403
    assert client.post(f"/market/quotes/{result.quotes[0].pk}/accept/").status_code == 403
    assert not Contract.objects.exists()


# --- Accepting ------------------------------------------------------------------------------
def test_the_confirmation_shows_exactly_what_is_signed(client, customer_org, customer_user, market):
    customer_org.legal_name = "北京智谱创新实验室有限公司"
    customer_org.unified_social_credit_code = "91350100M000100Y43"
    customer_org.save()
    market["provider"].legal_name = "合肥算力科技有限公司"
    market["provider"].save()
    _, result = quoted(customer_org, customer_user, servers=3, term_months=6)
    quote = result.quotes[0]
    client.force_login(customer_user)
    response = client.get(f"/market/quotes/{quote.pk}/accept/")
    html = html_of(response)
    assert response.status_code == 200
    assert "北京智谱创新实验室有限公司" in html and "91350100M000100Y43" in html
    assert "合肥算力科技有限公司" in html
    assert "mid" in html and ">3<" in html and "14.976" in html  # 3 x 4.992 P
    assert "¥120,000.00" in html  # price per P per year
    assert "¥149,760.00" in html  # monthly: 1,797,120 / 12
    assert "¥898,560.00" in html  # total for 6 months
    assert "A platform admin approves the contract before it starts." in html
    assert not Contract.objects.exists()  # looking signs nothing
    assert no_english(client.get(f"/market/quotes/{quote.pk}/accept/", **ZH)) == []


def test_confirming_twice_signs_one_contract(client, customer_org, customer_user, market):
    _, result = quoted(customer_org, customer_user, servers=1)
    quote = result.quotes[0]
    client.force_login(customer_user)
    first = client.post(f"/market/quotes/{quote.pk}/accept/", follow=True)
    contract = Contract.objects.get()
    assert first.redirect_chain[-1][0] == f"/market/contracts/{contract.pk}/"
    assert "signed; it awaits approval by the platform" in html_of(first)
    again = client.post(f"/market/quotes/{quote.pk}/accept/", follow=True)
    assert again.redirect_chain[-1][0] == f"/market/contracts/{contract.pk}/"
    assert f"This quote was already accepted (contract {contract.pk})." in html_of(again)
    assert Contract.objects.count() == 1
    sibling = result.quotes[1]
    taken = client.post(f"/market/quotes/{sibling.pk}/accept/", follow=True)
    assert "no longer open" in html_of(taken) and Contract.objects.count() == 1


def test_an_expired_quote_whose_servers_are_gone_is_refused_in_words(
    client, customer_org, customer_user
):
    cluster = ClusterFactory(server_count=1, available_from=SINCE)
    request, result = quoted(customer_org, customer_user, servers=1)
    quote = result.quotes[0]
    Quote.objects.filter(pk=quote.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    from inventory.models import Allocation

    Allocation.objects.filter(reference=f"request:{request.pk}").update(
        expires_at=timezone.now() - timedelta(minutes=1)
    )
    inventory.capacity_reserve(
        cluster_id=cluster.pk,
        servers=1,
        start=request.start_date,
        end=request.end_date,
        kind=AllocationKind.BOOKING,
        reference="someone-else",
    )
    client.force_login(customer_user)
    page = client.get(f"/market/quotes/{quote.pk}/accept/")
    assert "This offer expired" in html_of(page)
    response = client.post(f"/market/quotes/{quote.pk}/accept/", follow=True)
    assert response.redirect_chain[-1][0] == f"/market/requests/{request.pk}/"
    assert "its capacity has been taken since" in html_of(response)
    assert not Contract.objects.exists()


# --- Contracts ------------------------------------------------------------------------------
@pytest.fixture
def split_contract(customer_org, customer_user):
    """Six servers over two providers' clusters (four each)."""
    first = ProviderFactory(name="First Provider", legal_name="第一算力有限公司")
    second = ProviderFactory(name="Second Provider")
    ClusterFactory(provider=first, name="first-ib", server_count=4, available_from=SINCE)
    ClusterFactory(
        provider=second,
        name="second-ib",
        server_count=4,
        region=region("wuhu"),
        price_per_p_year=130_000,
        available_from=SINCE,
    )
    contract = signed(customer_org, customer_user, servers=6, single_cluster=False)
    assert contract.lines.count() == 2
    return contract, member_of(first), member_of(second)


def test_customers_see_their_contracts_with_totals(client, customer_user, split_contract):
    contract, *_ = split_contract
    client.force_login(customer_user)
    listing = html_of(client.get("/market/contracts/"))
    assert f"Contract {contract.pk}" in listing and "Pending approval" in listing
    assert "¥" in listing
    detail = html_of(client.get(f"/market/contracts/{contract.pk}/"))
    assert "first-ib" in detail and "second-ib" in detail
    assert f"{contract.total_price:,}" in detail
    assert "Signed from quote" in detail


def test_providers_see_only_their_lines_and_no_totals(client, split_contract, staff_user):
    contract, first_user, _ = split_contract
    services.contract_approve(contract=contract, by=staff_user)
    client.force_login(first_user)
    listing = html_of(client.get("/market/contracts/"))
    assert "your lines only" in listing and f"{contract.total_price:,}" not in listing
    detail = html_of(client.get(f"/market/contracts/{contract.pk}/"))
    assert "first-ib" in detail and "second-ib" not in detail and "Second Provider" not in detail
    assert f"{contract.total_price:,}" not in detail and "Total for the term" not in detail
    # A shared contract: only an admin can end it; the page says so and the post is refused.
    assert "only a platform admin can end it early" in detail
    response = client.post(
        f"/market/contracts/{contract.pk}/terminate/",
        {"reason": "x", "effective_date": (contract.start_date + timedelta(days=200)).isoformat()},
    )
    assert response.status_code == 403
    assert no_english(client.get(f"/market/contracts/{contract.pk}/", **ZH)) == []


def test_contracts_of_others_answer_404(client, other_customer_user, split_contract):
    contract, *_ = split_contract
    client.force_login(other_customer_user)
    assert client.get(f"/market/contracts/{contract.pk}/").status_code == 404
    assert client.get(f"/market/contracts/{contract.pk}/pdf/").status_code == 404


def test_contract_list_queries_stay_bounded(
    client, customer_org, customer_user, staff_user, django_assert_max_num_queries
):
    ClusterFactory(server_count=40, available_from=SINCE)
    for _ in range(12):
        signed(customer_org, customer_user, servers=1)
    for user in (customer_user, staff_user):
        client.force_login(user)
        with django_assert_max_num_queries(10):
            response = client.get("/market/contracts/")
        assert html_of(response).count("Pending approval") >= 12
    filtered = client.get("/market/contracts/", {"status": "active"})
    assert "Pending approval</span>" not in html_of(filtered)


def test_admin_approves_from_the_contract_page(client, staff_user, customer_user, split_contract):
    contract, *_ = split_contract
    client.force_login(customer_user)
    assert "Approve contract" not in html_of(client.get(f"/market/contracts/{contract.pk}/"))
    assert client.post(f"/market/contracts/{contract.pk}/approve/").status_code == 403
    client.force_login(staff_user)
    response = client.post(f"/market/contracts/{contract.pk}/approve/", follow=True)
    assert f"Contract {contract.pk} approved." in html_of(response)
    contract.refresh_from_db()
    assert contract.status == ContractStatus.APPROVED
    assert "staff" in html_of(response)  # the history names who approved


def test_admin_terminates_with_reason_and_date_errors_inline(client, staff_user, split_contract):
    contract, *_ = split_contract
    services.contract_approve(contract=contract, by=staff_user)
    client.force_login(staff_user)
    url = f"/market/contracts/{contract.pk}/terminate/"
    outside = client.post(
        url, {"reason": "breach", "effective_date": contract.end_date.isoformat()}
    )
    assert outside.status_code == 400
    assert re.search(
        r'id="id_effective_date_error"[^>]*>Must fall after the start', html_of(outside)
    )
    assert "breach" in html_of(outside)
    missing = client.post(url, {"reason": "", "effective_date": ""})
    assert "id_reason_error" in html_of(missing) and "id_effective_date_error" in html_of(missing)
    effective = contract.start_date + timedelta(days=40)
    done = client.post(
        url, {"reason": "breach", "effective_date": effective.isoformat()}, follow=True
    )
    contract.refresh_from_db()
    assert contract.status == ContractStatus.TERMINATED and contract.termination_date == effective
    assert "Terminated" in html_of(done) and "breach" in html_of(done)


def test_a_sole_provider_gives_notice_under_the_notice_rule(
    client, customer_org, customer_user, market, staff_user, settings
):
    contract = signed(customer_org, customer_user, servers=1, term_months=24)
    services.contract_approve(contract=contract, by=staff_user)
    provider_user = member_of(market["provider"])
    client.force_login(provider_user)
    page = html_of(client.get(f"/market/contracts/{contract.pk}/"))
    assert "Give notice of termination" in page
    url = f"/market/contracts/{contract.pk}/terminate/"
    too_soon = contract.start_date + timedelta(days=1)
    response = client.post(url, {"reason": "selling the site", "effective_date": too_soon})
    earliest = timezone.localdate() + timedelta(days=settings.PROVIDER_TERMINATION_NOTICE_DAYS)
    if too_soon < earliest:
        assert response.status_code == 400
        assert "days&#x27; notice: the earliest effective date is" in html_of(response)
        assert Contract.objects.get(pk=contract.pk).status == ContractStatus.APPROVED
    with_notice = max(earliest, contract.start_date + timedelta(days=1)) + timedelta(days=1)
    done = client.post(url, {"reason": "selling the site", "effective_date": with_notice})
    assert done.status_code == 302
    assert Contract.objects.get(pk=contract.pk).status == ContractStatus.TERMINATED


def test_the_contract_pdf_names_the_parties_and_the_price(client, customer_user, split_contract):
    contract, first_user, _ = split_contract
    client.force_login(customer_user)
    response = client.get(f"/market/contracts/{contract.pk}/pdf/")
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    text = pdf_text(response.content)
    assert "Compute capacity contract" in text and "第一算力有限公司" in text
    assert "first-ib" in text and "second-ib" in text
    assert f"¥{contract.total_price:,}" in text
    client.force_login(first_user)
    provider_text = pdf_text(client.get(f"/market/contracts/{contract.pk}/pdf/").content)
    assert "first-ib" in provider_text and "second-ib" not in provider_text
    assert f"¥{contract.total_price:,}" not in provider_text
    chinese = pdf_text(client.get(f"/market/contracts/{contract.pk}/pdf/", **ZH).content)
    assert "算力租赁合同" in chinese and "合同各方" in chinese


def pdf_text(data: bytes) -> str:
    """The text strings in an uncompressed PDF's content streams, Latin-1 and UTF-16 alike."""
    chunks = []
    for raw in re.findall(rb"\(((?:\\.|[^\\)])*)\)", data):
        value = re.sub(
            rb"\\([0-7]{1,3}|.)",
            lambda m: (
                bytes([int(m.group(1), 8)])
                if m.group(1)[:1].isdigit()
                else {b"n": b"\n", b"r": b"\r", b"t": b"\t"}.get(m.group(1), m.group(1))
            ),
            raw,
        )
        chunks.append(value.decode("latin-1"))
        if len(value) % 2 == 0:
            chunks.append(value.decode("utf-16-be", errors="ignore"))
    return " ".join(chunks)


def test_each_offer_shows_its_clusters_sla_credit_tiers(
    client, customer_org, customer_user, market
):
    from inventory.sla_tiers import sla_tiers_create_defaults

    request, result = quoted(customer_org, customer_user, servers=1, term_months=12)
    cluster = result.quotes[0].lines.first().cluster
    sla_tiers_create_defaults(cluster=cluster)
    client.force_login(customer_user)
    html = html_of(client.get(f"/market/requests/{request.pk}/"))
    assert "SLA credits of these clusters" in html
    assert "Uptime below 95.000%: 100% of the affected servers' monthly charge" in html
    assert no_english(client.get(f"/market/requests/{request.pk}/", **ZH)) == []
