"""Invoice lines in the reader's language.

A rental line's stored ``description`` is English text written when it was issued (for exports
and the audit); pages and statements say the same from the line's own figures in the reader's
language. Other lines (SLA credits, adjustments) carry the details they were written with.
"""

from django.utils.translation import gettext

from accounts.formatting import format_p, format_rate
from billing.models import Invoice, InvoiceLine, InvoiceLineKind


def line_words(line: InvoiceLine, invoice: Invoice) -> str:
    """What ``line`` of ``invoice`` is, in the active language."""
    if line.kind != InvoiceLineKind.RENTAL or line.period_start is None:
        return line.description
    contract = invoice.contract
    figures = {
        "month": invoice.period_index + 1,
        "months": contract.term_months,
        "p": format_p(contract.total_p),
        "rate": format_rate(contract.price_per_p_year),
    }
    days = (line.period_end - line.period_start).days
    month_days = (invoice.period_end - invoice.period_start).days
    if days >= month_days:
        return (
            gettext(
                "Compute rental, contract month %(month)s of %(months)s: %(p)s P at %(rate)s "
                "per P per year"
            )
            % figures
        )
    return gettext(
        "Compute rental, contract month %(month)s of %(months)s, %(days)s of its %(month_days)s "
        "days: %(p)s P at %(rate)s per P per year"
    ) % {**figures, "days": days, "month_days": month_days}
