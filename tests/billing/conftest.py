"""Billing fixtures: contracts built directly (valid, without the quote flow), a day's run."""

import itertools
from datetime import date
from decimal import Decimal

import pytest
from django.conf import settings

from accounts import uscc
from billing.tasks import daily
from inventory.models import Allocation, AllocationKind, Cluster
from marketplace.models import CapacityRequest, Contract, ContractLine, Quote, QuoteStatus
from marketplace.pricing import PricedLine, price_quote
from marketplace.terms import contract_end_date
from tests.factories import ClusterFactory, OrganizationFactory, ProviderFactory, member_of

_names = itertools.count(1)


def make_contract(
    customer,
    *,
    start: date,
    term_months: int = 12,
    stakes: list[tuple[Cluster, int]] | None = None,
    status: str = "active",
    price_per_p_year: Decimal | None = None,
) -> Contract:
    """A signed contract as ``quote_accept`` leaves it: request, quote, lines, booking.

    ``stakes``: (cluster, servers) pairs; one new 1-server A800 cluster by default.
    ``price_per_p_year`` overrides the clusters' ask price (prices are frozen at signing).
    """
    stakes = stakes or [(ClusterFactory(available_from=date(2020, 1, 1)), 1)]
    priced = [
        PricedLine(
            cluster_id=cluster.pk,
            servers=servers,
            p=servers * cluster.rated_p_per_server,
            price_per_p_year=price_per_p_year or cluster.price_per_p_year,
        )
        for cluster, servers in stakes
    ]
    price = price_quote(priced, term_months=term_months, vat_rate=settings.VAT_RATE)
    end = contract_end_date(start, term_months)
    request = CapacityRequest.objects.create(
        customer=customer,
        servers=sum(servers for _, servers in stakes),
        start_date=start,
        term_months=term_months,
        end_date=end,
        status="booked",
    )
    quote = Quote.objects.create(
        request=request,
        rank=1,
        total_p=price.total_p,
        price_per_p_year=price.price_per_p_year,
        annual_price=price.annual_price,
        total_price=price.total_price,
        net_amount=price.net,
        tax_amount=price.tax,
        vat_rate=settings.VAT_RATE,
        expires_at="2099-01-01T00:00:00Z",
        status=QuoteStatus.ACCEPTED,
    )
    contract = Contract.objects.create(
        customer=customer,
        request=request,
        quote=quote,
        status=status,
        start_date=start,
        end_date=end,
        term_months=term_months,
        total_p=price.total_p,
        price_per_p_year=price.price_per_p_year,
        annual_price=price.annual_price,
        total_price=price.total_price,
        vat_rate=settings.VAT_RATE,
    )
    for (cluster, servers), line in zip(stakes, priced, strict=True):
        ContractLine.objects.create(
            contract=contract,
            cluster=cluster,
            provider_id=cluster.provider_id,
            servers=servers,
            p=line.p,
            price_per_p_year=line.price_per_p_year,
        )
        Allocation.objects.create(
            cluster=cluster,
            kind=AllocationKind.BOOKING,
            servers=servers,
            start=start,
            end=end,
            reference=contract.booking_reference,
        )
    return contract


def new_customer(name: str | None = None):
    customer = OrganizationFactory(name=name or f"Billing customer {next(_names)}")
    member_of(customer)
    return customer


@pytest.fixture
def provider(db):
    return ProviderFactory(name="Hefei Compute")


@pytest.fixture
def cluster(provider):
    """Ten A800 servers at CNY 120,000 per P per year, 99.9 % SLA."""
    return ClusterFactory(
        provider=provider,
        name="Hefei A800 IB-01",
        server_count=10,
        price_per_p_year=Decimal("120000"),
        available_from=date(2020, 1, 1),
    )


@pytest.fixture
def customer(db):
    return new_customer("Moonshot Training")


@pytest.fixture
def payments_calls(monkeypatch):
    """Stand-ins for the payments side's daily entry points, recording their calls."""
    calls: list[tuple[str, date]] = []

    def collect_due(*, today):
        calls.append(("collect_due", today))
        return {"charged": 0}

    def dunning_run(*, today):
        calls.append(("dunning_run", today))
        return {"reminded": 0}

    monkeypatch.setattr(daily, "collect_due", collect_due)
    monkeypatch.setattr(daily, "dunning_run", dunning_run)
    return calls


@pytest.fixture
def run_day(payments_calls):
    """Run billing for a day, synchronously, as ``manage.py run_billing`` does."""
    return daily.run_day_now


# --- Fapiao: a buyer with a complete legal profile, and its invoice -------------------------
def credit_code(first17: str) -> str:
    return first17 + uscc.check_character(first17)


BUYER_CODE = credit_code("91440300MA5F00001")


@pytest.fixture
def buyer(db):
    customer = new_customer("深圳智算科技有限公司")
    customer.legal_name = "深圳智算科技有限公司"
    customer.unified_social_credit_code = BUYER_CODE
    customer.registered_address = "深圳市南山区科技园 8 号"
    customer.phone = "0755-8600 0000"
    customer.bank_name = "中国银行深圳南山支行"
    customer.bank_account = "7788 9900 1122"
    customer.save()
    return customer


@pytest.fixture
def buyer_invoice(buyer, cluster, run_day):
    """The buyer's invoice for March 2027 (one server), open."""
    from billing.models import Invoice

    contract = make_contract(buyer, start=date(2027, 3, 1), stakes=[(cluster, 1)])
    run_day(date(2027, 3, 1))
    return Invoice.objects.get(contract=contract)
