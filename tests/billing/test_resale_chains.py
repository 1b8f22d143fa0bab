"""Random resale chains, provider -> customer -> resale buyer, billed and paid out to the fen.

For each seed: a provider's cluster fully booked by a reseller, part of it listed and bought by
another customer, an outage on the cluster during the resale and, sometimes, the reseller's
contract terminated early (the resale ends with it) or the resale alone (its servers go back
to the reseller). Every invoice is issued and paid; then:
every contract's rental charges add up to its price (or its prorated price), the reseller's
proceeds are the buyer's payments less commission and the SLA credits withheld, and the
provider's statement holds only the reseller's contract, as it would without any resale.
"""

import random
from datetime import datetime, time, timedelta
from decimal import Decimal

import pytest
from django.db.models import Sum
from django.utils import timezone

from accounts.money import ZERO, quantize_money
from billing.invoicing.issue import invoices_issue_chunk
from billing.models import Invoice, InvoiceLine, InvoiceLineKind, SlaCredit
from billing.payments.transfers import bank_transfer_record
from billing.payouts.statements import payouts_build
from billing.selectors import contract_schedule
from inventory.models import Outage
from marketplace import resale, services
from marketplace.models import Contract, ContractKind
from tests.factories import (
    ClusterFactory,
    OrganizationFactory,
    ProviderFactory,
    capacity_request,
    future_start,
    member_of,
)
from tests.marketplace.resale_helpers import ledger_peak, months_later

pytestmark = pytest.mark.django_db


def _rental(contract: Contract) -> Decimal:
    total = InvoiceLine.objects.filter(
        invoice__contract=contract, kind__in=[InvoiceLineKind.RENTAL, InvoiceLineKind.ADJUSTMENT]
    ).aggregate(total=Sum("amount"))["total"]
    return total or ZERO


def _price(contract: Contract) -> Decimal:
    contract.refresh_from_db()
    if contract.status == "cancelled":
        return ZERO  # withdrawn before it started (its parent ended first): never billed
    return sum((period.amount for period in contract_schedule(contract)), ZERO)


@pytest.mark.parametrize("seed", range(12))
def test_random_resale_chain_bills_and_pays_out_to_the_fen(seed, staff_user, settings):
    rng = random.Random(seed)
    provider = ProviderFactory(name=f"Provider {seed}")
    servers = rng.randint(2, 5)
    price = Decimal(rng.randint(80_000, 200_000)) + Decimal(rng.randint(0, 999_999)) / 10**6
    cluster = ClusterFactory(
        provider=provider,
        server_count=servers,
        price_per_p_year=price,
        available_from=future_start() - timedelta(days=400),
    )
    reseller = OrganizationFactory(name=f"Reseller {seed}")
    reseller_user = member_of(reseller)
    term = rng.randint(3, 14)
    request = capacity_request(reseller, servers=servers, term_months=term)
    quote = services.quotes_generate(capacity_request=request, by=reseller_user).quotes[0]
    parent = services.contract_approve(
        contract=services.quote_accept(quote=quote, by=reseller_user), by=staff_user
    )

    offset = rng.randint(0, term - 2)
    length = rng.randint(1, term - offset)
    start = months_later(parent.start_date, offset)
    listing = resale.resale_list(
        contract=parent,
        by=reseller_user,
        cluster=cluster,
        servers=rng.randint(1, servers),
        start=start,
        end=months_later(start, length),
        price_per_p_year=price * Decimal(rng.choice(["0.7", "0.95", "1.2"])),
    )
    buyer = OrganizationFactory(name=f"Buyer {seed}")
    buyer_user = member_of(buyer)
    wanted = rng.randint(1, listing.servers)
    months = rng.randint(1, length)
    request = capacity_request(buyer, servers=wanted, start_date=start, term_months=months)
    quote = services.quotes_generate(capacity_request=request, by=buyer_user).quotes[0]
    child = services.contract_approve(
        contract=services.quote_accept(quote=quote, by=buyer_user), by=staff_user
    )
    assert child.kind == ContractKind.RESALE and child.parent_contract_id == parent.pk
    assert ledger_peak(cluster) <= servers

    # An outage during the resale's first month: credits to both contracts on the cluster.
    tz = timezone.get_current_timezone()
    down = datetime.combine(start + timedelta(days=3), time(8), tzinfo=tz)
    Outage.objects.create(
        cluster=cluster,
        start=down,
        end=down + timedelta(hours=rng.randint(2, 30)),
        servers_affected=rng.randint(1, servers),
        description="fault",
    )
    ending = rng.random()
    if ending < 0.5:
        effective = parent.start_date + timedelta(
            days=rng.randint(1, (parent.end_date - parent.start_date).days - 1)
        )
        services.contract_terminate(
            contract=parent, by=staff_user, reason="site lost", effective_date=effective
        )
    elif ending < 0.75 and (child.end_date - child.start_date).days > 1:
        effective = child.start_date + timedelta(
            days=rng.randint(1, (child.end_date - child.start_date).days - 1)
        )
        services.contract_terminate(
            contract=child, by=staff_user, reason="buyer left", effective_date=effective
        )
        assert ledger_peak(cluster) <= servers
    last_day = max(parent.end_date, child.end_date) + timedelta(days=40)
    invoices_issue_chunk(contract_ids=[parent.pk, child.pk], today=last_day)
    for invoice in Invoice.objects.filter(contract__in=[parent, child]).order_by("pk"):
        if invoice.total > 0:
            bank_transfer_record(invoice=invoice, amount=invoice.total, reference=f"T{invoice.pk}")

    for contract in (parent, child):
        assert _rental(contract) == _price(contract)
    statements = {
        s.provider_id: s for s in payouts_build(month=timezone.localdate().replace(day=1))
    }
    rate = settings.PLATFORM_COMMISSION_RATE
    child_invoices = list(Invoice.objects.filter(contract=child, status="paid"))
    child_credits = (
        SlaCredit.objects.filter(
            contract=child, invoice_line__invoice__in=child_invoices
        ).aggregate(total=Sum("amount"))["total"]
        or ZERO
    )
    if child_invoices:
        proceeds = statements[reseller.pk]
        assert {line.contract_id for line in proceeds.lines.all()} == {child.pk}
        assert proceeds.collected == sum((_rental_of(i) for i in child_invoices), ZERO)
        assert proceeds.sla_withheld == child_credits
        # Commission on what was collected net of VAT (the default PLATFORM_COMMISSION_BASE).
        assert proceeds.collected_net_of_vat + proceeds.vat == proceeds.collected
        assert proceeds.commission == sum(
            (quantize_money(line.collected_net_of_vat * rate) for line in proceeds.lines.all()),
            ZERO,
        )
        assert proceeds.payable == proceeds.collected - proceeds.commission - proceeds.sla_withheld
    else:
        assert reseller.pk not in statements
    parent_invoices = list(Invoice.objects.filter(contract=parent, status="paid"))
    paid_out = statements[provider.pk]
    assert {line.contract_id for line in paid_out.lines.all()} == {parent.pk}
    assert paid_out.collected == sum((_rental_of(i) for i in parent_invoices), ZERO)
    parent_credits = (
        SlaCredit.objects.filter(
            contract=parent, invoice_line__invoice__in=parent_invoices
        ).aggregate(total=Sum("amount"))["total"]
        or ZERO
    )
    assert paid_out.sla_withheld == parent_credits


def _rental_of(invoice: Invoice) -> Decimal:
    total = invoice.lines.filter(
        kind__in=[InvoiceLineKind.RENTAL, InvoiceLineKind.ADJUSTMENT]
    ).aggregate(total=Sum("amount"))["total"]
    return total or ZERO
