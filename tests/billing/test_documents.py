"""The invoice PDF (Chinese title, opens, says what the invoice says) and the CSV export."""

import csv
import io
import re
from datetime import date
from decimal import Decimal

import pytest

from billing import documents
from billing.credits import credit_notes
from billing.documents import export
from billing.models import Invoice, InvoiceLine
from tests.billing.conftest import make_contract, new_customer

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
    assert b"/STSong-Light" in data  # the CID font for 发票 and the customer's name
    for text in (invoice.number, "2027-03-01 to 2027-03-31", "47,094.34", "2,825.66", "49,920.00"):
        assert f"({text})".encode() in data, text


def test_the_pdf_title_is_in_chinese(invoice):
    data = documents.invoice_pdf(invoice)
    # CID text is UTF-16BE in the content stream: 发 U+53D1, 票 U+7968.
    assert re.search(rb"\(S\\321yh", data) or "发票".encode("utf-16-be") in data


def test_a_long_invoice_runs_onto_more_pages(invoice):
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
    assert len(re.findall(rb"/Type /Page\b", data)) >= 3
    assert b"\\(continued\\)" in data  # parentheses are escaped in PDF strings


def test_the_pdf_lists_credit_notes(invoice):
    credit_notes.credit_note_issue(invoice=invoice, amount=Decimal("920.00"), reason="Goodwill")
    data = documents.invoice_pdf(Invoice.objects.get(pk=invoice.pk))
    assert b"Credit notes" in data and b"Goodwill" in data


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
