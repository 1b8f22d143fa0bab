"""Card charges through the real stripe-python client against the fake Stripe server: success,
decline, 5xx and 429, timeouts after the money moved, reconciliation with the same idempotency
key (never a second charge), one payment in flight per invoice, and no charge of a paid invoice.

Choice for 500 and 429: the payment is left ``unknown`` (not ``failed``). Neither says the card
was declined, and a 5xx may follow a charge that went through, so the customer is not emailed
and no new attempt may start; reconciliation asks again with the same key.
"""

# Fixtures are shared by importing them from test_payments (pytest finds them by name).
# ruff: noqa: F401, F811

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from billing.models import BillingEvent, InvoiceStatus, Payment, PaymentStatus
from billing.payments import charges, refunds, transfers
from billing.payments import errors as payment_errors
from billing.payments.gateways import (
    BankTransferGateway,
    ChargeOutcome,
    GatewayError,
    StripeGateway,
    card_gateway,
    get_gateway,
)
from billing.payments.gateways.stripe_gateway import from_fen, to_fen
from billing.tasks.payments import PaymentOutcomeUnknown, charge_invoice
from tests.billing.test_payments import (
    ISSUED,
    card_account,
    committed,
    contract,
    fake,
    intent_creates,
    invoice,
    make_invoice,
    payment_events,
    sent_emails,
    stripe_off,
    stripe_on,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def card(customer_org, stripe_on):
    return card_account(customer_org, stripe_on)


def charge(invoice, **kwargs):
    return charges.payment_charge(invoice=invoice, actor_label="test", **kwargs)


# --- money and gateway choice ------------------------------------------------------------------


def test_amounts_go_to_stripe_in_whole_fen():
    assert to_fen(Decimal("49920.00")) == 4992000
    assert to_fen(Decimal("0.01")) == 1
    assert from_fen(4992001) == Decimal("49920.01")
    with pytest.raises(ValueError):
        to_fen(Decimal("1.005"))


def test_gateway_is_stripe_with_a_key_and_bank_transfer_without(settings, stripe_off):
    assert isinstance(get_gateway(), BankTransferGateway)
    assert card_gateway() is None
    with pytest.raises(GatewayError):
        BankTransferGateway().charge(None, None)

    settings.STRIPE_API_KEY = "sk_test_x"

    assert isinstance(get_gateway(), StripeGateway)
    assert card_gateway() is not None


def test_without_stripe_card_payments_are_unavailable(customer_org, invoice, stripe_off):
    with pytest.raises(payment_errors.CardPaymentsUnavailable):
        charge(invoice)


# --- charges ------------------------------------------------------------------------------------


def test_successful_charge_pays_the_invoice_with_one_off_session_intent(invoice, card, stripe_on):
    payment = charge(invoice)

    invoice.refresh_from_db()
    assert payment.status == PaymentStatus.SUCCEEDED
    assert (invoice.status, invoice.amount_paid) == (InvoiceStatus.PAID, Decimal("1060.00"))
    assert stripe_on.charges_count() == 1
    [request] = intent_creates(stripe_on)
    assert request.idempotency_key == payment.idempotency_key
    assert payment.idempotency_key == f"stripe-invoice-{invoice.pk}-attempt-1"
    assert request.params["amount"] == "106000"  # fen, an integer on the wire
    assert request.params["currency"] == "cny"
    assert request.params["customer"] == card.stripe_customer_id
    assert request.params["payment_method"] == card.stripe_payment_method_id
    assert (request.params["confirm"], request.params["off_session"]) == ("true", "true")
    assert request.params["metadata"] == {
        "invoice_id": str(invoice.pk),
        "invoice_number": invoice.number,
        "payment_id": str(payment.pk),
    }
    assert payment.external_id == next(iter(stripe_on.payment_intents))
    assert payment_events(payment) == [("", "pending"), ("pending", "succeeded")]
    assert BillingEvent.objects.filter(subject="invoice", to_status="paid").count() == 1


def test_declined_card_fails_the_payment_and_emails_the_customer(
    invoice, customer_org, stripe_on, sent_emails, committed
):
    card_account(customer_org, stripe_on, "pm_card_chargeCustomerFail")

    payment = committed(charge, invoice)

    assert payment.status == PaymentStatus.FAILED
    assert payment.failure_code == "generic_decline"
    assert payment.failure_message == "Your card was declined."
    assert payment.external_id  # the declined PaymentIntent
    invoice.refresh_from_db()
    assert (invoice.status, invoice.amount_paid) == (InvoiceStatus.OPEN, Decimal("0"))
    assert [pk for pk, _ in sent_emails] == [invoice.pk]
    assert "declined" in sent_emails[0][1]
    assert payment_events(payment) == [("", "pending"), ("pending", "failed")]


def test_after_a_decline_a_new_attempt_uses_a_new_key(invoice, card, stripe_on, sent_emails):
    stripe_on.fail_next("card_declined")
    first = charge(invoice)

    second = charge(invoice)

    assert (first.status, second.status) == ("failed", "succeeded")
    assert second.idempotency_key == f"stripe-invoice-{invoice.pk}-attempt-2"
    assert stripe_on.charges_count() == 1


@pytest.mark.parametrize("fault", ["server_error", "rate_limit"])
def test_5xx_and_429_leave_the_payment_unknown_and_reconciliation_charges_once(
    invoice, card, stripe_on, sent_emails, committed, fault
):
    stripe_on.fail_next(fault, path="/v1/payment_intents")

    payment = committed(charge, invoice)

    assert payment.status == PaymentStatus.UNKNOWN
    assert sent_emails == []  # nothing was declined
    with pytest.raises(payment_errors.PaymentInFlight):  # no new attempt while the outcome is open
        charge(invoice)

    result = charges.reconcile_unknown(older_than_seconds=0)

    assert result == {"checked": 1, "succeeded": 1, "failed": 0, "unknown": 0}
    payment.refresh_from_db()
    invoice.refresh_from_db()
    assert (payment.status, invoice.status) == ("succeeded", "paid")
    assert stripe_on.charges_count() == 1
    keys = {request.idempotency_key for request in intent_creates(stripe_on)}
    assert keys == {payment.idempotency_key}
    assert payment_events(payment) == [
        ("", "pending"),
        ("pending", "unknown"),
        ("unknown", "succeeded"),
    ]


def test_timeout_after_the_charge_then_reconciliation_never_charges_twice(invoice, card, stripe_on):
    stripe_on.fail_next("timeout_after_charge")

    payment = charge(invoice)

    assert payment.status == PaymentStatus.UNKNOWN  # the client gave up ...
    assert stripe_on.charges_count() == 1  # ... although the money moved
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.OPEN
    with pytest.raises(payment_errors.PaymentInFlight):
        charge(invoice)

    charges.reconcile_unknown(older_than_seconds=0)
    charges.reconcile_unknown(older_than_seconds=0)  # a second run finds nothing to do

    payment.refresh_from_db()
    invoice.refresh_from_db()
    assert payment.status == PaymentStatus.SUCCEEDED
    assert payment.external_id == next(iter(stripe_on.payment_intents))
    assert (invoice.status, invoice.amount_paid) == (InvoiceStatus.PAID, Decimal("1060.00"))
    assert stripe_on.charges_count() == 1
    creates = intent_creates(stripe_on)
    assert len(creates) == 2
    assert {request.idempotency_key for request in creates} == {payment.idempotency_key}


def test_timeout_before_the_charge_is_settled_by_one_charge_on_reconciliation(
    invoice, card, stripe_on
):
    stripe_on.fail_next("timeout_before_effect", path="/v1/payment_intents")
    payment = charge(invoice)
    assert (payment.status, stripe_on.charges_count()) == ("unknown", 0)

    charges.reconcile_unknown(older_than_seconds=0)

    payment.refresh_from_db()
    assert payment.status == PaymentStatus.SUCCEEDED
    assert stripe_on.charges_count() == 1


def test_reconciliation_leaves_recent_payments_to_the_charge_in_progress(invoice, card, stripe_on):
    stripe_on.fail_next("timeout_after_charge")
    charge(invoice)

    assert charges.reconcile_unknown()["checked"] == 0  # younger than RECONCILE_AFTER_SECONDS
    assert len(intent_creates(stripe_on)) == 1


def test_reconciliation_reads_a_known_payment_intent(invoice, card, stripe_on):
    intent = stripe_on.client().v1.payment_intents.create(
        params={"amount": 106000, "currency": "cny", "payment_method": "pm_card_visa"}
    )
    payment = Payment.objects.create(
        invoice=invoice,
        gateway="stripe",
        amount=invoice.total,
        status=PaymentStatus.UNKNOWN,
        idempotency_key="stripe-invoice-x-attempt-1",
        external_id=intent.id,
        reference=card.stripe_payment_method_id,
    )
    Payment.objects.filter(pk=payment.pk).update(updated_at=timezone.now() - timedelta(hours=1))

    assert charges.reconcile_unknown()["unknown"] == 1  # requires_confirmation: not settled
    assert stripe_on.requests[-1].method == "GET"
    stripe_on.client().v1.payment_intents.confirm(intent.id)

    assert charges.reconcile_unknown(older_than_seconds=0)["succeeded"] == 1
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.PAID


def test_past_stripes_key_window_reconciliation_does_not_resend(invoice, card, stripe_on):
    stripe_on.fail_next("timeout_before_effect", path="/v1/payment_intents")
    payment = charge(invoice)
    Payment.objects.filter(pk=payment.pk).update(created_at=timezone.now() - timedelta(days=2))
    sent = len(stripe_on.requests)

    charges.reconcile_unknown(older_than_seconds=0)

    payment.refresh_from_db()
    assert payment.status == PaymentStatus.UNKNOWN
    assert payment.failure_code == "needs_manual_reconciliation"
    assert len(stripe_on.requests) == sent  # re-sending now could charge afresh
    assert stripe_on.charges_count() == 0


def test_an_unknown_charge_is_not_resent_once_the_invoice_is_paid_otherwise(
    invoice, card, stripe_on
):
    stripe_on.fail_next("timeout_before_effect", path="/v1/payment_intents")
    payment = charge(invoice)
    transfers.bank_transfer_record(invoice=invoice, amount=invoice.total, reference="BANK-7")
    sent = len(stripe_on.requests)

    charges.reconcile_unknown(older_than_seconds=0)

    payment.refresh_from_db()
    assert (payment.status, payment.failure_code) == ("unknown", "needs_manual_reconciliation")
    assert len(stripe_on.requests) == sent
    assert stripe_on.charges_count() == 0


@pytest.fixture
def inline_retries():
    """Eager Celery without propagation runs a task's retries inline, at once (no countdown)."""
    conf = charge_invoice.app.conf
    previous = conf.task_eager_propagates
    conf.task_eager_propagates = False
    yield
    conf.task_eager_propagates = previous


@pytest.mark.usefixtures("inline_retries")
def test_charge_task_retries_after_a_timeout_with_the_same_key(invoice, card, stripe_on):
    stripe_on.fail_next("timeout_after_charge")

    # The retry reconciles the same payment with the same key.
    result = charge_invoice.apply(args=[invoice.pk, ISSUED.isoformat()])

    assert result.get() == "succeeded"

    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.PAID
    assert stripe_on.charges_count() == 1
    assert invoice.payments.count() == 1
    assert invoice.collection_attempts == 1


@pytest.mark.usefixtures("inline_retries")
def test_charge_task_gives_up_after_bounded_retries_and_leaves_the_payment_unknown(
    invoice, card, stripe_on
):
    stripe_on.fail_next("server_error", times=10)

    result = charge_invoice.apply(args=[invoice.pk, ISSUED.isoformat()])

    with pytest.raises(PaymentOutcomeUnknown):
        result.get()

    assert len(intent_creates(stripe_on)) == 1 + charge_invoice.max_retries
    payment = invoice.payments.get()
    assert payment.status == PaymentStatus.UNKNOWN
    assert stripe_on.charges_count() == 0


def test_charge_task_run_twice_charges_once(invoice, card, stripe_on):
    charge_invoice.delay(invoice.pk, ISSUED.isoformat())
    assert charge_invoice.delay(invoice.pk, ISSUED.isoformat()).get() is None

    assert stripe_on.charges_count() == 1
    assert invoice.payments.count() == 1


# --- refusals -----------------------------------------------------------------------------------


def test_a_second_attempt_while_one_is_in_flight_is_refused(invoice, card, stripe_on):
    Payment.objects.create(
        invoice=invoice, gateway="stripe", amount=invoice.total, idempotency_key="in-flight"
    )

    with pytest.raises(payment_errors.PaymentInFlight):
        charge(invoice)

    assert intent_creates(stripe_on) == []


def test_an_already_paid_invoice_is_never_charged(contract, card, stripe_on):
    paid = make_invoice(contract, status=InvoiceStatus.PAID, amount_paid="1060.00")
    settled = make_invoice(contract, amount_paid="1060.00")  # open, but nothing due

    for covered in (paid, settled):
        with pytest.raises(payment_errors.InvoiceAlreadyPaid):
            charge(covered)

    assert intent_creates(stripe_on) == []


def test_draft_and_void_invoices_are_not_charged(contract, card, stripe_on):
    for status in (InvoiceStatus.DRAFT, InvoiceStatus.VOID):
        with pytest.raises(payment_errors.InvoiceNotPayable):
            charge(make_invoice(contract, status=status))
    assert intent_creates(stripe_on) == []


def test_charging_inside_a_transaction_is_refused(invoice, card, stripe_on):
    # ``durable``: a caller's transaction would hold the invoice lock across the Stripe call.
    from django.db import transaction

    with transaction.atomic(), pytest.raises(RuntimeError):
        charge(invoice)
    assert intent_creates(stripe_on) == []


def test_partial_payment_is_charged_for_what_is_still_due(contract, card, stripe_on):
    invoice = make_invoice(contract, amount_paid="1000.00")

    payment = charge(invoice)

    assert payment.amount == Decimal("60.00")
    assert intent_creates(stripe_on)[0].params["amount"] == "6000"
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.PAID


# --- refunds ------------------------------------------------------------------------------------


def test_refunds_go_through_stripe_once_per_amount(invoice, card, stripe_on):
    payment = charge(invoice)

    refunds.payment_refund(payment=payment, amount=Decimal("60.00"))
    payment.refresh_from_db()
    assert (payment.status, payment.amount_refunded) == ("succeeded", Decimal("60.00"))

    refunds.payment_refund(payment=payment, amount=Decimal("1000.00"))
    payment.refresh_from_db()
    assert (payment.status, payment.amount_refunded) == ("refunded", Decimal("1060.00"))
    assert [r["amount"] for r in stripe_on.refunds.values()] == [6000, 100000]
    with pytest.raises(payment_errors.PaymentNotRefundable):
        refunds.payment_refund(payment=payment, amount=Decimal("1.00"))


def test_refund_retry_after_a_lost_answer_replays_the_same_refund(invoice, card, stripe_on):
    payment = charge(invoice)
    stripe_on.fail_next("timeout_after_effect", path="/v1/refunds")

    with pytest.raises(payment_errors.GatewayFailed):
        refunds.payment_refund(payment=payment, amount=Decimal("100.00"))
    refunds.payment_refund(payment=payment, amount=Decimal("100.00"))

    assert len(stripe_on.refunds) == 1
    payment.refresh_from_db()
    assert payment.amount_refunded == Decimal("100.00")


def test_a_charge_result_maps_stripe_statuses():
    from billing.payments.gateways.stripe_gateway import _from_intent

    class Intent(dict):
        id = "pi_1"

    assert _from_intent(Intent(status="succeeded")).outcome == ChargeOutcome.SUCCEEDED
    assert _from_intent(Intent(status="processing")).outcome == ChargeOutcome.UNKNOWN
    declined = _from_intent(Intent(status="requires_action"))
    assert (declined.outcome, declined.failure_code) == (
        ChargeOutcome.DECLINED,
        "authentication_required",
    )
