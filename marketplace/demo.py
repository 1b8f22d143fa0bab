"""Demo requests, quotes and contracts for `manage.py seed_demo` (idempotent)."""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from accounts.demo import DemoAccounts
from inventory.models import GpuModel, Region
from marketplace import services
from marketplace.models import (
    CapacityRequest,
    Contract,
    ContractEvent,
    ContractStatus,
    Quote,
    QuoteStatus,
    RequestStatus,
)

# The running contract's signing, on the 1st of last month (its listing and sale follow it:
# ``marketplace.demo_resale``).
RUNNING_SIGNED_AT = time(9, 0)


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


def _contract(
    accounts: DemoAccounts, request: CapacityRequest, *, at: datetime | None = None
) -> Contract | None:
    """Sign the request's best offer, quoted and accepted ``at`` (default: now)."""
    existing = Contract.objects.filter(request=request).first()
    if existing is not None:
        return existing
    user = accounts.customer.memberships.first().user
    result = services.quotes_generate(capacity_request=request, by=user, now=at)
    if not result.quotes:
        return None
    return services.quote_accept(quote=result.quotes[0], by=user, now=at)


def last_month_start(today: date) -> date:
    """The 1st of the month before ``today``'s."""
    return (today.replace(day=1) - timedelta(days=1)).replace(day=1)


def signed_back_then(contract: Contract, at: datetime) -> None:
    """Set a demo contract's signing (its request, quotes, contract and history) back to
    ``at``: the services sign now. Nothing when it is already there."""
    if contract.created_at == at:
        return
    CapacityRequest.objects.filter(pk=contract.request_id).update(created_at=at)
    Quote.objects.filter(request_id=contract.request_id).update(created_at=at)
    Contract.objects.filter(pk=contract.pk).update(created_at=at)
    ContractEvent.objects.filter(contract=contract).update(created_at=at)
    contract.created_at = at


@transaction.atomic
def seed_market(accounts: DemoAccounts) -> DemoMarket:
    today = timezone.localdate()
    last_month = last_month_start(today)
    next_month = date(today.year + today.month // 12, today.month % 12 + 1, 1)
    contracts = []

    # A training run booked on the 1st of last month, from that day for a year: approved and
    # running (part of it is resold from then on, ``marketplace.demo_resale``).
    signed = datetime.combine(last_month, RUNNING_SIGNED_AT, tzinfo=timezone.get_current_timezone())
    running = _request(
        accounts,
        "demo: 70B pre-training, one InfiniBand cluster",
        today=last_month,
        gpu_models=["A800-80G"],
        min_p=Decimal("40"),
        interconnect="infiniband",
        single_cluster=True,
        start_date=last_month,
        term_months=12,
    )
    contract = _contract(accounts, running, at=signed)
    if contract is not None:
        if contract.status == ContractStatus.PENDING_APPROVAL:
            contract = services.contract_approve(contract=contract, by=accounts.admin)
        if contract.status == ContractStatus.APPROVED:
            services.contracts_advance(today=last_month)  # it started then
            contract.refresh_from_db()
        signed_back_then(contract, signed)
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
