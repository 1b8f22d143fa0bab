"""Load on the production-like stack: gunicorn on PostgreSQL and Redis, loopback.

Starts the stack (``benchmarks.stack``: a fresh database, migrated and seeded with the demo
data, gunicorn with ``--workers`` sync workers, DEBUG off), then drives it from a second process
with ``--threads`` threads for ``--seconds``: a read mix (cluster searches with and without a
window, a cluster, the market, contracts, invoices, an invoice, the home and cluster pages) and,
with ``--write-share``, customers' write sequences (a capacity request, its quotes, sometimes an
accept). Prints requests per second, p50/p95/p99 latency and errors per endpoint and in all,
then checks the invariants in the database: no cluster has more servers booked or held on any
day than it has, and no contract is invoiced beyond its price.

    .venv/bin/python benchmarks/load.py                      # the benchmark: 30 s, read mix
    .venv/bin/python benchmarks/load.py --write-share 0.05   # with quotes and accepts
    .venv/bin/python benchmarks/load.py --smoke              # CI: 8 s, errors and invariants
    .venv/bin/python benchmarks/load.py --read-cache-seconds 0   # every read computed

Exits non-zero on any error or broken invariant, and (not with --smoke) when the read mix
misses ``--target-rps`` or ``--target-p99-ms``. Needs PostgreSQL (``STACK_DB_SERVER``, default
postgres://postgres@127.0.0.1:5432) and, for the cache and broker, ``REDIS_URL`` /
``CELERY_BROKER_URL``. Results and what limits them: docs/operations.md, "Load".
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
import random
import sys
import threading
import time
from collections import defaultdict
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.common import percentile  # noqa: E402
from benchmarks.stack import api_token, running_stack  # noqa: E402

# (label, method, path, who, weight); {cluster}, {invoice} and {window} filled in at start.
READS = [
    ("GET clusters", "GET", "/api/v1/clusters/", "customer", 20),
    ("GET clusters window", "GET", "/api/v1/clusters/?{window}", "customer", 10),
    ("GET cluster", "GET", "/api/v1/clusters/{cluster}/", "customer", 15),
    ("GET market", "GET", "/api/v1/market/", "customer", 10),
    ("GET contracts", "GET", "/api/v1/contracts/", "customer", 10),
    ("GET invoices", "GET", "/api/v1/invoices/", "customer", 10),
    ("GET invoice", "GET", "/api/v1/invoices/{invoice}/", "customer", 10),
    ("GET gpu-models", "GET", "/api/v1/gpu-models/", None, 5),
    ("page home", "GET", "/", None, 5),
    ("page clusters", "GET", "/clusters/", None, 5),
]


def _first_of_month(months_ahead: int) -> date:
    today = date.today()
    month = today.month - 1 + months_ahead
    return date(today.year + month // 12, month % 12 + 1, 1)


class Client:
    """One keep-alive connection per thread (gunicorn's sync workers close it after each
    answer; the client reconnects), JSON in and out."""

    def __init__(self, host: str, port: int, tokens: dict[str, str]):
        self.host, self.port, self.tokens = host, port, tokens
        self.connection: http.client.HTTPConnection | None = None

    def request(self, method: str, path: str, who: str | None, body: dict | None = None):
        headers = {"Accept": "application/json" if path.startswith("/api/") else "text/html"}
        if who:
            headers["Authorization"] = f"Token {self.tokens[who]}"
        payload = None
        if body is not None:
            payload = json.dumps(body)
            headers["Content-Type"] = "application/json"
        for attempt in range(2):
            if self.connection is None:
                self.connection = http.client.HTTPConnection(self.host, self.port, timeout=30)
            try:
                self.connection.request(method, path, body=payload, headers=headers)
                response = self.connection.getresponse()
                data = response.read()
                if response.getheader("Connection", "").lower() == "close":
                    self.connection.close()
                    self.connection = None
                return response.status, data
            except (http.client.HTTPException, OSError):
                self.connection.close()
                self.connection = None
                if attempt:
                    raise
        raise AssertionError("unreachable")


def _drive(base_url: str, tokens: dict, fill: dict, args, results) -> None:
    """The load process: threads until the time is up; results as a list of
    (label, status, seconds, ok)."""
    host, port = base_url.removeprefix("http://").split(":")
    reads = [(label, method, path.format(**fill), who) for label, method, path, who, _ in READS]
    weights = [weight for *_, weight in READS]
    stop_at = time.monotonic() + args.seconds
    lock = threading.Lock()
    collected: list[tuple[str, int, float, bool]] = []

    def timed(client, label, method, path, who, body=None, ok_statuses=(200, 201)):
        started = time.perf_counter()
        try:
            status, data = client.request(method, path, who, body)
        except OSError:
            status, data = 0, b""
        elapsed = time.perf_counter() - started
        with lock:
            collected.append((label, status, elapsed, status in ok_statuses))
        return status, data

    def write_sequence(client, rng):
        start = _first_of_month(rng.randint(2, 6)).isoformat()
        status, data = timed(
            client,
            "POST capacity-request",
            "POST",
            "/api/v1/capacity-requests/",
            "customer",
            {
                "gpu_models": ["A800-80G", "H800-80G"],
                "start_date": start,
                "term_months": rng.randint(1, 6),
                "servers": 1,
            },
        )
        if status != 201:
            return
        request_id = json.loads(data)["id"]
        status, data = timed(
            client,
            "POST quotes",
            "POST",
            f"/api/v1/capacity-requests/{request_id}/quotes/",
            "customer",
            {},
        )
        quotes = json.loads(data).get("quotes", []) if status == 201 else []
        if quotes and rng.random() < 0.3:
            # 409: another thread's accept took the servers first (the hold lost its race).
            timed(
                client,
                "POST accept",
                "POST",
                f"/api/v1/quotes/{quotes[0]['id']}/accept/",
                "customer",
                {},
                ok_statuses=(201, 409),
            )

    def worker(seed: int) -> None:
        rng = random.Random(seed)
        client = Client(host, int(port), tokens)
        while time.monotonic() < stop_at:
            if args.write_share and rng.random() < args.write_share:
                write_sequence(client, rng)
                continue
            label, method, path, who = rng.choices(reads, weights)[0]
            timed(client, label, method, path, who)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(args.threads)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    results.put((time.monotonic() - started, collected))


def report(elapsed: float, rows: list[tuple[str, int, float, bool]]) -> dict:
    by_label: dict[str, list] = defaultdict(list)
    for row in rows:
        by_label[row[0]].append(row)
    print(f"\n{'endpoint':<24}{'n':>7}{'rps':>8}{'p50':>8}{'p95':>8}{'p99':>8}{'errors':>8}")

    def line(label: str, items: list) -> tuple[float, float]:
        ms = [item[2] * 1000 for item in items]
        errors = sum(1 for item in items if not item[3])
        p99 = percentile(ms, 99)
        print(
            f"{label:<24}{len(items):>7}{len(items) / elapsed:>8.1f}{percentile(ms, 50):>8.1f}"
            f"{percentile(ms, 95):>8.1f}{p99:>8.1f}{errors:>8}"
        )
        return errors, p99

    for label in sorted(by_label):
        line(label, by_label[label])
    reads = [row for row in rows if not row[0].startswith("POST")]
    _, read_p99 = line("reads (all)", reads) if reads else (0, 0.0)
    errors, p99 = line("all", rows)
    statuses = defaultdict(int)
    for row in rows:
        if not row[3]:
            statuses[row[1]] += 1
    if statuses:
        print("errors by status:", dict(statuses))
    return {
        "rps": len(rows) / elapsed,
        "read_rps": len(reads) / elapsed,
        "read_p99_ms": read_p99,
        "errors": errors,
        "p99_ms": p99,
    }


INVARIANTS = {
    "overbooked cluster-days": """
        WITH days AS (
            SELECT DISTINCT a.cluster_id, a.start AS day FROM inventory_allocation a
        )
        SELECT count(*) FROM (
            SELECT d.cluster_id, d.day, sum(a.servers) AS used, max(c.server_count) AS servers
            FROM days d
            JOIN inventory_allocation a
              ON a.cluster_id = d.cluster_id AND a.start <= d.day AND a."end" > d.day
             AND (a.expires_at IS NULL OR a.expires_at > now())
            JOIN inventory_cluster c ON c.id = d.cluster_id
            GROUP BY d.cluster_id, d.day
        ) t WHERE used > servers
    """,
    "contracts invoiced beyond their price": """
        SELECT count(*) FROM (
            SELECT c.id FROM marketplace_contract c
            JOIN billing_invoice i ON i.contract_id = c.id AND i.status <> 'void'
            GROUP BY c.id HAVING sum(i.total) > max(c.total_price)
        ) t
    """,
}


def check_invariants(database_url: str) -> int:
    import psycopg

    broken = 0
    with psycopg.connect(database_url) as conn:
        for label, sql in INVARIANTS.items():
            count = conn.execute(sql).fetchone()[0]
            print(f"invariant: {label}: {count}")
            broken += count
        contracts = conn.execute("SELECT count(*) FROM marketplace_contract").fetchone()[0]
        print(f"contracts in the database after the run: {contracts}")
    return broken


def _fill(base_url: str, tokens: dict) -> dict:
    """Ids the read mix uses: a cluster and an invoice the demo customer can see."""
    host, port = base_url.removeprefix("http://").split(":")
    client = Client(host, int(port), tokens)
    _, clusters = client.request("GET", "/api/v1/clusters/", "customer")
    _, invoices = client.request("GET", "/api/v1/invoices/", "customer")
    start, end = _first_of_month(2), _first_of_month(8)
    return {
        "cluster": json.loads(clusters)["results"][0]["id"],
        "invoice": json.loads(invoices)["results"][0]["id"],
        "window": f"gpu_model=A800-80G,H800-80G&start={start}&end={end}&min_free_p=1",
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--workers", type=int, default=4, help="gunicorn worker processes")
    parser.add_argument("--write-share", type=float, default=0.0, help="0..1: write sequences")
    parser.add_argument("--target-rps", type=float, default=300)
    parser.add_argument("--target-p99-ms", type=float, default=250)
    parser.add_argument("--smoke", action="store_true", help="short; only errors and invariants")
    parser.add_argument(
        "--read-cache-seconds",
        type=float,
        default=None,
        help="the stack's READ_CACHE_SECONDS (0: every read computed; default: the setting's)",
    )
    parser.add_argument("--db", default=os.environ.get("LOAD_DB", "compute_market_load"))
    args = parser.parse_args()
    if args.smoke:
        args.seconds, args.threads = min(args.seconds, 8), min(args.threads, 6)
        args.write_share = args.write_share or 0.1
    extra_env = {}
    if args.read_cache_seconds is not None:
        extra_env["READ_CACHE_SECONDS"] = str(args.read_cache_seconds)
    with running_stack(args.db, workers=args.workers, extra_env=extra_env) as stack:
        tokens = {role: api_token(stack, role) for role in ("customer", "provider")}
        fill = _fill(stack.base_url, tokens)
        print(
            f"load: {args.threads} threads for {args.seconds:.0f} s, "
            f"write share {args.write_share:.0%}, from a second process"
        )
        results = multiprocessing.get_context("spawn").Queue()
        driver = multiprocessing.get_context("spawn").Process(
            target=_drive, args=(stack.base_url, tokens, fill, args, results)
        )
        driver.start()
        elapsed, rows = results.get(timeout=args.seconds + 120)
        driver.join()
        figures = report(elapsed, rows)
        broken = check_invariants(stack.database_url)
    print(
        f"\nread rps {figures['read_rps']:.0f} (target {args.target_rps:.0f}), read p99 "
        f"{figures['read_p99_ms']:.0f} ms (target {args.target_p99_ms:.0f}), "
        f"errors {figures['errors']}, broken invariants {broken}"
    )
    failed = figures["errors"] > 0 or broken > 0
    if not args.smoke and args.write_share == 0:
        failed |= figures["read_rps"] < args.target_rps
        failed |= figures["read_p99_ms"] > args.target_p99_ms
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
