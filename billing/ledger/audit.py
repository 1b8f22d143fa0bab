"""The audit trail: one ``BillingEvent`` per state change of a billing document, and one
``BillingRunStep`` per step of the daily run as it ran."""

from __future__ import annotations

import os
import socket
from datetime import date
from typing import Any

from django.utils import timezone

from accounts.models import User
from billing.models import BillingEvent, BillingRunStep


def billing_event_record(
    subject: str,
    subject_id: int,
    from_status: str,
    to_status: str,
    *,
    actor: User | None = None,
    actor_label: str = "",
    reason: str = "",
) -> BillingEvent:
    """Record one state change of an invoice, payment, credit note or payout statement.

    ``subject`` is a ``BillingEvent.Subject``; ``from_status`` is blank when the object was
    created; ``actor`` is the user who did it, or ``actor_label`` names the task or hook
    (``"task:billing.run_day"``, ``"webhook"``). Call it inside the transaction that makes the
    change.
    """
    return BillingEvent.objects.create(
        subject=subject,
        subject_id=subject_id,
        from_status=from_status or "",
        to_status=to_status,
        actor=actor if actor is not None and actor.is_authenticated else None,
        actor_label=actor_label,
        reason=reason,
    )


def unsaved_event(
    subject: str, subject_id: int, from_status: str, to_status: str, **kwargs
) -> BillingEvent:
    """An event not yet saved, for ``bulk_create`` inside the writing transaction."""
    return BillingEvent(
        subject=subject,
        subject_id=subject_id,
        from_status=from_status,
        to_status=to_status,
        **kwargs,
    )


def run_step_start(*, run_date: date, step: str, chunk: int | None = None) -> BillingRunStep:
    """Record that a step of ``run_date``'s billing run starts here and now (committed at
    once, outside any transaction, so it shows even if the step then fails)."""
    return BillingRunStep.objects.create(
        run_date=run_date,
        step=step,
        chunk=chunk,
        worker=f"{socket.gethostname()}:{os.getpid()}"[:200],
        started_at=timezone.now(),
    )


def run_step_finish(record: BillingRunStep, *, result: Any = None, error: str = "") -> None:
    """Record how the step ended: finished with ``result``, or failed with ``error`` (then
    ``finished_at`` stays empty: the step did not finish)."""
    record.result = {"error": error[:2000]} if error else result
    record.finished_at = None if error else timezone.now()
    record.save(update_fields=["result", "finished_at"])
