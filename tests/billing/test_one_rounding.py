"""One rounding: the quote, the contract, the invoices and the payouts agree to the fen.

``total_price`` is P x price per P per year x months / 12 from the exact price, rounded once;
``annual_price`` is only shown. The issue's example: 60 months of one A800 server (4.992 P) at
CNY 120,000.000801 per P per year is 299,520.00199... x 10 = 2,995,200.02, where rounding the
annual price first (599,040.00) would give 2,995,200.00.
"""

from datetime import date
from decimal import Decimal

import pytest
from django.utils import timezone

from accounts.money import ZERO, quantize_money
from billing.invoicing.issue import invoices_issue_chunk
from billing.models import Invoice
from billing.payments.transfers import bank_transfer_record
from billing.payouts.statements import payouts_build
from marketplace import services as market
from tests.factories import ClusterFactory, capacity_request, future_start

pytestmark = pytest.mark.django_db

RATE = Decimal("120000.000801")


def test_sixty_months_of_one_a800_server_cost_the_same_everywhere(
    provider, customer, staff_user, settings
):
    ClusterFactory(
        provider=provider, server_count=1, price_per_p_year=RATE, available_from=date(2020, 1, 1)
    )
    user = customer.memberships.first().user
    request = capacity_request(customer, servers=1, term_months=60, start_date=future_start())

    quote = market.quotes_generate(capacity_request=request, by=user).quotes[0]

    assert quote.annual_price == Decimal("599040.00")  # shown, rounded
    assert quote.total_price == Decimal("2995200.02")  # not 599,040.00 x 5 = 2,995,200.00
    assert quote.net_amount + quote.tax_amount == quote.total_price

    contract = market.quote_accept(quote=quote, by=user)
    market.contract_approve(contract=contract, by=staff_user)
    assert (contract.annual_price, contract.total_price) == (quote.annual_price, quote.total_price)

    invoices_issue_chunk(contract_ids=[contract.pk], today=contract.end_date)
    invoices = list(Invoice.objects.filter(contract=contract).order_by("period_start"))
    assert len(invoices) == 60
    # ¥49,920.000333... a month: the two fen the term adds up to surface where the running
    # total crosses them (months 16 and 46), every month within a fen of annual / 12.
    totals = [i.total for i in invoices]
    assert totals.count(Decimal("49920.01")) == 2
    assert totals.count(Decimal("49920.00")) == 58
    assert sum((i.total for i in invoices), ZERO) == quote.total_price

    for invoice in invoices:
        bank_transfer_record(invoice=invoice, amount=invoice.total, reference=f"T{invoice.pk}")
    [statement] = payouts_build(month=timezone.localdate().replace(day=1))

    assert statement.provider == provider
    assert statement.collected == quote.total_price  # what the customer paid, to the fen
    assert statement.vat == sum((i.tax for i in invoices), ZERO)
    rate = settings.PLATFORM_COMMISSION_RATE
    commissions = (quantize_money(i.subtotal * rate) for i in invoices)  # on the net of VAT
    assert statement.commission == sum(commissions, ZERO)
    assert statement.payable == statement.collected - statement.commission - statement.sla_withheld
