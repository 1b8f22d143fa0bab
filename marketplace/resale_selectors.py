"""Reads of the secondary market: what a contract holds and has listed, what a listing has left.

A contract *holds* on a cluster the servers of its lines there, over its effective term
(``[start_date, termination_date or end_date)``). It has *committed* of them, at a moment, the
servers of its open listings covering that moment, and, for listings withdrawn or sold, the
servers actually sold then. It may list at most ``held - peak(committed)`` over a window.
A listing has free, over a window, its servers less the peak of its sales and of its live holds
(``ResaleHold``: servers held for other requests' open quotes) in that window.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

from django.db.models import Case, Count, Q, QuerySet, Value, When
from django.utils import timezone

from accounts.models import User
from accounts.money import TFLOPS_PER_P
from accounts.selectors import is_platform_admin, organization_of
from inventory.capacity import Usage, peak_usage
from inventory.selectors import fast_rows
from marketplace.eligibility import ACCEPTED_INTERCONNECTS, ClusterFacts, Reason, RequestSpec
from marketplace.models import (
    Contract,
    ContractLine,
    ContractStatus,
    ResaleHold,
    ResaleListing,
    ResaleStatus,
)
from marketplace.selectors import any_rule_fails

# Candidate ids of resale listings in the matching engine: far above any cluster id, so a tie
# between provider and resale capacity goes to the provider (smaller ids win ties).
RESALE_CANDIDATE_BASE = 1 << 40
# Contracts whose capacity may be listed or sold on.
RESELLABLE_STATUSES = (ContractStatus.APPROVED, ContractStatus.ACTIVE)
# Sales that count: every contract not withdrawn before it started.
_LIVE_SALE = ~Q(contract__status=ContractStatus.CANCELLED)


def candidate_id(listing_id: int) -> int:
    return RESALE_CANDIDATE_BASE + listing_id


def listing_of_candidate(candidate: int) -> int | None:
    return candidate - RESALE_CANDIDATE_BASE if candidate >= RESALE_CANDIDATE_BASE else None


def effective_end(contract: Contract) -> date:
    return contract.termination_date or contract.end_date


def sales_usages(
    listing_ids: Iterable[int], *, exclude_contract_id: int | None = None
) -> dict[int, list[Usage]]:
    """The sales of these listings, as ledger usages, by listing id (one query)."""
    ids = list(listing_ids)
    usages: dict[int, list[Usage]] = {pk: [] for pk in ids}
    if not ids:
        return usages
    rows = ContractLine.objects.filter(_LIVE_SALE, resale_listing_id__in=ids)
    if exclude_contract_id is not None:
        rows = rows.exclude(contract_id=exclude_contract_id)
    rows = rows.values_list(
        "resale_listing_id",
        "servers",
        "contract__start_date",
        "contract__end_date",
        "contract__termination_date",
    )
    for listing_id, servers, start, end, terminated in rows:
        usages[listing_id].append(Usage(start, terminated or end, servers))
    return usages


def held_servers(contract: Contract, cluster_id: int) -> int:
    """Servers the contract's own lines hold on the cluster."""
    return sum(line.servers for line in contract.lines.all() if line.cluster_id == cluster_id)


def committed_usages(contract: Contract, cluster_id: int) -> list[Usage]:
    """What the contract has put on the secondary market on this cluster, over time."""
    listings = list(
        ResaleListing.objects.filter(contract=contract, cluster_id=cluster_id).values_list(
            "pk", "status", "servers", "start", "end"
        )
    )
    closed = [pk for pk, status, *_ in listings if status != ResaleStatus.LISTED]
    sold = sales_usages(closed)
    usages: list[Usage] = []
    for pk, status, servers, start, end in listings:
        if status == ResaleStatus.LISTED:
            usages.append(Usage(start, end, servers))
        else:
            usages.extend(sold[pk])
    return usages


def listable_servers(contract: Contract, cluster_id: int, *, start: date, end: date) -> int:
    """Most servers the contract may still list on the cluster over ``[start, end)``."""
    if start < contract.start_date or end > effective_end(contract):
        return 0
    held = held_servers(contract, cluster_id)
    committed = peak_usage(committed_usages(contract, cluster_id), start=start, end=end)
    return max(held - committed, 0)


def listing_free(
    listing: ResaleListing,
    *,
    start: date,
    end: date,
    now: datetime,
    exclude_contract_id: int | None = None,
) -> int:
    """Servers of an open listing still for sale over ``[start, end)`` (inside its window):
    neither sold (not counting the sale to ``exclude_contract_id``, the one being made) nor
    held for an open quote."""
    if listing.status != ResaleStatus.LISTED or start < listing.start or end > listing.end:
        return 0
    sales = sales_usages([listing.pk], exclude_contract_id=exclude_contract_id)[listing.pk]
    holds = holds_usages([listing.pk], start=start, end=end, now=now).get(listing.pk, [])
    used = [*sales, *holds]
    taken = peak_usage(used, start=start, end=end) if used else 0
    return max(listing.servers - taken, 0)


def resale_listing_list(*, user: User) -> QuerySet[ResaleListing]:
    """The reseller's listings (all for admins)."""
    queryset = ResaleListing.objects.select_related(
        "cluster__gpu_model", "cluster__region", "contract"
    )
    if is_platform_admin(user):
        return queryset
    organization = organization_of(user)
    if organization is None:
        return queryset.none()
    return queryset.filter(contract__customer=organization)


# --- Matching -------------------------------------------------------------------------------
@dataclass(frozen=True)
class ResaleCandidate:
    """An open listing that passes every static rule of a request, with its free servers."""

    listing_id: int
    cluster_id: int
    facts: ClusterFacts  # the underlying cluster's facts, at the listing's price and term
    free_servers: int
    server_count: int  # the underlying cluster's size (for its uptime)
    until: date


def resale_visible_q(*, exclude_customer_id: int | None, today: date) -> Q:
    """The listings a customer may be offered: open, of a contract that may be resold, still
    running, and not its own. The resale counterpart of ``marketable_clusters``."""
    condition = Q(
        status=ResaleStatus.LISTED, contract__status__in=RESELLABLE_STATUSES, end__gt=today
    )
    if exclude_customer_id is not None:
        condition &= ~Q(contract__customer_id=exclude_customer_id)
    return condition


def resale_reason_conditions(spec: RequestSpec) -> dict[Reason, Q]:
    """Each static rule as a condition that is true when a listing FAILS it: the rules of
    ``marketplace.selectors.static_reason_conditions``, on the underlying cluster's GPU model,
    region and network and on the listing's ask, minimum term and window."""
    conditions = {
        Reason.GPU_MODEL: ~Q(cluster__gpu_model__code__in=sorted(spec.gpu_codes)),
        Reason.INTERCONNECT: ~Q(
            cluster__interconnect__in=sorted(ACCEPTED_INTERCONNECTS[spec.interconnect])
        ),
        Reason.TERM_BELOW_MINIMUM: Q(min_term_months__gt=spec.term_months),
        Reason.OUTSIDE_AVAILABILITY: Q(start__gt=spec.start) | Q(end__lt=spec.end),
    }
    if spec.region_codes:
        conditions[Reason.REGION] = ~Q(cluster__region__code__in=sorted(spec.region_codes))
    if spec.max_price_per_p_year is not None:
        conditions[Reason.PRICE_ABOVE_MAX] = Q(price_per_p_year__gt=spec.max_price_per_p_year)
    return conditions


def resale_conditions(spec: RequestSpec, *, visible: Q) -> Q:
    """Visible listings that pass every static rule of matching."""
    return visible & ~any_rule_fails(resale_reason_conditions(spec))


def resale_statically_rejected(spec: RequestSpec, *, visible: Q) -> QuerySet[ResaleListing]:
    """Visible listings that fail at least one static rule, closest first (fewest rules
    failed, then cheapest), annotated with ``failed_rules``."""
    conditions = resale_reason_conditions(spec)
    failed = sum(
        (Case(When(condition, then=1), default=0) for condition in conditions.values()),
        Value(0),
    )
    return (
        ResaleListing.objects.filter(visible)
        .filter(any_rule_fails(conditions))
        .annotate(failed_rules=failed)
        .order_by("failed_rules", "price_per_p_year", "id")
    )


def resale_rejection_summary(spec: RequestSpec, *, visible: Q) -> tuple[int, dict[Reason, int]]:
    """How many visible listings fail any static rule, and how many fail each: one query."""
    conditions = resale_reason_conditions(spec)
    counts = ResaleListing.objects.filter(visible).aggregate(
        any_rule=Count("id", filter=any_rule_fails(conditions)),
        **{code.value: Count("id", filter=condition) for code, condition in conditions.items()},
    )
    total = counts.pop("any_rule")
    return total, {Reason(code): count for code, count in counts.items() if count}


_RESALE_COLUMNS = (
    "pk",
    "cluster_id",
    "servers",
    "start",
    "end",
    "price_per_p_year",
    "min_term_months",
    "cluster__gpu_model__code",
    "cluster__region__code",
    "cluster__interconnect",
    "cluster__gpus_per_server",
    "cluster__gpu_model__fp16_sparse_tflops",
    "cluster__server_count",
    "sold_servers",
)


def _candidate(row: tuple, free: int | None) -> ResaleCandidate:
    (
        pk,
        cluster_id,
        _,
        start,
        end,
        price,
        min_term,
        gpu,
        region,
        interconnect,
        gpus,
        sparse,
        server_count,
        _,
    ) = row
    facts = ClusterFacts(
        cluster_id=cluster_id,
        gpu_code=gpu,
        region_code=region,
        interconnect=interconnect,
        price_per_p_year=price,
        min_term_months=min_term,
        available_from=start,
        available_until=end,
        p_per_server=gpus * sparse / TFLOPS_PER_P,
        free_servers=free,
    )
    return ResaleCandidate(
        listing_id=pk,
        cluster_id=cluster_id,
        facts=facts,
        free_servers=free or 0,
        server_count=server_count,
        until=end,
    )


def resale_facts_of(listing_ids: Iterable[int]) -> dict[int, ResaleCandidate]:
    """Listings as candidates without capacity figures (for explaining static rules), by id:
    one query."""
    rows = fast_rows(
        ResaleListing.objects.filter(pk__in=list(listing_ids)).values_list(*_RESALE_COLUMNS)
    )
    return {row[0]: _candidate(row, None) for row in rows}


def live_holds_q(now: datetime) -> Q:
    return Q(expires_at__gt=now)


def holds_usages(
    listing_ids: Iterable[int] | None, *, start: date, end: date, now: datetime
) -> dict[int, list[Usage]]:
    """Live holds overlapping ``[start, end)``, as ledger usages, by listing id (one query).

    ``None``: of every listing (live holds are few: those of quotes open right now)."""
    rows = ResaleHold.objects.filter(live_holds_q(now), start__lt=end, end__gt=start)
    if listing_ids is not None:
        rows = rows.filter(listing_id__in=list(listing_ids))
    usages: dict[int, list[Usage]] = {}
    for listing_id, servers, hold_start, hold_end in rows.values_list(
        "listing_id", "servers", "start", "end"
    ):
        usages.setdefault(listing_id, []).append(Usage(hold_start, hold_end, servers))
    return usages


def resale_candidates(
    spec: RequestSpec, *, exclude_customer_id: int | None, now: datetime
) -> list[ResaleCandidate]:
    """Visible listings that pass every static rule of the request, with their servers free
    over its window: not sold, and not held for another request's open quotes.

    At most three queries whatever the number of listings: the listings passing the static
    rules, the sales overlapping the window of those that sold anything, and the live holds
    overlapping the window. A customer never buys its own listing.
    """
    visible = resale_visible_q(
        exclude_customer_id=exclude_customer_id, today=timezone.localdate(now)
    )
    listings = ResaleListing.objects.filter(resale_conditions(spec, visible=visible))
    rows = fast_rows(listings.order_by("price_per_p_year", "pk").values_list(*_RESALE_COLUMNS))
    if not rows:
        return []
    used: dict[int, list[Usage]] = {row[0]: [] for row in rows}
    # Only listings that sold anything have sales to read (sold_servers is kept under the lock).
    sold_ids = [row[0] for row in rows if row[-1] > 0]
    sales = ContractLine.objects.filter(
        _LIVE_SALE,
        resale_listing_id__in=sold_ids,
        contract__start_date__lt=spec.end,
        contract__end_date__gt=spec.start,
    ).values_list(
        "resale_listing_id",
        "servers",
        "contract__start_date",
        "contract__end_date",
        "contract__termination_date",
    )
    for listing_id, servers, start, end, terminated in sales if sold_ids else ():
        if listing_id in used:
            used[listing_id].append(Usage(start, terminated or end, servers))
    for listing_id, holds in holds_usages(None, start=spec.start, end=spec.end, now=now).items():
        if listing_id in used:
            used[listing_id].extend(holds)
    candidates = []
    for row in rows:
        free = row[2] - peak_usage(used[row[0]], start=spec.start, end=spec.end)
        candidates.append(_candidate(row, max(free, 0)))
    return candidates


# --- Pages ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class ContractResale:
    """What a contract has put on the secondary market and what it sold (its customer's view)."""

    listings: list[ResaleListing]
    sales: list[Contract]  # resale contracts of it, newest first
    can_list: bool


def contract_resale(contract: Contract, *, user: User) -> ContractResale | None:
    """The contract's listings and sales, for its customer and admins (None for others)."""
    organization = organization_of(user)
    is_customer = organization is not None and organization.pk == contract.customer_id
    if not (is_customer or is_platform_admin(user)):
        return None
    listings = list(
        ResaleListing.objects.filter(contract=contract).select_related("cluster").order_by("start")
    )
    sales = list(
        Contract.objects.filter(parent_contract=contract)
        .select_related("customer")
        .prefetch_related("lines")
        .order_by("-created_at")
    )
    return ContractResale(
        listings=listings,
        sales=sales,
        can_list=is_customer and contract.status in RESELLABLE_STATUSES,
    )
