"""Single-cluster demands over several candidates of one physical cluster (resale + provider)."""

import itertools
import random
from decimal import Decimal

import pytest

from marketplace.matching import Candidate, Demand, match

P = Decimal("4.992")


def _candidate(cid, free, price):
    return Candidate(cid, free, P, Decimal(price), Decimal("99.9"))


def test_one_clusters_provider_and_resale_capacity_serve_a_single_cluster_demand():
    candidates = [_candidate(1, 2, 120_000), _candidate(2, 2, 90_000), _candidate(3, 4, 130_000)]
    demand = Demand(servers=3, single_cluster=True)
    assert match(demand, candidates)[0].allocations[0].cluster_id == 3
    offers = match(demand, candidates, groups={2: 1})
    assert {a.cluster_id: a.servers for a in offers[0].allocations} == {1: 1, 2: 2}
    assert {a.cluster_id: a.servers for a in offers[1].allocations} == {3: 3}


@pytest.mark.parametrize("seed", range(30))
def test_the_best_grouped_cover_is_the_cheapest_by_brute_force(seed):
    rng = random.Random(seed)
    candidates = [
        _candidate(cid, rng.randint(1, 4), rng.choice([90_000, 100_000, 120_000]))
        for cid in range(1, 7)
    ]
    groups = {cid: rng.choice([1, 2]) for cid in range(1, 7)}
    demand = Demand(servers=rng.randint(2, 6), single_cluster=True)
    best = None
    for group in (1, 2):
        members = [c for c in candidates if groups[c.cluster_id] == group]
        for counts in itertools.product(*(range(c.free_servers + 1) for c in members)):
            if sum(counts) != demand.servers:
                continue
            cost = sum(n * c.price_per_p_year for n, c in zip(counts, members, strict=True))
            used = sum(1 for n in counts if n)
            if best is None or (cost, used) < best:
                best = (cost, used)
    offers = match(demand, candidates, groups=groups)
    if best is None:
        assert offers == []
        return
    top = offers[0]
    assert (top.annual_cost / P, top.cluster_count) == best
    assert len({groups[a.cluster_id] for a in top.allocations}) == 1
