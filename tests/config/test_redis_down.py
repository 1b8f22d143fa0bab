"""Redis, the cache and the Celery broker, goes down.

What a user sees: pages and the API answer as usual (the cache answers "not cached"; login and
API throttles do not count meanwhile), and ``/healthz`` says the broker is down. What is kept:
a task enqueued meanwhile waits in the database outbox and reaches a worker once Redis is back
(through the beat's ``accounts.flush_task_outbox``, or a worker's start), with the same id.
"""

import json
import shutil
import socket
import subprocess
import time
from datetime import date, timedelta

import pytest
import redis
from django.db import connections
from django.test import Client
from django.utils import timezone

from accounts.models import OutboxTask
from accounts.outbox import outbox_flush
from config.celery import app
from marketplace import services
from marketplace.models import Contract, ContractStatus
from marketplace.tasks import advance_contracts
from tests.conftest import client_for
from tests.factories import (
    TEST_PASSWORD,
    ClusterFactory,
    OrganizationFactory,
    capacity_request,
    member_of,
)

WAIT_SECONDS = 60


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def redis_port() -> int:
    """A port where no Redis listens (yet): Redis is down."""
    return _free_port()


@pytest.fixture
def start_redis(redis_port):
    """Bring Redis up on ``redis_port`` (the recovery); stopped again after the test."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed")
    started: list[subprocess.Popen] = []

    def start() -> redis.Redis:
        process = subprocess.Popen(
            [
                binary,
                "--port",
                str(redis_port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
        )
        started.append(process)
        client = redis.Redis(port=redis_port, socket_connect_timeout=1)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                client.ping()
                return client
            except redis.exceptions.ConnectionError:
                time.sleep(0.05)  # waiting for the server to listen, not timing anything
        raise RuntimeError("redis-server did not start")

    yield start
    for process in started:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def redis_everywhere(settings, redis_port):
    """Cache and broker both on ``redis_port``, and tasks really sent to the broker."""
    url = f"redis://127.0.0.1:{redis_port}/0"
    settings.CACHES = {
        "default": {
            "BACKEND": "config.cache.ResilientRedisCache",
            "LOCATION": url,
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        }
    }
    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.CELERY_BROKER_URL = url
    previous = (app.conf.broker_url, app.conf.broker_read_url, app.conf.broker_write_url)
    app.conf.task_always_eager = False  # restored by the autouse _eager_celery fixture
    _use_broker(url, url, url)
    yield url
    _use_broker(*previous)


def _use_broker(url: str, read_url: str | None, write_url: str | None) -> None:
    """Point the app at a broker, dropping connections and producers made for the old one."""
    app.conf.broker_url = url
    app.conf.broker_read_url = read_url
    app.conf.broker_write_url = write_url
    app._pool = None
    app.amqp._producer_pool = None


@pytest.mark.django_db
def test_pages_and_api_answer_while_redis_is_down(redis_everywhere):
    ClusterFactory()
    user = member_of(OrganizationFactory(name="Still Working"))
    api = client_for(user)
    assert api.get("/api/v1/clusters/").status_code == 200
    # The token endpoint is throttled through the cache.
    token = Client().post(
        "/api/v1/auth/token/",
        {"username": user.username, "password": TEST_PASSWORD},
        content_type="application/json",
    )
    assert token.status_code == 200 and token.json()["token"]
    # Logging in on the page counts failures in the cache.
    browser = Client()
    assert browser.get("/accounts/login/").status_code == 200
    login = browser.post("/accounts/login/", {"username": user.username, "password": TEST_PASSWORD})
    assert login.status_code == 302
    assert browser.get("/clusters/").status_code == 200
    # Monitoring tells the truth meanwhile.
    health = Client().get("/healthz")
    assert health.status_code == 503
    assert health.json()["broker"]["ok"] is False
    assert health.json()["database"]["ok"] is True


@pytest.mark.django_db
def test_enqueueing_while_the_broker_is_down_keeps_the_task_and_answers_quickly(
    redis_everywhere,
):
    started = time.monotonic()
    result = advance_contracts.delay()
    elapsed = time.monotonic() - started
    kept = OutboxTask.objects.get()
    assert (kept.task_id, kept.name, kept.args, kept.kwargs) == (
        result.id,
        "marketplace.advance_contracts",
        [],
        {},
    )
    assert kept.last_error
    assert elapsed < 10  # bounded publish retries, not a hung request
    # A flush while the broker is still down keeps the row and counts the attempt.
    assert outbox_flush() == 0
    kept.refresh_from_db()
    assert kept.attempts == 1


@pytest.mark.django_db
def test_a_countdown_survives_the_outbox_as_an_absolute_time(redis_everywhere):
    before = timezone.now()
    advance_contracts.apply_async(countdown=600, queue="celery", priority=3)
    options = OutboxTask.objects.get().options
    eta = timezone.datetime.fromisoformat(options["eta"])
    assert before + timedelta(seconds=599) <= eta <= timezone.now() + timedelta(seconds=601)
    assert (options["queue"], options["priority"]) == ("celery", 3)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_task_enqueued_during_the_outage_runs_after_recovery(redis_everywhere, start_redis):
    """End to end: a contract approved while Redis is down starts once Redis is back."""
    from celery.contrib.testing.worker import start_worker

    if connections["default"].vendor != "postgresql":
        pytest.skip("the worker's thread needs a database it shares with the test: PostgreSQL")

    ClusterFactory(server_count=4, available_from=date(2020, 1, 1))
    customer = OrganizationFactory(name="Patient Customer")
    user = member_of(customer)
    request = capacity_request(customer, servers=1, start_date=timezone.localdate())
    quote = services.quotes_generate(capacity_request=request, by=user).quotes[0]
    contract = services.quote_accept(quote=quote, by=user)
    Contract.objects.filter(pk=contract.pk).update(status=ContractStatus.APPROVED)

    # Redis is down: the hourly task that starts contracts is enqueued anyway.
    lost_id = advance_contracts.delay().id
    assert OutboxTask.objects.filter(task_id=lost_id).exists()

    broker = start_redis()  # recovery
    # The beat's next tick: publish the outbox flush, as the schedule does every minute.
    published = outbox_flush()
    assert published == 1
    assert not OutboxTask.objects.exists()
    assert broker.llen("celery") == 1  # the kept task, waiting for a worker

    try:
        with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=30):
            deadline = time.monotonic() + WAIT_SECONDS
            while time.monotonic() < deadline:
                if Contract.objects.get(pk=contract.pk).status == ContractStatus.ACTIVE:
                    break
                time.sleep(0.2)  # waiting for the worker, not timing anything
    finally:
        connections.close_all()
    assert Contract.objects.get(pk=contract.pk).status == ContractStatus.ACTIVE
    assert broker.llen("celery") == 0


@pytest.mark.django_db
def test_a_worker_starting_after_the_outage_hands_over_the_outbox(redis_everywhere, start_redis):
    """``celery worker`` sends ``worker_ready`` once it consumes; our hook flushes then. (The
    in-process test worker does not send it, so the signal is sent here as the CLI does.)"""
    from celery.signals import worker_ready

    task_id = advance_contracts.delay().id
    assert OutboxTask.objects.count() == 1
    broker = start_redis()
    worker_ready.send(sender=None)
    assert not OutboxTask.objects.exists()
    message = json.loads(broker.lindex("celery", 0))
    assert message["headers"]["id"] == task_id
    assert message["headers"]["task"] == "marketplace.advance_contracts"


def test_the_beat_flushes_the_outbox_every_minute(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["flush-task-outbox"]
    assert entry == {"task": "accounts.flush_task_outbox", "schedule": 60}
    app.loader.import_default_modules()  # what a worker does at start: autodiscover tasks.py
    assert "accounts.flush_task_outbox" in app.tasks
