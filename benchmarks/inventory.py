"""Customer search with a date window and min_free_p over 10,000 clusters and 200,000 allocations.

Usage: .venv/bin/python benchmarks/inventory.py [--rebuild] [--searches 50]
Uses PostgreSQL (BENCH_DATABASE_URL, default database compute_market_bench on 127.0.0.1).
Prints the median and p95 time of 50 searches through the real API stack (token auth,
filters, SQL free-capacity sweep, serialisation of a page of 50) and the SQL queries per search.
"""

import argparse
import random
import sys
import time
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks.common import describe, setup_django

CLUSTERS = 10_000
ALLOCATIONS = 200_000
PROVIDERS = 50
SEED = 20271


def build(rng: random.Random) -> None:
    from django.db import connection, transaction
    from django.utils import timezone

    from accounts.models import Organization
    from inventory.capacity import Usage, peak_usage
    from inventory.models import Allocation, Cluster, GpuModel, Region
    from inventory.services import usage_steps_rebuild

    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE inventory_allocation, inventory_usagestep, inventory_outage, "
            "inventory_outagecorrection, inventory_cluster CASCADE"
        )
    Organization.objects.filter(name__startswith="Bench ").delete()
    now = timezone.now()
    providers = Organization.objects.bulk_create(
        Organization(name=f"Bench Provider {i}", is_provider=True, verified_at=now)
        for i in range(PROVIDERS)
    )
    gpus = list(GpuModel.objects.all())
    weights = [5 if g.code in ("A800-80G", "H800-80G") else 1 for g in gpus]
    regions = list(Region.objects.all())
    clusters = [
        Cluster(
            provider=rng.choice(providers),
            name=f"bench-{i}",
            region=rng.choice(regions),
            gpu_model=rng.choices(gpus, weights)[0],
            gpus_per_server=8,
            server_count=rng.randint(4, 64),
            interconnect=rng.choice(["infiniband", "roce", "ethernet"]),
            price_per_p_year=Decimal(rng.randrange(80_000, 160_000, 500)),
            min_term_months=rng.choice([1, 3, 6, 12]),
            available_from=date(2026, 6, 1),
            status="listed" if rng.random() < 0.9 else "draft",
        )
        for i in range(CLUSTERS)
    ]
    with transaction.atomic():
        clusters = Cluster.objects.bulk_create(clusters, batch_size=2000)
    per_cluster = ALLOCATIONS // CLUSTERS
    rows: list[Allocation] = []
    origin = date(2027, 1, 1)
    for cluster in clusters:
        usages: list[Usage] = []
        while len(usages) < per_cluster:
            start = origin + timedelta(days=rng.randrange(0, 3 * 365))
            end = start + timedelta(days=rng.randrange(30, 540))
            servers = rng.randint(1, max(1, cluster.server_count // 4))
            candidate = Usage(start, end, servers)
            if peak_usage([*usages, candidate], start=start, end=end) <= cluster.server_count:
                usages.append(candidate)
        rows.extend(
            Allocation(
                cluster=cluster,
                kind="booking",
                servers=u.servers,
                start=u.start,
                end=u.end,
                reference=f"bench:{cluster.pk}",
            )
            for u in usages
        )
    with transaction.atomic():
        Allocation.objects.bulk_create(rows, batch_size=5000)
        ids = [cluster.pk for cluster in clusters]
        for index in range(0, len(ids), 1000):
            usage_steps_rebuild(cluster_ids=ids[index : index + 1000])
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument("--searches", type=int, default=50)
    args = parser.parse_args()
    setup_django()

    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from accounts.models import Membership, Organization, User
    from inventory.models import Allocation, Cluster, UsageStep
    from tests.factories import token_of

    rng = random.Random(SEED)
    if (
        args.rebuild
        or Allocation.objects.count() < ALLOCATIONS
        or Cluster.objects.count() < CLUSTERS
        or not UsageStep.objects.exists()
    ):
        started = time.perf_counter()
        build(rng)
        print(
            f"built {Cluster.objects.count():,} clusters and {Allocation.objects.count():,} "
            f"allocations in {time.perf_counter() - started:.1f} s"
        )
    else:
        print(
            f"reusing {Cluster.objects.count():,} clusters and "
            f"{Allocation.objects.count():,} allocations (--rebuild to rebuild)"
        )

    org, _ = Organization.objects.get_or_create(
        name="Bench Customer", defaults={"is_customer": True}
    )
    user, _ = User.objects.get_or_create(username="bench-customer")
    Membership.objects.get_or_create(user=user, defaults={"organization": org})
    client = Client(HTTP_AUTHORIZATION=f"Token {token_of(user)}")

    searches = []
    for _ in range(args.searches):
        start = date(2027, 1, 1) + timedelta(days=rng.randrange(0, 2 * 365))
        end = start + timedelta(days=rng.choice([30, 90, 180, 365]))
        min_free_p = rng.choice(["5", "20", "50", "100", "200"])
        searches.append(
            {"start": start.isoformat(), "end": end.isoformat(), "min_free_p": min_free_p}
        )

    client.get("/api/v1/clusters/", searches[0])  # warm caches and connections
    timings, query_counts, matches = [], [], []
    for params in searches:
        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            response = client.get("/api/v1/clusters/", params)
            timings.append(time.perf_counter() - started)
        assert response.status_code == 200, response.content[:500]
        query_counts.append(len(queries))
        matches.append(response.json()["count"])

    print(describe("search (window + min_free_p, page of 50)", timings))
    print(f"SQL queries per search: min {min(query_counts)}, max {max(query_counts)}")
    print(f"matching clusters per search: min {min(matches):,}, max {max(matches):,}")

    with CaptureQueriesContext(connection) as queries:
        client.get("/api/v1/clusters/", searches[0])
    sweep = next(q["sql"] for q in queries.captured_queries if "inventory_usagestep" in q["sql"])
    with connection.cursor() as cursor:
        started = time.perf_counter()
        cursor.execute("EXPLAIN ANALYZE " + sweep)
        plan = cursor.fetchall()
    print(f"free-capacity statement alone: {plan[-1][0]}")


if __name__ == "__main__":
    main()
