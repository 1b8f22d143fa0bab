"""Billing's Celery tasks, by concern. Workers find them by importing this package (Celery's
autodiscovery of ``<app>.tasks``); services start them by name through ``billing.dispatch``."""

from billing.tasks.daily import (
    build_payouts,
    collect_payments,
    day_plan,
    flag_overdue_contracts,
    issue_invoices_chunk,
    mark_overdue,
    run_day,
    run_day_now,
    run_dunning,
    settle_sla_final_credits,
    settle_terminations,
)
from billing.tasks.notifications import send_invoice_emails
from billing.tasks.payments import (
    PaymentOutcomeUnknown,
    apply_balance,
    charge_invoice,
    reconcile_payments,
)

__all__ = [
    "PaymentOutcomeUnknown",
    "apply_balance",
    "build_payouts",
    "charge_invoice",
    "collect_payments",
    "day_plan",
    "flag_overdue_contracts",
    "issue_invoices_chunk",
    "mark_overdue",
    "reconcile_payments",
    "run_day",
    "run_day_now",
    "run_dunning",
    "send_invoice_emails",
    "settle_sla_final_credits",
    "settle_terminations",
]
