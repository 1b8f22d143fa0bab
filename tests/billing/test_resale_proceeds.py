"""A reseller chooses how it receives its buyers' payments less commission: paid out on its
own statement (the default, today's behaviour), or as balance that pays its own invoices."""

import threading
from datetime import date
from decimal import Decimal

import pytest
from django.db import connection

from accounts.errors import InvalidInput
from billing.ledger import invoices as ledger
from billing.ledger.balance import customer_balance
from billing.models import (
    BalanceEntry,
    BillingAccount,
    BillingEvent,
    Invoice,
    InvoiceStatus,
    PayoutStatus,
    ResaleProceeds,
)
from billing.payouts import proceeds, statements
from billing.payouts.statements import InvalidPayoutTransition
from marketplace.models import ContractLine
from tests.billing.conftest import make_contract, new_customer
from tests.billing.test_payouts import month_over, this_month
from tests.factories import member_of
from tests.translations import data_words, untranslated_words

pytestmark = pytest.mark.django_db

MARCH = date(2027, 3, 1)
ZH = {"HTTP_ACCEPT_LANGUAGE": "zh-hans"}


@pytest.fixture
def resale(cluster, run_day):
    """A reseller with one server of its own contract (49,920.00 in March, unpaid) and a
    buyer of two servers it resells (99,840.00 in March, paid): its statement holds 99,840.00
    less 9,418.87 commission = 90,421.13."""
    reseller = new_customer("Reseller Ltd")
    own = make_contract(reseller, start=MARCH, stakes=[(cluster, 1)])
    resold = make_contract(new_customer("Buyer Ltd"), start=MARCH, stakes=[(cluster, 2)])
    ContractLine.objects.filter(contract=resold).update(provider=reseller)
    run_day(MARCH)
    paid = Invoice.objects.get(contract=resold)
    ledger.invoice_apply_payment(invoice=paid, amount=paid.total, actor_label="test")
    [statement] = statements.payouts_build(month=this_month())
    assert statement.provider == reseller
    assert statement.payable == Decimal("90421.13")
    return reseller, statement, Invoice.objects.get(contract=own)


def test_payout_is_the_default_and_closing_leaves_the_statement_to_be_paid_out(resale):
    reseller, statement, own_invoice = resale
    assert proceeds.resale_proceeds_choice(organization=reseller) == ResaleProceeds.PAYOUT

    closed = statements.payout_close(statement=statement, actor_label="test", now=month_over())

    assert closed.status == PayoutStatus.CLOSED
    assert customer_balance(organization=reseller) == 0
    own_invoice.refresh_from_db()
    assert own_invoice.status != InvoiceStatus.PAID
    assert own_invoice.amount_paid == 0


def test_choosing_balance_credits_the_proceeds_which_pay_the_resellers_own_invoice(
    resale, django_capture_on_commit_callbacks
):
    reseller, statement, own_invoice = resale
    assert own_invoice.total == Decimal("49920.00")
    proceeds.resale_proceeds_set(organization=reseller, choice=ResaleProceeds.BALANCE)

    with django_capture_on_commit_callbacks(execute=True):
        closed = statements.payout_close(statement=statement, actor_label="test", now=month_over())

    assert closed.status == PayoutStatus.PAID
    entry = BalanceEntry.objects.get(payout=closed)
    assert entry.amount == Decimal("90421.13") == closed.payable
    own_invoice.refresh_from_db()
    assert own_invoice.status == InvoiceStatus.PAID
    assert own_invoice.amount_paid == Decimal("49920.00")
    # What is left stays on the balance, to the fen.
    assert customer_balance(organization=reseller) == Decimal("40501.13")
    events = BillingEvent.objects.filter(subject=BillingEvent.Subject.PAYOUT, subject_id=closed.pk)
    assert [(e.from_status, e.to_status) for e in events.order_by("pk")] == [
        ("", "open"),
        ("open", "closed"),
        ("closed", "paid"),
    ]
    assert events.get(to_status="paid").reason.startswith("Applied to balance")


def test_closing_twice_or_crediting_again_credits_once(resale):
    reseller, statement, _ = resale
    proceeds.resale_proceeds_set(organization=reseller, choice=ResaleProceeds.BALANCE)
    statements.payout_close(statement=statement, actor_label="test", now=month_over())

    with pytest.raises(InvalidPayoutTransition):
        statements.payout_close(statement=statement, actor_label="test", now=month_over())
    assert proceeds.payout_to_balance(statement=statement) is None

    assert BalanceEntry.objects.filter(organization=reseller, amount__gt=0).count() == 1
    assert customer_balance(organization=reseller) == Decimal("90421.13")  # not applied here
    assert BillingEvent.objects.filter(subject_id=statement.pk, to_status="paid").count() == 1


def test_a_choice_made_after_the_close_does_not_touch_a_closed_statement(resale):
    reseller, statement, _ = resale
    statements.payout_close(statement=statement, actor_label="test", now=month_over())
    proceeds.resale_proceeds_set(organization=reseller, choice=ResaleProceeds.BALANCE)
    statement.refresh_from_db()
    assert statement.status == PayoutStatus.CLOSED
    assert customer_balance(organization=reseller) == 0


def test_an_unknown_choice_is_refused_and_changes_nothing(customer):
    with pytest.raises(InvalidInput) as error:
        proceeds.resale_proceeds_set(organization=customer, choice="cash")
    assert "resale_proceeds" in error.value.details
    assert not BillingAccount.objects.filter(organization=customer).exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_credits_of_one_statement_credit_once(resale):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL row locks")
    reseller, statement, _ = resale
    proceeds.resale_proceeds_set(organization=reseller, choice=ResaleProceeds.BALANCE)
    statements.payout_transition(
        statement=statement, to=PayoutStatus.CLOSED, actor_label="t", now=month_over()
    )
    barrier = threading.Barrier(4)
    results = []

    def credit():
        try:
            barrier.wait()
            results.append(proceeds.payout_to_balance(statement=statement))
        finally:
            connection.close()

    threads = [threading.Thread(target=credit) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sum(1 for r in results if r is not None) == 1
    assert BalanceEntry.objects.filter(payout=statement).count() == 1
    statement.refresh_from_db()
    assert statement.status == PayoutStatus.PAID


def test_a_statement_applied_to_balance_says_so(client, resale):
    reseller, statement, _ = resale
    proceeds.resale_proceeds_set(organization=reseller, choice=ResaleProceeds.BALANCE)
    statements.payout_close(statement=statement, actor_label="test", now=month_over())
    client.force_login(member_of(reseller))
    page = client.get(f"/billing/payouts/{statement.pk}/").text
    assert "Applied to balance on" in page and "90,421.13" in page
    zh = client.get(f"/billing/payouts/{statement.pk}/", **ZH).text
    assert untranslated_words(zh, data_words()) == []
