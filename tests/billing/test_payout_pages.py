"""Provider payout pages: the list, one statement with its lines, its PDF and CSV; a provider
sees its own, admins all; figures with VAT and what the commission is taken on."""

import csv
import io
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.utils import timezone

from billing.documents.payouts import CSV_HEADER
from billing.ledger import invoices as ledger
from billing.models import Invoice
from billing.payouts import statements
from inventory.models import Outage
from tests.billing.conftest import make_contract
from tests.factories import ProviderFactory, member_of
from tests.marketplace.test_pages import pdf_text
from tests.translations import data_words, untranslated_words

pytestmark = pytest.mark.django_db

SHANGHAI = ZoneInfo("Asia/Shanghai")
ZH = {"HTTP_ACCEPT_LANGUAGE": "zh-hans"}


@pytest.fixture
def statement(customer, cluster, run_day):
    contract = make_contract(customer, start=date(2027, 3, 1), stakes=[(cluster, 2)])
    Outage.objects.create(
        cluster=cluster,
        start=datetime(2027, 6, 10, 8, tzinfo=SHANGHAI),
        end=datetime(2027, 6, 10, 10, tzinfo=SHANGHAI),
        servers_affected=5,
        description="Switch fault",
    )
    run_day(date(2027, 7, 1))
    july = Invoice.objects.get(contract=contract, period_start=date(2027, 7, 1))
    ledger.invoice_apply_payment(invoice=july, amount=july.total, actor_label="test")
    [built] = statements.payouts_build(month=timezone.localdate().replace(day=1))
    return built


@pytest.fixture
def provider_user(provider):
    return member_of(provider)


def test_the_provider_lists_and_opens_its_statement_with_vat_and_commission_base(
    client, provider_user, statement, django_assert_max_num_queries
):
    client.force_login(provider_user)
    with django_assert_max_num_queries(10):
        listing = client.get("/billing/payouts/")
    html = listing.content.decode()
    assert listing.status_code == 200 and f"/billing/payouts/{statement.pk}/" in html
    assert "¥99,840.00" in html and "¥5,651.32" in html and "¥90,333.60" in html
    with django_assert_max_num_queries(10):
        detail = client.get(f"/billing/payouts/{statement.pk}/")
    page = detail.content.decode()
    assert "¥94,188.68" in page and "¥9,418.87" in page and "¥87.53" in page
    assert "10% of the amount collected, excluding VAT" in page
    assert statement.lines.get().description in page


def test_the_pdf_names_payer_and_payee_and_says_what_commission_is_taken_on(
    client, provider_user, statement, provider
):
    provider.legal_name = "合肥算力科技有限公司"
    provider.bank_name = "合肥科技农商银行"
    provider.bank_account = "2000 1111 2222"
    provider.save()
    client.force_login(provider_user)
    response = client.get(f"/billing/payouts/{statement.pk}/pdf/")
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    text = pdf_text(response.content)
    for expected in (
        "Payout statement",
        settings.PLATFORM_LEGAL_NAME_EN,
        settings.PLATFORM_CREDIT_CODE,
        "合肥算力科技有限公司",
        "2000 1111 2222",
        "¥99,840.00",
        "¥5,651.32",
        "¥94,188.68",
        "10% of the amount collected, excluding VAT",
        "¥90,333.60",
    ):
        assert expected in text, expected
    chinese = pdf_text(client.get(f"/billing/payouts/{statement.pk}/pdf/", **ZH).content)
    assert "结算单" in chinese and "不含税" in chinese


def test_the_csv_has_the_lines_and_a_total(client, provider_user, statement):
    client.force_login(provider_user)
    response = client.get(f"/billing/payouts/{statement.pk}/csv/")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    text = response.content.decode("utf-8")
    assert text.startswith("\ufeff")
    rows = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))
    assert list(rows[0]) == CSV_HEADER
    line, total = rows
    assert (line["collected"], line["vat"], line["commission"], line["payable"]) == (
        "99840.00",
        "5651.32",
        "9418.87",
        "90333.60",
    )
    assert line["commission_base"] == "net_of_vat"
    assert total["description"] == "total" and total["payable"] == "90333.60"


def test_other_providers_and_customers_get_404_staff_see_all(
    client, statement, customer, staff_user
):
    client.force_login(member_of(ProviderFactory(name="Someone else")))
    assert (
        f"/billing/payouts/{statement.pk}/" not in client.get("/billing/payouts/").content.decode()
    )
    for suffix in ("", "pdf/", "csv/"):
        assert client.get(f"/billing/payouts/{statement.pk}/{suffix}").status_code == 404
    client.force_login(customer.memberships.first().user)
    assert client.get(f"/billing/payouts/{statement.pk}/").status_code == 404
    client.force_login(staff_user)
    assert client.get(f"/billing/payouts/{statement.pk}/").status_code == 200
    assert "Hefei Compute" in client.get("/billing/payouts/").content.decode()


def test_the_payout_pages_in_chinese_have_no_english_left(client, provider_user, statement):
    client.force_login(provider_user)
    allowed = data_words()
    for url in ("/billing/payouts/", f"/billing/payouts/{statement.pk}/"):
        assert untranslated_words(client.get(url, **ZH).content.decode(), allowed) == [], url
