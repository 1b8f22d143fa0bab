"""Billing emails: invoice issued, payment failed, invoice overdue, contracts flagged (admins).

Public ``send_*`` functions may be called inside a transaction: they send (through the
``billing.send_invoice_emails`` task) only once it commits, and never if it rolls back.
``deliver`` does the sending itself, for that task: one SMTP connection per batch, recipients
fetched in one query.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import timedelta

from django.conf import settings
from django.core import mail
from django.template.loader import render_to_string

from accounts.models import Membership, MembershipRole
from billing import dispatch
from billing.models import BillingAccount, Invoice

logger = logging.getLogger(__name__)

ISSUED = "issued"
OVERDUE = "overdue"
PAYMENT_FAILED = "payment_failed"
FLAGGED = "flagged"  # to the platform's admins
TEMPLATES = {
    ISSUED: "billing/email/invoice_issued",
    OVERDUE: "billing/email/invoice_overdue",
    PAYMENT_FAILED: "billing/email/payment_failed",
}
RECIPIENT_ROLES = (MembershipRole.OWNER, MembershipRole.BILLING)


def send_after_commit(kind: str, invoice_ids: list[int], reason: str = "") -> None:
    """Queue ``kind`` mail about these invoices once the current transaction commits."""
    dispatch.send_on_commit(dispatch.SEND_INVOICE_EMAILS, kind, list(invoice_ids), reason)


def send_payment_failed(invoice: Invoice, reason: str) -> None:
    """Tell the customer a payment for ``invoice`` failed, with ``reason`` (for people)."""
    send_after_commit(PAYMENT_FAILED, [invoice.pk], reason)


def recipients(organization_ids: Iterable[int]) -> dict[int, list[str]]:
    """Where each customer's billing mail goes: the billing account's address if set, else
    its owners' and billing members' addresses."""
    organization_ids = list(set(organization_ids))
    found: dict[int, list[str]] = defaultdict(list)
    for organization_id, email in (
        BillingAccount.objects.filter(organization_id__in=organization_ids)
        .exclude(billing_email="")
        .values_list("organization_id", "billing_email")
    ):
        found[organization_id].append(email)
    for organization_id, email in (
        Membership.objects.filter(
            organization_id__in=[o for o in organization_ids if o not in found],
            role__in=RECIPIENT_ROLES,
        )
        .exclude(user__email="")
        .order_by("organization_id", "user__username")
        .values_list("organization_id", "user__email")
    ):
        found[organization_id].append(email)
    return found


def _message(kind: str, invoice: Invoice, to: list[str], reason: str) -> mail.EmailMessage:
    context = {
        "invoice": invoice,
        "last_day": invoice.period_end - timedelta(days=1),
        "reason": reason,
        "grace_days": settings.OVERDUE_GRACE_DAYS,
    }
    template = TEMPLATES[kind]
    subject = " ".join(render_to_string(f"{template}_subject.txt", context).split())
    body = render_to_string(f"{template}.txt", context)
    return mail.EmailMessage(subject, body, settings.DEFAULT_FROM_EMAIL, to)


def deliver(kind: str, invoice_ids: Sequence[int], reason: str = "") -> int:
    """Send ``kind`` mail about these invoices now; returns the number of messages sent."""
    invoices = list(
        Invoice.objects.filter(pk__in=list(invoice_ids)).select_related("customer").order_by("pk")
    )
    if not invoices:
        return 0
    if kind == FLAGGED:
        return _deliver_to_admins(invoices)
    addresses = recipients(invoice.customer_id for invoice in invoices)
    messages = []
    for invoice in invoices:
        to = addresses.get(invoice.customer_id)
        if not to:
            logger.warning("No billing address for %s (invoice %s)", invoice.customer, invoice)
            continue
        messages.append(_message(kind, invoice, to, reason))
    if not messages:
        return 0
    with mail.get_connection() as connection:
        return connection.send_messages(messages) or 0


def _deliver_to_admins(invoices: list[Invoice]) -> int:
    context = {"invoices": invoices, "grace_days": settings.OVERDUE_GRACE_DAYS}
    subject = " ".join(
        render_to_string("billing/email/contracts_flagged_subject.txt", context).split()
    )
    body = render_to_string("billing/email/contracts_flagged.txt", context)
    mail.mail_admins(subject, body)
    return 1
