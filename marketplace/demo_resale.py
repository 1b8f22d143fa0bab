"""Demo secondary market and price index for `manage.py seed_demo` (idempotent).

The demo customer lists part of its running A800 contract; another organisation buys some of
it (a resale contract, approved); a third signs a small contract, so today's index has three
organisations. The index's earlier history (four months, weekly) is illustrative demo data:
the demo's real contracts were all signed today.
"""

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from accounts.demo import DemoAccounts
from accounts.models import Organization, User
from inventory.models import GpuModel
from inventory.selectors import marketable_clusters
from marketplace import index, resale, services
from marketplace.index_models import MarketIndexDay
from marketplace.models import CapacityRequest, Contract, ContractStatus, ResaleListing
from marketplace.terms import months_after

BUYER_NAME = "Lingxi Inference Studio"
THIRD_NAME = "Qingyun Robotics Lab"
RESALE_NOTE = "demo: inference from resold capacity"
THIRD_NOTE = "demo: one A800 server for evaluation"
HISTORY_WEEKS = 17


@dataclass(frozen=True)
class DemoResale:
    listing: ResaleListing | None
    sale: Contract | None


def _organization(name: str, username: str) -> tuple[Organization, User]:
    organization, _ = Organization.objects.get_or_create(
        name=name, defaults={"is_customer": True, "is_provider": False}
    )
    user, created = User.objects.get_or_create(
        username=username, defaults={"email": f"{username}@demo.compute-market.local"}
    )
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    if not organization.memberships.exists():
        organization.memberships.create(user=user, role="owner")
    return organization, user


def _buy(organization, user, admin, note, **fields) -> Contract | None:
    existing = Contract.objects.filter(request__note=note, customer=organization).first()
    if existing is not None:
        return existing
    request = CapacityRequest.objects.filter(customer=organization, note=note).first()
    if request is None:
        request = services.request_create(
            customer=organization,
            by=user,
            gpu_models=list(GpuModel.objects.filter(code="A800-80G")),
            note=note,
            **fields,
        )
    result = services.quotes_generate(capacity_request=request, by=user)
    if not result.quotes:
        return None
    contract = services.quote_accept(quote=result.quotes[0], by=user)
    if contract.status == ContractStatus.PENDING_APPROVAL:
        contract = services.contract_approve(contract=contract, by=admin)
    return contract


def _listing(accounts: DemoAccounts, contract: Contract) -> ResaleListing | None:
    existing = ResaleListing.objects.filter(contract=contract).first()
    if existing is not None:
        return existing
    line = contract.lines.order_by("-servers").first()
    if line is None or line.servers < 2:
        return None
    start = months_after(contract.start_date, 4)
    lowest = min(
        marketable_clusters()
        .filter(gpu_model__code="A800-80G")
        .values_list("price_per_p_year", flat=True),
        default=line.price_per_p_year,
    )
    return resale.resale_list(
        contract=contract,
        by=accounts.customer.memberships.first().user,
        cluster=line.cluster,
        servers=min(3, line.servers),
        start=start,
        end=months_after(start, 6),
        price_per_p_year=(lowest * Decimal("0.85")).quantize(Decimal("1")),
        min_term_months=2,
    )


def _history(gpu: GpuModel, base: Decimal) -> None:
    """Weekly index rows for the past months (illustrative: a price drifting down ~1 % a week
    with small swings). Days already recorded are left alone."""
    today = timezone.localdate()
    swings = [0, 2, -1, 1, 3, -2, 0, 1, -1, 2, 0, -1, 1, 0, 2, -1, 0]
    for week in range(HISTORY_WEEKS, 0, -1):
        day = today - timedelta(weeks=week)
        price = base * (Decimal(100) + week + swings[week % len(swings)]) / 100
        MarketIndexDay.objects.get_or_create(
            day=day,
            gpu_model=gpu,
            region=None,
            defaults={
                "index_price_per_p_year": price.quantize(Decimal("1")),
                "trades": 3 + week % 4,
                "organizations": 3 + week % 3,
                "lowest_ask": (base * Decimal("0.9")).quantize(Decimal("1")),
                "median_ask": base.quantize(Decimal("1")),
            },
        )


RUNNING_NOTE = "demo: 70B pre-training, one InfiniBand cluster"  # marketplace.demo's request


@transaction.atomic
def seed_resale(accounts: DemoAccounts) -> DemoResale:
    """After ``seed_market``: resell part of the demo customer's running A800 contract."""
    running = Contract.objects.filter(
        customer=accounts.customer,
        request__note=RUNNING_NOTE,
        status__in=[ContractStatus.APPROVED, ContractStatus.ACTIVE],
    ).first()
    buyer, buyer_user = _organization(BUYER_NAME, "lingxi")
    third, third_user = _organization(THIRD_NAME, "qingyun")
    listing = _listing(accounts, running) if running is not None else None
    sale = None
    if listing is not None:
        sale = _buy(
            buyer,
            buyer_user,
            accounts.admin,
            RESALE_NOTE,
            servers=2,
            interconnect="infiniband",
            single_cluster=True,
            start_date=listing.start,
            term_months=3,
            max_price_per_p_year=listing.price_per_p_year,
        )
    _buy(
        third,
        third_user,
        accounts.admin,
        THIRD_NOTE,
        servers=1,
        single_cluster=True,
        start_date=months_after(timezone.localdate().replace(day=1), 1),
        term_months=3,
    )
    gpu = GpuModel.objects.filter(code="A800-80G").first()
    if gpu is not None and running is not None:
        _history(gpu, running.price_per_p_year)
    index.index_record()
    if listing is not None:
        listing.refresh_from_db()
    return DemoResale(listing=listing, sale=sale)
