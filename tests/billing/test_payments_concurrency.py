"""Payments under real concurrency, on PostgreSQL: duplicate webhook deliveries at once, racing
charges of one invoice, transfers recorded at once, balances applied twice at once."""

# Fixtures are shared by importing them from test_payments (pytest finds them by name).
# ruff: noqa: F401, F811

import importlib
import json
import threading
from decimal import Decimal

import pytest
from django.apps import apps as django_apps
from django.db import connection, connections

from accounts.errors import DomainError
from billing.ledger import balance
from billing.models import (
    BalanceEntry,
    InvoiceStatus,
    Payment,
    PaymentStatus,
    WebhookEvent,
)
from billing.payments import charges, transfers
from billing.payments import errors as payment_errors
from tests.billing.test_payments import (
    WEBHOOK_SECRET,
    card_account,
    fake,
    intent_creates,
    make_contract,
    make_invoice,
    payment_events,
    payment_routes,
    sent_emails,
    stripe_on,
)
from tests.billing.test_webhooks import URL, failed, succeeded
from tests.fakes.stripe_server import FakeStripe

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("stripe_on", "sent_emails"),
]


@pytest.fixture(autouse=True)
def _postgres_only():
    if connection.vendor != "postgresql":
        pytest.skip("row locks and unique-index waits are only proven on PostgreSQL")


@pytest.fixture(autouse=True)
def _catalogue(_postgres_only):
    """The GPU models and regions a migration seeds: an earlier transactional test's flush
    may have emptied them. Loading is idempotent (update_or_create)."""
    seed = importlib.import_module("inventory.migrations.0002_catalog_and_regions")
    seed.load(django_apps, None)


def race(*calls):
    """Run the calls in threads released together; return each result or raised exception."""
    barrier = threading.Barrier(len(calls))
    results: list = [None] * len(calls)

    def run(index, call):
        try:
            barrier.wait(timeout=30)
            results[index] = call()
        except Exception as exc:  # the race's outcome is what is tested
            results[index] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=pair) for pair in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def post_event(event):
    from rest_framework.test import APIClient

    body = json.dumps(event).encode()
    header = FakeStripe.sign_payload(body, WEBHOOK_SECRET)
    return lambda: APIClient().post(
        URL, data=body, content_type="application/json", HTTP_STRIPE_SIGNATURE=header
    )


@pytest.fixture
def invoice(customer_org, customer_user):
    return make_invoice(make_contract(customer_org))


@pytest.fixture
def pending(invoice):
    return Payment.objects.create(
        invoice=invoice,
        gateway="stripe",
        amount=invoice.total,
        idempotency_key=f"stripe-invoice-{invoice.pk}-attempt-1",
    )


@pytest.mark.usefixtures("payment_routes")
def test_concurrent_duplicate_deliveries_are_processed_once(pending, invoice):
    event = succeeded(pending)

    responses = race(*[post_event(event)] * 4)

    assert [r.status_code for r in responses] == [200] * 4
    assert sorted(r.json()["duplicate"] for r in responses) == [False, True, True, True]
    assert WebhookEvent.objects.count() == 1
    assert payment_events(pending) == [("pending", "succeeded")]
    invoice.refresh_from_db()
    assert (invoice.status, invoice.amount_paid) == (InvoiceStatus.PAID, invoice.total)
    assert not BalanceEntry.objects.exists()  # applied once, no phantom excess


@pytest.mark.usefixtures("payment_routes")
def test_success_and_failure_racing_always_end_paid(customer_org, customer_user):
    contract = make_contract(customer_org)
    for _ in range(3):
        invoice = make_invoice(contract)
        payment = Payment.objects.create(
            invoice=invoice,
            gateway="stripe",
            amount=invoice.total,
            idempotency_key=f"stripe-invoice-{invoice.pk}-attempt-1",
        )

        race(post_event(failed(payment)), post_event(succeeded(payment)))

        payment.refresh_from_db()
        invoice.refresh_from_db()
        assert payment.status == PaymentStatus.SUCCEEDED
        assert (invoice.status, invoice.amount_paid) == (InvoiceStatus.PAID, invoice.total)


def test_racing_charges_of_one_invoice_charge_once(customer_org, invoice, stripe_on):
    card_account(customer_org, stripe_on)

    results = race(*[lambda: charges.payment_charge(invoice=invoice)] * 3)

    charged = [r for r in results if isinstance(r, Payment)]
    refused = [r for r in results if isinstance(r, DomainError)]
    assert len(charged) == 1 and charged[0].status == PaymentStatus.SUCCEEDED, results
    assert {type(r) for r in refused} <= {
        payment_errors.PaymentInFlight,
        payment_errors.InvoiceAlreadyPaid,
    }
    assert len(refused) == 2
    assert stripe_on.charges_count() == 1
    assert len(intent_creates(stripe_on)) == 1
    assert Payment.objects.filter(invoice=invoice).count() == 1


def test_transfers_recorded_at_once_are_all_kept(customer_org, invoice):
    amounts = [Decimal("500.00"), Decimal("400.00"), Decimal("300.00")]

    results = race(
        *[
            (
                lambda a=amount, n=n: transfers.bank_transfer_record(
                    invoice=invoice, amount=a, reference=f"REF-{n}"
                )
            )
            for n, amount in enumerate(amounts)
        ]
    )

    assert all(isinstance(r, transfers.TransferResult) for r in results), results
    invoice.refresh_from_db()
    assert (invoice.status, invoice.amount_paid) == (InvoiceStatus.PAID, invoice.total)
    held = balance.customer_balance(organization=customer_org)
    assert invoice.amount_paid + held == sum(amounts)  # nothing lost, nothing counted twice


def test_a_balance_applied_twice_at_once_is_spent_once(customer_org, customer_user):
    contract = make_contract(customer_org)
    first = make_invoice(contract, "100.00")
    second = make_invoice(contract, "100.00")
    BalanceEntry.objects.create(
        organization=customer_org, amount=Decimal("150.00"), description="x"
    )

    results = race(*[lambda: transfers.balance_apply(organization=customer_org)] * 2)

    assert sorted(results) == [Decimal("0"), Decimal("150.00")]
    assert balance.customer_balance(organization=customer_org) == 0
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.amount_paid + second.amount_paid == Decimal("150.00")
