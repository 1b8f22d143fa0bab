"""Pending fapiao requests as a CSV laid out for bulk issue in the tax-control software (the
开票软件's import: one row per fapiao, one item per row), UTF-8 with a byte-order mark.

Amounts are what the customer finally paid for: the invoice less its credit notes, split into
the VAT-exclusive amount, the rate and the VAT. No queries: callers pass requests with their
invoice, its lines and credit notes loaded (``billing.selectors.fapiao_requests_pending``).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings

from accounts.money import ZERO
from billing.documents.export import csv_cell
from billing.models import FapiaoRequest, Invoice

# The columns of the import, in the names the tax-control software's template uses.
CSV_HEADER = [
    "申请编号",  # request id, to match the issued fapiao back
    "发票种类",  # 专票 / 普票
    "账单编号",  # our invoice number (goes in the remarks)
    "购买方名称",
    "纳税人识别号",
    "地址电话",
    "开户行及账号",
    "项目名称",
    "金额（不含税）",
    "税率",
    "税额",
    "价税合计",
    "备注",
]
KIND_CODES = {"special": "专票", "ordinary": "普票"}


class _Echo:
    def write(self, value: str) -> str:
        return value


@dataclass(frozen=True)
class FapiaoAmounts:
    net: Decimal  # excluding VAT
    rate: Decimal
    tax: Decimal
    total: Decimal  # net + tax


def fapiao_amounts(invoice: Invoice) -> FapiaoAmounts:
    """What the fapiao for ``invoice`` says: the invoice less its credit notes."""
    notes = list(invoice.credit_notes.all())
    lines = list(invoice.lines.all())
    rate = lines[0].tax_rate if lines else settings.VAT_RATE
    net = invoice.subtotal - sum((note.net for note in notes), ZERO)
    tax = invoice.tax - sum((note.tax for note in notes), ZERO)
    return FapiaoAmounts(net=net, rate=rate, tax=tax, total=net + tax)


def fapiao_csv_row(request: FapiaoRequest) -> list[str]:
    amounts = fapiao_amounts(request.invoice)
    return [
        csv_cell(value)
        for value in (
            request.pk,
            KIND_CODES[request.kind],
            request.invoice.number,
            request.title,
            request.tax_id,
            request.address_phone,
            request.bank_account,
            settings.FAPIAO_ITEM_NAME,
            amounts.net,
            f"{format((amounts.rate * 100).normalize(), 'f')}%",
            amounts.tax,
            amounts.total,
            f"{request.invoice.number} {request.invoice.period_start:%Y-%m-%d}"
            f"/{request.invoice.period_end:%Y-%m-%d}",
        )
    ]


def fapiao_requests_csv(requests: Iterable[FapiaoRequest]) -> Iterator[str]:
    """The CSV a row at a time: byte-order mark and header, then one row per request."""
    writer = csv.writer(_Echo())
    yield "\ufeff" + writer.writerow(CSV_HEADER)
    for request in requests:
        yield writer.writerow(fapiao_csv_row(request))
