"""A Celery worker process killed with SIGKILL in the middle of issuing invoices.

Real worker on the Redis broker, prefork pool (two processes), PostgreSQL. One invoice chunk's
process is killed while its transaction has written invoices but not committed: PostgreSQL rolls
that transaction back when the connection dies, so nothing of the chunk is left; the day's later
steps never start (the chord's header failed). Running the day again converges: exactly one
invoice per contract and period, numbers without a gap.
"""

import os
import signal
import time
from datetime import date

import pytest
from django.db import connection, connections

from billing import tasks
from billing.models import BillingEvent, BillingRunStep, Invoice
from tests.billing.test_invoicing_concurrency import (
    MAY,
    assert_billed_exactly_once,
    build_contracts,
    expected_periods,
)

pytestmark = [pytest.mark.celery_worker, pytest.mark.django_db(transaction=True)]


def _wait_for(condition, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)  # waiting for the worker, not timing anything
    raise AssertionError(f"timed out waiting for {what}")


def _day_finished(day: date) -> bool:
    return BillingRunStep.objects.filter(
        run_date=day, step="run_dunning", finished_at__isnull=False
    ).exists()


def test_a_worker_killed_mid_invoice_loses_nothing_and_a_rerun_bills_once(
    cluster, settings, monkeypatch, tmp_path
):
    broker = os.environ.get("CELERY_BROKER_URL", "")
    if not broker.startswith("redis://") or connection.vendor != "postgresql":
        pytest.skip("set CELERY_BROKER_URL to Redis and DATABASE_URL to PostgreSQL")
    from celery.contrib.testing.worker import start_worker

    from config.celery import app

    marker = tmp_path / "victim.pid"
    real_bulk_create = BillingEvent.objects.bulk_create

    def stall_once(*args, **kwargs):
        """The first chunk to get here (invoices and lines inserted, events next, nothing
        committed) tells its pid and waits to be killed; every other call goes through."""
        try:
            fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            return real_bulk_create(*args, **kwargs)
        os.write(fd, str(os.getpid()).encode())
        os.close(fd)
        time.sleep(120)
        raise AssertionError("the worker process should have been killed")

    # Patched before the pool forks, so its processes inherit it.
    monkeypatch.setattr(BillingEvent.objects, "bulk_create", stall_once)
    settings.BILLING_CHUNK_SIZE = 2
    contracts = build_contracts(cluster, 6)  # 3 chunks
    app.conf.task_always_eager = False  # restored by the autouse fixture
    settings.CELERY_TASK_ALWAYS_EAGER = False
    previous = app.conf.broker_url, app.conf.result_backend
    app.conf.broker_url = app.conf.result_backend = broker
    app._pool = None
    app.control.purge()
    connections.close_all()  # the pool's processes are forked: no shared connection
    try:
        with start_worker(
            app, pool="prefork", concurrency=2, perform_ping_check=False, shutdown_timeout=60
        ) as worker:
            assert worker.pool.num_processes == 2
            tasks.run_day.delay(MAY.isoformat())
            _wait_for(lambda: marker.exists() and marker.read_text(), 60, "a chunk to stall")
            victim = int(marker.read_text())
            assert victim != os.getpid()  # a pool process, not this one
            os.kill(victim, signal.SIGKILL)
            _wait_for(
                lambda: (
                    BillingRunStep.objects.filter(
                        run_date=MAY, step="issue_invoices", finished_at__isnull=False
                    ).count()
                    == 2
                ),
                60,
                "the other two chunks",
            )
            time.sleep(2)  # give a (wrong) chord body the chance to start

            # What the kill left: the two other chunks' invoices, none of the killed one's,
            # and none of the day's later steps.
            billed = set(Invoice.objects.values_list("contract_id", flat=True))
            assert len(billed) == 4
            assert (
                not BillingRunStep.objects.filter(run_date=MAY)
                .exclude(step="issue_invoices")
                .exists()
            )

            # The next run (the beat's, or an operator's) finishes the day, through a new
            # pool process the worker started in place of the dead one.
            tasks.run_day.delay(MAY.isoformat())
            _wait_for(lambda: _day_finished(MAY), 120, "the re-run to finish the day")
        app.control.purge()  # mail still queued when the worker stopped
    finally:
        app.conf.broker_url, app.conf.result_backend = previous
        app._pool = None
        connections.close_all()

    assert_billed_exactly_once(contracts, MAY)
    assert Invoice.objects.count() == len(expected_periods(contracts, MAY))
