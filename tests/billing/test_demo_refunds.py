"""The demo shows a refund and a resolved dispute on the mid-month contract's invoices, and
seeding again adds nothing."""

import pytest
from django.core.management import call_command

from accounts.models import User
from billing.models import InvoiceDispute, Refund

pytestmark = pytest.mark.django_db


def seed():
    call_command("seed_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115


def test_seed_demo_makes_one_refund_and_one_resolved_dispute(client):
    seed()
    seed()
    refund = Refund.objects.get()
    dispute = InvoiceDispute.objects.get()
    assert refund.status == "succeeded" and refund.credit_note is not None
    assert dispute.status == "credited" and dispute.credit_note is not None
    client.force_login(User.objects.get(username="customer"))
    refunded = client.get(f"/billing/invoices/{refund.payment.invoice_id}/").content.decode()
    assert refund.credit_note.number in refunded and "Refunds" in refunded
    disputed = client.get(f"/billing/invoices/{dispute.invoice_id}/").content.decode()
    assert "Resolved with a credit note" in disputed
