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
    expect(page.locator(".messages")).to_contain_text(words["confirming"])
    expect(page.locator("main .badge").first).to_have_text(words["paid"])
    check(page, "invoice-paid")

    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.PAID
    payment = Payment.objects.get(invoice=invoice)
    assert payment.status == PaymentStatus.SUCCEEDED and payment.external_id.startswith("pi_")
    assert ("checkout.session.completed", 200) in stripe_checkout.deliveries
