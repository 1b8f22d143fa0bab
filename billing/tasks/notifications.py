"""Celery entry point for billing mail (started by ``billing.dispatch`` after a commit)."""

from __future__ import annotations

from celery import shared_task

from billing import dispatch
from billing.notifications import emails
from billing.tasks.daily import RETRY


@shared_task(name=dispatch.SEND_INVOICE_EMAILS, time_limit=300, soft_time_limit=280, **RETRY)
def send_invoice_emails(kind: str, invoice_ids: list[int], reason: str = "") -> int:
    """Send one kind of billing mail about these invoices (after the writing transaction)."""
    return emails.deliver(kind, invoice_ids, reason)
