"""Issue a month's invoices for 100,000 active contracts through the real task pipeline.

Usage: .venv/bin/python benchmarks/billing.py [--contracts 100000] [--keep]
Uses PostgreSQL (BENCH_DATABASE_URL, default database compute_market_billing_bench on 127.0.0.1).

Builds, with bulk inserts, 100,000 valid signed contracts (request, quote, contract, line; prices
from ``marketplace.pricing``) over 2,000 clusters of 50 providers for 2,000 customers, starting
on random days of March 2027 (the 29th-31st included) with random terms (1-36 months) and
prices, so schedules are not shared. Billing periods are contract months anchored on each start
(``billing.periods``). Then it runs ``billing.run_day`` eagerly (Celery in-process: the chord of
``BILLING_CHUNK_SIZE``-contract chunk tasks, then the day's chain; issued-invoice mail rendered
and sent to a dummy backend apart) for:

1. 2027-03-31: every contract's first invoice (each issued on or after its start);
2. 2027-04-30: every contract's second contract month (from 1-30 April; a start on 31 March
   clamps to 30 April), with outages recorded in March on 5% of the clusters, so the SLA credit
   path runs too.

It prints invoices per second and SQL queries per invoice and per chunk. The payments side's
collection and dunning steps are stubbed out: they are not invoicing, and are measured apart.
"""

import argparse
import os
import random
import sys
import time
from collections import Counter
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault(
    "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/compute_market_billing_bench"
)
os.environ.setdefault("EMAIL_BACKEND", "django.core.mail.backends.dummy.EmailBackend")
os.environ.setdefault("CELERY_TASK_ALWAYS_EAGER", "true")
os.environ.setdefault("LOG_LEVEL", "ERROR")
from benchmarks.common import setup_django

PROVIDERS = 50
CUSTOMERS = 2_000
CLUSTERS = 2_000
START = date(2027, 3, 1)
SEED = 20273
BATCH = 5_000


def build(rng: random.Random, contracts: int) -> None:
    from django.conf import settings
    from django.db import connection, transaction
    from django.utils import timezone

    from accounts.models import Organization
    from billing.models import BillingAccount
    from inventory.models import Cluster, GpuModel, Region
    from marketplace.models import CapacityRequest, Contract, ContractLine, Quote
    from marketplace.pricing import PricedLine, price_quote
    from marketplace.terms import contract_end_date

    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE billing_billingevent, billing_billingrunstep, billing_invoiceline, "
            "billing_slacredit, "
            "billing_creditnote, billing_payment, billing_balanceentry, billing_payoutline, "
            "billing_payoutstatement, billing_contractoverdueflag, billing_invoice, "
            "billing_documentsequence, billing_billingaccount, marketplace_contractevent, "
            "marketplace_contractline, "
            "marketplace_contract, marketplace_quoteline, marketplace_quote, "
            "marketplace_capacityrequest_gpu_models, marketplace_capacityrequest_regions, "
            "marketplace_capacityrequest, inventory_outagecorrection, inventory_outage, "
            "inventory_allocation, inventory_usagestep, inventory_cluster CASCADE"
        )
    Organization.objects.filter(name__startswith="Bench ").delete()
    now = timezone.now()
    vat = settings.VAT_RATE
    with transaction.atomic():
        providers = Organization.objects.bulk_create(
            Organization(name=f"Bench Provider {i}", is_provider=True, verified_at=now)
            for i in range(PROVIDERS)
        )
        customers = Organization.objects.bulk_create(
            Organization(name=f"Bench Customer {i}", is_customer=True) for i in range(CUSTOMERS)
        )
        BillingAccount.objects.bulk_create(
            BillingAccount(organization=customer, billing_email=f"billing{i}@example.com")
            for i, customer in enumerate(customers)
        )
        gpus = list(GpuModel.objects.all())
        regions = list(Region.objects.all())
        clusters = Cluster.objects.bulk_create(
            (
                Cluster(
                    provider=rng.choice(providers),
                    name=f"bench-{i}",
                    region=rng.choice(regions),
                    gpu_model=rng.choice(gpus),
                    gpus_per_server=8,
                    server_count=1000,
                    interconnect="infiniband",
                    price_per_p_year=Decimal(rng.randrange(80_000, 160_000, 500)),
                    available_from=date(2026, 1, 1),
                    status="listed",
                )
                for i in range(CLUSTERS)
            ),
            batch_size=BATCH,
        )
        p_per_server = {c.pk: c.rated_p_per_server for c in clusters}
        for offset in range(0, contracts, BATCH):
            size = min(BATCH, contracts - offset)
            specs = []
            for _ in range(size):
                cluster = rng.choice(clusters)
                servers = rng.randint(1, 8)
                term = rng.randint(1, 36)
                start = START + timedelta(days=rng.randrange(31))
                price = Decimal(rng.randrange(80_000_00, 160_000_00)) / 100
                line = PricedLine(cluster.pk, servers, servers * p_per_server[cluster.pk], price)
                quote_price = price_quote([line], term_months=term, vat_rate=vat)
                specs.append((cluster, line, term, quote_price, rng.choice(customers), start))
            requests = CapacityRequest.objects.bulk_create(
                CapacityRequest(
                    customer=customer,
                    servers=line.servers,
                    start_date=start,
                    term_months=term,
                    end_date=contract_end_date(start, term),
                    status="booked",
                )
                for _, line, term, _, customer, start in specs
            )
            quotes = Quote.objects.bulk_create(
                Quote(
                    request=request,
                    rank=1,
                    total_p=qp.total_p,
                    price_per_p_year=qp.price_per_p_year,
                    annual_price=qp.annual_price,
                    total_price=qp.total_price,
                    net_amount=qp.net,
                    tax_amount=qp.tax,
                    vat_rate=vat,
                    expires_at=now,
                    status="accepted",
                )
                for request, (_, _, _, qp, _, _) in zip(requests, specs, strict=True)
            )
            signed = Contract.objects.bulk_create(
                Contract(
                    customer=customer,
                    request=request,
                    quote=quote,
                    status="active",
                    start_date=request.start_date,
                    end_date=request.end_date,
                    term_months=term,
                    total_p=qp.total_p,
                    price_per_p_year=qp.price_per_p_year,
                    annual_price=qp.annual_price,
                    total_price=qp.total_price,
                    vat_rate=vat,
                )
                for request, quote, (_, _, term, qp, customer, _) in zip(
                    requests, quotes, specs, strict=True
                )
            )
            ContractLine.objects.bulk_create(
                ContractLine(
                    contract=contract,
                    cluster=cluster,
                    provider_id=cluster.provider_id,
                    servers=line.servers,
                    p=line.p,
                    price_per_p_year=line.price_per_p_year,
                )
                for contract, (cluster, line, _, _, _) in zip(signed, specs, strict=True)
            )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def record_outages(rng: random.Random) -> int:
    from django.db import connection

    from inventory.models import Cluster, Outage

    tz = ZoneInfo("Asia/Shanghai")
    clusters = list(Cluster.objects.filter(name__startswith="bench-").values_list("pk", flat=True))
    hit = rng.sample(clusters, len(clusters) // 20)
    outages = []
    for cluster_id in hit:
        start = datetime(2027, 3, rng.randint(1, 28), rng.randint(0, 20), tzinfo=tz)
        outages.append(
            Outage(
                cluster_id=cluster_id,
                start=start,
                end=start + timedelta(hours=rng.choice([0.5, 2, 6])),
                servers_affected=rng.randint(1, 200),
                description="bench outage",
            )
        )
    Outage.objects.bulk_create(outages)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE inventory_outage")
    return len(outages)


class QueryCounter:
    """Counts every SQL statement (``connection.execute_wrapper``), without keeping them."""

    def __init__(self):
        self.count = 0

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        return execute(sql, params, many, context)


def summary_steps(summary: dict) -> str:
    from billing.models import Invoice

    return f"{Invoice.objects.filter(status='overdue').count():,} invoices overdue"


def bill(day: date, counter: QueryCounter) -> None:
    from django.conf import settings

    from billing import selectors, tasks
    from billing.models import Invoice, InvoiceLine
    from billing.notifications import emails
    from billing.tasks import daily

    before = Invoice.objects.count()
    started = time.perf_counter()
    due = selectors.contracts_due_ids(today=day)
    due_seconds = time.perf_counter() - started

    per_chunk: list[int] = []
    chunk_seconds: list[float] = []
    real_chunk = daily.invoices_issue_chunk

    def counted_chunk(**kwargs):
        first, started = counter.count, time.perf_counter()
        try:
            return real_chunk(**kwargs)
        finally:
            per_chunk.append(counter.count - first)
            chunk_seconds.append(time.perf_counter() - started)

    # Mail goes out through its own task, on other workers in production: queue it here and
    # time it apart.
    mail: list[tuple[str, list[int]]] = []
    real_send = emails.send_after_commit
    daily.invoices_issue_chunk = counted_chunk
    emails.send_after_commit = lambda kind, ids, reason="": mail.append((kind, ids))
    first = counter.count
    try:
        started = time.perf_counter()
        summary = tasks.run_day.delay(day.isoformat()).get()
        seconds = time.perf_counter() - started
    finally:
        daily.invoices_issue_chunk = real_chunk
        emails.send_after_commit = real_send
    queries = counter.count - first
    started = time.perf_counter()
    sent = sum(tasks.send_invoice_emails.delay(kind, ids).get() for kind, ids in mail)
    mail_seconds = time.perf_counter() - started
    issued = Invoice.objects.count() - before
    credits = InvoiceLine.objects.filter(kind="sla_credit", invoice__issue_date=day).count()
    print(f"\n{day}: {len(due):,} contracts due (found in {due_seconds * 1000:.0f} ms)")
    if not issued:
        print(f"  nothing to issue: the run took {seconds * 1000:.0f} ms, {queries} statements")
        return
    print(
        f"  issued {issued:,} invoices ({credits:,} SLA credit lines) in {seconds:.1f} s: "
        f"{issued / seconds:,.0f} invoices/s, {summary['invoice_chunks']} chunks of "
        f"{settings.BILLING_CHUNK_SIZE} contracts"
    )
    print(
        f"  of which issuing chunks {sum(chunk_seconds):.1f} s (median "
        f"{sorted(chunk_seconds)[len(chunk_seconds) // 2] * 1000:.0f} ms per chunk); the rest "
        f"is the day's other steps ({summary_steps(summary)})"
    )
    print(f"  SQL per chunk: min {min(per_chunk)}, max {max(per_chunk)}")
    print(
        f"  SQL for the whole day: {queries:,} statements, {queries / issued:.3f} per invoice "
        f"(with the day's other steps)"
    )
    kinds = Counter(kind for kind, _ in mail)
    print(
        f"  mail: {sent:,} messages ({', '.join(f'{n} {k} batches' for k, n in kinds.items())}) "
        f"rendered and sent (dummy backend) in {mail_seconds:.1f} s by the mail task"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--contracts", type=int, default=100_000)
    args = parser.parse_args()
    setup_django()

    from billing.tasks import daily

    daily.collect_due = lambda *, today: {"stubbed": True}
    daily.dunning_run = lambda *, today: {"stubbed": True}

    rng = random.Random(SEED)
    started = time.perf_counter()
    build(rng, args.contracts)
    print(f"built {args.contracts:,} contracts in {time.perf_counter() - started:.1f} s")

    from django.db import connection

    counter = QueryCounter()
    with connection.execute_wrapper(counter):
        bill(date(2027, 3, 31), counter)
        print(f"\n(outages recorded on {record_outages(rng)} clusters in March)")
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")  # as autovacuum would after 100,000 new invoices
        bill(date(2027, 4, 30), counter)
        bill(date(2027, 4, 30), counter)  # nothing due any more: the daily no-op


if __name__ == "__main__":
    main()
