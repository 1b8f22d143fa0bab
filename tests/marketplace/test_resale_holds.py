"""Resale listings in the "why not" reasons, and resale capacity held while quotes are open."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from inventory.models import Cluster
from marketplace import resale, services
from marketplace.eligibility import Reason, RequestSpec, static_reason_codes
from marketplace.models import ResaleHold, ResaleListing, ResaleStatus
from marketplace.resale_selectors import (
    resale_candidates,
    resale_facts_of,
    resale_reason_conditions,
    resale_rejection_summary,
    resale_statically_rejected,
    resale_visible_q,
)
from tests.conftest import client_for
from tests.factories import ClusterFactory, capacity_request, gpu, region
from tests.marketplace.resale_helpers import (
    buyer,
    list_servers,
    months_later,
    reseller_setup,
    signed_contract,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def setup():
    return reseller_setup()


def _list(contract, user, cluster, servers=1, **options):
    return list_servers(contract, user, cluster, servers, **options)


def _resale_reasons(rows) -> dict[int, list[str]]:
    """Resale rows of a rejections page: listing id -> reason codes."""
    return {
        subject.resale_listing_id: [reason.code.value for reason in reasons]
        for subject, reasons in rows
        if subject.is_resale
    }


def _api_resale_rows(rows: list[dict]) -> dict[int, dict]:
    return {row["resale_listing"]: row for row in rows if row["resale_listing"] is not None}


# --- Reasons ----------------------------------------------------------------------------------
def test_every_listing_not_offered_gets_its_reasons_marked_as_resale(setup):
    cluster, _, user, contract = setup
    small = _list(contract, user, cluster)  # qualifies, but one server is too few alone
    dear = _list(contract, user, cluster, price="150000")
    long_minimum = _list(contract, user, cluster, min_term=6)
    late = _list(contract, user, cluster, offset=4, months=5)  # starts after the request
    organization, buyer_user = buyer()
    request = capacity_request(
        organization,
        servers=2,
        start_date=small.start,
        term_months=3,
        max_price_per_p_year=Decimal("120000"),
    )
    response = client_for(buyer_user).post(f"/api/v1/capacity-requests/{request.pk}/quotes/")
    assert response.status_code == 201
    result = response.json()
    assert result["quotes"] == []
    rows = _api_resale_rows(result["rejected"])
    assert {pk: [r["code"] for r in row["reasons"]] for pk, row in rows.items()} == {
        small.pk: ["too_small_for_single_cluster"],
        dear.pk: ["price_above_max"],
        long_minimum.pk: ["term_below_minimum"],
        late.pk: ["outside_availability"],
    }
    # Marked with the listing, its underlying cluster and until when it is offered.
    assert all(row["cluster"] == cluster.pk for row in rows.values())
    assert rows[dear.pk]["resale_until"] == dear.end.isoformat()
    assert rows[dear.pk]["reasons"][0]["message"] == (
        "It asks ¥150,000.00 per P per year, above your maximum of ¥120,000.00."
    )
    assert rows[long_minimum.pk]["reasons"][0]["message"] == (
        "It rents for at least 6 months; you asked for 3."
    )
    # The provider's own row is still there, unmarked: the reseller booked the whole cluster.
    provider_rows = [row for row in result["rejected"] if row["resale_listing"] is None]
    assert [(row["cluster"], row["resale_until"]) for row in provider_rows] == [(cluster.pk, None)]
    assert provider_rows[0]["reasons"][0]["code"] == "not_free_for_term"
    assert result["rejected_count"] == 5
    assert result["rejection_summary"]["price_above_max"] == 1
    # The paginated reasons answer the same rows.
    page = client_for(buyer_user).get(f"/api/v1/capacity-requests/{request.pk}/rejections/").json()
    assert page["count"] == 5
    assert _api_resale_rows(page["results"]).keys() == rows.keys()


def test_listings_failing_the_clusters_own_rules_say_so(setup):
    cluster, _, user, contract = setup
    listing = _list(contract, user, cluster, servers=2)
    organization, _ = buyer()
    request = capacity_request(
        organization,
        servers=2,
        start_date=listing.start,
        term_months=3,
        gpu_models=["H800-80G"],
        regions=[region("wuhu")],
        interconnect="roce",
    )
    rejections = services.request_rejections(capacity_request=request)
    assert _resale_reasons(rejections[0:10]) == {
        listing.pk: ["gpu_model", "region", "interconnect"]
    }
    [(subject, rejection)] = [
        row for row in rejections.group(Reason.REGION)[0:10] if row[0].is_resale
    ]
    assert (subject.cluster_id, subject.resale_until) == (cluster.pk, listing.end)
    assert rejection.message.startswith("It is in ")


def test_a_listing_outranked_by_a_cheaper_one_says_so_and_own_listings_never_show(setup, settings):
    cluster, _, user, contract = setup
    cheap = _list(contract, user, cluster, servers=2, price="80000")
    dearer = _list(contract, user, cluster, servers=2, price="95000")
    organization, buyer_user = buyer()
    request = capacity_request(organization, servers=2, start_date=cheap.start, term_months=3)
    result = services.quotes_generate(capacity_request=request, by=buyer_user)
    assert [q.lines.get().resale_listing_id for q in result.quotes] == [cheap.pk, dearer.pk]
    assert _resale_reasons(result.rejections[0:10]) == {}  # both are offered
    settings.QUOTES_PER_REQUEST = 1
    result = services.quotes_generate(capacity_request=request, by=buyer_user)
    assert _resale_reasons(result.rejections[0:10]) == {dearer.pk: ["outranked"]}
    own = capacity_request(contract.customer, servers=2, start_date=cheap.start, term_months=3)
    assert _resale_reasons(services.request_rejections(capacity_request=own)[0:10]) == {}


def test_statically_rejected_clusters_and_listings_are_paged_together_closest_first(setup):
    cluster, _, user, contract = setup
    listings = [_list(contract, user, cluster, price=str(100_000 + index)) for index in range(4)]
    organization, _ = buyer()
    request = capacity_request(
        organization,
        servers=1,
        start_date=listings[0].start,
        term_months=3,
        max_price_per_p_year=Decimal("50000"),
    )
    rejections = services.request_rejections(capacity_request=request)
    assert len(rejections) == 5  # the provider's cluster (price and capacity) and 4 listings
    pages = [rejections[start : start + 2] for start in (0, 2, 4)]
    seen = [subject for page in pages for subject, _ in page]
    assert len(seen) == len(set(seen)) == 5
    # The listings ask less than the provider's cluster: closer, so first.
    assert [s.resale_listing_id for s in seen] == [*(x.pk for x in listings), None]
    assert seen[-1].cluster_id == cluster.pk
    group = rejections.group(Reason.PRICE_ABOVE_MAX)
    assert len(group) == 5
    assert [s.resale_listing_id for s, _ in group[2:5]] == [*(x.pk for x in listings[2:]), None]


@pytest.fixture
def varied_listings():
    """Listings on two clusters (A800 in Hefei on InfiniBand; H800 in Wuhu on RoCE) with
    windows, asks and minimum terms that pass and fail each rule."""
    first = reseller_setup()
    other = ClusterFactory(server_count=4, available_from=first[0].available_from)
    organization, user = buyer("Second Reseller")
    second = (other, organization, user, signed_contract(organization, cluster=other, servers=4))
    Cluster.objects.filter(pk=other.pk).update(
        gpu_model=gpu("H800-80G"), region=region("wuhu"), interconnect="roce"
    )
    listings = []
    for cluster, _, user, contract in (first, second):
        for offset, months in ((1, 2), (3, 2), (5, 4)):
            for price, min_term in (("90000", 1), ("130000", months)):
                listings.append(
                    _list(
                        contract,
                        user,
                        cluster,
                        offset=offset,
                        months=months,
                        price=price,
                        min_term=min_term,
                    )
                )
    return first[3], listings


@pytest.mark.parametrize(
    ("gpus", "regions", "interconnect", "maximum", "offset", "term", "offered"),
    [
        (["A800-80G"], [], "any", None, 1, 2, 2),
        (["A800-80G", "H800-80G"], ["wuhu"], "rdma", "120000", 3, 1, 1),
        (["H800-80G"], ["hefei", "wuhu"], "roce", "140000", 5, 4, 2),
        (["A800-80G"], [], "infiniband", "100000", 4, 3, 0),
    ],
)
def test_the_sql_rules_for_listings_agree_with_the_explained_ones(
    varied_listings, gpus, regions, interconnect, maximum, offset, term, offered
):
    contract, listings = varied_listings
    start = months_later(contract.start_date, offset)
    spec = RequestSpec(
        gpu_codes=frozenset(gpus),
        region_codes=frozenset(regions),
        interconnect=interconnect,
        max_price_per_p_year=Decimal(maximum) if maximum else None,
        start=start,
        end=months_later(start, term),
        term_months=term,
        single_cluster=False,
        min_p=Decimal(10),
        servers=None,
    )
    visible = resale_visible_q(exclude_customer_id=None, today=timezone.localdate())
    conditions = resale_reason_conditions(spec)
    failing = {
        code: set(
            ResaleListing.objects.filter(visible).filter(condition).values_list("pk", flat=True)
        )
        for code, condition in conditions.items()
    }
    facts = resale_facts_of(listing.pk for listing in listings)
    eligible = {
        c.listing_id for c in resale_candidates(spec, exclude_customer_id=None, now=timezone.now())
    }
    ranked = dict(
        resale_statically_rejected(spec, visible=visible).values_list("pk", "failed_rules")
    )
    counts: dict[Reason, int] = {}
    for listing in listings:
        codes = static_reason_codes(spec, facts[listing.pk].facts)
        assert {code for code in conditions if listing.pk in failing[code]} == set(codes)
        assert (listing.pk in eligible) == (not codes)
        assert ranked.get(listing.pk, 0) == len(codes)
        for code in codes:
            counts[code] = counts.get(code, 0) + 1
    assert len(eligible) == offered
    assert resale_rejection_summary(spec, visible=visible) == (len(ranked), counts)


def test_the_quotes_page_marks_resale_reasons(setup, client):
    cluster, _, user, contract = setup
    listing = _list(contract, user, cluster, price="150000")
    organization, buyer_user = buyer()
    request = capacity_request(
        organization,
        servers=1,
        start_date=listing.start,
        term_months=3,
        max_price_per_p_year=Decimal("120000"),
    )
    services.quotes_generate(capacity_request=request, by=buyer_user)
    client.force_login(buyer_user)
    page = client.get(f"/market/requests/{request.pk}/", HTTP_ACCEPT_LANGUAGE="en")
    html = page.content.decode()
    assert f"Resale listing {listing.pk} of servers on this cluster, resale until" in html
    assert "It asks ¥150,000.00 per P per year, above your maximum of ¥120,000.00." in html


def test_quote_runs_read_the_same_whatever_the_number_of_listings_rejected(setup, settings):
    settings.QUOTES_PER_REQUEST = 1
    cluster, _, user, contract = setup
    _list(contract, user, cluster)

    def queries(extra: int) -> tuple[int, int]:
        for index in range(extra):
            # Dearer than the buyer's maximum, or too long a minimum term: rejected in SQL.
            _list(contract, user, cluster, offset=3, months=1, min_term=1, price="95000")
            resale.resale_withdraw(
                listing=_list(contract, user, cluster, offset=5 + index % 3, months=1), by=user
            )
        organization, buyer_user = buyer(f"Buyer {extra}")
        request = capacity_request(
            organization,
            servers=1,
            start_date=months_later(contract.start_date, 3),
            term_months=1,
            max_price_per_p_year=Decimal("92000"),
        )
        client = client_for(buyer_user)
        with CaptureQueriesContext(connection) as captured:
            result = client.post(f"/api/v1/capacity-requests/{request.pk}/quotes/").json()
        assert len(result["quotes"]) == 1
        services.request_cancel(capacity_request=request)  # the next buyer finds it free
        return len(captured), len(_api_resale_rows(result["rejected"]))

    few, few_rows = queries(1)
    many, many_rows = queries(2)
    assert (few_rows, many_rows) == (1, 3)
    assert many == few


# --- Holds ------------------------------------------------------------------------------------
def _hold_servers(listing) -> list[int]:
    return list(ResaleHold.objects.filter(listing=listing).values_list("servers", flat=True))


def test_quoted_resale_servers_are_held_from_other_buyers(setup):
    cluster, _, user, contract = setup
    listing = _list(contract, user, cluster, servers=2)
    first_org, first_user = buyer("First")
    first_request = capacity_request(first_org, servers=2, start_date=listing.start, term_months=3)
    first = services.quotes_generate(capacity_request=first_request, by=first_user)
    assert first.quotes[0].lines.get().resale_listing_id == listing.pk
    assert _hold_servers(listing) == [2]
    hold = ResaleHold.objects.get(listing=listing)
    assert (hold.start, hold.end, hold.expires_at) == (
        first_request.start_date,
        first_request.end_date,
        first.quotes[0].expires_at,
    )
    # Another buyer is not offered the held servers, and is told why.
    second_org, second_user = buyer("Second")
    second_request = capacity_request(
        second_org, servers=1, start_date=listing.start, term_months=3
    )
    second = services.quotes_generate(capacity_request=second_request, by=second_user)
    assert second.quotes == []
    assert _resale_reasons(second.rejections[0:10]) == {listing.pk: ["not_free_for_term"]}
    # Matching again replaces the first request's holds instead of adding to them.
    services.quotes_generate(capacity_request=first_request, by=first_user)
    assert _hold_servers(listing) == [2]


def test_holds_end_with_the_quotes_expiry_cancellation_or_acceptance(setup, settings):
    cluster, _, user, contract = setup
    listing = _list(contract, user, cluster, servers=2)
    first_org, first_user = buyer("First")
    first_request = capacity_request(first_org, servers=2, start_date=listing.start, term_months=3)
    first = services.quotes_generate(capacity_request=first_request, by=first_user)
    expired_quote = first.quotes[0]
    # Once the first buyer's quotes expire, the servers are free for the next one.
    later = timezone.now() + timedelta(minutes=settings.QUOTE_VALIDITY_MINUTES + 1)
    second_org, second_user = buyer("Second")
    second_request = capacity_request(
        second_org, servers=1, start_date=listing.start, term_months=3
    )
    second = services.quotes_generate(capacity_request=second_request, by=second_user, now=later)
    assert second.quotes[0].lines.get().resale_listing_id == listing.pk
    # The first buyer's expired quote cannot take servers the second now holds.
    with pytest.raises(resale.ListingNotOpen):
        services.quote_accept(quote=expired_quote, by=first_user, now=later)
    # Cancelling releases; the first buyer's fresh quotes then get both servers again.
    services.request_cancel(capacity_request=second_request)
    assert _hold_servers(listing) == [2]  # the first request's (expired) hold, until tidied
    assert resale.resale_holds_purge_expired(now=later) == 1
    quote = services.quotes_generate(
        capacity_request=first_request, by=first_user, now=later
    ).quotes[0]
    assert _hold_servers(listing) == [2]
    # Accepting books them and drops the request's holds.
    child = services.quote_accept(quote=quote, by=first_user, now=later)
    assert ResaleHold.objects.count() == 0
    assert child.lines.get().resale_listing_id == listing.pk
    listing.refresh_from_db()
    assert listing.sold_servers == 2


def test_a_withdrawn_listing_is_not_held_and_its_quote_cannot_be_accepted(setup):
    cluster, _, user, contract = setup
    listing = _list(contract, user, cluster, servers=2)
    organization, buyer_user = buyer()
    request = capacity_request(organization, servers=2, start_date=listing.start, term_months=3)
    quote = services.quotes_generate(capacity_request=request, by=buyer_user).quotes[0]
    resale.resale_withdraw(listing=listing, by=user)
    response = client_for(buyer_user).post(f"/api/v1/quotes/{quote.pk}/accept/")
    assert response.status_code == 409
    listing.refresh_from_db()
    assert listing.status == ResaleStatus.WITHDRAWN and listing.sold_servers == 0
    assert services.quotes_generate(capacity_request=request, by=buyer_user).quotes == []
    assert ResaleHold.objects.count() == 0


def test_the_purge_task_tidies_expired_resale_holds_once(setup):
    from marketplace.tasks import purge_expired_resale_holds

    cluster, _, user, contract = setup
    listing = _list(contract, user, cluster, servers=2)
    past = timezone.now() - timedelta(minutes=1)
    for servers, expires_at in ((1, past), (1, past + timedelta(hours=1))):
        ResaleHold.objects.create(
            listing=listing,
            servers=servers,
            start=listing.start,
            end=listing.end,
            expires_at=expires_at,
            reference="request:0",
        )
    assert purge_expired_resale_holds.delay().get() == 1
    assert purge_expired_resale_holds.delay().get() == 0
    assert ResaleHold.objects.count() == 1
