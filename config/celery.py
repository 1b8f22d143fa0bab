"""Celery application. Broker from settings (environment); with none, tasks run eagerly.

Every task is a :class:`ResilientTask`: if the broker cannot take a message (Redis down), the
task is kept in the database outbox (``accounts.outbox``) instead of failing the request that
enqueued it, and handed over by ``accounts.flush_task_outbox`` once the broker answers: every
minute from the beat, and whenever a worker starts.
"""

import logging
import os

from celery import Celery, Task
from celery.signals import worker_ready
from celery.utils import uuid
from kombu.exceptions import OperationalError as BrokerUnavailable

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

logger = logging.getLogger("config.celery")


class ResilientTask(Task):
    def apply_async(self, args=None, kwargs=None, task_id=None, **options):
        if self.app.conf.task_always_eager:
            return super().apply_async(args, kwargs, task_id=task_id, **options)
        task_id = task_id or uuid()
        try:
            return super().apply_async(args, kwargs, task_id=task_id, **options)
        except BrokerUnavailable as exc:
            from accounts.outbox import outbox_store

            outbox_store(
                task_id=task_id,
                name=self.name,
                args=args,
                kwargs=kwargs,
                options=options,
                error=str(exc),
            )
            return self.AsyncResult(task_id)


app = Celery("compute_market", task_cls=ResilientTask)
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_ready.connect
def _flush_outbox_on_start(sender=None, **kwargs) -> None:
    """A worker that starts after an outage hands over what waited for the broker."""
    from accounts.outbox import outbox_flush

    try:
        outbox_flush()
    except Exception:  # the database may be down too; the beat flushes again in a minute
        logger.exception("could not flush the task outbox at worker start")
