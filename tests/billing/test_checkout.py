"""Paying an invoice on Stripe's hosted Checkout page: the session we open, the page the fake
plays, and the webhook that records the payment once."""

# Fixtures are shared by importing them from test_payments (pytest finds them by name).
# ruff: noqa: F401, F811

import urllib.error
import urllib.request
from decimal import Decimal

import pytest

from billing.models import InvoiceStatus, Payment, PaymentStatus
from billing.payments import charges, transfers
from tests.billing.test_payments import (
    WEBHOOK_SECRET,
    fake,
    make_contract,
    make_invoice,
    sent_emails,
    stripe_off,
    stripe_on,
)
from tests.billing.test_webhooks import deliver
from tests.factories import OrganizationFactory, UserFactory, member_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def customer():
    return OrganizationFactory(name="Moonshot Training")


@pytest.fixture
def member(customer):
    return member_of(customer)


@pytest.fixture
def invoice(customer, member):
    return make_invoice(make_contract(customer), total="1060.00")


def pay_url(invoice) -> str:
    return f"/billing/invoices/{invoice.pk}/pay/card/"


def pay_on_hosted_page(url: str, card: str = "pm_card_visa") -> tuple[int, str]:
    """Submit the fake's hosted page as a browser would; (status, Location) without following."""

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), NoRedirect)
    try:
        with opener.open(url, data=f"card={card}".encode(), timeout=5) as answer:
            return answer.status, answer.headers.get("Location", "")
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("Location", "")


def test_pay_by_card_opens_a_checkout_session_and_redirects_to_it(
    client, member, invoice, stripe_on
):
    client.force_login(member)
    page = client.get(f"/billing/invoices/{invoice.pk}/").content.decode()
    assert "Pay by card" in page
    response = client.post(pay_url(invoice))
    assert response.status_code == 302
    [session] = stripe_on.checkout_sessions.values()
    assert response["Location"] == session["url"]
    assert session["amount_total"] == 106000 and session["currency"] == "cny"
    payment = Payment.objects.get(invoice=invoice)
    assert payment.status == PaymentStatus.PENDING and payment.reference == session["id"]
    assert session["metadata"]["payment_id"] == str(payment.pk)
    assert session["success_url"].endswith(f"/billing/invoices/{invoice.pk}/?checkout=done")
    [create] = [r for r in stripe_on.requests if r.path == "/v1/checkout/sessions"]
    assert create.idempotency_key == payment.idempotency_key
    assert f"fen-106000-attempt-{payment.attempt}" in payment.idempotency_key


def test_asking_again_for_the_same_amount_returns_the_same_page(client, member, invoice, stripe_on):
    client.force_login(member)
    first = client.post(pay_url(invoice))["Location"]
    again = client.post(pay_url(invoice))["Location"]
    assert first == again
    assert len(stripe_on.checkout_sessions) == 1
    assert Payment.objects.filter(invoice=invoice).count() == 1


def test_a_new_amount_retires_the_open_page(client, member, invoice, stripe_on):
    client.force_login(member)
    client.post(pay_url(invoice))
    transfers.bank_transfer_record(invoice=invoice, amount=Decimal("60.00"), reference="T-1")
    client.post(pay_url(invoice))
    old, new = Payment.objects.filter(invoice=invoice, gateway="stripe").order_by("pk")
    assert old.status == PaymentStatus.FAILED and old.failure_code == "checkout_superseded"
    assert new.status == PaymentStatus.PENDING and new.amount == Decimal("1000.00")


def test_paying_on_the_hosted_page_and_the_webhook_pays_the_invoice_once(
    client, member, invoice, stripe_on
):
    client.force_login(member)
    url = client.post(pay_url(invoice))["Location"]
    status, location = pay_on_hosted_page(url)
    assert status == 303 and location.endswith("?checkout=done")
    intent_event, completed = stripe_on.events[-2:]
    assert completed["type"] == "checkout.session.completed"
    assert deliver(client, completed).status_code == 200
    invoice.refresh_from_db()
    payment = Payment.objects.get(invoice=invoice)
    assert invoice.status == InvoiceStatus.PAID and invoice.amount_paid == Decimal("1060.00")
    assert payment.status == PaymentStatus.SUCCEEDED
    assert payment.external_id == completed["data"]["object"]["payment_intent"]
    # The same event again, and the PaymentIntent's own event: nothing more is recorded.
    assert deliver(client, completed).json()["duplicate"] is True
    assert deliver(client, intent_event).status_code == 200
    invoice.refresh_from_db()
    assert invoice.amount_paid == Decimal("1060.00")
    assert Payment.objects.filter(invoice=invoice).count() == 1
    back = client.get(location.split("testserver", 1)[-1]).content.decode()
    assert "as soon as Stripe confirms it" in back and "Paid" in back


def test_a_declined_card_on_the_hosted_page_records_nothing(client, member, invoice, stripe_on):
    client.force_login(member)
    url = client.post(pay_url(invoice))["Location"]
    status, _ = pay_on_hosted_page(url, card="pm_card_chargeDeclined")
    assert status == 402
    assert not [e for e in stripe_on.events if e["type"] == "checkout.session.completed"]
    assert Payment.objects.get(invoice=invoice).status == PaymentStatus.PENDING


def test_an_expired_session_fails_the_payment_and_frees_the_invoice(
    client, member, invoice, stripe_on, sent_emails
):
    client.force_login(member)
    client.post(pay_url(invoice))
    payment = Payment.objects.get(invoice=invoice)
    stripe_on.client().v1.checkout.sessions.expire(payment.reference)
    [expired] = [e for e in stripe_on.events if e["type"] == "checkout.session.expired"]
    assert deliver(client, expired).status_code == 200
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.FAILED and payment.failure_code == "checkout_expired"
    assert sent_emails == []  # leaving the page is not a failed card payment
    assert client.post(pay_url(invoice)).status_code == 302  # a new page can be opened


def test_reconciliation_reads_an_old_session_and_never_charges(client, member, invoice, stripe_on):
    client.force_login(member)
    url = client.post(pay_url(invoice))["Location"]
    pay_on_hosted_page(url)  # paid, but the webhook never arrived
    payment = Payment.objects.get(invoice=invoice)
    settled = charges.payment_reconcile(payment=payment)
    assert settled.status == PaymentStatus.SUCCEEDED
    assert not [r for r in stripe_on.requests if r.path == "/v1/payment_intents"]
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.PAID


def test_without_stripe_the_card_option_explains_and_refuses_gently(
    client, member, invoice, stripe_off
):
    client.force_login(member)
    assert (
        "Card payments are not available"
        in client.get(f"/billing/invoices/{invoice.pk}/").content.decode()
    )
    response = client.post(pay_url(invoice), follow=True)
    assert response.status_code == 200
    assert "pay by bank transfer" in response.content.decode()
    assert not Payment.objects.filter(invoice=invoice).exists()


def test_staff_do_not_pay_for_customers_and_others_get_404(client, invoice, stripe_on):
    client.force_login(UserFactory(username="ops", is_staff=True))
    assert client.post(pay_url(invoice)).status_code == 403
    client.force_login(member_of(OrganizationFactory(name="Someone else")))
    assert client.post(pay_url(invoice)).status_code == 404


def test_when_stripe_cannot_open_the_page_the_customer_is_told_and_may_try_again(
    client, member, invoice, stripe_on, sent_emails
):
    client.force_login(member)
    stripe_on.fail_next("rate_limit", path="/v1/checkout/sessions")
    response = client.post(pay_url(invoice), follow=True)
    assert "could not be opened" in response.content.decode()
    failed = Payment.objects.get(invoice=invoice)
    assert failed.status == PaymentStatus.FAILED and failed.failure_code == "checkout_not_opened"
    assert sent_emails == []
    assert client.post(pay_url(invoice))["Location"].startswith(stripe_on.api_base)


def test_a_completed_session_still_unpaid_waits_and_an_async_failure_fails_it(
    client, member, invoice, stripe_on
):
    client.force_login(member)
    client.post(pay_url(invoice))
    payment = Payment.objects.get(invoice=invoice)
    session = {
        **stripe_on.checkout_sessions[payment.reference],
        "status": "complete",
        "payment_status": "unpaid",  # a bank debit on its way
    }
    session = {k: v for k, v in session.items() if not k.startswith("_")}
    assert (
        deliver(client, stripe_on.event("checkout.session.completed", session)).status_code == 200
    )
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.PENDING
    failed = stripe_on.event("checkout.session.async_payment_failed", session)
    assert deliver(client, failed).status_code == 200
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.FAILED
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.OPEN
