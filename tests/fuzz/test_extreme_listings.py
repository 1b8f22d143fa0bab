"""One provider's listing, however extreme, never takes quoting down for anybody."""

from datetime import date
from decimal import Decimal

import pytest
from django.db import connection

from accounts import limits
from inventory.models import Cluster
from marketplace import services
from marketplace.models import Quote
from tests.factories import (
    ClusterFactory,
    OrganizationFactory,
    ProviderFactory,
    capacity_request,
    gpu,
    member_of,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def extreme_cluster(db) -> Cluster:
    """The largest, dearest cluster the API accepts: every bound at its maximum."""
    return ClusterFactory(
        provider=ProviderFactory(name="Extreme Compute"),
        gpu_model=gpu("H800-80G"),
        gpus_per_server=limits.MAX_GPUS_PER_SERVER,
        server_count=limits.MAX_SERVERS_PER_CLUSTER,
        price_per_p_year=limits.MAX_PRICE_PER_P_YEAR,
        available_from=date(2020, 1, 1),
    )


@pytest.mark.postgres
def test_the_largest_request_at_the_highest_price_still_quotes(extreme_cluster):
    if connection.vendor != "postgresql":
        pytest.skip("SQLite keeps decimals of 16 digits and more as floats")
    customer = OrganizationFactory(name="Big Spender")
    user = member_of(customer)
    request = capacity_request(
        customer,
        gpu_models=["H800-80G"],
        min_p=limits.MAX_REQUEST_P,
        term_months=limits.MAX_TERM_MONTHS,
    )
    result = services.quotes_generate(capacity_request=request, by=user)
    assert result.quotes, "the extreme cluster can serve the request"
    quote = Quote.objects.get(pk=result.quotes[0].pk)
    assert quote.total_p >= limits.MAX_REQUEST_P
    assert quote.price_per_p_year == limits.MAX_PRICE_PER_P_YEAR
    # 60 months of about a million P at ten million a P-year: fits the money columns exactly.
    assert quote.total_price == quote.annual_price * 5
    assert quote.net_amount + quote.tax_amount == quote.total_price


def test_a_normal_customer_quotes_beside_an_extreme_listing(extreme_cluster):
    ordinary = ClusterFactory(
        provider=ProviderFactory(name="Ordinary"),
        gpu_model=gpu("H800-80G"),
        price_per_p_year=Decimal("120000"),
        available_from=date(2020, 1, 1),
    )
    customer = OrganizationFactory(name="Small Lab")
    user = member_of(customer)
    request = capacity_request(customer, gpu_models=["H800-80G"], servers=2)
    result = services.quotes_generate(capacity_request=request, by=user)
    best = Quote.objects.get(pk=result.quotes[0].pk)
    assert [line.cluster_id for line in best.lines.all()] == [ordinary.pk]


@pytest.mark.postgres
def test_a_listing_priced_beyond_the_bound_is_skipped_not_fatal(extreme_cluster):
    """A row written around the API (say, before the bound existed) cannot fail quoting."""
    if connection.vendor != "postgresql":
        pytest.skip("SQLite keeps decimals of 16 digits and more as floats")
    Cluster.objects.filter(pk=extreme_cluster.pk).update(
        price_per_p_year=Decimal("99999999999999.999999")
    )
    fair = ClusterFactory(
        provider=ProviderFactory(name="Fair"),
        gpu_model=gpu("H800-80G"),
        server_count=limits.MAX_SERVERS_PER_CLUSTER,
        gpus_per_server=limits.MAX_GPUS_PER_SERVER,
        price_per_p_year=Decimal("130000"),
        available_from=date(2020, 1, 1),
    )
    customer = OrganizationFactory(name="Another Lab")
    user = member_of(customer)
    request = capacity_request(customer, gpu_models=["H800-80G"], servers=10, term_months=60)
    result = services.quotes_generate(capacity_request=request, by=user)
    used = {line.cluster_id for quote in result.quotes for line in quote.lines.all()}
    assert used == {fair.pk}
