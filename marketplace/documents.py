"""The contract as a PDF, in the reader's language: parties with their legal profiles, the
servers, the term, the price and its VAT split, and when it was signed and approved.

No queries here: callers pass the contract with its lines, providers and history loaded, and
what the viewer may see of it (``marketplace.selectors.contract_view``): a provider gets only
its own lines and no totals.
"""

from decimal import Decimal

from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext, ngettext

from accounts import pdf
from accounts.formatting import format_money, format_p, format_percent, format_rate
from accounts.models import Organization
from marketplace.models import Contract, ContractStatus
from marketplace.selectors import ContractView, HistoryRow, Parties, region_label

NO_VALUE = "—"


def _day(value) -> str:
    return date_format(value, "DATE_FORMAT")


def _moment(value) -> str:
    return date_format(timezone.localtime(value), "DATETIME_FORMAT")


def _party(role: str, organization: Organization) -> list:
    """A party's legal profile under ``role``, a heading with a ``%(name)s`` placeholder."""
    pairs = [
        (gettext("Legal name"), organization.legal_name or organization.name),
        (gettext("Unified social credit code"), organization.unified_social_credit_code),
        (gettext("Registered address"), organization.registered_address),
        (gettext("Phone"), organization.phone),
        (gettext("Bank"), organization.bank_name),
        (gettext("Bank account"), organization.bank_account),
        (gettext("Contact"), organization.contact_name),
        (gettext("Contact email"), organization.contact_email),
    ]
    return [
        *pdf.heading(role % {"name": organization.name}, size=10),
        pdf.key_values([(label, value or NO_VALUE) for label, value in pairs]),
    ]


def contract_pdf(
    contract: Contract,
    *,
    view: ContractView,
    parties: Parties,
    history: list[HistoryRow],
    monthly_price: Decimal,
    tax_split: tuple[Decimal, Decimal],
) -> bytes:
    number = gettext("Contract %(number)s") % {"number": contract.pk}
    story = pdf.title(
        gettext("Compute capacity contract"),
        subtitle=f"{number} · {contract.get_status_display()}",
    )

    story += pdf.heading(gettext("Parties"))
    story += _party(gettext("Customer: %(name)s"), parties.customer)
    for provider in parties.providers:
        story += _party(gettext("Provider: %(name)s"), provider)

    story += pdf.heading(gettext("Term"))
    term = [
        (gettext("Start date"), _day(contract.start_date)),
        (gettext("End date (service ends at the start of this day)"), _day(contract.end_date)),
        (
            gettext("Term"),
            ngettext("%(months)d month", "%(months)d months", contract.term_months)
            % {"months": contract.term_months},
        ),
    ]
    if contract.termination_date:
        term += [
            (gettext("Terminated from"), _day(contract.termination_date)),
            (gettext("Reason for termination"), contract.termination_reason),
        ]
    story.append(pdf.key_values(term))

    story += pdf.heading(gettext("Servers"))
    columns = [
        pdf.Column(gettext("Cluster"), 0.26),
        pdf.Column(gettext("Region"), 0.14),
        pdf.Column(gettext("GPU model"), 0.2),
        pdf.Column(gettext("Servers"), 0.1, numeric=True),
        pdf.Column(gettext("P"), 0.12, numeric=True),
        pdf.Column(gettext("Price per P per year"), 0.18, numeric=True),
    ]
    rows = [
        [
            line.cluster.name,
            region_label(line.cluster.region.name, line.cluster.region.name_zh),
            line.cluster.gpu_model.name,
            f"{line.servers:,}",
            format_p(line.p),
            format_rate(line.price_per_p_year, contract.currency),
        ]
        for line in view.lines
    ]
    story.append(pdf.table(columns, rows))

    if view.show_totals:
        net, tax = tax_split
        story += pdf.heading(gettext("Price (tax included)"))
        story.append(
            pdf.key_values(
                [
                    (gettext("Total P"), format_p(contract.total_p)),
                    (
                        gettext("Price per P per year"),
                        format_rate(contract.price_per_p_year, contract.currency),
                    ),
                    (gettext("Monthly charge"), format_money(monthly_price, contract.currency)),
                    (
                        gettext("Annual price"),
                        format_money(contract.annual_price, contract.currency),
                    ),
                    (
                        gettext("Total for the term"),
                        format_money(contract.total_price, contract.currency),
                    ),
                    (gettext("of which net of VAT"), format_money(net, contract.currency)),
                    (
                        gettext("of which VAT at %(rate)s")
                        % {"rate": format_percent(contract.vat_rate * 100, 0)},
                        format_money(tax, contract.currency),
                    ),
                ]
            )
        )

    story += pdf.heading(gettext("Signature and approval"))
    signed = gettext("%(when)s by %(who)s") % {
        "when": _moment(contract.created_at),
        "who": contract.signed_by.username if contract.signed_by else NO_VALUE,
    }
    approvals = [row for row in history if row.to_code == ContractStatus.APPROVED]
    approved = (
        gettext("%(when)s by %(who)s") % {"when": _moment(approvals[0].at), "who": approvals[0].by}
        if approvals
        else gettext("Not approved yet")
    )
    story.append(pdf.key_values([(gettext("Signed"), signed), (gettext("Approved"), approved)]))

    story += pdf.heading(gettext("History"))
    story.append(
        pdf.table(
            [
                pdf.Column(gettext("When"), 0.22),
                pdf.Column(gettext("From"), 0.16),
                pdf.Column(gettext("To"), 0.16),
                pdf.Column(gettext("By"), 0.16),
                pdf.Column(gettext("Reason"), 0.3),
            ],
            [
                [_moment(row.at), row.from_status or NO_VALUE, row.to_status, row.by, row.reason]
                for row in history
            ],
        )
    )
    return pdf.build(
        story,
        title=number,
        author=gettext("Compute Market"),
        footer=gettext("Compute Market · prices per P per year, tax included"),
    )
