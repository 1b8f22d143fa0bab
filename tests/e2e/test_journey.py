"""The whole journey through pages, in one browser: a provider signs up, fills its legal profile
and lists a cluster; an admin verifies it from the work queue; a customer sizes a workload,
requests from the result, reads the offers and the reasons and signs; the admin approves from
the queue; billing runs for the start date (``run_billing``, the one step not through a page);
the customer opens the invoice and downloads its PDF; the admin records the bank transfer from
the queue once the invoice is overdue; the provider sees the booking on its dashboard and, after
the month, its payout statement. Each step's page is axe-clean, does not scroll sideways at
390 px, and is saved as ``journey-*`` screenshots."""

import re
from datetime import timedelta

import pytest
from django.conf import settings
from django.core.management import call_command
from django.utils import timezone
from playwright.sync_api import expect

from accounts.models import Organization
from billing.models import Invoice, InvoiceStatus, PayoutStatement
from marketplace.models import Contract, ContractStatus
from tests.e2e.conftest import log_in, scrolls_sideways, serious_axe_violations, snap
from tests.factories import TEST_PASSWORD, OrganizationFactory, UserFactory, member_of
from tests.marketplace.test_pages import pdf_text

pytestmark = pytest.mark.django_db(transaction=True)
PASSWORD = "a-long-unusual-passphrase-7"


def field(page, label: str):
    """The input labelled exactly ``label`` (required fields' labels end with " *")."""
    return page.get_by_label(re.compile(rf"^{re.escape(label)}( \*)?$"))


def check(page, name: str) -> None:
    """Axe-clean, no script errors, and at a phone's width no sideways scroll; a screenshot."""
    page.wait_for_load_state("networkidle")
    snap(page, f"journey-{name}")
    assert serious_axe_violations(page) == [], name
    assert not scrolls_sideways(page), name
    assert page.errors == [], (name, page.errors)
    phone = page.context.new_page()
    phone.set_viewport_size({"width": 390, "height": 844})
    phone.goto(page.url)
    phone.wait_for_load_state("networkidle")
    assert not scrolls_sideways(phone), f"{name} at 390 px"
    snap(phone, f"journey-{name}")
    phone.close()


def billing_day(day) -> None:
    with open("/dev/null", "w") as quiet:
        call_command("run_billing", "--date", day.isoformat(), stdout=quiet)


def test_the_whole_journey_through_pages(new_page):
    today = timezone.localdate()
    start = today + timedelta(days=1)
    admin = UserFactory(username="platform-admin", is_staff=True)
    customer_org = OrganizationFactory(
        name="Zhipu Start-up Lab",
        legal_name="北京智谱创新实验室有限公司",
        unified_social_credit_code="91110108MA01A2B3CF",
        registered_address="北京市海淀区中关村大街 1 号",
    )
    customer = member_of(customer_org)

    # 1. A provider signs up and fills its legal profile.
    provider = new_page(lang="en")
    provider.goto("/accounts/register/")
    field(provider, "Username").fill("hefei.ops")
    field(provider, "Email address").fill("ops@hefei-compute.example")
    field(provider, "Password").fill(PASSWORD)
    field(provider, "Password again").fill(PASSWORD)
    field(provider, "Organisation name").fill("Hefei Compute Co.")
    provider.get_by_label("Provider").check()
    provider.get_by_role("button", name="Sign up").click()
    expect(provider.get_by_text("Welcome, hefei.ops. Hefei Compute Co. is set up.")).to_be_visible()
    provider.locator("summary", has_text="hefei.ops").click()
    provider.get_by_role("link", name="Organisation", exact=True).click()
    provider.wait_for_url("**/accounts/organization/")
    field(provider, "Legal name").fill("合肥算力科技有限公司")
    field(provider, "Unified social credit code").fill("91350100M000100Y43")
    field(provider, "Registered address").fill("安徽省合肥市高新区望江西路 800 号")
    field(provider, "Phone").fill("0551-6500 0000")
    field(provider, "Bank").fill("中国工商银行合肥高新支行")
    field(provider, "Bank account number").fill("1302 0100 0900 0000 001")
    field(provider, "Contact person").fill("王经理")
    field(provider, "Contact email").fill("ops@hefei-compute.example")
    provider.get_by_role("button", name="Save profile").click()
    expect(provider.get_by_text("The organisation's profile was saved.")).to_be_visible()
    check(provider, "provider-profile")
    hefei = Organization.objects.get(name="Hefei Compute Co.")
    assert hefei.is_provider and hefei.missing_legal_fields == []

    # 2. ... and lists a cluster of 10 A800 servers.
    provider.get_by_role("navigation", name="Main").get_by_role("link", name="My clusters").click()
    provider.get_by_role("link", name="Add a cluster").click()
    provider.get_by_label("Name").fill("Hefei A800 IB-01")
    provider.get_by_label("Region").select_option("hefei")
    provider.get_by_label("GPU model").select_option("A800-80G")
    provider.get_by_label(re.compile(r"^Servers")).fill("10")
    provider.locator("#rating").get_by_text("49.920 P in all, over 10 servers").wait_for()
    provider.get_by_label("Price per P per year").fill("120000")
    provider.get_by_label("Network bandwidth").fill("3200")
    field(provider, "Available from").fill(today.isoformat())
    provider.get_by_role("button", name="Save as draft").click()
    provider.get_by_text("is saved as a draft").wait_for()
    provider.get_by_role("button", name="List").click()
    provider.get_by_text("Customers will see it once a platform admin has verified").wait_for()
    check(provider, "cluster-listed")

    # 3. The admin verifies the provider from the work queue.
    staff = new_page(lang="en")
    log_in(staff, admin.username, TEST_PASSWORD)
    staff.wait_for_url("**/dashboard/")
    staff.goto("/dashboard/queue/")
    item = staff.locator(f"#queue-provider-{hefei.pk}")
    expect(item).to_contain_text("合肥算力科技有限公司")
    expect(item).to_contain_text("Hefei A800 IB-01")
    check(staff, "queue-provider")
    item.get_by_role("button", name="Verify").click()
    expect(staff.get_by_text("Hefei Compute Co. is verified")).to_be_visible()
    hefei.refresh_from_db()
    assert hefei.verified_at is not None

    # 4. A customer sizes an inference service: 6 servers of A800.
    page = new_page(lang="en")
    log_in(page, customer.username, TEST_PASSWORD)
    page.wait_for_url("**/dashboard/")
    page.goto("/market/sizing/")
    page.get_by_label("Inference", exact=True).check()
    page.get_by_label("Model size, billions of parameters").fill("7")
    page.get_by_label("Visits per day").fill("1000000")
    page.get_by_label("Questions per visit").fill("20")
    page.get_by_label("Tokens per question and answer").fill("2000")
    page.get_by_label("FP16 (dense peak)").check()
    page.get_by_label("NVIDIA A800 80GB").check()
    page.get_by_role("button", name="Calculate").click()
    expect(page.get_by_text("14.403 PFLOPS").first).to_be_visible()
    check(page, "sizing-result")

    # 5. ... requests from the result, starting tomorrow.
    page.get_by_role("link", name=re.compile("Request 6 servers")).click()
    expect(page.get_by_label("Servers", exact=True)).to_have_value("6")
    field(page, "Start date").fill(start.isoformat())
    check(page, "request-form")
    page.get_by_role("button", name="Submit and get offers").click()

    # 6. ... reads the offer and the reasons (nothing else on the market), and signs.
    expect(page.get_by_role("heading", name="Offer 1")).to_be_visible()
    offer = page.locator("article.offer").first
    expect(offer).to_contain_text("Hefei A800 IB-01")
    expect(offer).to_contain_text("29.952")  # 6 x 4.992 P
    assert "gpu_model" not in page.locator("main").inner_text()
    check(page, "quotes")
    page.get_by_role("link", name="Review and accept offer 1").click()
    expect(page.get_by_role("heading", name="Review and sign")).to_be_visible()
    expect(page.locator("main")).to_contain_text("北京智谱创新实验室有限公司")
    expect(page.locator("main")).to_contain_text("合肥算力科技有限公司")
    check(page, "accept")
    page.get_by_role("button", name="Confirm and sign").click()
    expect(page.get_by_text(re.compile(r"signed; it awaits approval"))).to_be_visible()
    contract = Contract.objects.get()
    assert contract.status == ContractStatus.PENDING_APPROVAL
    assert contract.start_date == start

    # 7. The admin approves from the queue.
    staff.goto("/dashboard/queue/")
    item = staff.locator(f"#queue-contract-{contract.pk}")
    expect(item).to_contain_text("Hefei A800 IB-01 \N{MULTIPLICATION SIGN} 6")
    check(staff, "queue-contract")
    item.get_by_role("button", name="Approve").click()
    expect(staff.locator(f"#queue-contract-{contract.pk}")).to_contain_text("approved")
    contract.refresh_from_db()
    assert contract.status == ContractStatus.APPROVED

    # 8. Billing runs for the start date: the first month's invoice.
    billing_day(start)
    invoice = Invoice.objects.get(contract=contract)
    assert invoice.status == InvoiceStatus.OPEN and invoice.number

    # 9. The customer opens the invoice and downloads its PDF, naming both parties: the
    # platform, which sells, and the customer.
    page.goto("/billing/")
    page.get_by_role("link", name=invoice.number).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(invoice.number)
    check(page, "invoice")
    # The link opens the PDF inline (the browser's viewer): fetch it with the page's cookies.
    link = page.get_by_role("link", name="Download PDF")
    response = page.context.request.get(link.get_attribute("href"))
    assert response.ok and response.headers["content-type"] == "application/pdf"
    assert f'filename="{invoice.number}.pdf"' in response.headers["content-disposition"]
    data = response.body()
    assert data.startswith(b"%PDF")
    text = pdf_text(data)
    assert "北京智谱创新实验室有限公司" in text, text[:500]
    # The platform sells (merchant of record); the customer buys.
    assert settings.PLATFORM_LEGAL_NAME in text and "Seller (merchant of record)" in text

    # 10. Unpaid past its due date, it is on the admin's queue: the bank transfer arrives.
    billing_day(invoice.due_date + timedelta(days=1))
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.OVERDUE
    staff.goto("/dashboard/queue/")
    item = staff.locator(f"#queue-invoice-{invoice.pk}")
    check(staff, "queue-invoice")
    item.get_by_label("Amount received (¥)").fill(str(invoice.amount_due))
    item.get_by_label("Bank reference").fill("ICBC-JOURNEY-1")
    item.get_by_role("button", name="Record the transfer").click()
    expect(staff.locator(f"#queue-invoice-{invoice.pk}")).to_contain_text("ICBC-JOURNEY-1")
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.PAID

    # 11. The provider sees the booking on its dashboard.
    provider.goto("/dashboard/")
    main = provider.locator("main")
    expect(main).to_contain_text("Hefei A800 IB-01")
    expect(provider.locator("svg.chart-utilisation")).to_be_visible()
    check(provider, "provider-dashboard")

    # 12. After the month, the daily run builds the payout statement; the provider opens it.
    paid_month = timezone.localtime(invoice.paid_at).date().replace(day=1)
    next_month = (paid_month + timedelta(days=32)).replace(day=1)
    billing_day(next_month)
    statement = PayoutStatement.objects.get(provider=hefei)
    provider.goto("/billing/payouts/")
    check(provider, "payouts")
    provider.locator(f"a[href='/billing/payouts/{statement.pk}/']").click()
    provider.wait_for_url(f"**/billing/payouts/{statement.pk}/")
    expect(provider.locator("main")).to_contain_text("Collected, excluding VAT")
    expect(provider.locator("main")).to_contain_text(invoice.number)
    check(provider, "payout")


@pytest.fixture
def journey_done():
    """The journey's end state, built through the services: a booked, invoiced, paid and paid-out
    contract; one waiting for approval; a request with live offers; a provider to verify."""
    from billing.payments.transfers import bank_transfer_record
    from marketplace import services
    from marketplace.models import QuoteStatus
    from tests.factories import ClusterFactory, ProviderFactory, capacity_request, gpu

    hefei = ProviderFactory(
        name="Hefei Compute Co.",
        legal_name="合肥算力科技有限公司",
        unified_social_credit_code="91340100MA2T000013",
    )
    ProviderFactory(name="Wuhu Cloud", verified_at=None)
    since = timezone.localdate() - timedelta(days=30)
    ClusterFactory(provider=hefei, name="Hefei A800 IB-01", server_count=10, available_from=since)
    ClusterFactory(
        provider=hefei, name="Hefei H800 IB-02", gpu_model=gpu("H800-80G"), available_from=since
    )
    customer_org = OrganizationFactory(
        name="Zhipu Start-up Lab", legal_name="北京智谱创新实验室有限公司"
    )
    customer = member_of(customer_org)
    admin = UserFactory(username="platform-admin", is_staff=True)
    booked = capacity_request(customer_org, servers=6)
    contract = services.quote_accept(
        quote=services.quotes_generate(capacity_request=booked, by=customer).quotes[0],
        by=customer,
    )
    services.contract_approve(contract=contract, by=admin)
    billing_day(contract.start_date)
    invoice = Invoice.objects.get(contract=contract)
    bank_transfer_record(invoice=invoice, amount=invoice.amount_due, reference="ICBC-1")
    billing_day((timezone.localdate() + timedelta(days=32)).replace(day=1))
    pending = capacity_request(customer_org, servers=2)
    services.quote_accept(
        quote=services.quotes_generate(capacity_request=pending, by=customer).quotes[0],
        by=customer,
    )
    live = capacity_request(customer_org, servers=1)
    services.quotes_generate(capacity_request=live, by=customer)
    quote = live.quotes.filter(status=QuoteStatus.OPEN).first()
    statement = PayoutStatement.objects.get(provider=hefei)
    return {
        "provider": (
            member_of(hefei),
            [
                ("provider-dashboard", "/dashboard/"),
                ("clusters-mine", "/clusters/mine/"),
                ("payouts", "/billing/payouts/"),
                ("payout", f"/billing/payouts/{statement.pk}/"),
            ],
        ),
        "customer": (
            customer,
            [
                ("customer-dashboard", "/dashboard/"),
                ("sizing", "/market/sizing/"),
                ("quotes", f"/market/requests/{live.pk}/"),
                ("accept", f"/market/quotes/{quote.pk}/accept/"),
                ("contract", f"/market/contracts/{contract.pk}/"),
                ("invoices", "/billing/"),
                ("invoice", f"/billing/invoices/{invoice.pk}/"),
            ],
        ),
        "admin": (admin, [("queue", "/dashboard/queue/")]),
    }


@pytest.mark.parametrize("lang", ["zh-hans", "en"])
def test_the_journeys_key_pages_in_both_languages_and_widths(new_page, journey_done, lang):
    from tests.translations import data_words, untranslated_words

    allowed = data_words()
    for phone in (False, True):
        for user, urls in journey_done.values():
            page = new_page(lang=lang, phone=phone)
            log_in(page, user.username, TEST_PASSWORD)
            page.wait_for_url("**/dashboard/")
            for name, url in urls:
                page.goto(url)
                page.wait_for_load_state("networkidle")
                assert page.evaluate("document.documentElement.lang") == lang, name
                snap(page, f"journey-key-{name}")
                assert serious_axe_violations(page) == [], (name, lang, phone)
                assert not scrolls_sideways(page), (name, lang, phone)
                assert page.errors == [], (name, page.errors)
                if lang == "zh-hans":
                    assert untranslated_words(page.content(), allowed) == [], (name, url)
                    if name in ("quotes", "payout"):  # an open request or statement
                        assert "待付款" not in page.locator("main").inner_text(), name  # unpaid
