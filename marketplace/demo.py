"""Demo requests, quotes and contracts for `manage.py seed_demo` (idempotent)."""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from accounts.demo import DemoAccounts
from inventory.models import GpuModel, Region
from marketplace import services
from marketplace.models import (
    CapacityRequest,
    Contract,
    ContractStatus,
    QuoteStatus,
    RequestStatus,
)


@dataclass(frozen=True)
class DemoMarket:
    contracts: list[Contract]
    open_request: CapacityRequest  # live quotes made at seed time
    unmatched_request: CapacityRequest | None = None  # matched nothing: the page shows why


def _request(accounts: DemoAccounts, note: str, *, today: date, **fields) -> CapacityRequest:
    existing = CapacityRequest.objects.filter(customer=accounts.customer, note=note).first()
    if existing is not None:
        return existing
    user = accounts.customer.memberships.first().user
    codes = fields.pop("gpu_models")
    regions = fields.pop("regions", [])
    return services.request_create(
        customer=accounts.customer,
        by=user,
        gpu_models=list(GpuModel.objects.filter(code__in=codes)),
        regions=list(Region.objects.filter(code__in=regions)),
        note=note,
        today=today,
        **fields,
    )


def _contract(accounts: DemoAccounts, request: CapacityRequest) -> Contract | None:
    existing = Contract.objects.filter(request=request).first()
    if existing is not None:
        return existing
    user = accounts.customer.memberships.first().user
    result = services.quotes_generate(capacity_request=request, by=user)
    if not result.quotes:
        return None
    return services.quote_accept(quote=result.quotes[0], by=user)


@transaction.atomic
def seed_market(accounts: DemoAccounts) -> DemoMarket:
    today = timezone.localdate()
    this_month = today.replace(day=1)
    next_month = date(today.year + today.month // 12, today.month % 12 + 1, 1)
    contracts = []

    # A training run booked from the 1st of this month for a year: approved and running.
    running = _request(
        accounts,
        "demo: 70B pre-training, one InfiniBand cluster",
        today=this_month,
        gpu_models=["A800-80G"],
        min_p=Decimal("40"),
        interconnect="infiniband",
        single_cluster=True,
        start_date=this_month,
        term_months=12,
    )
    contract = _contract(accounts, running)
    if contract is not None:
        if contract.status == ContractStatus.PENDING_APPROVAL:
            services.contract_approve(contract=contract, by=accounts.admin)
        services.contracts_advance(today=today)
        contract.refresh_from_db()
        contracts.append(contract)

    # Inference capacity split across clusters from next month: awaiting an admin.
    inference = _request(
        accounts,
        "demo: inference fleet, split allowed",
        today=today,
        gpu_models=["H800-80G", "A800-80G"],
        servers=6,
        single_cluster=False,
        start_date=next_month,
        term_months=6,
    )
    contract = _contract(accounts, inference)
    if contract is not None:
        contracts.append(contract)

    # An open request the customer can quote again (quotes hold capacity for 30 minutes).
    open_request = _request(
        accounts,
        "demo: fine-tuning from next month",
        today=today,
        gpu_models=["H800-80G"],
        min_p=Decimal("30"),
        interconnect="rdma",
        single_cluster=True,
        start_date=next_month,
        term_months=6,
        max_price_per_p_year=Decimal("140000"),
    )
    user = accounts.customer.memberships.first().user
    if not open_request.quotes.filter(status=QuoteStatus.OPEN).exists():
        services.quotes_generate(capacity_request=open_request, by=user)

    # A large single-cluster H800 run no cluster can take whole: the quotes page explains why
    # each cluster did not match (too small, other GPU models, other networks).
    unmatched = _request(
        accounts,
        "demo: 24 H800 servers in one InfiniBand cluster",
        today=today,
        gpu_models=["H800-80G"],
        servers=24,
        interconnect="infiniband",
        single_cluster=True,
        start_date=next_month,
        term_months=12,
    )
    if unmatched.status == RequestStatus.OPEN and not unmatched.quotes.exists():
        services.quotes_generate(capacity_request=unmatched, by=user)
    return DemoMarket(contracts=contracts, open_request=open_request, unmatched_request=unmatched)
