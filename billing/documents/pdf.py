"""The invoice PDF customers download (A4). No queries: callers pass invoices with their
customer, lines and credit notes loaded.

PDF: A4, reportlab's canvas. Chinese text uses the built-in CID font ``STSong-Light`` (no font
file needed); Latin text and figures use Helvetica, so numbers are plain text in the page
content (and searchable). Pages are not compressed, which keeps them easy to check.
"""

from __future__ import annotations

import io
from datetime import timedelta
from decimal import Decimal

from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.lib.utils import simpleSplit
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen import canvas

from billing.models import Invoice

CJK_FONT = "STSong-Light"
LATIN_FONT = "Helvetica"
LATIN_BOLD = "Helvetica-Bold"
MARGIN = 18 * mm
PLATFORM = "Compute Market · 算力租赁"

_registered = False


def _register_fonts() -> None:
    global _registered
    if not _registered:
        pdfmetrics.registerFont(UnicodeCIDFont(CJK_FONT))
        _registered = True


def _font_for(text: str, latin: str = LATIN_FONT) -> str:
    """Helvetica covers Latin-1; anything else (Chinese names) needs the CID font."""
    try:
        text.encode("latin-1")
    except UnicodeEncodeError:
        return CJK_FONT
    return latin


def _money(amount: Decimal, currency: str = "") -> str:
    text = f"{amount:,.2f}"
    return f"{currency} {text}" if currency else text


def _percent(rate: Decimal) -> str:
    return f"{format((rate * 100).normalize(), 'f')}%"


class _Page:
    """A cursor down an A4 page that starts a new page when it runs out of room."""

    def __init__(self, pdf: canvas.Canvas, invoice_number: str):
        self.pdf = pdf
        self.number = invoice_number
        self.width, self.height = A4
        self.y = self.height - MARGIN

    def need(self, height: float) -> None:
        if self.y - height < MARGIN + 10 * mm:
            self.footer()
            self.pdf.showPage()
            self.y = self.height - MARGIN
            self.text(MARGIN, f"{self.number} (continued)", size=9)
            self.y -= 6 * mm

    def text(self, x: float, text: str, *, size: float = 10, bold: bool = False) -> None:
        font = _font_for(text, LATIN_BOLD if bold else LATIN_FONT)
        self.pdf.setFont(font, size)
        self.pdf.drawString(x, self.y, text)

    def right(self, x: float, text: str, *, size: float = 10, bold: bool = False) -> None:
        font = _font_for(text, LATIN_BOLD if bold else LATIN_FONT)
        self.pdf.setFont(font, size)
        self.pdf.drawRightString(x, self.y, text)

    def rule(self) -> None:
        self.pdf.setLineWidth(0.5)
        self.pdf.line(MARGIN, self.y, self.width - MARGIN, self.y)

    def footer(self) -> None:
        self.pdf.setFont(CJK_FONT, 8)
        self.pdf.drawString(MARGIN, MARGIN / 2, f"{PLATFORM} · 价格含税 (prices include VAT)")
        self.pdf.setFont(LATIN_FONT, 8)
        self.pdf.drawRightString(
            self.width - MARGIN, MARGIN / 2, f"{self.number} · page {self.pdf.getPageNumber()}"
        )


def invoice_pdf(invoice: Invoice) -> bytes:
    """The invoice as a PDF: title 发票 / Invoice, number, customer, period, lines, totals."""
    _register_fonts()
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=A4, pageCompression=0)
    number = invoice.number or f"DRAFT-{invoice.pk}"
    pdf.setTitle(f"Invoice {number}")
    pdf.setAuthor(PLATFORM)
    page = _Page(pdf, number)
    right_edge = page.width - MARGIN

    page.pdf.setFont(CJK_FONT, 20)
    page.pdf.drawString(MARGIN, page.y, "发票 / Invoice")
    page.right(right_edge, number, size=14, bold=True)
    page.y -= 10 * mm
    last_day = invoice.period_end - timedelta(days=1)
    facts = [
        ("Customer", invoice.customer.name),
        ("Contract", str(invoice.contract_id)),
        ("Period", f"{invoice.period_start:%Y-%m-%d} to {last_day:%Y-%m-%d}"),
        ("Issue date", f"{invoice.issue_date:%Y-%m-%d}" if invoice.issue_date else "-"),
        ("Due date", f"{invoice.due_date:%Y-%m-%d}" if invoice.due_date else "-"),
        ("Status", invoice.get_status_display()),
    ]
    for label, value in facts:
        page.text(MARGIN, label, size=10, bold=True)
        page.text(MARGIN + 30 * mm, value, size=10)
        page.y -= 5.5 * mm

    page.y -= 4 * mm
    columns = {
        "net": right_edge - 75 * mm,
        "rate": right_edge - 55 * mm,
        "tax": right_edge - 30 * mm,
    }
    page.text(MARGIN, "Description", bold=True)
    page.right(columns["net"], "Net", bold=True)
    page.right(columns["rate"], "VAT", bold=True)
    page.right(columns["tax"], "Tax", bold=True)
    page.right(right_edge, f"Amount ({invoice.currency})", bold=True)
    page.y -= 2 * mm
    page.rule()
    page.y -= 5 * mm
    description_width = columns["net"] - MARGIN - 25 * mm
    for line in invoice.lines.all():
        wrapped = simpleSplit(line.description, _font_for(line.description), 9, description_width)
        page.need(5 * mm * len(wrapped))
        page.right(columns["net"], _money(line.net), size=9)
        page.right(columns["rate"], _percent(line.tax_rate), size=9)
        page.right(columns["tax"], _money(line.tax), size=9)
        page.right(right_edge, _money(line.amount), size=9)
        for part in wrapped:
            page.text(MARGIN, part, size=9)
            page.y -= 4.5 * mm
        page.y -= 1.5 * mm
    page.rule()
    page.y -= 6 * mm

    totals = [
        ("Net 不含税金额", invoice.subtotal),
        ("VAT 税额", invoice.tax),
        ("Total 价税合计", invoice.total),
        ("Paid", invoice.amount_paid),
        ("Amount due", invoice.amount_due),
    ]
    for label, amount in totals:
        page.need(6 * mm)
        bold = label.startswith("Total")
        page.pdf.setFont(CJK_FONT, 10)
        page.pdf.drawRightString(columns["tax"], page.y, label)
        page.right(right_edge, _money(amount, invoice.currency), bold=bold)
        page.y -= 6 * mm

    notes = list(invoice.credit_notes.all())
    if notes:
        page.y -= 4 * mm
        page.need(6 * mm)
        page.text(MARGIN, "Credit notes", bold=True)
        page.y -= 5.5 * mm
        for note in notes:
            page.need(5 * mm)
            page.text(MARGIN, f"{note.number} ({note.created_at:%Y-%m-%d}): {note.reason}"[:110])
            page.right(right_edge, _money(-note.amount, invoice.currency))
            page.y -= 5 * mm
    page.footer()
    pdf.showPage()
    pdf.save()
    return buffer.getvalue()
