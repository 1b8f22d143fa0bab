"""Reads of the secondary market: what a contract holds and has listed, what a listing has left.

A contract *holds* on a cluster the servers of its lines there, over its effective term
(``[start_date, termination_date or end_date)``). It has *committed* of them, at a moment, the
servers of its open listings covering that moment, and, for listings withdrawn or sold, the
servers actually sold then. It may list at most ``held - peak(committed)`` over a window.
A listing has free, over a window, its servers less the peak of its sales in that window.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from django.db.models import Q, QuerySet

from accounts.models import User
from accounts.money import TFLOPS_PER_P
from accounts.selectors import is_platform_admin, organization_of
from inventory.capacity import Usage, peak_usage
from inventory.selectors import fast_rows
from marketplace.eligibility import ACCEPTED_INTERCONNECTS, ClusterFacts, RequestSpec
from marketplace.models import (
    Contract,
    ContractLine,
    ContractStatus,
    ResaleListing,
    ResaleStatus,
)

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
    listing: ResaleListing, *, start: date, end: date, exclude_contract_id: int | None = None
) -> int:
    """Servers of an open listing still for sale over ``[start, end)`` (inside its window),
    not counting the sale to ``exclude_contract_id`` (the one being made)."""
    if listing.status != ResaleStatus.LISTED or start < listing.start or end > listing.end:
        return 0
    sales = sales_usages([listing.pk], exclude_contract_id=exclude_contract_id)[listing.pk]
    sold = peak_usage(sales, start=start, end=end) if sales else 0
    return max(listing.servers - sold, 0)


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
    """An open listing that passes every rule of a request, with its free servers."""

    listing_id: int
    cluster_id: int
    facts: ClusterFacts  # the underlying cluster's facts, at the listing's price and term
    free_servers: int
    server_count: int  # the underlying cluster's size (for its uptime)
    until: date


def resale_conditions(spec: RequestSpec) -> Q:
    """The static rules of matching, applied to listings and their underlying clusters."""
    condition = Q(
        status=ResaleStatus.LISTED,
        contract__status__in=RESELLABLE_STATUSES,
        cluster__gpu_model__code__in=sorted(spec.gpu_codes),
        cluster__interconnect__in=sorted(ACCEPTED_INTERCONNECTS[spec.interconnect]),
        min_term_months__lte=spec.term_months,
        start__lte=spec.start,
        end__gte=spec.end,
    )
    if spec.region_codes:
        condition &= Q(cluster__region__code__in=sorted(spec.region_codes))
    if spec.max_price_per_p_year is not None:
        condition &= Q(price_per_p_year__lte=spec.max_price_per_p_year)
    return condition


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


def resale_candidates(
    spec: RequestSpec, *, exclude_customer_id: int | None
) -> list[ResaleCandidate]:
    """Open listings that could serve the request, with their servers free over its window.

    At most two queries whatever the number of listings: the listings passing the static rules,
    and the sales overlapping the window of those that sold anything. A customer never buys its
    own listing.
    """
    listings = ResaleListing.objects.filter(resale_conditions(spec))
    if exclude_customer_id is not None:
        listings = listings.exclude(contract__customer_id=exclude_customer_id)
    rows = fast_rows(listings.order_by("price_per_p_year", "pk").values_list(*_RESALE_COLUMNS))
    if not rows:
        return []
    sold: dict[int, list[Usage]] = {row[0]: [] for row in rows}
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
        if listing_id in sold:
            sold[listing_id].append(Usage(start, terminated or end, servers))
    candidates = []
    for (
        pk,
        cluster_id,
        servers,
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
    ) in rows:
        free = servers - peak_usage(sold[pk], start=spec.start, end=spec.end)
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
            free_servers=max(free, 0),
        )
        candidates.append(
            ResaleCandidate(
                listing_id=pk,
                cluster_id=cluster_id,
                facts=facts,
                free_servers=max(free, 0),
                server_count=server_count,
                until=end,
            )
        )
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
