"""Why clusters did not match: grouped by reason, paged, in the reader's language."""

from datetime import date
from decimal import Decimal

import pytest
from django.utils import translation

from marketplace import services
from marketplace.eligibility import Reason
from tests.factories import ClusterFactory, ProviderFactory, capacity_request, gpu, region

pytestmark = pytest.mark.django_db
SINCE = date(2020, 1, 1)


@pytest.fixture
def rejected(customer_org, customer_user):
    """One cluster offered; others failing GPU model (5), region (2), capacity (1)."""
    provider = ProviderFactory()
    ClusterFactory(provider=provider, name="used", server_count=4, available_from=SINCE)
    ClusterFactory(provider=provider, name="small", server_count=1, available_from=SINCE)
    for index in range(5):
        ClusterFactory(
            provider=provider,
            name=f"h800-{index}",
            gpu_model=gpu("H800-80G"),
            region=region("wuhu") if index < 2 else region("hefei"),
            available_from=SINCE,
        )
    request = capacity_request(
        customer_org, servers=2, regions=[region("hefei")], single_cluster=True
    )
    services.quotes_generate(capacity_request=request, by=customer_user)
    return request


def test_groups_count_every_reason_and_page_through_its_clusters(rejected):
    rejections = services.request_rejections(capacity_request=rejected)
    assert dict(rejections.reasons()) == {
        Reason.GPU_MODEL: 5,
        Reason.REGION: 2,
        Reason.TOO_SMALL_FOR_SINGLE_CLUSTER: 1,
    }
    assert next(code for code, _ in rejections.reasons()) == Reason.GPU_MODEL  # most first
    group = rejections.group(Reason.GPU_MODEL)
    assert len(group) == 5
    pages = [group[0:2], group[2:4], group[4:6]]
    ids = [pk for page in pages for pk, _ in page]
    assert len(ids) == len(set(ids)) == 5
    assert all(rejection.code == Reason.GPU_MODEL for page in pages for _, rejection in page)
    small = rejections.group(Reason.TOO_SMALL_FOR_SINGLE_CLUSTER)[0:10]
    assert [r.message for _, r in small] == [
        "Only 1 server is free for the whole term; a single-cluster booking needs 2."
    ]
    region_rows = rejections.group(Reason.REGION)[0:10]
    assert {r.message for _, r in region_rows} == {"It is in Wuhu; you asked for Hefei."}


def test_reasons_speak_the_readers_language_and_the_api_keeps_codes(rejected, customer_client):
    with translation.override("zh-hans"):
        rejections = services.request_rejections(capacity_request=rejected)
        messages = {r.message for _, r in rejections.group(Reason.REGION)[0:10]}
        title = rejections.group(Reason.REGION).title
    assert messages == {"它位于芜湖；您要求的是合肥。"}
    assert title == "位于其他地区"
    page = customer_client.get(
        f"/api/v1/capacity-requests/{rejected.pk}/rejections/", HTTP_ACCEPT_LANGUAGE="en"
    ).json()
    codes = {reason["code"] for row in page["results"] for reason in row["reasons"]}
    assert codes == {"gpu_model", "region", "too_small_for_single_cluster"}


def test_a_price_reason_shows_money_as_money(customer_org, customer_user):
    ClusterFactory(price_per_p_year=Decimal("150000"), available_from=SINCE)
    request = capacity_request(customer_org, servers=1, max_price_per_p_year=Decimal("120000.5"))
    rejections = services.request_rejections(capacity_request=request)
    [(_, rejection)] = rejections.group(Reason.PRICE_ABOVE_MAX)[0:1]
    assert rejection.message == (
        "It asks ¥150,000.00 per P per year, above your maximum of ¥120,000.50."
    )
