"""Celery entry points of billing: thin, idempotent, ids and ISO dates in, bounded retries.

``billing.run_day`` is the daily job (beat). It plans the day (``day_steps``) and enqueues each
step; ``manage.py run_billing`` runs the very same steps synchronously, in order. Every step
can run twice, concurrently, or again after dying half-way: issuing is guarded by the
one-live-invoice index and re-plans from fresh reads, the rest moves rows conditionally.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

from celery import shared_task
from django.conf import settings
from django.db import OperationalError
from django.utils import timezone

from billing import emails, selectors, services

# Deadlocks, serialisation failures and lost connections are worth another try; anything else
# is a bug to look at. Backoff with jitter, a few times at most.
RETRY = {
    "autoretry_for": (OperationalError,),
    "retry_backoff": 5,
    "retry_backoff_max": 300,
    "retry_jitter": True,
    "max_retries": 3,
    "acks_late": True,
}
ACTOR = "task:billing.run_day"


def _day(date_iso: str | None) -> date:
    return date.fromisoformat(date_iso) if date_iso else timezone.localdate()


@shared_task(name="billing.issue_invoices_chunk", time_limit=600, soft_time_limit=570, **RETRY)
def issue_invoices_chunk(contract_ids: list[int], date_iso: str) -> dict:
    """Issue the invoices due by the day for these contracts. Idempotent."""
    result = services.invoices_issue_chunk(
        contract_ids=contract_ids,
        today=date.fromisoformat(date_iso),
        actor_label="task:billing.issue_invoices_chunk",
    )
    return result.as_dict()


@shared_task(name="billing.mark_overdue", time_limit=600, soft_time_limit=570, **RETRY)
def mark_overdue(date_iso: str) -> int:
    return services.invoices_mark_overdue(
        today=date.fromisoformat(date_iso), actor_label="task:billing.mark_overdue"
    )


@shared_task(name="billing.flag_overdue_contracts", time_limit=300, soft_time_limit=280, **RETRY)
def flag_overdue_contracts(date_iso: str) -> int:
    return services.contracts_flag_overdue(today=date.fromisoformat(date_iso))


@shared_task(name="billing.settle_terminations", time_limit=600, soft_time_limit=570, **RETRY)
def settle_terminations(date_iso: str) -> int:
    return services.terminations_settle(
        today=date.fromisoformat(date_iso), actor_label="task:billing.settle_terminations"
    )


@shared_task(name="billing.settle_sla_final_credits", time_limit=600, soft_time_limit=570, **RETRY)
def settle_sla_final_credits(date_iso: str) -> int:
    return services.sla_final_credits_settle(
        today=date.fromisoformat(date_iso), actor_label="task:billing.settle_sla_final_credits"
    )


@shared_task(name="billing.build_payouts", time_limit=900, soft_time_limit=870, **RETRY)
def build_payouts(month_iso: str) -> int:
    statements = services.payouts_build(
        month=date.fromisoformat(month_iso), actor_label="task:billing.build_payouts"
    )
    return len(statements)


@shared_task(name="billing.collect_payments", time_limit=900, soft_time_limit=870, **RETRY)
def collect_payments(date_iso: str) -> dict:
    from billing import payments  # the payments side of billing, kept apart from invoicing

    return payments.collect_due(today=date.fromisoformat(date_iso))


@shared_task(name="billing.run_dunning", time_limit=900, soft_time_limit=870, **RETRY)
def run_dunning(date_iso: str) -> dict:
    from billing import payments

    return payments.dunning_run(today=date.fromisoformat(date_iso))


@shared_task(name="billing.send_invoice_emails", time_limit=300, soft_time_limit=280, **RETRY)
def send_invoice_emails(kind: str, invoice_ids: list[int], reason: str = "") -> int:
    """Send one kind of billing mail about these invoices (after the writing transaction)."""
    return emails.deliver(kind, invoice_ids, reason)


@dataclass(frozen=True)
class Step:
    name: str
    task: Callable
    args: tuple


def day_steps(today: date) -> list[Step]:
    """What billing does on ``today``, in order.

    1. Issue every invoice due by today, ``BILLING_CHUNK_SIZE`` contracts per task.
    2. Settle terminations (credit notes for service paid in advance and not provided), then
       the SLA credits of ended contracts' last months (credit notes: no next invoice).
    3. Mark open invoices past their due date overdue; flag contracts past the grace period.
    4. On the 1st, build the providers' payout statements for the month before.
    5. Collect payments due and run dunning (``billing.payments``).
    """
    iso = today.isoformat()
    due = selectors.contracts_due_ids(today=today)
    size = settings.BILLING_CHUNK_SIZE
    steps = [
        Step("issue_invoices", issue_invoices_chunk, (due[i : i + size], iso))
        for i in range(0, len(due), size)
    ]
    steps += [
        Step("settle_terminations", settle_terminations, (iso,)),
        Step("settle_sla_final_credits", settle_sla_final_credits, (iso,)),
        Step("mark_overdue", mark_overdue, (iso,)),
        Step("flag_overdue_contracts", flag_overdue_contracts, (iso,)),
    ]
    if today.day == 1:
        previous_month = (today - timedelta(days=1)).replace(day=1)
        steps.append(Step("build_payouts", build_payouts, (previous_month.isoformat(),)))
    steps += [
        Step("collect_payments", collect_payments, (iso,)),
        Step("run_dunning", run_dunning, (iso,)),
    ]
    return steps


@shared_task(name="billing.run_day", time_limit=900, soft_time_limit=870, **RETRY)
def run_day(date_iso: str | None = None) -> dict:
    """The daily billing run (beat, once a day): enqueue the day's steps. Idempotent."""
    steps = day_steps(_day(date_iso))
    for step in steps:
        step.task.delay(*step.args)
    return {
        "date": _day(date_iso).isoformat(),
        "invoice_chunks": sum(1 for s in steps if s.name == "issue_invoices"),
        "steps": len(steps),
    }


def run_day_now(today: date) -> dict:
    """Run the day's steps here and now, in order (``manage.py run_billing``, demo data).

    Each step runs in this process even when a broker is configured; only the mail the steps
    queue goes through it. Returns a summary by step.
    """
    summary: dict = {"date": today.isoformat(), "invoices": 0, "sla_credits": 0, "chunks": 0}
    for step in day_steps(today):
        result = step.task.apply(args=step.args, throw=True).get()
        if step.name == "issue_invoices":
            summary["chunks"] += 1
            summary["invoices"] += result["invoices"]
            summary["sla_credits"] += result["sla_credits"]
        else:
            summary[step.name] = result
    return summary


# Workers learn tasks by importing ``billing.tasks`` (autodiscovery); the payments tasks live
# in their own module and register through this import.
from billing import payment_tasks  # noqa: E402, F401
