"""Payments without a card: bank transfers recorded by an admin, balances, dunning reminders,
daily card collection on the dunning schedule, and the pay / mark-paid endpoints.

The helpers and fixtures at the top are shared by the other payment test modules.
"""

import itertools
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.urls import Resolver404, path, resolve

from accounts.errors import InvalidInput
from accounts.money import split_tax
from billing.api.payment_views import InvoiceMarkPaidView, InvoicePayView, StripeWebhookView
from billing.ledger import balance
from billing.models import (
    BalanceEntry,
    BillingAccount,
    BillingEvent,
    Gateway,
    Invoice,
    InvoiceLine,
    InvoiceLineKind,
    InvoiceStatus,
    Payment,
    PaymentMethod,
    PaymentStatus,
)
from billing.notifications import emails
from billing.payments import charges, collection, transfers
from billing.payments import errors as payment_errors
from config import urls as project_urls
from marketplace import services as marketplace
from tests.conftest import client_for
from tests.factories import ClusterFactory, capacity_request, member_of
from tests.fakes.stripe_server import TEST_API_KEY, FakeStripe

WEBHOOK_SECRET = "whsec_test_payments_0123456789"
ISSUED = date(2030, 3, 1)
DUE = ISSUED + timedelta(days=15)

# A urlconf with the payment routes, used only while billing/api/urls.py does not route them.
urlpatterns = [
    *project_urls.urlpatterns,
    path("api/v1/invoices/<int:pk>/pay/", InvoicePayView.as_view()),
    path("api/v1/invoices/<int:pk>/mark-paid/", InvoiceMarkPaidView.as_view()),
    path("api/v1/billing/stripe/webhook/", StripeWebhookView.as_view()),
]


@pytest.fixture
def payment_routes(settings):
    """Route the payment endpoints: the project's own urls once they do, else this module's."""
    try:
        routed = resolve("/api/v1/invoices/1/pay/").func.view_class is InvoicePayView
    except (Resolver404, AttributeError):
        routed = False
    if not routed:
        settings.ROOT_URLCONF = __name__


# --- shared helpers -----------------------------------------------------------------------------

_numbers = itertools.count(1)


def make_contract(customer):
    """A signed contract of ``customer`` through the marketplace services."""
    ClusterFactory(server_count=4, available_from=date(2020, 1, 1))
    user = customer.memberships.first().user if customer.memberships.exists() else None
    user = user or member_of(customer)
    request = capacity_request(customer, servers=1, single_cluster=True)
    quote = marketplace.quotes_generate(capacity_request=request, by=user).quotes[0]
    return marketplace.quote_accept(quote=quote, by=user)


def make_invoice(
    contract,
    total="1060.00",
    *,
    status=InvoiceStatus.OPEN,
    amount_paid="0",
    issue_date=ISSUED,
    due_date=DUE,
):
    """An issued invoice built directly (not through the invoicing pipeline): one rental line,
    lines summing to the total and net + tax = total."""
    total = Decimal(total)
    net, tax = split_tax(total, Decimal("0.06"))
    index = next(_numbers)
    start = date(2030, 1, 1) + timedelta(days=40 * index)
    invoice = Invoice.objects.create(
        customer=contract.customer,
        contract=contract,
        period_index=index,
        period_start=start,
        period_end=start + timedelta(days=30),
        number=f"INV-2030-{index:06d}",
        status=InvoiceStatus.DRAFT,
        subtotal=net,
        tax=tax,
        total=total,
    )
    InvoiceLine.objects.create(
        invoice=invoice,
        kind=InvoiceLineKind.RENTAL,
        description="GPU rental",
        amount=total,
        tax_rate=Decimal("0.06"),
        net=net,
        tax=tax,
    )
    # Finalise behind the model's guard, as the invoicing service would.
    Invoice.objects.filter(pk=invoice.pk).update(
        status=status, amount_paid=Decimal(amount_paid), issue_date=issue_date, due_date=due_date
    )
    invoice.refresh_from_db()
    return invoice


def card_account(organization, fake: FakeStripe, card: str = "pm_card_visa") -> BillingAccount:
    """A Stripe customer on the fake with ``card`` saved, and the account paying by card."""
    client = fake.client()
    customer = client.v1.customers.create(params={"name": organization.name})
    method = client.v1.payment_methods.attach(card, params={"customer": customer.id})
    account, _ = BillingAccount.objects.update_or_create(
        organization=organization,
        defaults={
            "payment_method": PaymentMethod.STRIPE_CARD,
            "stripe_customer_id": customer.id,
            "stripe_payment_method_id": method.id,
        },
    )
    return account


def payment_events(payment) -> list[tuple[str, str]]:
    return list(
        BillingEvent.objects.filter(subject="payment", subject_id=payment.pk).values_list(
            "from_status", "to_status"
        )
    )


def intent_creates(fake: FakeStripe):
    return [r for r in fake.requests if (r.method, r.path) == ("POST", "/v1/payment_intents")]


# --- shared fixtures ----------------------------------------------------------------------------


@pytest.fixture
def sent_emails(monkeypatch):
    """Payment-failed emails and reminders, recorded instead of sent: (invoice id, reason)."""
    sent: list[tuple[int, str]] = []

    def record(invoice, reason):
        sent.append((invoice.pk, reason))

    monkeypatch.setattr(emails, "send_payment_failed", record)
    return sent


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """Call a service, then run its on-commit callbacks (tasks, emails) as a commit would: the
    test's own transaction never commits."""

    def run(function, /, *args, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return function(*args, **kwargs)

    return run


@pytest.fixture
def fake():
    with FakeStripe(hold_seconds=2.0) as server:
        yield server


@pytest.fixture
def stripe_on(settings, fake):
    """Card payments through the real stripe-python client against the fake."""
    settings.STRIPE_API_KEY = TEST_API_KEY
    settings.STRIPE_API_BASE = fake.api_base
    settings.STRIPE_TIMEOUT_SECONDS = 0.5
    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
    settings.PAYMENTS_GATEWAY = "stripe"
    settings.DUNNING_RETRY_DAYS = [1, 3, 7]
    return fake


@pytest.fixture
def stripe_off(settings):
    settings.STRIPE_API_KEY = ""
    settings.PAYMENTS_GATEWAY = "bank_transfer"
    settings.DUNNING_RETRY_DAYS = [1, 3, 7]


@pytest.fixture
def contract(customer_org, customer_user):
    return make_contract(customer_org)


@pytest.fixture
def invoice(contract):
    return make_invoice(contract)


pytestmark = pytest.mark.django_db


# --- bank transfers -----------------------------------------------------------------------------


def test_partial_bank_transfer_leaves_the_invoice_open_with_amount_paid(invoice, staff_user):
    result = transfers.bank_transfer_record(
        invoice=invoice, amount=Decimal("400.00"), reference="ICBC-001", actor=staff_user
    )

    invoice.refresh_from_db()
    assert (invoice.status, invoice.amount_paid, invoice.amount_due) == (
        InvoiceStatus.OPEN,
        Decimal("400.00"),
        Decimal("660.00"),
    )
    payment = result.payment
    assert (payment.gateway, payment.status, payment.amount, payment.reference) == (
        Gateway.BANK_TRANSFER,
        PaymentStatus.SUCCEEDED,
        Decimal("400.00"),
        "ICBC-001",
    )
    assert payment.recorded_by == staff_user
    assert result.to_balance == 0
    assert payment_events(payment) == [("", "succeeded")]
    assert not BalanceEntry.objects.exists()


def test_transfers_that_cover_the_invoice_mark_it_paid(invoice, staff_user):
    transfers.bank_transfer_record(invoice=invoice, amount=Decimal("60.00"), reference="A")
    result = transfers.bank_transfer_record(
        invoice=invoice, amount=Decimal("1000.00"), reference="B", actor=staff_user
    )

    assert result.invoice.status == InvoiceStatus.PAID
    assert result.invoice.amount_paid == Decimal("1060.00")
    assert Payment.objects.filter(invoice=invoice, status="succeeded").count() == 2
    assert BillingEvent.objects.filter(
        subject="invoice", subject_id=invoice.pk, to_status="paid"
    ).exists()


def test_over_payment_marks_paid_and_the_excess_becomes_balance(invoice, customer_org):
    result = transfers.bank_transfer_record(
        invoice=invoice, amount=Decimal("1500.55"), reference="OVER-1"
    )

    assert result.invoice.status == InvoiceStatus.PAID
    assert result.to_balance == Decimal("440.55")
    [entry] = BalanceEntry.objects.all()
    assert (entry.organization, entry.amount, entry.payment, entry.invoice) == (
        customer_org,
        Decimal("440.55"),
        result.payment,
        invoice,
    )
    # Nothing lost: what was received is what the invoice took plus the balance.
    assert result.payment.amount == result.invoice.amount_paid + entry.amount


def test_transfer_for_an_already_paid_invoice_goes_entirely_to_balance(contract):
    paid = make_invoice(contract, status=InvoiceStatus.PAID, amount_paid="1060.00")

    result = transfers.bank_transfer_record(
        invoice=paid, amount=Decimal("1060.00"), reference="TWICE"
    )

    assert result.to_balance == Decimal("1060.00")
    assert result.invoice.amount_paid == Decimal("1060.00")
    assert BalanceEntry.objects.get().amount == Decimal("1060.00")


def test_the_same_bank_reference_is_not_recorded_twice(invoice):
    transfers.bank_transfer_record(invoice=invoice, amount=Decimal("100.00"), reference="REF-9")

    with pytest.raises(payment_errors.DuplicateTransferReference):
        transfers.bank_transfer_record(invoice=invoice, amount=Decimal("100.00"), reference="REF-9")

    invoice.refresh_from_db()
    assert invoice.amount_paid == Decimal("100.00")


@pytest.mark.parametrize("amount", ["0", "-5.00", "10.001"])
def test_invalid_amounts_are_refused(invoice, amount):
    with pytest.raises(InvalidInput):
        transfers.bank_transfer_record(invoice=invoice, amount=Decimal(amount), reference="X")
    assert not Payment.objects.exists()


def test_draft_or_void_invoices_take_no_transfer(contract):
    for status in (InvoiceStatus.DRAFT, InvoiceStatus.VOID):
        invoice = make_invoice(contract, status=status)
        with pytest.raises(payment_errors.InvoiceNotPayable):
            transfers.bank_transfer_record(invoice=invoice, amount=Decimal("1.00"), reference="X")


# --- balances -----------------------------------------------------------------------------------


def test_balance_is_applied_to_the_next_open_invoices_oldest_due_first(contract, customer_org):
    later = make_invoice(contract, "500.00", due_date=DUE + timedelta(days=30))
    sooner = make_invoice(contract, "300.00", due_date=DUE)
    donor = make_invoice(contract, "100.00")
    transfers.bank_transfer_record(invoice=donor, amount=Decimal("600.00"), reference="BIG")

    applied = transfers.balance_apply(organization=customer_org)

    assert applied == Decimal("500.00")
    sooner.refresh_from_db()
    later.refresh_from_db()
    assert (sooner.status, sooner.amount_paid) == (InvoiceStatus.PAID, Decimal("300.00"))
    assert (later.status, later.amount_paid) == (InvoiceStatus.OPEN, Decimal("200.00"))
    assert balance.customer_balance(organization=customer_org) == 0
    assert transfers.balance_apply(organization=customer_org) == 0  # nothing left to spend


def test_balance_larger_than_all_invoices_keeps_the_rest(contract, customer_org):
    invoice = make_invoice(contract, "100.00")
    BalanceEntry.objects.create(
        organization=customer_org, amount=Decimal("250.00"), description="x"
    )

    assert transfers.balance_apply(organization=customer_org) == Decimal("100.00")

    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.PAID
    assert balance.customer_balance(organization=customer_org) == Decimal("150.00")


def test_collect_due_applies_balances_before_charging(contract, customer_org, stripe_off):
    invoice = make_invoice(contract, "100.00")
    BalanceEntry.objects.create(
        organization=customer_org, amount=Decimal("100.00"), description="x"
    )

    assert collection.collect_due(today=ISSUED) == {"balances_applied": 1, "charges_enqueued": 0}

    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.PAID


# --- dunning ------------------------------------------------------------------------------------


def test_bank_transfer_customers_get_reminders_on_the_dunning_schedule(
    invoice, stripe_off, sent_emails, committed
):
    def run(day):
        return committed(collection.dunning_run, today=day)["reminders_sent"]

    assert run(DUE) == 0  # not late yet
    assert run(DUE + timedelta(days=1)) == 1
    assert run(DUE + timedelta(days=1)) == 0  # a second run the same day sends nothing
    invoice.refresh_from_db()
    assert (invoice.collection_attempts, invoice.next_collection_on) == (
        1,
        DUE + timedelta(days=4),
    )
    assert run(DUE + timedelta(days=3)) == 0
    assert run(DUE + timedelta(days=4)) == 1
    assert run(DUE + timedelta(days=11)) == 1
    invoice.refresh_from_db()
    assert (invoice.collection_attempts, invoice.next_collection_on) == (3, None)
    assert run(DUE + timedelta(days=60)) == 0  # stopped: left for an admin
    assert [pk for pk, _ in sent_emails] == [invoice.pk] * 3
    assert "reminder 3 of 3" in sent_emails[-1][1]


def test_paid_invoices_get_no_reminder(contract, stripe_off, sent_emails, committed):
    make_invoice(contract, status=InvoiceStatus.PAID, amount_paid="1060.00")

    assert committed(collection.dunning_run, today=DUE + timedelta(days=5)) == {"reminders_sent": 0}
    assert sent_emails == []


def test_card_collection_follows_the_dunning_schedule_then_stops(
    customer_org, contract, stripe_on, sent_emails, committed
):
    card_account(customer_org, stripe_on, "pm_card_chargeCustomerFail")
    invoice = make_invoice(contract)

    def collect(day):
        return committed(collection.collect_due, today=day)["charges_enqueued"]

    assert collect(ISSUED - timedelta(days=1)) == 0  # not issued yet
    assert collect(ISSUED) == 1  # attempt 1 (the task runs eagerly on commit)
    invoice.refresh_from_db()
    assert (invoice.collection_attempts, invoice.next_collection_on) == (
        1,
        ISSUED + timedelta(days=1),
    )
    assert collect(ISSUED) == 0  # twice a day charges nothing twice
    assert collect(ISSUED + timedelta(days=1)) == 1  # attempt 2
    invoice.refresh_from_db()
    assert invoice.next_collection_on == ISSUED + timedelta(days=4)  # +3
    assert collect(ISSUED + timedelta(days=3)) == 0
    assert collect(ISSUED + timedelta(days=4)) == 1  # attempt 3
    invoice.refresh_from_db()
    assert invoice.next_collection_on == ISSUED + timedelta(days=11)  # +7
    assert collect(ISSUED + timedelta(days=11)) == 1  # attempt 4, the last
    invoice.refresh_from_db()
    assert (invoice.collection_attempts, invoice.next_collection_on) == (4, None)
    assert collect(ISSUED + timedelta(days=90)) == 0  # stopped

    attempts = Payment.objects.filter(invoice=invoice).order_by("attempt")
    assert [p.status for p in attempts] == ["failed"] * 4
    assert [p.idempotency_key for p in attempts] == [
        f"stripe-invoice-{invoice.pk}-attempt-{n}" for n in (1, 2, 3, 4)
    ]
    assert len(sent_emails) == 4
    assert "try again on 2030-03-02" in sent_emails[0][1]
    assert "update your card" in sent_emails[-1][1]
    assert BillingEvent.objects.filter(
        subject="invoice", subject_id=invoice.pk, reason__contains="left for an admin"
    ).exists()
    assert invoice.status == InvoiceStatus.OPEN
    assert stripe_on.charges_count() == 0
    # Card customers are dunned by the charges, not by reminders.
    assert committed(collection.dunning_run, today=DUE + timedelta(days=30)) == {
        "reminders_sent": 0
    }


def test_a_retry_that_succeeds_pays_the_invoice_and_collection_stops(
    customer_org, contract, stripe_on, sent_emails, committed
):
    card_account(customer_org, stripe_on)
    invoice = make_invoice(contract)
    stripe_on.fail_next("card_declined", decline_code="insufficient_funds")

    committed(collection.collect_due, today=ISSUED)
    committed(collection.collect_due, today=ISSUED + timedelta(days=1))

    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.PAID
    assert [p.status for p in invoice.payments.order_by("attempt")] == ["failed", "succeeded"]
    assert invoice.payments.get(attempt=1).failure_code == "insufficient_funds"
    assert stripe_on.charges_count() == 1
    assert committed(collection.collect_due, today=ISSUED + timedelta(days=4)) == {
        "balances_applied": 0,
        "charges_enqueued": 0,
    }
    assert len(sent_emails) == 1


def test_card_customers_without_a_saved_card_are_reminded_instead(
    customer_org, invoice, stripe_on, sent_emails, committed
):
    BillingAccount.objects.create(organization=customer_org, payment_method="stripe_card")

    assert committed(collection.collect_due, today=ISSUED)["charges_enqueued"] == 0
    assert committed(collection.dunning_run, today=DUE + timedelta(days=1)) == {"reminders_sent": 1}
    assert stripe_on.requests == []


# --- API: mark-paid -----------------------------------------------------------------------------


@pytest.mark.usefixtures("payment_routes")
def test_staff_records_a_bank_transfer_through_the_api(invoice, staff_client, customer_client):
    url = f"/api/v1/invoices/{invoice.pk}/mark-paid/"
    body = {"amount": "1100.00", "reference": "CMB-20300310-7"}

    assert customer_client.post(url, body, format="json").status_code == 403
    response = staff_client.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    again = staff_client.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")

    assert response.status_code == 201, response.json()
    data = response.json()
    assert data["payment"]["gateway"] == "bank_transfer"
    assert data["payment"]["reference"] == "CMB-20300310-7"
    assert data["invoice"]["status"] == "paid"
    assert data["invoice"]["amount_due"] == "0.00"
    assert data["to_balance"] == "40.00"
    assert again.status_code == 201
    assert again["Idempotent-Replayed"] == "true"
    assert again.json() == data
    assert Payment.objects.count() == 1
    assert BalanceEntry.objects.get().amount == Decimal("40.00")


@pytest.mark.usefixtures("payment_routes")
def test_mark_paid_validates_its_input(invoice, staff_client):
    url = f"/api/v1/invoices/{invoice.pk}/mark-paid/"

    missing = staff_client.post(url, {"amount": "10.00"}, format="json")
    negative = staff_client.post(url, {"amount": "-1", "reference": "x"}, format="json")
    nowhere = staff_client.post(
        "/api/v1/invoices/999999/mark-paid/", {"amount": "1", "reference": "x"}, format="json"
    )

    assert missing.status_code == 400 and "reference" in missing.json()["errors"]
    assert negative.status_code == 400 and "amount" in negative.json()["errors"]
    assert nowhere.status_code == 404
    assert not Payment.objects.exists()


# --- API: pay -----------------------------------------------------------------------------------


@pytest.mark.usefixtures("payment_routes")
def test_customer_pays_an_own_invoice_by_card(customer_org, invoice, customer_client, stripe_on):
    card_account(customer_org, stripe_on)

    response = customer_client.post(
        f"/api/v1/invoices/{invoice.pk}/pay/", HTTP_IDEMPOTENCY_KEY="pay-1"
    )
    replay = customer_client.post(
        f"/api/v1/invoices/{invoice.pk}/pay/", HTTP_IDEMPOTENCY_KEY="pay-1"
    )

    assert response.status_code == 201, response.json()
    assert response.json()["payment"]["status"] == "succeeded"
    assert response.json()["invoice"]["status"] == "paid"
    assert replay.status_code == 200
    assert replay["Idempotent-Replayed"] == "true"
    assert replay.json()["payment"]["id"] == response.json()["payment"]["id"]
    assert stripe_on.charges_count() == 1


@pytest.mark.usefixtures("payment_routes")
def test_pay_answers_404_for_another_customers_invoice(
    invoice, other_customer_user, customer_org, stripe_on
):
    card_account(customer_org, stripe_on)

    response = client_for(other_customer_user).post(f"/api/v1/invoices/{invoice.pk}/pay/")

    assert response.status_code == 404
    assert stripe_on.requests[-1].path != "/v1/payment_intents"


@pytest.mark.usefixtures("payment_routes")
def test_pay_refuses_paid_in_flight_cardless_and_bank_transfer(
    customer_org, contract, customer_client, stripe_on
):
    def pay(invoice):
        return customer_client.post(f"/api/v1/invoices/{invoice.pk}/pay/")

    bank = make_invoice(contract)
    response = pay(bank)  # no billing account: bank transfer, the default
    assert (response.status_code, response.json()["code"]) == (400, "bank_transfer_account")

    BillingAccount.objects.create(organization=customer_org, payment_method="stripe_card")
    response = pay(bank)
    assert (response.status_code, response.json()["code"]) == (409, "no_card_on_file")

    card_account(customer_org, stripe_on)
    paid = make_invoice(contract, status=InvoiceStatus.PAID, amount_paid="1060.00")
    response = pay(paid)
    assert (response.status_code, response.json()["code"]) == (409, "invoice_already_paid")

    busy = make_invoice(contract)
    Payment.objects.create(
        invoice=busy, gateway="stripe", amount=busy.total, idempotency_key="busy-1"
    )
    response = pay(busy)
    assert (response.status_code, response.json()["code"]) == (409, "payment_in_flight")
    assert intent_creates(stripe_on) == []


@pytest.mark.usefixtures("payment_routes")
def test_a_declined_card_answers_with_the_failed_payment(
    customer_org, invoice, customer_client, stripe_on, sent_emails, committed
):
    card_account(customer_org, stripe_on, "pm_card_chargeDeclinedInsufficientFunds")

    response = committed(customer_client.post, f"/api/v1/invoices/{invoice.pk}/pay/")

    assert response.status_code == 201
    body = response.json()
    assert (body["payment"]["status"], body["payment"]["failure_code"]) == (
        "failed",
        "insufficient_funds",
    )
    assert body["invoice"]["status"] == "open"
    assert [pk for pk, _ in sent_emails] == [invoice.pk]


def test_a_failed_charge_mails_the_customer_through_the_billing_emails(
    customer_org, customer_user, invoice, stripe_on, committed, mailoutbox
):
    card_account(customer_org, stripe_on, "pm_card_chargeCustomerFail")

    committed(charges.payment_charge, invoice=invoice)

    [message] = mailoutbox
    assert customer_user.email in message.to
    assert invoice.number in message.subject + message.body


def test_payment_endpoints_are_described_by_a_valid_schema(tmp_path):
    out = tmp_path / "schema.yaml"
    call_command(
        "spectacular", "--validate", "--fail-on-warn", "--urlconf", __name__, "--file", str(out)
    )
    text = out.read_text()
    assert "/api/v1/invoices/{id}/pay/" in text
    assert "/api/v1/billing/stripe/webhook/" in text
