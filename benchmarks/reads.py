"""What one read of the load mix costs in-process, computed and from the read cache.

Builds the load run's database (``benchmarks.stack``: fresh, migrated, the demo data), then in
this process, with production settings (DEBUG off), times each read of ``benchmarks.load``'s mix
through Django's test client: computed (``READ_CACHE_SECONDS=0``) and answered from the read
cache (every copy made by a first request). Prints milliseconds per request (wall time of one
process on an otherwise idle machine, so close to its CPU cost) and queries per request.

    .venv/bin/python benchmarks/reads.py [--repeat 100]

Uses ``REDIS_URL`` for the cache when set (as the stack does), else the process's memory.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.stack import DEFAULT_DB_SERVER, manage, recreate_database, stack_env  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=100)
    parser.add_argument("--db", default="compute_market_reads")
    args = parser.parse_args()
    database_url = f"{os.environ.get('STACK_DB_SERVER', DEFAULT_DB_SERVER)}/{args.db}"
    env = stack_env(database_url, ALLOWED_HOSTS="127.0.0.1,testserver")
    print(f"database {args.db}: recreate, migrate, seed_demo")
    recreate_database(database_url)
    manage(env, "migrate", "--noinput")
    manage(env, "seed_demo")
    os.environ.update(env)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import warnings

    warnings.filterwarnings("ignore", message="No directory at")
    import django

    django.setup()
    from django.conf import settings
    from django.db import connection
    from django.test import Client

    from accounts.models import User
    from accounts.services import api_token_create
    from benchmarks.load import READS

    token = api_token_create(user=User.objects.get(username="customer"), name="reads")[1]
    client = Client(HTTP_HOST="127.0.0.1")
    api = {"HTTP_AUTHORIZATION": f"Token {token}", "HTTP_ACCEPT": "application/json"}
    page = {"HTTP_ACCEPT": "text/html"}
    clusters = json.loads(client.get("/api/v1/clusters/", **api).content)["results"]
    invoices = json.loads(client.get("/api/v1/invoices/", **api).content)["results"]
    fill = {
        "cluster": clusters[0]["id"],
        "invoice": invoices[0]["id"],
        "window": "gpu_model=A800-80G,H800-80G&start=2027-02-01&end=2027-08-01&min_free_p=1",
    }

    def measure(path: str, headers: dict) -> tuple[float, int]:
        response = client.get(path, **headers)
        assert response.status_code == 200, (path, response.status_code)
        queries = []

        def count(execute, sql, params, many, context):
            queries.append(sql)
            return execute(sql, params, many, context)

        with connection.execute_wrapper(count):
            client.get(path, **headers)
        started = time.perf_counter()
        for _ in range(args.repeat):
            client.get(path, **headers)
        return (time.perf_counter() - started) / args.repeat * 1000, len(queries)

    rows = []
    for label, _method, path, who, weight in READS:
        headers = api if who else page
        if path.startswith("/api/") and not who:
            headers = {"HTTP_ACCEPT": "application/json"}
        path = path.format(**fill)
        settings.READ_CACHE_SECONDS = 0
        computed = measure(path, headers)
        settings.READ_CACHE_SECONDS = 5
        cached = measure(path, headers)
        rows.append((label, weight, computed, cached))
    header = f"{'read':<22}{'weight':>7}{'computed ms':>13}{'queries':>9}"
    print(f"\n{header}{'cached ms':>11}{'queries':>9}")
    for label, weight, (computed_ms, computed_q), (cached_ms, cached_q) in rows:
        print(
            f"{label:<22}{weight:>7}{computed_ms:>13.2f}{computed_q:>9}{cached_ms:>11.2f}{cached_q:>9}"
        )
    total = sum(weight for _, weight, _, _ in rows)
    for name, index in (("computed", 2), ("cached", 3)):
        mean = sum(row[1] * row[index][0] for row in rows) / total
        print(f"weighted mean over the mix, {name}: {mean:.2f} ms per read")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
