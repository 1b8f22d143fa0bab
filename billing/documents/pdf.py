"""The customer's statement (账单 / Statement) as a PDF, in the reader's language.

Not a fapiao: fapiao come from the tax-control system (``billing.fapiao``). The statement names
the seller (the platform, merchant of record: ``PLATFORM_*`` settings) and the buyer (the
customer organisation), each with legal name, unified social credit code, registered address and
phone, bank and account; then the lines with the dates each covers, the totals and credit notes.

No queries: callers pass invoices with their customer, lines and credit notes loaded. Layout
through ``accounts.pdf`` (A4, Chinese in the CID font, figures as searchable text).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from django.conf import settings
from django.utils.formats import date_format
from django.utils.translation import get_language, gettext

from accounts import pdf
from accounts.formatting import format_money
from accounts.models import Organization
from billing.documents.words import line_words
from billing.models import Invoice

NO_VALUE = "—"


@dataclass(frozen=True)
class Party:
    """A party to the statement, as the statement prints it."""

    legal_name: str
    credit_code: str
    registered_address: str
    phone: str
    bank_name: str
    bank_account: str


def platform_party() -> Party:
    """The platform's own legal entity (the seller), from settings; the English name in English."""
    english = (get_language() or "").startswith("en")
    return Party(
        legal_name=(
            settings.PLATFORM_LEGAL_NAME_EN
            if english and settings.PLATFORM_LEGAL_NAME_EN
            else settings.PLATFORM_LEGAL_NAME
        ),
        credit_code=settings.PLATFORM_CREDIT_CODE,
        registered_address=settings.PLATFORM_REGISTERED_ADDRESS,
        phone=settings.PLATFORM_PHONE,
        bank_name=settings.PLATFORM_BANK_NAME,
        bank_account=settings.PLATFORM_BANK_ACCOUNT,
    )


def organization_party(organization: Organization) -> Party:
    return Party(
        legal_name=organization.legal_name or organization.name,
        credit_code=organization.unified_social_credit_code,
        registered_address=organization.registered_address,
        phone=organization.phone,
        bank_name=organization.bank_name,
        bank_account=organization.bank_account,
    )


def party_block(heading: str, party: Party) -> list:
    """A party's heading and legal details (also used by the provider's payout statement)."""
    pairs = [
        (gettext("Legal name"), party.legal_name),
        (gettext("Unified social credit code"), party.credit_code),
        (gettext("Registered address and phone"), f"{party.registered_address} {party.phone}"),
        (gettext("Bank and account"), f"{party.bank_name} {party.bank_account}"),
    ]
    return [
        *pdf.heading(heading, size=10),
        pdf.key_values([(label, value.strip() or NO_VALUE) for label, value in pairs]),
    ]


def day(value: date | None) -> str:
    return date_format(value, "DATE_FORMAT") if value else NO_VALUE


def covers(start: date | None, end: date | None) -> str:
    """``[start, end)`` as the first and last day it covers, or a dash without dates."""
    if start is None or end is None:
        return NO_VALUE
    return gettext("%(first)s to %(last)s") % {
        "first": f"{start:%Y-%m-%d}",
        "last": f"{end - timedelta(days=1):%Y-%m-%d}",
    }


def invoice_pdf(invoice: Invoice) -> bytes:
    """The statement: seller and buyer, facts, the lines with their dates, totals, credit notes."""
    number = invoice.number or gettext("Draft %(id)s") % {"id": invoice.pk}
    currency = invoice.currency
    story = pdf.title(
        gettext("Statement"),
        subtitle=gettext("Statement %(number)s · not a fapiao") % {"number": number},
    )
    story += party_block(gettext("Seller (merchant of record)"), platform_party())
    story += party_block(
        gettext("Buyer: %(name)s") % {"name": invoice.customer.name},
        organization_party(invoice.customer),
    )
    story += pdf.heading(gettext("Statement details"))
    story.append(
        pdf.key_values(
            [
                (gettext("Number"), number),
                (gettext("Contract"), str(invoice.contract_id)),
                (gettext("Period"), covers(invoice.period_start, invoice.period_end)),
                (gettext("Issue date"), day(invoice.issue_date)),
                (gettext("Due date"), day(invoice.due_date)),
                (gettext("Status"), invoice.get_status_display()),
            ]
        )
    )
    story += pdf.heading(gettext("Lines"))
    columns = [
        pdf.Column(gettext("Description"), 0.3),
        pdf.Column(gettext("Dates covered"), 0.2),
        pdf.Column(gettext("Net"), 0.14, numeric=True),
        pdf.Column(gettext("VAT rate"), 0.08, numeric=True),
        pdf.Column(gettext("VAT"), 0.12, numeric=True),
        pdf.Column(gettext("Amount"), 0.16, numeric=True),
    ]
    rows = [
        [
            line_words(line, invoice),
            covers(line.period_start, line.period_end),
            format_money(line.net, currency),
            f"{format((line.tax_rate * 100).normalize(), 'f')}%",
            format_money(line.tax, currency),
            format_money(line.amount, currency),
        ]
        for line in invoice.lines.all()
    ]
    story.append(pdf.table(columns, rows))
    story.append(pdf.spacer(3))
    story.append(
        pdf.key_values(
            [
                (gettext("Net of VAT"), format_money(invoice.subtotal, currency)),
                (gettext("VAT"), format_money(invoice.tax, currency)),
                (gettext("Total, tax included"), format_money(invoice.total, currency)),
                (gettext("Paid"), format_money(invoice.amount_paid, currency)),
                (gettext("Amount due"), format_money(invoice.amount_due, currency)),
            ],
            label_share=0.6,
        )
    )
    notes = list(invoice.credit_notes.all())
    if notes:
        story += pdf.heading(gettext("Credit notes"))
        story.append(
            pdf.table(
                [
                    pdf.Column(gettext("Number"), 0.2),
                    pdf.Column(gettext("Date"), 0.16),
                    pdf.Column(gettext("Reason"), 0.44),
                    pdf.Column(gettext("Amount"), 0.2, numeric=True),
                ],
                [
                    [
                        note.number,
                        day(note.created_at.date()),
                        note.reason,
                        format_money(-note.amount, currency),
                    ]
                    for note in notes
                ],
            )
        )
    story.append(pdf.spacer(4))
    story.append(
        pdf.paragraph(
            gettext(
                "Amounts include VAT. This statement is not a fapiao: request one for a paid "
                "statement on the billing pages."
            ),
            size=8,
        )
    )
    return pdf.build(
        story,
        title=gettext("Statement %(number)s") % {"number": number},
        author=settings.PLATFORM_LEGAL_NAME,
        footer=gettext("Statement %(number)s · %(seller)s")
        % {"number": number, "seller": platform_party().legal_name},
    )
