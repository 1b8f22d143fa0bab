from celery import shared_task

from accounts.outbox import outbox_flush


@shared_task(name="accounts.flush_task_outbox", time_limit=300, soft_time_limit=280)
def flush_task_outbox() -> int:
    """Hand tasks kept while the broker was down to the broker. Idempotent: a second run finds
    an empty outbox."""
    return outbox_flush()
