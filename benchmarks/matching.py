"""Quotes for a capacity request over 10,000 clusters and 200,000 allocations (PostgreSQL).

Usage: .venv/bin/python benchmarks/matching.py [--requests 50] [--rebuild] [--resale]
Builds (or reuses) the data set of benchmarks/inventory.py, then for 50 random requests with
split allowed and 50 single-cluster ones times POST /api/v1/capacity-requests/{id}/quotes/ through
the whole stack (eligibility, free capacity in SQL, exact matching, pricing, holds, reasons,
serialisation) and counts its SQL queries. ``--resale`` adds the 20,000 resale listings of
benchmarks/resale_data.py and times the same requests without them (withdrawn) and with them
(listed), so the two sets of figures compare like with like. The exact solver's time on the
hardest split instances is printed by benchmarks/solver.py (run with --quick for a short
version).
"""

import argparse
import random
import statistics
import sys
import time
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks.common import describe, setup_django

SEED = 4242


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument("--resale", action="store_true")
    args = parser.parse_args()
    setup_django()

    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from accounts.models import Membership, Organization, User
    from benchmarks import inventory as inventory_bench
    from benchmarks import resale_data
    from inventory.models import Allocation, Cluster, UsageStep
    from marketplace.models import CapacityRequest, ResaleHold, ResaleListing
    from tests.factories import token_of

    rng = random.Random(SEED)
    if (
        args.rebuild
        or Cluster.objects.count() < inventory_bench.CLUSTERS
        or Allocation.objects.filter(kind="booking").count() < inventory_bench.ALLOCATIONS
        or not UsageStep.objects.exists()
    ):
        started = time.perf_counter()
        inventory_bench.build(random.Random(inventory_bench.SEED))
        print(f"built the data set in {time.perf_counter() - started:.1f} s")
    if args.resale and (args.rebuild or ResaleListing.objects.count() < resale_data.LISTINGS):
        started = time.perf_counter()
        resale_data.build(random.Random(SEED))
        print(f"built the resale listings in {time.perf_counter() - started:.1f} s")
    print(f"{Cluster.objects.count():,} clusters, {Allocation.objects.count():,} allocations")

    org, _ = Organization.objects.get_or_create(name="Bench Buyer", defaults={"is_customer": True})
    user, _ = User.objects.get_or_create(username="bench-buyer")
    Membership.objects.get_or_create(user=user, defaults={"organization": org})
    client = Client(HTTP_AUTHORIZATION=f"Token {token_of(user)}")
    regions = ["hefei", "wuhu", "shanghai", "beijing", "qinghai", "jinan", "guiyang"]

    def run(ids: list[int], label: str) -> None:
        timings, queries, offers, rejected, resold = [], [], [], [], []
        listings_rejected = []
        # Warm up (and no body: JSON, as API clients send it).
        client.post(f"/api/v1/capacity-requests/{ids[0]}/quotes/", content_type="application/json")
        for request_id in ids:
            with CaptureQueriesContext(connection) as captured:
                started = time.perf_counter()
                response = client.post(
                    f"/api/v1/capacity-requests/{request_id}/quotes/",
                    content_type="application/json",
                )
                timings.append(time.perf_counter() - started)
            assert response.status_code == 201, response.content[:300]
            body = response.json()
            queries.append(len(captured))
            offers.append(len(body["quotes"]))
            rejected.append(body["rejected_count"])
            listings_rejected.append(sum(1 for row in body["rejected"] if row["resale_listing"]))
            resold.append(
                sum(
                    1
                    for quote in body["quotes"]
                    for line in quote["allocations"]
                    if line["resale_listing"]
                )
            )
        print(describe(f"quotes, {label}", timings))
        print(
            f"  SQL queries per quote run: min {min(queries)}, max {max(queries)}, "
            f"median {statistics.median(queries)}; offers per run: "
            f"{min(offers)}-{max(offers)}; clusters explained: {min(rejected):,}-"
            f"{max(rejected):,}; resale lines offered: {sum(resold)}; resale listings explained: "
            f"{min(listings_rejected):,}-{max(listings_rejected):,} (first page)"
        )

    def new_request(single_cluster: bool) -> int:
        start = date(2027, 1, 1) + timedelta(days=rng.randrange(0, 540))
        payload = {
            "gpu_models": rng.sample(["A800-80G", "H800-80G", "H20-96G"], rng.randint(1, 2)),
            "min_p": str(rng.choice([20, 50, 100, 200] if single_cluster else [50, 200, 500, 800])),
            "interconnect": rng.choice(["any", "rdma"]),
            "single_cluster": single_cluster,
            "start_date": start.isoformat(),
            "term_months": rng.choice([3, 6, 12, 24]),
        }
        if rng.random() < 0.5:
            payload["regions"] = rng.sample(regions, rng.randint(1, 3))
        response = client.post(
            "/api/v1/capacity-requests/", payload, content_type="application/json"
        )
        assert response.status_code == 201, response.content[:300]
        return response.json()["id"]

    phases = [("", None)]
    if args.resale:
        phases = [(" (resale withdrawn)", False), (" (20,000 resale listings)", True)]
    try:
        for single in (False, True):
            ids = [new_request(single) for _ in range(args.requests)]
            for suffix, listed in phases:
                if listed is not None:
                    resale_data.set_listed(listed)
                run(ids, ("single-cluster" if single else "split allowed") + suffix)
    finally:
        bench_requests = CapacityRequest.objects.filter(customer=org)
        for request_id in bench_requests.values_list("pk", flat=True):
            Allocation.objects.filter(reference=f"request:{request_id}").delete()
            ResaleHold.objects.filter(reference=f"request:{request_id}").delete()
        bench_requests.delete()


if __name__ == "__main__":
    main()
