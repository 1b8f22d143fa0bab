"""Refunds: POST /api/v1/payments/{id}/refund/ and the invoice page's form. Card refunds go
through Stripe once and are confirmed by its webhook; bank refunds are recorded; a credit note
is issued where the invoice itself changes; every step is audited."""

# Fixtures are shared by importing them from test_payments (pytest finds them by name).
# ruff: noqa: F401, F811

from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from billing.credits.credit_notes import creditable
from billing.ledger.balance import customer_balance
from billing.models import (
    BillingEvent,
    CreditNote,
    InvoiceStatus,
    PaymentStatus,
    Refund,
    RefundStatus,
)
from billing.payments import charges, transfers
from tests.billing.test_payments import (
    WEBHOOK_SECRET,
    card_account,
    fake,
    make_contract,
    make_invoice,
    stripe_off,
    stripe_on,
)
from tests.billing.test_webhooks import deliver
from tests.conftest import client_for
from tests.factories import OrganizationFactory, UserFactory, member_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def customer():
    return OrganizationFactory(name="Moonshot Training")


@pytest.fixture
def member(customer):
    return member_of(customer)


@pytest.fixture
def staff(db):
    return UserFactory(username="finance-admin", is_staff=True)


@pytest.fixture
def invoice(customer, member):
    return make_invoice(make_contract(customer), total="1060.00")


def transfer(invoice, amount, reference="BOC-1"):
    return transfers.bank_transfer_record(
        invoice=invoice, amount=Decimal(amount), reference=reference
    ).payment


def refund(staff, payment, amount, reason="Service credit agreed", **headers):
    return client_for(staff).post(
        f"/api/v1/payments/{payment.pk}/refund/",
        {"amount": amount, "reason": reason},
        format="json",
        **headers,
    )


def test_a_partial_bank_refund_is_recorded_with_a_credit_note(staff, invoice, stripe_off):
    payment = transfer(invoice, "1060.00")
    response = refund(staff, payment, "100.00")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["status"] == "succeeded" and body["amount"] == "100.00"
    assert body["from_balance"] == "0.00" and body["credit_note"].startswith("CN-")
    note = CreditNote.objects.get(number=body["credit_note"])
    assert note.amount == Decimal("100.00") and note.invoice_id == invoice.pk
    payment.refresh_from_db()
    invoice.refresh_from_db()
    assert payment.amount_refunded == Decimal("100.00") and payment.status == "succeeded"
    assert invoice.status == InvoiceStatus.PAID and creditable(invoice) == Decimal("960.00")
    assert customer_balance(organization=invoice.customer) == 0
    events = BillingEvent.objects.filter(subject="refund", subject_id=body["id"])
    assert list(events.values_list("from_status", "to_status")) == [
        ("", "pending"),
        ("pending", "succeeded"),
    ]
    assert events.first().actor == staff


def test_an_over_payment_is_given_back_from_the_balance_without_a_credit_note(
    staff, invoice, stripe_off
):
    payment = transfer(invoice, "1200.00")
    assert customer_balance(organization=invoice.customer) == Decimal("140.00")
    body = refund(staff, payment, "140.00").json()
    assert body["from_balance"] == "140.00" and body["credit_note"] is None
    assert customer_balance(organization=invoice.customer) == 0
    assert not CreditNote.objects.exists()
    # Beyond the over-payment, the invoice changes: 60.00 more is credited.
    more = refund(staff, payment, "60.00").json()
    assert more["from_balance"] == "0.00" and more["credit_note"]
    payment.refresh_from_db()
    assert payment.amount_refunded == Decimal("200.00")


def test_a_full_refund_marks_the_payment_refunded(staff, invoice, stripe_off):
    payment = transfer(invoice, "1060.00")
    assert refund(staff, payment, "1060.00").status_code == 201
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.REFUNDED
    again = refund(staff, payment, "1.00")
    assert again.status_code == 409 and again.json()["code"] == "payment_not_refundable"


def test_bad_amounts_are_400_per_field_and_write_nothing(staff, invoice, stripe_off):
    payment = transfer(invoice, "1060.00")
    too_much = refund(staff, payment, "1060.01")
    assert too_much.status_code == 400 and "amount" in too_much.json()["errors"]
    assert refund(staff, payment, "-5").status_code == 400
    assert refund(staff, payment, "1.001").status_code == 400
    no_reason = refund(staff, payment, "10.00", reason="  ")
    assert no_reason.status_code == 400 and "reason" in no_reason.json()["errors"]
    assert not Refund.objects.exists() and not CreditNote.objects.exists()
    payment.refresh_from_db()
    assert payment.amount_refunded == 0


def test_only_staff_refund_and_everyone_else_gets_the_same_403(member, invoice, stripe_off):
    """Refused before the lookup: a stranger learns nothing about the payment's existence."""
    payment = transfer(invoice, "1060.00")
    assert refund(member, payment, "10.00").status_code == 403
    stranger = member_of(OrganizationFactory(name="Someone else"))
    assert refund(stranger, payment, "10.00").status_code == 403

    response = APIClient().post(f"/api/v1/payments/{payment.pk}/refund/", {}, format="json")
    assert response.status_code == 401
    assert not Refund.objects.exists()


def test_a_card_refund_goes_to_stripe_once_and_the_webhook_confirms_it(
    client, staff, customer, invoice, stripe_on
):
    card_account(customer, stripe_on)
    payment = charges.payment_charge(invoice=invoice)
    assert payment.status == PaymentStatus.SUCCEEDED
    first = refund(staff, payment, "300.00", HTTP_IDEMPOTENCY_KEY="refund-1")
    again = refund(staff, payment, "300.00", HTTP_IDEMPOTENCY_KEY="refund-1")
    assert first.status_code == 201 and again.status_code == 200
    assert first.json()["id"] == again.json()["id"]
    assert again["Idempotent-Replayed"] == "true"
    creates = [r for r in stripe_on.requests if r.path == "/v1/refunds"]
    assert len(creates) == 1 and creates[0].params["amount"] == "30000"
    refund_row = Refund.objects.get()
    assert refund_row.status == RefundStatus.PENDING and refund_row.external_id.startswith("re_")
    assert creates[0].idempotency_key == refund_row.idempotency_key
    [event] = [e for e in stripe_on.events if e["type"] == "charge.refunded"]
    assert deliver(client, event).status_code == 200
    assert deliver(client, event).json()["duplicate"] is True
    refund_row.refresh_from_db()
    payment.refresh_from_db()
    assert refund_row.status == RefundStatus.SUCCEEDED and refund_row.confirmed_at
    assert payment.amount_refunded == Decimal("300.00")


def test_a_refund_updated_event_confirms_and_a_failed_one_keeps_the_money_on_the_balance(
    client, staff, customer, invoice, stripe_on
):
    card_account(customer, stripe_on)
    payment = charges.payment_charge(invoice=invoice)
    ok = refund(staff, payment, "100.00").json()
    bad = refund(staff, payment, "50.00").json()
    base = stripe_on.refunds
    deliver(client, stripe_on.event("refund.updated", {**base[ok["external_id"]]}))
    failed = {**base[bad["external_id"]], "status": "failed"}
    deliver(client, stripe_on.event("refund.failed", failed))
    assert Refund.objects.get(pk=ok["id"]).status == RefundStatus.SUCCEEDED
    assert Refund.objects.get(pk=bad["id"]).status == RefundStatus.FAILED
    payment.refresh_from_db()
    assert payment.amount_refunded == Decimal("100.00")
    assert customer_balance(organization=customer) == Decimal("50.00")


def test_stripe_refusing_a_refund_is_502_and_the_credit_stays_on_the_balance(
    staff, customer, invoice, stripe_on
):
    card_account(customer, stripe_on)
    payment = charges.payment_charge(invoice=invoice)
    # Refunded in Stripe's dashboard behind our back: Stripe refuses ours (400).
    stripe_on.client().v1.refunds.create(params={"payment_intent": payment.external_id})
    response = refund(staff, payment, "100.00")
    assert response.status_code == 502 and response.json()["code"] == "gateway_error"
    refund_row = Refund.objects.get()
    assert refund_row.status == RefundStatus.FAILED
    payment.refresh_from_db()
    assert payment.amount_refunded == 0 and payment.status == PaymentStatus.SUCCEEDED
    assert customer_balance(organization=customer) == Decimal("100.00")
    assert BillingEvent.objects.filter(
        subject="refund", subject_id=refund_row.pk, to_status="failed"
    ).exists()


def test_no_answer_from_stripe_leaves_the_refund_pending_and_a_repeat_asks_again_once(
    staff, customer, invoice, stripe_on
):
    card_account(customer, stripe_on)
    payment = charges.payment_charge(invoice=invoice)
    stripe_on.fail_next("timeout_after_effect", path="/v1/refunds")
    first = refund(staff, payment, "100.00", HTTP_IDEMPOTENCY_KEY="r-1")
    assert first.status_code == 202 and first.json()["status"] == "pending"
    # Another refund now could double the money back: refused until this one is settled.
    assert refund(staff, payment, "5.00").status_code == 409
    again = refund(staff, payment, "100.00", HTTP_IDEMPOTENCY_KEY="r-1")
    assert again.status_code == 200 and again.json()["external_id"].startswith("re_")
    assert len(stripe_on.refunds) == 1  # the money went back once
    payment.refresh_from_db()
    assert payment.amount_refunded == Decimal("100.00")
    assert customer_balance(organization=customer) == 0


# --- the invoice page -----------------------------------------------------------------------


def test_staff_refund_from_the_invoice_page(client, staff, invoice, stripe_off):
    payment = transfer(invoice, "1060.00", reference="BOC-9")
    client.force_login(staff)
    page = client.get(f"/billing/invoices/{invoice.pk}/").content.decode()
    assert "Refund a payment" in page
    response = client.post(
        f"/billing/invoices/{invoice.pk}/refund/",
        {"payment": payment.pk, "amount": "200.00", "reason": "Two days of outage"},
        follow=True,
    )
    html = response.content.decode()
    assert "Refund of ¥200.00 recorded" in html
    assert "Two days of outage" in html and "CN-" in html


def test_refund_form_errors_stay_on_the_page(client, staff, invoice, stripe_off):
    payment = transfer(invoice, "1060.00")
    client.force_login(staff)
    response = client.post(
        f"/billing/invoices/{invoice.pk}/refund/",
        {"payment": payment.pk, "amount": "5000.00", "reason": "Too much"},
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert "is left to refund on this payment" in html and "Too much" in html
    assert not Refund.objects.exists()


def test_customers_see_refunds_but_no_refund_form(client, member, staff, invoice, stripe_off):
    payment = transfer(invoice, "1060.00")
    refund(staff, payment, "60.00", reason="Goodwill")
    client.force_login(member)
    html = client.get(f"/billing/invoices/{invoice.pk}/").content.decode()
    assert "Goodwill" in html and "Refund a payment" not in html
    denied = client.post(
        f"/billing/invoices/{invoice.pk}/refund/",
        {"payment": payment.pk, "amount": "1.00", "reason": "x"},
    )
    assert denied.status_code == 403


def test_a_refunded_invoice_reads_in_chinese_for_staff_and_customer(
    client, member, staff, invoice, stripe_off
):
    from tests.translations import data_words, untranslated_words

    payment = transfer(invoice, "1200.00")
    refund(staff, payment, "140.00")
    refund(staff, payment, "100.00")
    for user in (staff, member):
        client.force_login(user)
        html = client.get(f"/billing/invoices/{invoice.pk}/", HTTP_ACCEPT_LANGUAGE="zh-hans")
        assert untranslated_words(html.content.decode(), data_words()) == [], user
