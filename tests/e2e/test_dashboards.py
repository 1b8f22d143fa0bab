"""The dashboards and the admins' work queue in a real browser, on the demo data: each demo login
lands on its dashboard; the admin works the queue with htmx (items update in place). Every page
in both languages, desktop and phone, axe-clean, no sideways scroll, screenshots in
``artifacts/screenshots``."""

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from accounts.demo import DEMO_ADMIN, DEMO_CUSTOMER, DEMO_PROVIDER
from accounts.models import Organization
from billing.models import Gateway, Invoice, InvoiceStatus
from tests.e2e.conftest import log_in, scrolls_sideways, serious_axe_violations, snap

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def demo():
    with open("/dev/null", "w") as quiet:
        call_command("seed_demo", stdout=quiet)


def check(page, name: str) -> None:
    snap(page, name)
    assert serious_axe_violations(page) == [], name
    assert not scrolls_sideways(page), name
    assert page.errors == [], name


@pytest.mark.parametrize("phone", [False, True], ids=["desktop", "phone"])
@pytest.mark.parametrize("lang", ["zh-hans", "en"])
def test_dashboards_and_queue_in_both_languages(new_page, demo, lang, phone):
    for login, name, url in (
        (DEMO_PROVIDER, "dashboard-provider", "/dashboard/"),
        (DEMO_CUSTOMER, "dashboard-customer", "/dashboard/"),
        (DEMO_ADMIN, "queue", "/dashboard/queue/"),
    ):
        page = new_page(lang=lang, phone=phone)
        log_in(page, login.username, login.password)
        page.wait_for_url("**/dashboard/")  # where a login lands
        page.goto(url)
        assert page.evaluate("document.documentElement.lang") == lang
        if name == "dashboard-provider":
            expect(page.locator("svg.chart-utilisation")).to_be_visible()
            expect(page.locator("main")).to_contain_text("Hefei A800 IB-01")
        check(page, name)
        # The header still says who is logged in at a phone's width.
        assert page.locator("header .who").get_by_text(login.username, exact=True).is_visible()


def test_the_admin_works_the_queue_in_place(new_page, demo):
    page = new_page(lang="en")
    log_in(page, DEMO_ADMIN.username, DEMO_ADMIN.password)
    page.wait_for_url("**/dashboard/")
    page.get_by_role("link", name="Work queue").first.click()
    page.wait_for_url("**/dashboard/queue/")

    wuhu = Organization.objects.get(name="Wuhu Cloud")
    item = page.locator(f"#queue-provider-{wuhu.pk}")
    item.get_by_role("button", name="Verify").click()
    expect(page.get_by_text("Wuhu Cloud is verified")).to_be_visible()
    assert page.url.endswith("/dashboard/queue/")  # no reload: htmx swapped the item
    wuhu.refresh_from_db()
    assert wuhu.verified_at is not None

    invoice = Invoice.objects.get(status=InvoiceStatus.OVERDUE)
    item = page.locator(f"#queue-invoice-{invoice.pk}")
    item.get_by_label("Amount received (¥)").fill("1000")
    item.get_by_label("Bank reference").fill("ICBC-E2E-1")
    item.get_by_role("button", name="Record the transfer").click()
    expect(page.locator(f"#queue-invoice-{invoice.pk}")).to_contain_text("ICBC-E2E-1")
    item = page.locator(f"#queue-invoice-{invoice.pk}")
    item.get_by_label("Amount received (¥)").fill("5")
    item.get_by_label("Bank reference").fill("ICBC-E2E-1")
    item.get_by_role("button", name="Record the transfer").click()
    expect(item.get_by_text("already recorded")).to_be_visible()
    assert invoice.payments.filter(gateway=Gateway.BANK_TRANSFER).count() == 1
    item.get_by_text("Audit trail").click()
    expect(item.locator(".queue-trail table")).to_contain_text("Overdue")
    check(page, "queue-after-actions")
