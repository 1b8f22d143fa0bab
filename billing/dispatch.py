"""The one way billing's services start a Celery task: by name, once the transaction commits.

Services sit below the tasks that call them; importing a task module from a service would close
a cycle (tasks -> services -> tasks). A service names the task instead, and the message leaves
only when the writing transaction commits (a worker never sees uncommitted rows; a rollback
sends nothing). With ``CELERY_TASK_ALWAYS_EAGER`` (tests, the embedded default) the task runs
in-process, right after the commit.
"""

from __future__ import annotations

import functools
from typing import Any

from celery import current_app
from django.db import transaction

# The tasks services start (their names are the contract with ``billing.tasks``).
SEND_INVOICE_EMAILS = "billing.send_invoice_emails"
CHARGE_INVOICE = "billing.charge_invoice"
APPLY_BALANCE = "billing.apply_balance"


def send(name: str, *args: Any) -> None:
    """Run task ``name`` with ``args`` now (eager) or through the broker."""
    app = current_app
    if not app.conf.task_always_eager:
        app.send_task(name, args=args)
        return
    if name not in app.tasks:  # not imported yet in this process: Celery's autodiscovery
        app.loader.import_default_modules()
    app.tasks[name].apply(args=args, throw=True)


def send_on_commit(name: str, *args: Any) -> None:
    """Run task ``name`` with ``args`` once the current transaction commits (never if it rolls
    back). ``robust``: a broker hiccup is logged, it does not undo what was committed."""
    transaction.on_commit(functools.partial(send, name, *args), robust=True)
