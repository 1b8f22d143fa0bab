"""Random resale chains, provider -> customer -> resale buyer, billed and paid out to the fen.

A property test on PostgreSQL: hypothesis draws a chain (starts on any day, the 29th-31st and
29 February often; terms of 1-36 months; prices; a listing window inside the reseller's term;
the buyer's term inside the window; an outage on the cluster during the resale; and either no
early end, the reseller's contract terminated (the resale ends with it) or the resale alone
terminated (its servers go back to the reseller)). For each: a provider's cluster fully booked
by a reseller, part of it listed and bought by another customer; every invoice is issued and
paid; then every contract's rental charges add up to its price (or its prorated price), the
reseller's proceeds are the buyer's payments less commission and the SLA credits withheld, and
the provider's statement holds only the reseller's contract, as it would without any resale.

Each example runs in a savepoint rolled back at its end, so examples never see each other's
clusters, listings or payments (and shrinking replays them from the same empty market).
"""

import calendar
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

import pytest
from django.conf import settings as django_settings
from django.db import connection, transaction
from django.db.models import Sum
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

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

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

CHAINS = settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture(autouse=True)
def _postgres_only():
    if connection.vendor != "postgresql":
        pytest.skip("the resale chain properties are proven on PostgreSQL")


# Starts from the first valid start (the 1st of a month at least a month ahead) on: any day of
# the next three years, or the 28th-31st of a month (clamped to its end: 29 February too).
FIRST = future_start()
month_ends = st.builds(
    lambda year, month, day: date(year, month, min(day, calendar.monthrange(year, month)[1])),
    st.integers(FIRST.year + 1, FIRST.year + 3),
    st.integers(1, 12),
    st.integers(28, 31),
)
starts = st.one_of(
    st.integers(0, 3 * 365).map(lambda days: FIRST + timedelta(days=days)),
    month_ends,
    st.sampled_from([date(2028, 2, 29), date(2032, 2, 29), date(FIRST.year + 1, 1, 31)]),
)
prices = st.decimals(min_value=Decimal("80000"), max_value=Decimal("200000"), places=6)
# Fractions of a span in thousandths (shrink to its first day).
FRACTION = st.integers(0, 999)


@dataclass(frozen=True)
class Chain:
    start: date
    term: int  # the reseller's, months
    servers: int  # the cluster's, all booked by the reseller
    price: Decimal  # the provider's, per P per year
    offset: int  # the listing starts this many contract months into the term ...
    shift: int  # ... and this many days later
    length: int  # the listing's months (cut at the reseller's end)
    listed: int  # servers listed
    ask_factor: Decimal  # the reseller's ask against the provider's price
    wanted: int  # servers the buyer takes
    months: int  # the buyer's term, inside the listing
    outage_day: int  # the outage starts this many days into the resale ...
    outage_hour: int
    outage_hours: int  # ... and lasts this long
    outage_servers: int
    ending: str  # "none", "parent" or "child": which contract an admin ends early
    ending_at: int  # when, as a fraction (thousandths) of the ended contract's days


@st.composite
def chains(draw) -> Chain:
    term = draw(st.integers(1, 36))
    offset = draw(st.integers(0, term - 1))
    length = draw(st.integers(1, term - offset))
    servers = draw(st.integers(2, 5))
    listed = draw(st.integers(1, servers))
    return Chain(
        start=draw(starts),
        term=term,
        servers=servers,
        price=draw(prices),
        offset=offset,
        shift=draw(st.integers(0, 27)),
        length=length,
        listed=listed,
        ask_factor=draw(st.decimals(min_value=Decimal("0.5"), max_value=Decimal("1.5"), places=2)),
        wanted=draw(st.integers(1, listed)),
        months=draw(st.integers(1, length)),
        outage_day=draw(st.integers(0, 27)),
        outage_hour=draw(st.integers(0, 23)),
        outage_hours=draw(st.integers(1, 48)),
        outage_servers=draw(st.integers(1, servers)),
        ending=draw(st.sampled_from(["none", "parent", "child"])),
        ending_at=draw(FRACTION),
    )


class _Rollback(Exception):
    """Ends an example: its savepoint is rolled back."""


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


def _rental_of(invoice: Invoice) -> Decimal:
    total = invoice.lines.filter(
        kind__in=[InvoiceLineKind.RENTAL, InvoiceLineKind.ADJUSTMENT]
    ).aggregate(total=Sum("amount"))["total"]
    return total or ZERO


def _day_within(start: date, end: date, fraction: int) -> date:
    """A day strictly inside ``(start, end)`` (which spans at least two days): the first at
    0, the last at 999."""
    return start + timedelta(days=1 + ((end - start).days - 2) * fraction // 999)


@CHAINS
@given(chain=chains())
def test_random_resale_chain_bills_and_pays_out_to_the_fen(chain, staff_user):
    try:
        with transaction.atomic():
            _check_chain(chain, staff_user)
            raise _Rollback
    except _Rollback:
        pass


def _check_chain(chain: Chain, staff_user) -> None:
    provider = ProviderFactory(name="Chain provider")
    servers = chain.servers
    cluster = ClusterFactory(
        provider=provider,
        server_count=servers,
        price_per_p_year=chain.price,
        available_from=FIRST - timedelta(days=400),
    )
    reseller = OrganizationFactory(name="Chain reseller")
    reseller_user = member_of(reseller)
    request = capacity_request(
        reseller, servers=servers, start_date=chain.start, term_months=chain.term
    )
    quote = services.quotes_generate(capacity_request=request, by=reseller_user).quotes[0]
    parent = services.contract_approve(
        contract=services.quote_accept(quote=quote, by=reseller_user), by=staff_user
    )
    assert parent.start_date == chain.start

    # The listing: from a contract month of the term, a few days in when a month still fits
    # before the reseller's end, for ``length`` months cut at that end.
    start = months_later(parent.start_date, chain.offset)
    if months_later(start + timedelta(days=chain.shift), 1) <= parent.end_date:
        start += timedelta(days=chain.shift)
    end = min(months_later(start, chain.length), parent.end_date)
    listing = resale.resale_list(
        contract=parent,
        by=reseller_user,
        cluster=cluster,
        servers=chain.listed,
        start=start,
        end=end,
        price_per_p_year=(chain.price * chain.ask_factor).quantize(Decimal("0.000001")),
    )
    buyer = OrganizationFactory(name="Chain buyer")
    buyer_user = member_of(buyer)
    months = max(m for m in range(1, chain.months + 1) if months_later(start, m) <= end)
    request = capacity_request(buyer, servers=chain.wanted, start_date=start, term_months=months)
    quote = services.quotes_generate(capacity_request=request, by=buyer_user).quotes[0]
    child = services.contract_approve(
        contract=services.quote_accept(quote=quote, by=buyer_user), by=staff_user
    )
    assert child.kind == ContractKind.RESALE and child.parent_contract_id == parent.pk
    assert {line.resale_listing_id for line in child.lines.all()} == {listing.pk}
    assert ledger_peak(cluster) <= servers

    # An outage during the resale: credits to both contracts on the cluster.
    tz = timezone.get_current_timezone()
    resale_days = (child.end_date - child.start_date).days
    down = datetime.combine(
        child.start_date + timedelta(days=min(chain.outage_day, resale_days - 1)),
        time(chain.outage_hour),
        tzinfo=tz,
    )
    Outage.objects.create(
        cluster=cluster,
        start=down,
        end=down + timedelta(hours=chain.outage_hours),
        servers_affected=chain.outage_servers,
        description="fault",
    )
    if chain.ending == "parent":
        effective = _day_within(parent.start_date, parent.end_date, chain.ending_at)
        services.contract_terminate(
            contract=parent, by=staff_user, reason="site lost", effective_date=effective
        )
    elif chain.ending == "child" and resale_days > 1:
        effective = _day_within(child.start_date, child.end_date, chain.ending_at)
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
    rate = django_settings.PLATFORM_COMMISSION_RATE
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
