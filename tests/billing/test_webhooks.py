"""Stripe webhooks at /api/v1/billing/stripe/webhook/: signatures, storing each event once, and
events that arrive twice or out of order never moving a paid invoice back."""

# Fixtures are shared by importing them from test_payments (pytest finds them by name).
# ruff: noqa: F401, F811

import json
import time
from decimal import Decimal

import pytest

from billing.ledger import balance
from billing.models import (
    BillingAccount,
    BillingEvent,
    InvoiceStatus,
    Payment,
    PaymentStatus,
    WebhookEvent,
)
from billing.payments import cards, charges, outcomes, transfers, webhooks
from tests.billing.test_payments import (
    WEBHOOK_SECRET,
    card_account,
    committed,
    contract,
    fake,
    invoice,
    payment_events,
    payment_routes,
    sent_emails,
    stripe_on,
)
from tests.fakes.stripe_server import FakeStripe

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("payment_routes", "stripe_on")]

URL = "/api/v1/billing/stripe/webhook/"


def deliver(client, event, *, secret=WEBHOOK_SECRET, timestamp=None, signature=None):
    body = json.dumps(event).encode("utf-8")
    header = (
        signature if signature is not None else FakeStripe.sign_payload(body, secret, timestamp)
    )
    extra = {"HTTP_STRIPE_SIGNATURE": header} if header else {}
    return client.post(URL, data=body, content_type="application/json", **extra)


def intent(payment, status="succeeded", **fields):
    """A PaymentIntent as Stripe sends it for one of our payments."""
    body = {
        "id": payment.external_id or f"pi_test_{payment.pk}",
        "object": "payment_intent",
        "amount": int(payment.amount * 100),
        "amount_received": int(payment.amount * 100) if status == "succeeded" else 0,
        "currency": "cny",
        "status": status,
        "metadata": {"payment_id": str(payment.pk), "invoice_id": str(payment.invoice_id)},
        "last_payment_error": None,
    }
    if status == "requires_payment_method":
        body["last_payment_error"] = {
            "type": "card_error",
            "code": "card_declined",
            "decline_code": "insufficient_funds",
            "message": "Your card has insufficient funds.",
        }
    body.update(fields)
    return body


@pytest.fixture
def pending(invoice):
    return Payment.objects.create(
        invoice=invoice,
        gateway="stripe",
        amount=invoice.total,
        idempotency_key=f"stripe-invoice-{invoice.pk}-attempt-1",
    )


def succeeded(payment):
    return FakeStripe.event("payment_intent.succeeded", intent(payment))


def failed(payment):
    return FakeStripe.event(
        "payment_intent.payment_failed", intent(payment, "requires_payment_method")
    )


# --- signatures ---------------------------------------------------------------------------------


def test_a_signed_success_event_pays_the_invoice(api_client, pending, invoice):
    event = succeeded(pending)

    response = deliver(api_client, event)

    assert response.status_code == 200, response.json()
    assert response.json() == {"event": event["id"], "duplicate": False}
    pending.refresh_from_db()
    invoice.refresh_from_db()
    assert (pending.status, pending.external_id) == ("succeeded", f"pi_test_{pending.pk}")
    assert (invoice.status, invoice.amount_paid) == (InvoiceStatus.PAID, Decimal("1060.00"))
    stored = WebhookEvent.objects.get()
    assert (stored.event_id, stored.type) == (event["id"], "payment_intent.succeeded")
    assert stored.processed_at is not None and stored.error == ""
    assert BillingEvent.objects.get(subject="payment", to_status="succeeded").actor_label == (
        "webhook"
    )


@pytest.mark.parametrize(
    "how",
    ["wrong secret", "stale", "tampered", "missing", "garbage"],
)
def test_bad_or_stale_signatures_are_refused_and_change_nothing(api_client, pending, how):
    event = succeeded(pending)
    if how == "wrong secret":
        response = deliver(api_client, event, secret="whsec_someone_else")
    elif how == "stale":
        response = deliver(api_client, event, timestamp=int(time.time()) - 600)
    elif how == "tampered":
        body = json.dumps(event).encode()
        header = FakeStripe.sign_payload(body, WEBHOOK_SECRET)
        event["data"]["object"]["amount_received"] = 1
        response = deliver(api_client, event, signature=header)
    elif how == "missing":
        response = deliver(api_client, event, signature="")
    else:
        response = deliver(api_client, event, signature="t=1,v1=nonsense")

    assert response.status_code == 400
    assert response.json()["code"] == "invalid_signature"
    assert not WebhookEvent.objects.exists()
    pending.refresh_from_db()
    assert pending.status == PaymentStatus.PENDING


def test_without_a_webhook_secret_nothing_is_accepted(api_client, pending, settings):
    settings.STRIPE_WEBHOOK_SECRET = ""

    response = deliver(api_client, succeeded(pending), secret="anything")

    assert response.status_code == 503
    assert not WebhookEvent.objects.exists()


def test_the_webhook_needs_no_login_and_no_csrf_token(pending):
    from rest_framework.test import APIClient

    client = APIClient(enforce_csrf_checks=True)

    assert deliver(client, succeeded(pending)).status_code == 200


# --- idempotency and ordering -------------------------------------------------------------------


def test_a_duplicate_event_is_acknowledged_and_does_nothing(
    api_client, pending, invoice, sent_emails, committed
):
    event = failed(pending)

    first = committed(deliver, api_client, event)
    second = committed(deliver, api_client, event)

    assert (first.status_code, second.status_code) == (200, 200)
    assert second.json() == {"event": event["id"], "duplicate": True}
    assert WebhookEvent.objects.count() == 1
    assert payment_events(pending) == [("pending", "failed")]
    assert len(sent_emails) == 1


def test_failure_after_success_leaves_the_invoice_paid(api_client, pending, invoice):
    deliver(api_client, succeeded(pending))

    response = deliver(api_client, failed(pending))

    assert response.status_code == 200
    pending.refresh_from_db()
    invoice.refresh_from_db()
    assert pending.status == PaymentStatus.SUCCEEDED
    assert pending.failure_code == ""
    assert invoice.status == InvoiceStatus.PAID
    assert payment_events(pending) == [("pending", "succeeded")]
    assert WebhookEvent.objects.filter(processed_at__isnull=False).count() == 2


def test_success_after_failure_records_the_money(api_client, pending, invoice, sent_emails):
    deliver(api_client, failed(pending))

    deliver(api_client, succeeded(pending))

    pending.refresh_from_db()
    invoice.refresh_from_db()
    assert pending.status == PaymentStatus.SUCCEEDED
    assert invoice.status == InvoiceStatus.PAID
    assert payment_events(pending) == [("pending", "failed"), ("failed", "succeeded")]


def test_success_for_an_invoice_paid_meanwhile_goes_to_the_balance(
    api_client, pending, invoice, customer_org
):
    transfers.bank_transfer_record(invoice=invoice, amount=invoice.total, reference="BANK-1")

    deliver(api_client, succeeded(pending))

    pending.refresh_from_db()
    assert pending.status == PaymentStatus.SUCCEEDED
    assert balance.customer_balance(organization=customer_org) == invoice.total


def test_a_payment_failed_event_fails_a_pending_payment_and_emails(
    api_client, pending, invoice, sent_emails, committed
):
    committed(deliver, api_client, failed(pending))

    pending.refresh_from_db()
    assert (pending.status, pending.failure_code) == ("failed", "insufficient_funds")
    assert pending.failure_message == "Your card has insufficient funds."
    assert [pk for pk, _ in sent_emails] == [invoice.pk]


def test_events_are_matched_by_payment_intent_id_without_metadata(api_client, pending, invoice):
    Payment.objects.filter(pk=pending.pk).update(external_id="pi_known")
    pending.refresh_from_db()

    deliver(api_client, FakeStripe.event("payment_intent.succeeded", intent(pending, metadata={})))

    pending.refresh_from_db()
    assert pending.status == PaymentStatus.SUCCEEDED


def test_events_for_unknown_payments_and_other_types_are_stored_and_ignored(api_client, invoice):
    stray = {"id": "pi_elsewhere", "object": "payment_intent", "metadata": {"payment_id": "999"}}

    assert deliver(api_client, FakeStripe.event("payment_intent.succeeded", stray)).status_code == (
        200
    )
    assert deliver(
        api_client, FakeStripe.event("customer.updated", {"id": "cus_1"})
    ).status_code == (200)
    assert WebhookEvent.objects.filter(processed_at__isnull=False).count() == 2
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.OPEN


def test_a_handler_failure_answers_500_and_the_redelivery_processes_it(
    api_client, pending, invoice, monkeypatch
):
    event = succeeded(pending)
    real = outcomes.payment_apply_outcome

    def broken(**kwargs):
        raise RuntimeError("database hiccup")

    monkeypatch.setattr(webhooks, "payment_apply_outcome", broken)
    assert deliver(api_client, event).status_code == 500
    stored = WebhookEvent.objects.get()
    assert stored.processed_at is None and "database hiccup" in stored.error
    pending.refresh_from_db()
    assert pending.status == PaymentStatus.PENDING

    monkeypatch.setattr(webhooks, "payment_apply_outcome", real)
    response = deliver(api_client, event)

    assert response.json() == {"event": event["id"], "duplicate": False}
    stored.refresh_from_db()
    assert stored.processed_at is not None and stored.error == ""
    pending.refresh_from_db()
    assert pending.status == PaymentStatus.SUCCEEDED


# --- flows with the fake's own events -----------------------------------------------------------


def test_the_success_event_settles_a_charge_whose_answer_timed_out(
    api_client, customer_org, invoice, stripe_on
):
    card_account(customer_org, stripe_on)
    stripe_on.fail_next("timeout_after_charge")
    payment = charges.payment_charge(invoice=invoice)
    assert payment.status == PaymentStatus.UNKNOWN
    [event] = [e for e in stripe_on.events if e["type"] == "payment_intent.succeeded"]

    deliver(api_client, event)
    charges.reconcile_unknown(older_than_seconds=0)  # finds nothing left to settle

    payment.refresh_from_db()
    invoice.refresh_from_db()
    assert (payment.status, invoice.status) == ("succeeded", "paid")
    assert stripe_on.charges_count() == 1
    assert invoice.amount_paid == invoice.total


def test_refund_events_raise_the_refunded_amount_and_never_lower_it(
    api_client, customer_org, invoice, stripe_on
):
    card_account(customer_org, stripe_on)
    payment = charges.payment_charge(invoice=invoice)
    client = stripe_on.client()
    client.v1.refunds.create(params={"payment_intent": payment.external_id, "amount": 6000})
    partial_event = stripe_on.events[-1]
    client.v1.refunds.create(params={"payment_intent": payment.external_id})
    full_event = stripe_on.events[-1]

    deliver(api_client, full_event)
    deliver(api_client, partial_event)  # late and out of order

    payment.refresh_from_db()
    assert (payment.status, payment.amount_refunded) == ("refunded", Decimal("1060.00"))
    assert payment_events(payment)[-1] == ("succeeded", "refunded")


def test_a_confirmed_setup_intent_saves_the_card_on_file(
    api_client, customer_org, invoice, stripe_on
):
    setup = cards.card_setup_start(organization=customer_org)
    assert setup.client_secret.startswith(setup.external_id)
    account = BillingAccount.objects.get(organization=customer_org)
    assert account.stripe_customer_id.startswith("cus_")
    assert cards.card_setup_start(organization=customer_org)  # the customer is reused
    assert len(stripe_on.customers) == 1
    # The browser confirms the setup with Stripe.js; Stripe then posts the event.
    stripe_on.client().v1.setup_intents.confirm(
        setup.external_id, params={"payment_method": "pm_card_visa"}
    )
    [event] = [e for e in stripe_on.events if e["type"] == "setup_intent.succeeded"]

    deliver(api_client, event)

    account.refresh_from_db()
    assert account.payment_method == "stripe_card"
    assert account.stripe_payment_method_id == event["data"]["object"]["payment_method"]
    assert charges.payment_charge(invoice=invoice).status == PaymentStatus.SUCCEEDED
