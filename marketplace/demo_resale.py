"""Demo secondary market and price index for `manage.py seed_demo` (idempotent).

The demo customer's running A800 contract (signed on the 1st of last month, from that day:
``marketplace.demo``) was listed in part for resale that morning; another organisation bought
some of it an hour later (a resale contract for three months, approved and running since
then). A third signs a small contract, so today's index has three organisations. The customer
also rents one A800 server for a month from today: it takes its resale proceeds as balance, so
last month's proceeds pay that invoice (``billing.demo.seed_resale_proceeds``).

The index's history comes from trades too: over the past months the demo's other organisations
signed small A800 contracts (every ten days, starting in the coming months), and each week's
index is recorded from the contracts signed in its trailing 30 days, as the daily task would
have. Their signing times are set back to the day they were signed (the services sign now), as
are the listing's and the resale's.
"""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from accounts.demo import DemoAccounts
from accounts.models import Organization, User
from inventory.models import GpuModel
from inventory.selectors import marketable_clusters
from marketplace import index, resale, services
from marketplace.demo import last_month_start, signed_back_then
from marketplace.models import (
    CapacityRequest,
    Contract,
    ContractEvent,
    ContractEventKind,
    ContractStatus,
    ResaleListing,
)
from marketplace.terms import months_after

BUYER_NAME = "Lingxi Inference Studio"
THIRD_NAME = "Qingyun Robotics Lab"
RESALE_NOTE = "demo: inference from resold capacity"
THIRD_NOTE = "demo: one A800 server for evaluation"
OWN_NOTE = "demo: one A800 server for a month, paid from resale proceeds"
TRADER_NAME = "Xingchen Vision Lab"
TRADE_NOTE = "demo: earlier A800 trade {number}"
HISTORY_WEEKS = 17
TRADE_EVERY_DAYS = 10
# From 30 days before the first week recorded, so every week recorded has three organisations.
TRADES = (HISTORY_WEEKS * 7 + 30) // TRADE_EVERY_DAYS + 1
# On the day the running contract started (the 1st of last month), after its signing at 9:00.
LISTED_AT = time(9, 30)
SOLD_AT = time(10, 0)


@dataclass(frozen=True)
class DemoResale:
    listing: ResaleListing | None
    sale: Contract | None
    own: Contract | None = None  # the reseller's own small contract, paid from its proceeds
    trades: tuple[Contract, ...] = ()  # the earlier trades the index history is recorded from


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


def _buy(
    organization, user, admin, note, *, primary_only=False, at=None, **fields
) -> Contract | None:
    """Sign (and approve) the request ``note`` of ``organization``, from its best offer (from
    the best provider offer with ``primary_only``: not from the demo's resale listing), asked
    for, quoted and accepted ``at`` (default: now)."""
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
            today=timezone.localdate(at) if at is not None else None,
            **fields,
        )
    quotes = services.quotes_generate(capacity_request=request, by=user, now=at).quotes
    if primary_only:
        quotes = [q for q in quotes if not q.lines.filter(resale_listing__isnull=False).exists()]
    if not quotes:
        return None
    contract = services.quote_accept(quote=quotes[0], by=user, now=at)
    if contract.status == ContractStatus.PENDING_APPROVAL:
        contract = services.contract_approve(contract=contract, by=admin)
    return contract


def _trades(admin: User, traders: list[tuple[Organization, User]]) -> list[Contract]:
    """Small A800 contracts the demo's other organisations signed every ten days over the past
    months, in turn (so every 30 days hold three organisations' trades), each starting in one
    of the coming months: one or two servers on InfiniBand for three months (Hefei), or one on
    any network for a month (the cheapest, Shanghai). Never from a resale listing."""
    today = timezone.localdate()
    this_month = today.replace(day=1)
    tz = timezone.get_current_timezone()
    trades = []
    for number in range(TRADES):
        organization, user = traders[number % len(traders)]
        note = TRADE_NOTE.format(number=number + 1)
        signed = today - timedelta(days=TRADE_EVERY_DAYS * (TRADES - 1 - number))
        infiniband = number % 2 == 0
        contract = _buy(
            organization,
            user,
            admin,
            note,
            primary_only=True,
            servers=1 + number % 3 // 2 if infiniband else 1,
            interconnect="infiniband" if infiniband else "any",
            single_cluster=True,
            start_date=months_after(this_month, 1 + number % 3),
            term_months=3 if infiniband else 1,
        )
        if contract is None:
            continue
        signed_back_then(contract, datetime.combine(signed, time(10, number % 6 * 10), tzinfo=tz))
        trades.append(contract)
    return trades


def _listing(accounts: DemoAccounts, contract: Contract, *, at: datetime) -> ResaleListing | None:
    """Up to three of the contract's servers listed ``at``, from then for six months."""
    existing = ResaleListing.objects.filter(contract=contract).first()
    if existing is not None:
        return existing
    line = contract.lines.order_by("-servers").first()
    if line is None or line.servers < 2:
        return None
    listed_on = timezone.localdate(at)
    start = max(listed_on, contract.start_date)
    lowest = min(
        marketable_clusters()
        .filter(gpu_model__code="A800-80G")
        .values_list("price_per_p_year", flat=True),
        default=line.price_per_p_year,
    )
    listing = resale.resale_list(
        contract=contract,
        by=accounts.customer.memberships.first().user,
        cluster=line.cluster,
        servers=min(3, line.servers),
        start=start,
        end=months_after(start, 6),
        price_per_p_year=(lowest * Decimal("0.85")).quantize(Decimal("1")),
        min_term_months=2,
        today=listed_on,
    )
    ResaleListing.objects.filter(pk=listing.pk).update(created_at=at)
    ContractEvent.objects.filter(resale_listing=listing).update(created_at=at)
    listing.refresh_from_db()
    return listing


def _sold_back_then(sale: Contract, listing: ResaleListing, at: datetime) -> None:
    """The resale signed ``at``: approved and started then (its history, and the sale on the
    parent's), as the daily run would have started it."""
    if sale.status == ContractStatus.APPROVED and sale.start_date <= timezone.localdate(at):
        services.contracts_advance(today=sale.start_date)
        sale.refresh_from_db()
    signed_back_then(sale, at)
    ContractEvent.objects.filter(resale_listing=listing, kind=ContractEventKind.RESALE_SOLD).update(
        created_at=at
    )


def _history() -> None:
    """Each past week's index, recorded from the contracts signed in its trailing 30 days (as
    the daily task would have; recording a day again replaces it), then today's."""
    today = timezone.localdate()
    for week in range(HISTORY_WEEKS, 0, -1):
        index.index_record(day=today - timedelta(weeks=week))
    index.index_record(day=today)


RUNNING_NOTE = "demo: 70B pre-training, one InfiniBand cluster"  # marketplace.demo's request


def _at(day: date, moment: time) -> datetime:
    return datetime.combine(day, moment, tzinfo=timezone.get_current_timezone())


@transaction.atomic
def seed_resale(accounts: DemoAccounts) -> DemoResale:
    """After ``seed_market``: earlier trades by the demo's other organisations; part of the demo
    customer's running A800 contract listed and resold for three months on the 1st of last
    month, when it started; and one more server rented to the customer from today."""
    today = timezone.localdate()
    last_month = last_month_start(today)
    running = Contract.objects.filter(
        customer=accounts.customer,
        request__note=RUNNING_NOTE,
        status__in=[ContractStatus.APPROVED, ContractStatus.ACTIVE],
    ).first()
    buyer, buyer_user = _organization(BUYER_NAME, "lingxi")
    third, third_user = _organization(THIRD_NAME, "qingyun")
    trader, trader_user = _organization(TRADER_NAME, "xingchen")
    # Before the listing exists, so no earlier trade could have bought from it.
    trades = _trades(
        accounts.admin, [(buyer, buyer_user), (third, third_user), (trader, trader_user)]
    )
    listing = (
        _listing(accounts, running, at=_at(last_month, LISTED_AT)) if running is not None else None
    )
    sale = None
    if listing is not None:
        sold = _at(listing.start, SOLD_AT)
        sale = _buy(
            buyer,
            buyer_user,
            accounts.admin,
            RESALE_NOTE,
            at=sold,
            servers=2,
            interconnect="infiniband",
            single_cluster=True,
            start_date=listing.start,
            term_months=3,
            max_price_per_p_year=listing.price_per_p_year,
        )
        if sale is not None:
            _sold_back_then(sale, listing, sold)
    _buy(
        third,
        third_user,
        accounts.admin,
        THIRD_NOTE,
        primary_only=True,
        servers=1,
        single_cluster=True,
        start_date=months_after(today.replace(day=1), 1),
        term_months=3,
    )
    own = _buy(
        accounts.customer,
        accounts.customer.memberships.order_by("pk").first().user,
        accounts.admin,
        OWN_NOTE,
        primary_only=True,
        servers=1,
        single_cluster=True,
        start_date=today,
        term_months=1,
    )
    services.contracts_advance(today=today)  # the server starts today
    _history()
    if listing is not None:
        listing.refresh_from_db()
    for contract in (sale, own):
        if contract is not None:
            contract.refresh_from_db()
    return DemoResale(listing=listing, sale=sale, own=own, trades=tuple(trades))
