"""The SQL prefilter and the explained rules must agree on every cluster."""

import itertools
from datetime import date, timedelta
from decimal import Decimal

import pytest

from inventory.selectors import marketable_clusters
from marketplace.eligibility import Reason, RequestSpec, explain, static_reason_codes
from marketplace.selectors import (
    facts_of,
    static_rejection_summary,
    statically_eligible,
    statically_rejected,
)
from tests.factories import ClusterFactory, gpu, region

pytestmark = pytest.mark.django_db
START = date(2027, 3, 1)


@pytest.fixture
def varied_market():
    clusters = []
    for index, (gpu_code, region_code, network, price, min_term, since) in enumerate(
        itertools.product(
            ["A800-80G", "H800-80G"],
            ["hefei", "wuhu"],
            ["infiniband", "roce", "ethernet"],
            [100_000, 140_000],
            [1, 24],
            [date(2020, 1, 1), START + timedelta(days=1)],
        )
    ):
        clusters.append(
            ClusterFactory(
                name=f"v{index}",
                gpu_model=gpu(gpu_code),
                region=region(region_code),
                interconnect=network,
                price_per_p_year=price,
                min_term_months=min_term,
                available_from=since,
                available_until=None if index % 3 else START + timedelta(days=200),
            )
        )
    return clusters


SPECS = [
    {
        "gpu_codes": frozenset({"A800-80G"}),
        "region_codes": frozenset(),
        "interconnect": "any",
        "max_price_per_p_year": None,
    },
    {
        "gpu_codes": frozenset({"A800-80G", "H800-80G"}),
        "region_codes": frozenset({"wuhu"}),
        "interconnect": "rdma",
        "max_price_per_p_year": Decimal("120000"),
    },
    {
        "gpu_codes": frozenset({"H800-80G"}),
        "region_codes": frozenset({"hefei", "wuhu"}),
        "interconnect": "infiniband",
        "max_price_per_p_year": Decimal("140000"),
    },
    {
        "gpu_codes": frozenset({"A800-80G"}),
        "region_codes": frozenset(),
        "interconnect": "roce",
        "max_price_per_p_year": None,
    },
]


@pytest.mark.parametrize("fields", SPECS)
@pytest.mark.parametrize("term", [6, 36])
def test_sql_prefilter_and_python_reasons_agree(varied_market, fields, term):
    end = date(START.year + term // 12, START.month + term % 12, 1)
    spec = RequestSpec(
        start=START,
        end=end,
        term_months=term,
        single_cluster=False,
        min_p=Decimal(10),
        servers=None,
        **fields,
    )
    eligible = set(statically_eligible(spec).values_list("pk", flat=True))
    failed = dict(statically_rejected(spec).values_list("pk", "failed_rules"))
    facts, _ = facts_of(marketable_clusters())
    assert len(facts) == len(varied_market)
    counts: dict[Reason, int] = {}
    for fact in facts:
        codes = static_reason_codes(spec, fact)
        assert (fact.cluster_id in eligible) == (not codes), (fact, codes)
        assert failed.get(fact.cluster_id, 0) == len(codes)
        for code in codes:
            counts[code] = counts.get(code, 0) + 1
            assert explain(spec, fact, code)
    assert static_rejection_summary(spec) == (len(failed), counts)


def test_every_reason_has_an_explanation():
    spec = RequestSpec(
        gpu_codes=frozenset({"A800-80G"}),
        region_codes=frozenset({"hefei"}),
        interconnect="rdma",
        max_price_per_p_year=Decimal(1),
        start=START,
        end=START + timedelta(days=30),
        term_months=1,
        single_cluster=True,
        min_p=Decimal(5),
        servers=None,
    )
    from marketplace.eligibility import ClusterFacts

    fact = ClusterFacts(
        cluster_id=1,
        gpu_code="H800-80G",
        region_code="wuhu",
        interconnect="ethernet",
        price_per_p_year=Decimal(2),
        min_term_months=3,
        available_from=START,
        available_until=None,
        p_per_server=Decimal("4.992"),
        free_servers=1,
    )
    for code in Reason:
        assert explain(spec, fact, code).endswith(".")
