"""Time the exact split matcher (marketplace.matching.match) on hard synthetic instances.

Usage: .venv/bin/python benchmarks/solver.py [--runs 12] [--quick]
No Django, no database: the matcher is a pure module.

Hard means: thousands of candidates in up to six rating groups (H20, 4- and 8-card A800, L40S,
4- and 8-card H800), demands up to 4,000 P that are not a multiple of any rating (so a cover
must be fitted, not just filled), few free servers per cluster, and prices that are close or
flat. Flat prices (every cluster at 120,000 per P, as in the source article) are the worst case:
cost is then price x P, the Lagrangian window cannot rule any server count out, and the
dynamic programme runs over every count of every group. Each row prints the median and max
time of the best offer alone (limit=1) and of the default five offers (limit=5, which re-solves
without each of the best offer's largest clusters).
"""

import argparse
import random
import statistics
import sys
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from marketplace.matching import Candidate, Demand, match

SEED = 20_271
RATINGS = ["2.368", "2.496", "4.992", "5.864", "7.916", "15.832"]  # P per server
PRICE_REGIMES = {
    # price per P per year, in fen, drawn per cluster
    "spread": lambda rng: rng.randint(10_000_000, 14_000_000),  # 100,000-140,000
    "close": lambda rng: 12_000_000 + rng.randint(-1_000, 1_000),  # 120,000 +- 10.00
    "3 levels": lambda rng: rng.choice([11_999_999, 12_000_000, 12_000_001]),
    "flat": lambda rng: 12_000_000,
}
SIZES = [  # (candidates, rating groups, demand in P)
    (500, 4, 500),
    (2_000, 4, 2_000),
    (2_000, 6, 2_000),
    (5_000, 6, 4_000),
]


def instance(rng: random.Random, count: int, groups: int, demand_p: int, regime: str):
    ratings = [Decimal(r) for r in rng.sample(RATINGS, groups)]
    candidates = [
        Candidate(
            cluster_id=cid,
            free_servers=rng.randint(1, 8),
            p_per_server=rng.choice(ratings),
            price_per_p_year=Decimal(PRICE_REGIMES[regime](rng)).scaleb(-2),
            uptime=Decimal(rng.randint(9_900, 10_000)).scaleb(-2),
        )
        for cid in rng.sample(range(1, 10 * count), count)
    ]
    # Just under the round figure, to three places: rarely a sum of ratings.
    min_p = Decimal(demand_p * 1000 - rng.randint(1, 999)).scaleb(-3)
    return Demand(min_p=min_p, single_cluster=False), candidates


def timed(demand: Demand, candidates: list[Candidate], limit: int) -> float:
    start = time.perf_counter()
    offers = match(demand, candidates, limit=limit)
    elapsed = time.perf_counter() - start
    assert offers and offers[0].total_p >= demand.min_p
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=12, help="instances per row")
    parser.add_argument("--quick", action="store_true", help="the two smaller sizes only")
    args = parser.parse_args()
    rng = random.Random(SEED)
    match(*instance(rng, 200, 4, 100, "spread"))  # warm up numpy and the imports
    print(
        f"{'candidates':>10} {'groups':>6} {'demand P':>8}  {'prices':<9}"
        f"  {'best offer (limit=1)':>24}  {'five offers (limit=5)':>24}"
    )
    for count, groups, demand_p in SIZES[:2] if args.quick else SIZES:
        for regime in PRICE_REGIMES:
            best, five = [], []
            for _ in range(args.runs):
                demand, candidates = instance(rng, count, groups, demand_p, regime)
                best.append(timed(demand, candidates, 1))
                five.append(timed(demand, candidates, 5))
            print(
                f"{count:>10,} {groups:>6} {demand_p:>8,}  {regime:<9}  "
                f"{_figures(best):>24}  {_figures(five):>24}"
            )


def _figures(seconds: list[float]) -> str:
    ms = [s * 1000 for s in seconds]
    return f"median {statistics.median(ms):6.1f} / max {max(ms):6.1f} ms"


if __name__ == "__main__":
    main()
