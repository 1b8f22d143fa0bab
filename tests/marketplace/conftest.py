from datetime import date

import pytest

from tests.factories import ClusterFactory, ProviderFactory


@pytest.fixture
def market(db):
    """A small market: one verified provider with three A800 clusters and one H800 cluster."""
    provider = ProviderFactory(name="Hefei Compute")
    since = date(2020, 1, 1)
    return {
        "provider": provider,
        "cheap": ClusterFactory(
            provider=provider,
            name="cheap",
            server_count=2,
            price_per_p_year=100_000,
            available_from=since,
        ),
        "mid": ClusterFactory(
            provider=provider,
            name="mid",
            server_count=4,
            price_per_p_year=120_000,
            available_from=since,
        ),
        "dear": ClusterFactory(
            provider=provider,
            name="dear",
            server_count=10,
            price_per_p_year=150_000,
            available_from=since,
        ),
    }
