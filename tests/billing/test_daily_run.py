"""The daily run's plan and order: a chord of invoice chunks into a chain of the rest, the same
order for ``run_billing``, each step recording when it ran; services start tasks by name."""

from datetime import date

import pytest
from celery.canvas import _chain, chord
from django.core import mail

from billing import dispatch
from billing.models import BillingRunStep, Invoice
from billing.tasks import daily
from tests.billing.conftest import make_contract, new_customer

pytestmark = pytest.mark.django_db

MAY = date(2027, 5, 1)
AFTER_INVOICES = [
    "settle_terminations",
    "settle_sla_final_credits",
    "mark_overdue",
    "flag_overdue_contracts",
    "collect_payments",
    "run_dunning",
]


def contracts(cluster, count: int):
    return [
        make_contract(new_customer(), start=date(2027, 4, 17), stakes=[(cluster, 1)])
        for _ in range(count)
    ]


def test_the_day_is_a_chord_of_invoice_chunks_into_a_chain_of_the_rest(cluster, settings):
    settings.BILLING_CHUNK_SIZE = 2
    contracts(cluster, 5)

    plan = daily.day_plan(MAY)
    canvas = daily.day_canvas(plan)

    assert isinstance(canvas, chord)
    header = list(canvas.tasks)
    assert [s.task for s in header] == ["billing.issue_invoices_chunk"] * 3
    assert [len(s.args[0]) for s in header] == [2, 2, 1]
    assert all(s.immutable for s in header)
    body = canvas.body
    assert isinstance(body, _chain)
    assert [s.task for s in body.tasks] == [
        "billing.settle_terminations",
        "billing.settle_sla_final_credits",
        "billing.mark_overdue",
        "billing.flag_overdue_contracts",
        "billing.build_payouts",  # the 1st: last month's payout statements
        "billing.collect_payments",
        "billing.run_dunning",
    ]
    assert all(s.immutable for s in body.tasks)  # no step takes the one before's result


def test_a_day_with_nothing_to_issue_is_just_the_chain(settings):
    canvas = daily.day_canvas(daily.day_plan(date(2027, 5, 2)))
    assert isinstance(canvas, _chain)
    assert [s.task.rsplit(".", 1)[1] for s in canvas.tasks] == AFTER_INVOICES


def test_run_billing_runs_the_plan_in_the_canvas_order_and_records_each_step(
    cluster, settings, payments_calls
):
    settings.BILLING_CHUNK_SIZE = 2
    contracts(cluster, 3)

    daily.run_day_now(date(2027, 5, 17))

    steps = list(BillingRunStep.objects.order_by("started_at", "pk"))
    assert [(s.step, s.chunk) for s in steps] == [
        ("issue_invoices", 0),
        ("issue_invoices", 1),
        *[(name, None) for name in AFTER_INVOICES],
    ]
    assert all(s.run_date == date(2027, 5, 17) and s.finished_at for s in steps)
    assert all(s.started_at <= s.finished_at for s in steps)
    assert steps[0].result["invoices"] == 4 and steps[1].result["invoices"] == 2  # 2 months each
    assert ":" in steps[0].worker  # host and process
    assert payments_calls == [
        ("collect_due", date(2027, 5, 17)),
        ("dunning_run", date(2027, 5, 17)),
    ]


def test_a_step_that_fails_records_the_error_and_no_finish(monkeypatch):
    def broken(*, today, actor_label):
        raise RuntimeError("database gone")

    monkeypatch.setattr(daily, "invoices_mark_overdue", broken)
    with pytest.raises(RuntimeError):
        daily.mark_overdue.apply(args=[MAY.isoformat()], throw=True)
    [step] = BillingRunStep.objects.all()
    assert (step.step, step.finished_at) == ("mark_overdue", None)
    assert step.result == {"error": "RuntimeError: database gone"}


def test_services_start_tasks_by_name_after_the_commit_and_never_on_rollback(
    customer, cluster, django_capture_on_commit_callbacks
):
    from django.db import transaction

    make_contract(customer, start=MAY, stakes=[(cluster, 1)])
    invoice_ids = []
    with django_capture_on_commit_callbacks(execute=True):
        daily.issue_invoices_chunk.apply(
            args=[list(customer.contracts.values_list("pk", flat=True)), MAY.isoformat()]
        )
        invoice_ids = list(Invoice.objects.values_list("pk", flat=True))
    assert len(mail.outbox) == 1  # the "invoice issued" mail, sent by its task after commit

    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        try:
            with transaction.atomic():
                dispatch.send_on_commit(dispatch.SEND_INVOICE_EMAILS, "issued", invoice_ids, "")
                raise RuntimeError("rolled back")
        except RuntimeError:
            pass
    assert mail.outbox == []


def test_dispatch_sends_by_name_through_the_broker_when_not_eager(monkeypatch):
    from config.celery import app

    sent = []
    app.conf.task_always_eager = False  # restored by the autouse fixture
    monkeypatch.setattr(app, "send_task", lambda name, args: sent.append((name, args)))

    dispatch.send(dispatch.CHARGE_INVOICE, 7, "2027-05-01")

    assert sent == [("billing.charge_invoice", (7, "2027-05-01"))]
    assert dispatch.CHARGE_INVOICE in app.tasks  # the name is a registered task
    assert dispatch.SEND_INVOICE_EMAILS in app.tasks
