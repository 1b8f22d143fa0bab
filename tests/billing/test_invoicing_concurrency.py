"""The billing run under stress: twice at once, killed half-way, through a real worker.

Whatever happens, each contract ends with exactly one invoice per billing period, and the
year's invoice numbers run 1..N without a gap.
"""

import itertools
import os
import threading
import time
from collections import Counter
from datetime import date

import pytest
from django.db import connection, connections

from billing import tasks
from billing.invoicing import issue
from billing.models import BillingEvent, BillingRunStep, DocumentSequence, Invoice
from billing.selectors import contract_schedule
from billing.tasks import daily
from marketplace.models import Contract
from tests.billing.conftest import make_contract, new_customer

MARCH, MAY = date(2027, 3, 1), date(2027, 5, 1)


def build_contracts(cluster, count: int) -> list[Contract]:
    starts = [MARCH, date(2027, 3, 17), date(2027, 4, 1), date(2027, 1, 31)]
    return [
        make_contract(
            new_customer(), start=starts[i % len(starts)], term_months=12, stakes=[(cluster, 1)]
        )
        for i in range(count)
    ]


def expected_periods(contracts: list[Contract], day: date) -> set[tuple[int, date]]:
    return {
        (contract.pk, period.start)
        for contract in contracts
        for period in contract_schedule(contract)
        if period.start <= day
    }


def assert_billed_exactly_once(contracts: list[Contract], day: date) -> None:
    invoices = list(Invoice.objects.values_list("contract_id", "period_start", "number"))
    per_period = Counter((contract_id, start) for contract_id, start, _ in invoices)
    assert set(per_period) == expected_periods(contracts, day)
    assert set(per_period.values()) == {1}
    numbers = sorted(int(number.rsplit("-", 1)[1]) for _, _, number in invoices)
    assert numbers == list(range(1, len(invoices) + 1))  # gap-free
    assert DocumentSequence.objects.get(prefix="INV", year=day.year).last_number == len(invoices)
    assert BillingEvent.objects.filter(subject="invoice", to_status="open").count() == len(invoices)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_runs_of_the_same_day_at_once_bill_each_period_once(cluster, payments_calls, settings):
    if connection.vendor != "postgresql":
        pytest.skip("concurrent transactions and row locks are only proven on PostgreSQL")
    settings.BILLING_CHUNK_SIZE = 4
    contracts = build_contracts(cluster, 14)
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def run():
        try:
            barrier.wait(timeout=30)
            tasks.run_day.delay(MAY.isoformat())  # eager: every chunk runs in this thread
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert errors == []
    assert_billed_exactly_once(contracts, MAY)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_same_chunk_on_two_workers_at_once_bills_once(cluster, payments_calls):
    if connection.vendor != "postgresql":
        pytest.skip("concurrent transactions and row locks are only proven on PostgreSQL")
    contracts = build_contracts(cluster, 10)
    ids = [c.pk for c in contracts]
    barrier = threading.Barrier(2)
    results: list[int] = []

    def run():
        try:
            barrier.wait(timeout=30)
            results.append(issue.invoices_issue_chunk(contract_ids=ids, today=MAY).invoices)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert sorted(results) == [0, len(expected_periods(contracts, MAY))]
    assert_billed_exactly_once(contracts, MAY)


@pytest.mark.django_db
def test_a_run_killed_after_some_chunks_finishes_the_job_when_run_again(
    cluster, payments_calls, settings, monkeypatch
):
    settings.BILLING_CHUNK_SIZE = 3
    contracts = build_contracts(cluster, 10)  # 4 chunks
    real = issue.invoices_issue_chunk
    calls = Counter()

    def dies_on_the_third_chunk(**kwargs):
        calls["chunks"] += 1
        if calls["chunks"] == 3:
            raise SystemError("worker killed")
        return real(**kwargs)

    monkeypatch.setattr(daily, "invoices_issue_chunk", dies_on_the_third_chunk)
    with pytest.raises(SystemError):
        tasks.run_day.delay(MAY.isoformat())
    billed = set(Invoice.objects.values_list("contract_id", flat=True))
    assert len(billed) == 6  # the first two chunks
    assert not payments_calls  # the rest of the day never ran

    monkeypatch.setattr(daily, "invoices_issue_chunk", real)
    tasks.run_day.delay(MAY.isoformat())
    tasks.run_day.delay(MAY.isoformat())
    assert_billed_exactly_once(contracts, MAY)


@pytest.mark.django_db
def test_a_chunk_that_dies_mid_write_leaves_nothing_behind(cluster, payments_calls, monkeypatch):
    contracts = build_contracts(cluster, 5)
    ids = [c.pk for c in contracts]
    issue.invoices_issue_chunk(contract_ids=ids[:1], today=MARCH)  # numbers 1..1
    before = set(Invoice.objects.values_list("pk", flat=True))

    real_bulk = BillingEvent.objects.bulk_create

    def crash(*args, **kwargs):
        raise SystemError("power cut after the invoices and lines were inserted")

    monkeypatch.setattr(BillingEvent.objects, "bulk_create", crash)
    with pytest.raises(SystemError):
        issue.invoices_issue_chunk(contract_ids=ids, today=MAY)
    assert set(Invoice.objects.values_list("pk", flat=True)) == before
    assert DocumentSequence.objects.get(prefix="INV", year=2027).last_number == 1

    monkeypatch.setattr(BillingEvent.objects, "bulk_create", real_bulk)
    issue.invoices_issue_chunk(contract_ids=ids, today=MAY)
    assert_billed_exactly_once(contracts, MAY)


@pytest.mark.celery_worker
@pytest.mark.django_db(transaction=True)
def test_the_daily_run_on_a_prefork_worker_runs_its_steps_in_order(cluster, settings, monkeypatch):
    """Through a real worker on Redis, prefork pool, two processes: the invoice chunks run in
    parallel, and no later step (collection, overdue marking, ...) starts before every chunk
    has finished; the rest run one after the other. The steps' own records say when each
    started and finished (``BillingRunStep``), and collection counts the invoices it found."""
    broker = os.environ.get("CELERY_BROKER_URL", "")
    if not broker.startswith("redis://") or connection.vendor != "postgresql":
        pytest.skip("set CELERY_BROKER_URL to Redis and DATABASE_URL to PostgreSQL")
    from celery.contrib.testing.worker import start_worker

    from config.celery import app

    def found(step):
        def count(*, today):
            return {"step": step, "invoices": Invoice.objects.filter(issue_date=today).count()}

        return count

    # In the worker's processes (forked after this), collection and dunning report what exists.
    monkeypatch.setattr(daily, "collect_due", found("collect"))
    monkeypatch.setattr(daily, "dunning_run", found("dunning"))
    settings.BILLING_CHUNK_SIZE = 2
    contracts = build_contracts(cluster, 14)  # 7 chunks
    expected = len(expected_periods(contracts, MAY))
    app.conf.task_always_eager = False  # restored by the autouse fixture
    settings.CELERY_TASK_ALWAYS_EAGER = False
    previous = app.conf.broker_url, app.conf.result_backend
    app.conf.broker_url = app.conf.result_backend = broker
    app._pool = None  # connect to the broker just configured
    app.control.purge()  # nothing left over from an earlier session (ids restart at 1)
    connections.close_all()  # the pool's processes are forked: no shared connection
    try:
        with start_worker(
            app,
            pool="prefork",
            concurrency=2,
            perform_ping_check=False,
            shutdown_timeout=60,
        ) as worker:
            assert worker.pool.num_processes == 2
            tasks.run_day.delay(MAY.isoformat())
            deadline = time.monotonic() + 120
            while (
                time.monotonic() < deadline
                and not BillingRunStep.objects.filter(
                    run_date=MAY, step="run_dunning", finished_at__isnull=False
                ).exists()
            ):
                time.sleep(0.2)  # waiting for the worker, not timing anything
        app.control.purge()  # mail still queued when the worker stopped
    finally:
        app.conf.broker_url, app.conf.result_backend = previous
        app._pool = None
        connections.close_all()

    assert_billed_exactly_once(contracts, MAY)
    steps = list(BillingRunStep.objects.filter(run_date=MAY).order_by("started_at", "pk"))
    chunks = [s for s in steps if s.step == "issue_invoices"]
    rest = [s for s in steps if s.step != "issue_invoices"]
    assert sorted(s.chunk for s in chunks) == list(range(7))
    assert all(s.finished_at is not None for s in steps)
    assert [s.step for s in rest] == [
        "settle_terminations",
        "settle_sla_final_credits",
        "mark_overdue",
        "flag_overdue_contracts",
        "build_payouts",  # on the 1st
        "collect_payments",
        "run_dunning",
    ]
    last_chunk_done = max(s.finished_at for s in chunks)
    assert last_chunk_done <= rest[0].started_at  # the chord: nothing before the invoices
    for before, after in itertools.pairwise(rest):
        assert before.finished_at <= after.started_at  # the chain: one after the other
    collect = next(s for s in rest if s.step == "collect_payments")
    assert collect.result == {"step": "collect", "invoices": expected}
