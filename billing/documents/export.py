"""The invoices CSV admins export, streamed a row at a time. No queries: callers pass invoices
with their customer loaded."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from decimal import Decimal

from billing.models import Invoice

CSV_HEADER = [
    "number",
    "status",
    "customer",
    "customer_id",
    "contract",
    "period_start",
    "period_end",
    "issue_date",
    "due_date",
    "currency",
    "subtotal",
    "tax",
    "total",
    "amount_paid",
    "amount_due",
]


def _cell(value) -> str:
    """A CSV cell; text that a spreadsheet would run as a formula is defused with a quote."""
    text = "" if value is None else str(value)
    if text[:1] in ("=", "+", "-", "@", "\t", "\r") and not _is_number(text):
        return "'" + text
    return text


def _is_number(text: str) -> bool:
    try:
        Decimal(text)
    except ArithmeticError:
        return False
    return True


def invoice_csv_row(invoice: Invoice) -> list[str]:
    return [
        _cell(value)
        for value in (
            invoice.number,
            invoice.status,
            invoice.customer.name,
            invoice.customer_id,
            invoice.contract_id,
            invoice.period_start,
            invoice.period_end,
            invoice.issue_date,
            invoice.due_date,
            invoice.currency,
            invoice.subtotal,
            invoice.tax,
            invoice.total,
            invoice.amount_paid,
            invoice.amount_due,
        )
    ]


class _Echo:
    def write(self, value: str) -> str:
        return value


def invoices_csv(invoices: Iterable[Invoice]) -> Iterator[str]:
    """CSV text, one row at a time (for a streaming response): a header, then the invoices.

    Starts with a byte-order mark so spreadsheet programs read the Chinese names as UTF-8.
    """
    writer = csv.writer(_Echo())
    yield "\ufeff" + writer.writerow(CSV_HEADER)
    for invoice in invoices:
        yield writer.writerow(invoice_csv_row(invoice))


csv_cell = _cell  # for the other CSV documents of billing (fapiao, payouts)
