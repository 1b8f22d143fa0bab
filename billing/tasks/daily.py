"""The daily billing run: thin Celery entry points, ids and ISO dates in, bounded retries.

``billing.run_day`` (beat, once a day) plans the day (``day_plan``) and starts it as one
canvas, so the steps run in order even with many workers:

    chord(group(issue_invoices_chunk x N), chain(settle_terminations, settle_sla_final_credits,
          mark_overdue, flag_overdue_contracts, [build_payouts on the 1st], collect_payments,
          run_dunning))

The invoice chunks run in parallel; nothing after them starts before every chunk has finished
(the chord), and the rest runs one step after the other (the chain). If a chunk fails for good,
the rest of the day does not run: no collection or overdue marking without the day's invoices;
the next day's run catches up. ``manage.py run_billing`` runs the same plan synchronously, in
the same order (``run_day_now``), and so does ``run_day`` when Celery runs eagerly. Every step
can run twice, concurrently, or again after dying half-way: issuing is guarded by the
one-live-invoice index and re-plans from fresh reads, the rest moves rows conditionally. Each
step records when it started and finished (``BillingRunStep``).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from celery import chain, chord, group, shared_task
from celery.canvas import Signature
from django.conf import settings
from django.db import OperationalError
from django.utils import timezone

from billing import selectors
from billing.credits.sla_credits import sla_final_credits_settle
from billing.credits.terminations import terminations_settle
from billing.invoicing.issue import invoices_issue_chunk
from billing.invoicing.overdue import contracts_flag_overdue, invoices_mark_overdue
from billing.ledger.audit import run_step_finish, run_step_start
from billing.payments.collection import collect_due, dunning_run
from billing.payouts.statements import payouts_build

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


def _day(date_iso: str | None) -> date:
    return date.fromisoformat(date_iso) if date_iso else timezone.localdate()


@contextmanager
def _recorded(step: str, date_iso: str, chunk: int | None = None):
    """Run a step with a ``BillingRunStep`` row saying when it started and finished."""
    record = run_step_start(run_date=date.fromisoformat(date_iso), step=step, chunk=chunk)
    outcome: dict[str, Any] = {}
    try:
        yield outcome
    except BaseException as exc:
        run_step_finish(record, error=f"{type(exc).__name__}: {exc}")
        raise
    run_step_finish(record, result=outcome.get("result"))


@shared_task(name="billing.issue_invoices_chunk", time_limit=600, soft_time_limit=570, **RETRY)
def issue_invoices_chunk(contract_ids: list[int], date_iso: str, chunk: int | None = None) -> dict:
    """Issue the invoices due by the day for these contracts. Idempotent."""
    with _recorded("issue_invoices", date_iso, chunk) as outcome:
        result = invoices_issue_chunk(
            contract_ids=contract_ids,
            today=date.fromisoformat(date_iso),
            actor_label="task:billing.issue_invoices_chunk",
        ).as_dict()
        outcome["result"] = result
    return result


@shared_task(name="billing.settle_terminations", time_limit=600, soft_time_limit=570, **RETRY)
def settle_terminations(date_iso: str) -> int:
    with _recorded("settle_terminations", date_iso) as outcome:
        outcome["result"] = terminations_settle(
            today=date.fromisoformat(date_iso), actor_label="task:billing.settle_terminations"
        )
    return outcome["result"]


@shared_task(name="billing.settle_sla_final_credits", time_limit=600, soft_time_limit=570, **RETRY)
def settle_sla_final_credits(date_iso: str) -> int:
    with _recorded("settle_sla_final_credits", date_iso) as outcome:
        outcome["result"] = sla_final_credits_settle(
            today=date.fromisoformat(date_iso), actor_label="task:billing.settle_sla_final_credits"
        )
    return outcome["result"]


@shared_task(name="billing.mark_overdue", time_limit=600, soft_time_limit=570, **RETRY)
def mark_overdue(date_iso: str) -> int:
    with _recorded("mark_overdue", date_iso) as outcome:
        outcome["result"] = invoices_mark_overdue(
            today=date.fromisoformat(date_iso), actor_label="task:billing.mark_overdue"
        )
    return outcome["result"]


@shared_task(name="billing.flag_overdue_contracts", time_limit=300, soft_time_limit=280, **RETRY)
def flag_overdue_contracts(date_iso: str) -> int:
    with _recorded("flag_overdue_contracts", date_iso) as outcome:
        outcome["result"] = contracts_flag_overdue(today=date.fromisoformat(date_iso))
    return outcome["result"]


@shared_task(name="billing.build_payouts", time_limit=900, soft_time_limit=870, **RETRY)
def build_payouts(month_iso: str, date_iso: str | None = None) -> int:
    """Build the providers' statements of the month of ``month_iso`` (on the 1st, the month
    before ``date_iso``)."""
    with _recorded("build_payouts", date_iso or month_iso) as outcome:
        outcome["result"] = len(
            payouts_build(
                month=date.fromisoformat(month_iso), actor_label="task:billing.build_payouts"
            )
        )
    return outcome["result"]


@shared_task(name="billing.collect_payments", time_limit=900, soft_time_limit=870, **RETRY)
def collect_payments(date_iso: str) -> dict:
    with _recorded("collect_payments", date_iso) as outcome:
        outcome["result"] = collect_due(today=date.fromisoformat(date_iso))
    return outcome["result"]


@shared_task(name="billing.run_dunning", time_limit=900, soft_time_limit=870, **RETRY)
def run_dunning(date_iso: str) -> dict:
    with _recorded("run_dunning", date_iso) as outcome:
        outcome["result"] = dunning_run(today=date.fromisoformat(date_iso))
    return outcome["result"]


@dataclass(frozen=True)
class Step:
    name: str
    task: Callable
    args: tuple

    def signature(self) -> Signature:
        return self.task.si(*self.args)  # immutable: a step never takes the one before's result


@dataclass(frozen=True)
class DayPlan:
    """What billing does on ``today``: the invoice chunks (in parallel), then the rest in order."""

    today: date
    invoice_chunks: list[Step]
    then: list[Step]

    @property
    def steps(self) -> list[Step]:
        return [*self.invoice_chunks, *self.then]


def day_plan(today: date) -> DayPlan:
    """The day's steps.

    1. Issue every invoice due by today, ``BILLING_CHUNK_SIZE`` contracts per task.
    2. Settle terminations (credit notes for service paid in advance and not provided), then
       the SLA credits of ended contracts' last periods (credit notes: no next invoice).
    3. Mark open invoices past their due date overdue; flag contracts past the grace period.
    4. On the 1st, build the providers' payout statements for the month before.
    5. Collect payments due and run dunning (``billing.payments.collection``).
    """
    iso = today.isoformat()
    due = selectors.contracts_due_ids(today=today)
    size = settings.BILLING_CHUNK_SIZE
    chunks = [
        Step("issue_invoices", issue_invoices_chunk, (due[i : i + size], iso, i // size))
        for i in range(0, len(due), size)
    ]
    then = [
        Step("settle_terminations", settle_terminations, (iso,)),
        Step("settle_sla_final_credits", settle_sla_final_credits, (iso,)),
        Step("mark_overdue", mark_overdue, (iso,)),
        Step("flag_overdue_contracts", flag_overdue_contracts, (iso,)),
    ]
    if today.day == 1:
        previous_month = (today - timedelta(days=1)).replace(day=1)
        then.append(Step("build_payouts", build_payouts, (previous_month.isoformat(), iso)))
    then += [
        Step("collect_payments", collect_payments, (iso,)),
        Step("run_dunning", run_dunning, (iso,)),
    ]
    return DayPlan(today=today, invoice_chunks=chunks, then=then)


def day_canvas(plan: DayPlan) -> Signature:
    """The plan as one Celery canvas: a chord of the invoice chunks into the chain of the rest."""
    rest = chain(*(step.signature() for step in plan.then))
    if not plan.invoice_chunks:
        return rest
    return chord(group(step.signature() for step in plan.invoice_chunks), rest)


@shared_task(name="billing.run_day", time_limit=900, soft_time_limit=870, **RETRY)
def run_day(date_iso: str | None = None) -> dict:
    """The daily billing run (beat, once a day): start the day's canvas. Idempotent.

    Eager (the embedded default, tests) runs the plan here, step by step in the same order, as
    ``run_billing`` does: Celery's eager chord joins results through process-global state that
    two overlapping runs would trip over, and in-process there is nothing to parallelise.
    """
    plan = day_plan(_day(date_iso))
    if run_day.app.conf.task_always_eager:
        _run_plan(plan)
    else:
        day_canvas(plan).apply_async()
    return {
        "date": plan.today.isoformat(),
        "invoice_chunks": len(plan.invoice_chunks),
        "steps": len(plan.steps),
    }


def _run_plan(plan: DayPlan) -> dict:
    """Run every step of the plan here, in order; a failing step stops the rest."""
    summary: dict = {"date": plan.today.isoformat(), "invoices": 0, "sla_credits": 0, "chunks": 0}
    for step in plan.steps:
        result = step.task.apply(args=step.args, throw=True).result
        if step.name == "issue_invoices":
            summary["chunks"] += 1
            summary["invoices"] += result["invoices"]
            summary["sla_credits"] += result["sla_credits"]
        else:
            summary[step.name] = result
    return summary


def run_day_now(today: date) -> dict:
    """Run the day's plan here and now, in the canvas's order (``manage.py run_billing``).

    Each step runs in this process even when a broker is configured; only the tasks the steps
    start (mail, card charges) go through it. Returns a summary by step.
    """
    return _run_plan(day_plan(today))
