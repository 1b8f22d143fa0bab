"""Statements, fapiao and payouts in a real browser: a customer requests a fapiao from a paid
invoice on the billing page, an admin records its number and date on the fapiao page, and the
provider opens its payout statement; each page in both languages, on a desktop and a phone,
with no serious axe violations, no sideways scrolling and no script errors."""

import pytest
from django.core.management import call_command
from django.utils import timezone

from accounts.demo import DEMO_ADMIN, DEMO_CUSTOMER, DEMO_PROVIDER
from billing.models import FapiaoRequest, Invoice, InvoiceStatus, PayoutStatement
from billing.payments.transfers import bank_transfer_record
from tests.e2e.conftest import log_in, scrolls_sideways, serious_axe_violations, snap

pytestmark = pytest.mark.django_db(transaction=True)


def check(page, name: str) -> None:
    snap(page, name)
    assert serious_axe_violations(page) == [], name
    assert not scrolls_sideways(page), name
    assert page.errors == [], (name, page.errors)


@pytest.fixture
def demo():
    call_command("seed_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115
    unpaid = (
        Invoice.objects.filter(customer__memberships__user__username=DEMO_CUSTOMER.username)
        .filter(status=InvoiceStatus.OPEN, fapiao_requests__isnull=True)
        .order_by("period_start")
        .first()
    )
    bank_transfer_record(invoice=unpaid, amount=unpaid.amount_due, reference="E2E-1")
    return Invoice.objects.get(pk=unpaid.pk)


def test_fapiao_from_request_to_issue_and_the_payout_statement(new_page, demo):
    invoice = demo
    page = new_page(lang="en")
    log_in(page, DEMO_CUSTOMER.username, DEMO_CUSTOMER.password)
    page.goto("/billing/")
    page.locator(f"a[href='/billing/invoices/{invoice.pk}/fapiao/']").click()
    page.wait_for_url(f"**/billing/invoices/{invoice.pk}/fapiao/")
    check(page, "fapiao-request")
    page.get_by_label("Ordinary VAT fapiao (普票)").check()
    page.get_by_role("button", name="Send the request").click()
    page.wait_for_url("**/billing/fapiao/")
    assert "Your fapiao request is sent" in page.content()
    check(page, "fapiao-list-customer")
    request = FapiaoRequest.objects.get(invoice=invoice)
    assert request.kind == "ordinary" and request.status == "requested"

    admin = new_page(lang="en")
    log_in(admin, DEMO_ADMIN.username, DEMO_ADMIN.password)
    admin.goto("/billing/fapiao/")
    check(admin, "fapiao-list-staff")
    card = admin.locator("article", has_text=invoice.number)
    card.get_by_label("Fapiao number").fill("24312000000000000777")
    card.get_by_label("Issued on").fill(timezone.localdate().isoformat())
    card.get_by_role("button", name="Record the fapiao").click()
    admin.wait_for_url("**/billing/fapiao/")
    assert "Fapiao 24312000000000000777 is recorded." in admin.content()
    request.refresh_from_db()
    assert request.status == "issued" and request.fapiao_number == "24312000000000000777"

    statement = PayoutStatement.objects.get(provider__name="Hefei Compute Co.")
    provider = new_page(lang="en")
    log_in(provider, DEMO_PROVIDER.username, DEMO_PROVIDER.password)
    provider.goto("/billing/payouts/")
    check(provider, "payout-list")
    provider.locator(f"a[href='/billing/payouts/{statement.pk}/']").click()
    provider.wait_for_url(f"**/billing/payouts/{statement.pk}/")
    assert "Collected, excluding VAT" in provider.content()
    check(provider, "payout-detail")


@pytest.mark.parametrize("lang", ["zh-hans", "en"])
def test_the_pages_on_a_phone(new_page, demo, lang):
    statement = PayoutStatement.objects.get(provider__name="Hefei Compute Co.")
    for login, urls, name in (
        (DEMO_CUSTOMER, ["/billing/fapiao/", f"/billing/invoices/{demo.pk}/fapiao/"], "customer"),
        (DEMO_ADMIN, ["/billing/fapiao/"], "staff"),
        (DEMO_PROVIDER, ["/billing/payouts/", f"/billing/payouts/{statement.pk}/"], "provider"),
    ):
        page = new_page(lang=lang, phone=True)
        log_in(page, login.username, login.password)
        for number, url in enumerate(urls):
            page.goto(url)
            check(page, f"statements-{name}-{number}")
            if lang == "zh-hans":
                assert page.evaluate("document.documentElement.lang") == "zh-hans"
