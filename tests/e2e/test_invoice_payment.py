"""Paying an invoice in a real browser: the customer opens the invoice from the list, reads how
to pay, pays by card on the hosted Checkout page (played by the fake Stripe server, which sends
the signed webhook back to our live server) and comes back to a paid invoice. Both languages,
desktop and phone; axe-clean; screenshots in ``artifacts/screenshots``."""

import re

import pytest
from playwright.sync_api import expect

from billing.models import InvoiceStatus, Payment, PaymentStatus
from tests.billing.test_payments import make_contract, make_invoice
from tests.e2e.conftest import log_in, scrolls_sideways, serious_axe_violations, snap
from tests.factories import TEST_PASSWORD, OrganizationFactory, member_of
from tests.fakes.stripe_server import TEST_API_KEY, FakeStripe

pytestmark = pytest.mark.django_db(transaction=True)
WEBHOOK_SECRET = "whsec_e2e_checkout_0123456789"
WORDS = {
    "en": {"pay": "Pay by card", "paid": "Paid", "confirming": "as soon as Stripe confirms it"},
    "zh-hans": {"pay": "用银行卡支付", "paid": "已付清", "confirming": "Stripe 确认后"},
}


@pytest.fixture
def stripe_checkout(settings, live_server):
    with FakeStripe() as fake:
        settings.STRIPE_API_KEY = TEST_API_KEY
        settings.STRIPE_API_BASE = fake.api_base
        settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
        settings.STRIPE_CHECKOUT_ORIGIN = fake.api_base
        settings.PAYMENTS_GATEWAY = "stripe"
        fake.webhook_url = f"{live_server.url}/api/v1/billing/stripe/webhook/"
        fake.webhook_secret = WEBHOOK_SECRET
        yield fake


def check(page, name: str) -> None:
    page.wait_for_load_state("networkidle")
    assert serious_axe_violations(page) == [], name
    if page.viewport_size["width"] < 576:
        assert not scrolls_sideways(page), name
    assert page.errors == [], name
    snap(page, name)


@pytest.mark.parametrize(("lang", "phone"), [("en", False), ("zh-hans", True)])
def test_customer_pays_an_invoice_by_card_on_the_hosted_page(
    new_page, stripe_checkout, lang, phone
):
    customer = OrganizationFactory(name="Zhipu Start-up Lab")
    user = member_of(customer)
    invoice = make_invoice(make_contract(customer), total="1060.00")
    words = WORDS[lang]

    page = new_page(lang=lang, phone=phone)
    log_in(page, user.username, TEST_PASSWORD)
    page.goto("/billing/")
    page.get_by_role("link", name=invoice.number).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(invoice.number)
    expect(page.locator("main")).to_contain_text("1219 0000 0000 0001")  # our bank account
    check(page, "invoice-detail")

    page.get_by_role("button", name=words["pay"]).click()
    expect(page).to_have_url(re.compile(r"/pay/cs_test_"))
    expect(page.locator("main")).to_contain_text("CNY 1,060.00")
    snap(page, "checkout-hosted")
    page.get_by_role("button", name=re.compile("^Pay ")).click()

    expect(page).to_have_url(re.compile(rf"/billing/invoices/{invoice.pk}/\?checkout=done"))
    expect(page.get_by_role("status")).to_contain_text(words["confirming"])
    expect(page.get_by_role("heading", level=1).locator("..")).to_contain_text(words["paid"])
    check(page, "invoice-paid")

    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.PAID
    payment = Payment.objects.get(invoice=invoice)
    assert payment.status == PaymentStatus.SUCCEEDED and payment.external_id.startswith("pi_")
    assert ("checkout.session.completed", 200) in stripe_checkout.deliveries


DISPUTE_WORDS = {
    "en": {
        "summary": "Dispute this invoice",
        "reason": "What is wrong with this invoice?",
        "open": "Open a dispute",
        "credit": "Credit the customer (issue a credit note)",
        "amount": "Credit amount (CNY)",
        "answer": "Reasons, for the customer",
        "resolve": "Resolve",
        "payment": "Payment",
        "refund_amount": "Amount to refund (CNY)",
        "refund": "Refund",
        "refund_reason": "Reason",
        "paused": "no payment reminders are sent until it is resolved",
        "resolved": "Resolved with a credit note",
    },
    "zh-hans": {
        "summary": "对这张账单提出争议",
        "reason": "这张账单有什么问题？",
        "open": "提交争议",
        "credit": "给予客户抵减（开具贷项通知单）",
        "amount": "抵减金额（人民币）",
        "answer": "处理理由（客户可见）",
        "resolve": "处理",
        "payment": "付款",
        "refund_amount": "退款金额（人民币）",
        "refund": "退款",
        "refund_reason": "原因",
        "paused": "解决之前不会发送付款提醒",
        "resolved": "已以贷项通知单解决",
    },
}


@pytest.mark.parametrize(("lang", "phone"), [("en", True), ("zh-hans", False)])
def test_customer_disputes_and_an_admin_credits_and_refunds_on_the_invoice_page(
    new_page, lang, phone
):
    from decimal import Decimal

    from billing.models import InvoiceDispute, Refund
    from billing.payments.transfers import bank_transfer_record
    from tests.factories import UserFactory

    customer = OrganizationFactory(name="Zhipu Start-up Lab")
    user = member_of(customer)
    admin = UserFactory(username="finance-admin", is_staff=True)
    invoice = make_invoice(make_contract(customer), total="1060.00")
    payment = bank_transfer_record(
        invoice=invoice, amount=Decimal("500.00"), reference="BOC-20300301"
    ).payment
    words = DISPUTE_WORDS[lang]

    page = new_page(lang=lang, phone=phone)
    log_in(page, user.username, TEST_PASSWORD)
    page.goto(f"/billing/invoices/{invoice.pk}/")
    page.get_by_text(words["summary"]).click()
    page.get_by_label(words["reason"]).fill("Two days of outage in the period")
    page.get_by_role("button", name=words["open"]).click()
    expect(page.get_by_text(words["paused"])).to_be_visible()
    check(page, "invoice-disputed")

    staff = new_page(lang=lang, phone=phone)
    log_in(staff, admin.username, TEST_PASSWORD)
    staff.goto(f"/billing/invoices/{invoice.pk}/")
    check(staff, "invoice-admin")
    staff.get_by_label(words["credit"]).check()
    staff.get_by_label(words["amount"]).fill("100.00")
    staff.get_by_label(words["answer"]).fill("Outage confirmed by the provider")
    staff.get_by_role("button", name=words["resolve"], exact=True).click()
    expect(staff.get_by_role("status")).to_contain_text("CN-")
    staff.get_by_label(words["refund_amount"]).fill("50.00")
    staff.get_by_role("textbox", name=words["refund_reason"], exact=True).fill(
        "Goodwill for the outage"
    )
    staff.get_by_role("button", name=words["refund"], exact=True).click()
    expect(staff.get_by_role("status")).to_contain_text("¥50.00")

    page.reload()
    expect(page.locator("main")).to_contain_text(words["resolved"])
    expect(page.locator("main")).to_contain_text("Goodwill for the outage")
    check(page, "invoice-resolved")
    dispute = InvoiceDispute.objects.get(invoice=invoice)
    assert dispute.status == "credited" and dispute.credit_note.amount == Decimal("100.00")
    assert Refund.objects.get(payment=payment).status == "succeeded"
