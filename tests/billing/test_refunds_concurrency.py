"""Refunds and disputes under real concurrency, on PostgreSQL: two admins refunding one payment
at once never give back more than it brought in; two disputes opened at once make one."""

# Fixtures are shared by importing them from the payments tests (pytest finds them by name).
# ruff: noqa: F401

from decimal import Decimal

import pytest

from accounts.errors import DomainError
from billing.credits.disputes import dispute_open
from billing.ledger.balance import customer_balance
from billing.models import InvoiceDispute, Payment, Refund
from billing.payments import transfers
from billing.payments.refunds import refund_issue
from tests.billing.test_payments import make_contract, make_invoice, stripe_off
from tests.billing.test_payments_concurrency import _catalogue, _postgres_only, race
from tests.factories import OrganizationFactory, UserFactory, member_of

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("stripe_off"),
]


@pytest.fixture
def paid():
    customer = OrganizationFactory(name="Racing customer")
    member = member_of(customer)
    invoice = make_invoice(make_contract(customer), total="1060.00")
    payment = transfers.bank_transfer_record(
        invoice=invoice, amount=Decimal("1060.00"), reference="RACE-1"
    ).payment
    return invoice, payment, member


def test_two_refunds_at_once_never_exceed_the_payment(paid):
    invoice, payment, _ = paid
    admin = UserFactory(username="racing-admin", is_staff=True)

    def refund():
        return refund_issue(
            payment=Payment.objects.get(pk=payment.pk),
            amount=Decimal("600.00"),
            reason="race",
            actor=admin,
        )

    results = race(refund, refund)
    refused = [r for r in results if isinstance(r, DomainError)]
    assert len(refused) == 1 and refused[0].details.get("amount")
    assert Refund.objects.count() == 1
    payment.refresh_from_db()
    assert payment.amount_refunded == Decimal("600.00")
    assert invoice.credit_notes.count() == 1
    assert customer_balance(organization=invoice.customer) == 0


def test_two_disputes_opened_at_once_make_one(paid):
    invoice, _, member = paid

    def open_one():
        return dispute_open(invoice=invoice, reason="race", by=member)

    results = race(open_one, open_one)
    assert sum(isinstance(r, InvoiceDispute) for r in results) == 1
    assert sum(isinstance(r, DomainError) for r in results) == 1
    assert InvoiceDispute.objects.filter(invoice=invoice).count() == 1
