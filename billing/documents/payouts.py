"""The provider's payout statement as a PDF and CSV, in the reader's language: payer (the
platform) and payee (the provider) with their legal details, what was collected (tax
included), its VAT and the VAT-exclusive amount, the commission and what it is taken on, SLA
credits withheld and the amount payable, then the lines. No queries: callers pass the statement
with its provider and lines (and their invoices) loaded."""

from __future__ import annotations

import csv
import io

from django.conf import settings
from django.utils.translation import gettext

from accounts import pdf
from accounts.formatting import format_money
from billing.documents.export import csv_cell
from billing.documents.pdf import covers, organization_party, party_block, platform_party
from billing.models import CommissionBase, PayoutStatement

CSV_HEADER = [
    "statement",
    "provider",
    "month",
    "invoice",
    "contract",
    "description",
    "collected",
    "vat",
    "collected_net_of_vat",
    "commission_base",
    "commission",
    "sla_withheld",
    "payable",
]


def commission_label(statement: PayoutStatement) -> str:
    """``10% of the amount collected, excluding VAT``: the rate and what it is taken on."""
    return gettext("%(rate)s of %(base)s") % {
        "rate": f"{format((statement.commission_rate * 100).normalize(), 'f')}%",
        "base": CommissionBase(statement.commission_base).label,
    }


def payout_title(statement: PayoutStatement) -> str:
    return gettext("Payout statement %(provider)s %(month)s") % {
        "provider": statement.provider.name,
        "month": f"{statement.period_start:%Y-%m}",
    }


def payout_pdf(statement: PayoutStatement) -> bytes:
    money = format_money
    story = pdf.title(
        gettext("Payout statement"),
        subtitle=gettext("%(month)s · %(status)s")
        % {"month": f"{statement.period_start:%Y-%m}", "status": statement.get_status_display()},
    )
    story += party_block(gettext("Payer (merchant of record)"), platform_party())
    story += party_block(
        gettext("Payee: %(name)s") % {"name": statement.provider.name},
        organization_party(statement.provider),
    )
    story += pdf.heading(gettext("Summary"))
    story.append(
        pdf.key_values(
            [
                (
                    gettext("Payments received"),
                    covers(statement.period_start, statement.period_end),
                ),
                (gettext("Collected, tax included"), money(statement.collected)),
                (gettext("of which VAT"), money(statement.vat)),
                (gettext("Collected, excluding VAT"), money(statement.collected_net_of_vat)),
                (gettext("Commission taken on"), commission_label(statement)),
                (gettext("Commission"), money(-statement.commission)),
                (gettext("SLA credits withheld"), money(-statement.sla_withheld)),
                (gettext("Payable to the provider"), money(statement.payable)),
            ],
            label_share=0.45,
        )
    )
    story += pdf.heading(gettext("Lines"))
    columns = [
        pdf.Column(gettext("Description"), 0.28),
        pdf.Column(gettext("Collected"), 0.12, numeric=True),
        pdf.Column(gettext("VAT"), 0.1, numeric=True),
        pdf.Column(gettext("Excluding VAT"), 0.13, numeric=True),
        pdf.Column(gettext("Commission"), 0.12, numeric=True),
        pdf.Column(gettext("SLA withheld"), 0.12, numeric=True),
        pdf.Column(gettext("Payable"), 0.13, numeric=True),
    ]
    rows = [
        [
            line.description,
            money(line.collected),
            money(line.vat),
            money(line.collected_net_of_vat),
            money(line.commission),
            money(line.sla_withheld),
            money(line.payable),
        ]
        for line in statement.lines.all()
    ]
    story.append(pdf.table(columns, rows))
    title = payout_title(statement)
    return pdf.build(
        story,
        title=title,
        author=settings.PLATFORM_LEGAL_NAME,
        footer=f"{title} · {platform_party().legal_name}",
    )


def payout_csv(statement: PayoutStatement) -> str:
    """The statement's lines as CSV (UTF-8 with a byte-order mark), then a total row."""
    buffer = io.StringIO()
    buffer.write("\ufeff")
    writer = csv.writer(buffer)
    writer.writerow(CSV_HEADER)
    month = f"{statement.period_start:%Y-%m}"
    for line in statement.lines.all():
        writer.writerow(
            [
                csv_cell(value)
                for value in (
                    statement.pk,
                    statement.provider.name,
                    month,
                    line.invoice.number if line.invoice else "",
                    line.contract_id,
                    line.description,
                    line.collected,
                    line.vat,
                    line.collected_net_of_vat,
                    line.commission_base,
                    line.commission,
                    line.sla_withheld,
                    line.payable,
                )
            ]
        )
    writer.writerow(
        [
            csv_cell(value)
            for value in (
                statement.pk,
                statement.provider.name,
                month,
                "",
                "",
                "total",
                statement.collected,
                statement.vat,
                statement.collected_net_of_vat,
                statement.commission_base,
                statement.commission,
                statement.sla_withheld,
                statement.payable,
            )
        ]
    )
    return buffer.getvalue()
