"""The task outbox: Celery tasks that waited in PostgreSQL while the broker was unreachable.

``outbox_store`` keeps a task the broker refused; ``outbox_flush`` hands stored tasks to the
broker, oldest first, and deletes each row once the broker has it. Every task of the project
is idempotent (STYLE.md: assume every task runs twice), so the rare double hand-over (published,
then the delete lost with the connection) does no harm; a task is never lost.
"""

import logging
from datetime import datetime, timedelta

from celery import current_app
from django.db import transaction
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerUnavailable

from accounts.models import OutboxTask

logger = logging.getLogger("accounts.outbox")

# apply_async options kept with a stored task (JSON: datetimes as ISO 8601 text).
KEPT_OPTIONS = ("queue", "routing_key", "priority", "time_limit", "soft_time_limit")
FLUSH_BATCH = 100


def _storable_options(options: dict) -> dict:
    kept = {name: options[name] for name in KEPT_OPTIONS if options.get(name) is not None}
    eta = options.get("eta")
    if eta is None and options.get("countdown") is not None:
        eta = timezone.now() + timedelta(seconds=float(options["countdown"]))
    if eta is not None:
        kept["eta"] = eta.isoformat() if isinstance(eta, datetime) else str(eta)
    expires = options.get("expires")
    if isinstance(expires, datetime):
        kept["expires"] = expires.isoformat()
    elif expires is not None:  # seconds from now
        kept["expires"] = (timezone.now() + timedelta(seconds=float(expires))).isoformat()
    return kept


def _publish_options(stored: dict) -> dict:
    options = {name: stored[name] for name in KEPT_OPTIONS if name in stored}
    for name in ("eta", "expires"):
        if name in stored:
            options[name] = datetime.fromisoformat(stored[name])
    return options


def outbox_store(*, task_id: str, name: str, args, kwargs, options: dict, error: str) -> OutboxTask:
    row, _ = OutboxTask.objects.get_or_create(
        task_id=task_id,
        defaults={
            "name": name,
            "args": list(args or ()),
            "kwargs": dict(kwargs or {}),
            "options": _storable_options(options),
            "last_error": error[:2000],
        },
    )
    logger.warning("broker unavailable: task %s %s kept in the outbox (%s)", name, task_id, error)
    return row


def outbox_flush(*, batch: int = FLUSH_BATCH) -> int:
    """Hand every stored task to the broker; return how many it took.

    Rows are claimed with ``SELECT ... FOR UPDATE SKIP LOCKED``, so two flushes at once (two
    workers starting, the beat and a worker) never publish the same row twice. If the broker
    is still down, the row stays, its attempt is counted and the flush stops until next time.
    """
    sent = 0
    while True:
        with transaction.atomic():
            rows = list(
                OutboxTask.objects.select_for_update(skip_locked=True).order_by("id")[:batch]
            )
            if not rows:
                return sent
            for row in rows:
                try:
                    current_app.send_task(
                        row.name,
                        args=row.args,
                        kwargs=row.kwargs,
                        task_id=row.task_id,
                        **_publish_options(row.options),
                    )
                except BrokerUnavailable as exc:
                    OutboxTask.objects.filter(pk=row.pk).update(
                        attempts=row.attempts + 1, last_error=str(exc)[:2000]
                    )
                    logger.warning("outbox flush stopped, broker still unavailable: %s", exc)
                    return sent
                row.delete()
                sent += 1
