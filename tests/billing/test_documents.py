"""The statement PDF (账单 / Statement: seller, buyer, dated lines) and the CSV export."""

import csv
import io
import re
from datetime import date
from decimal import Decimal

import pytest
from django.conf import settings
from django.utils import translation

from billing import documents
from billing.credits import credit_notes
from billing.documents import export
from billing.models import Invoice, InvoiceLine
from tests.billing.conftest import make_contract, new_customer
from tests.marketplace.test_pages import pdf_text

pytestmark = pytest.mark.django_db

MARCH = date(2027, 3, 1)


@pytest.fixture
def invoice(cluster, run_day):
    customer = new_customer("深圳智算科技有限公司")  # a Chinese customer name
    contract = make_contract(customer, start=MARCH, stakes=[(cluster, 1)])
    run_day(MARCH)
    return Invoice.objects.get(contract=contract)


def test_the_pdf_opens_and_shows_number_period_and_totals(invoice):
    data = documents.invoice_pdf(invoice)
    assert data.startswith(b"%PDF-")
    assert data.rstrip().endswith(b"%%EOF")
    assert len(re.findall(rb"/Type /Page\b", data)) == 1
    assert b"/STSong-Light" in data  # the CID font for the customer's Chinese name
    text = pdf_text(data)
    for expected in (invoice.number, "2027-03-01 to 2027-03-31", "47,094.34", "2,825.66"):
        assert expected in text, expected
    assert "¥49,920.00" in text


def test_it_is_a_statement_naming_seller_and_buyer_with_their_legal_details(invoice):
    customer = invoice.customer
    customer.legal_name = "深圳智算科技有限公司"
    customer.registered_address = "深圳市南山区科技园 8 号"
    customer.phone = "0755-8600 0000"
    customer.bank_name = "中国银行深圳南山支行"
    customer.bank_account = "7788 9900 1122"
    text = pdf_text(documents.invoice_pdf(invoice))
    assert "Statement" in text and "not a fapiao" in text
    assert "Invoice" not in text
    assert "Seller (merchant of record)" in text
    for seller in (
        settings.PLATFORM_LEGAL_NAME_EN,
        settings.PLATFORM_CREDIT_CODE,
        settings.PLATFORM_REGISTERED_ADDRESS,
        settings.PLATFORM_PHONE,
        settings.PLATFORM_BANK_NAME,
        settings.PLATFORM_BANK_ACCOUNT,
    ):
        assert seller in text, seller
    for buyer in (
        "深圳市南山区科技园 8 号",
        "0755-8600 0000",
        "中国银行深圳南山支行",
        "7788 9900 1122",
    ):
        assert buyer in text, buyer
    line = invoice.lines.first()
    assert f"{line.period_start:%Y-%m-%d} to " in text  # each line states the dates it covers


def test_in_chinese_the_title_is_zhangdan_not_fapiao(invoice):
    with translation.override("zh-hans"):
        text = pdf_text(documents.invoice_pdf(invoice))
    assert "账单" in text and "销售方" in text and "购买方" in text
    assert settings.PLATFORM_LEGAL_NAME in text
    assert "不是发票" in text  # it says it is not a fapiao, which only the tax system issues


def test_a_long_statement_runs_onto_more_pages(invoice):
    Invoice.objects.filter(pk=invoice.pk).update(status="draft")
    InvoiceLine.objects.bulk_create(
        InvoiceLine(
            invoice=invoice,
            kind="adjustment",
            description=f"Cross-connect {n}",
            amount=Decimal("10.60"),
            tax_rate=Decimal("0.06"),
            net=Decimal("10.00"),
            tax=Decimal("0.60"),
            position=n + 1,
        )
        for n in range(120)
    )
    data = documents.invoice_pdf(Invoice.objects.get(pk=invoice.pk))
    pages = len(re.findall(rb"/Type /Page\b", data))
    assert pages >= 3
    assert pdf_text(data).count("Dates covered") == pages  # the header repeats on every page


def test_the_pdf_lists_credit_notes(invoice):
    credit_notes.credit_note_issue(invoice=invoice, amount=Decimal("920.00"), reason="Goodwill")
    text = pdf_text(documents.invoice_pdf(Invoice.objects.get(pk=invoice.pk)))
    assert "Credit notes" in text and "Goodwill" in text and "-¥920.00" in text


def test_the_csv_has_a_header_and_one_row_per_invoice(invoice):
    text = "".join(documents.invoices_csv([invoice]))
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    assert rows[0] == export.CSV_HEADER
    row = dict(zip(rows[0], rows[1], strict=True))
    assert row["number"] == invoice.number
    assert row["customer"] == "深圳智算科技有限公司"
    assert (row["subtotal"], row["tax"], row["total"], row["amount_due"]) == (
        "47094.34",
        "2825.66",
        "49920.00",
        "49920.00",
    )


def test_csv_cells_that_look_like_formulas_are_defused(invoice):
    invoice.customer.name = "=HYPERLINK(1)"
    row = export.invoice_csv_row(invoice)
    assert row[2] == "'=HYPERLINK(1)"
    assert export._cell(Decimal("-12.50")) == "-12.50"  # negative numbers stay numbers
