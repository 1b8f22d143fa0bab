"""Reads of the marketplace: scoped lists, the facts matching runs on, the market view."""

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.db.models import Case, Count, Q, QuerySet, Value, When
from django.utils import timezone

from accounts.models import User
from accounts.money import TFLOPS_PER_P
from accounts.selectors import is_platform_admin, organization_of, scope_to_organization
from inventory.models import Cluster
from inventory.selectors import (
    fast_rows,
    free_servers,
    marketable_clusters,
    uptime_by_cluster_id,
)
from marketplace.eligibility import ACCEPTED_INTERCONNECTS, ClusterFacts, Reason, RequestSpec
from marketplace.models import CapacityRequest, Contract, ContractLine, ContractStatus, Quote


def request_list(*, user: User) -> QuerySet[CapacityRequest]:
    queryset = CapacityRequest.objects.prefetch_related("gpu_models", "regions")
    return scope_to_organization(queryset, user=user, org_field="customer")


def quote_list(*, user: User) -> QuerySet[Quote]:
    queryset = Quote.objects.select_related("request").prefetch_related("lines")
    return scope_to_organization(queryset, user=user, org_field="request__customer")


def contract_list(*, user: User) -> QuerySet[Contract]:
    """Customers see their contracts, providers the contracts on their clusters, admins all."""
    queryset = Contract.objects.select_related("customer").prefetch_related(
        "lines__cluster", "history__actor"
    )
    if is_platform_admin(user):
        return queryset
    organization = organization_of(user)
    if organization is None:
        return queryset.none()
    return queryset.filter(Q(customer=organization) | Q(lines__provider=organization)).distinct()


@dataclass(frozen=True)
class ContractView:
    """What one user may see of, and do with, one contract (one place for the rule).

    Customers and admins see the whole contract. A provider sees only its own lines and no
    totals (another provider's price on a split contract is not its business), and may
    terminate, with notice, only a contract all of whose lines are its own.
    """

    lines: list[ContractLine]
    show_totals: bool
    is_customer: bool
    is_sole_provider: bool


def contract_view(contract: Contract, *, user: User) -> ContractView:
    lines = list(contract.lines.all())
    organization = organization_of(user)
    org_id = organization.pk if organization is not None else None
    is_customer = org_id is not None and org_id == contract.customer_id
    full = is_platform_admin(user) or is_customer
    return ContractView(
        lines=lines if full else [line for line in lines if line.provider_id == org_id],
        show_totals=full,
        is_customer=is_customer,
        is_sole_provider=(
            org_id is not None
            and not is_customer
            and bool(lines)
            and all(line.provider_id == org_id for line in lines)
        ),
    )


def request_spec(capacity_request: CapacityRequest) -> RequestSpec:
    return RequestSpec(
        gpu_codes=frozenset(model.code for model in capacity_request.gpu_models.all()),
        region_codes=frozenset(region.code for region in capacity_request.regions.all()),
        interconnect=capacity_request.interconnect,
        max_price_per_p_year=capacity_request.max_price_per_p_year,
        start=capacity_request.start_date,
        end=capacity_request.end_date,
        term_months=capacity_request.term_months,
        single_cluster=capacity_request.single_cluster,
        min_p=capacity_request.min_p,
        servers=capacity_request.servers,
    )


def static_reason_conditions(spec: RequestSpec) -> dict[Reason, Q]:
    """Each static rule as a condition that is true when a cluster FAILS it.

    The same rules, explained, are ``marketplace.eligibility.static_reason_codes``; a test holds
    the two to each other.
    """
    conditions = {
        Reason.GPU_MODEL: ~Q(gpu_model__code__in=sorted(spec.gpu_codes)),
        Reason.INTERCONNECT: ~Q(interconnect__in=sorted(ACCEPTED_INTERCONNECTS[spec.interconnect])),
        Reason.TERM_BELOW_MINIMUM: Q(min_term_months__gt=spec.term_months),
        Reason.OUTSIDE_AVAILABILITY: Q(available_from__gt=spec.start)
        | Q(available_until__isnull=False, available_until__lt=spec.end),
    }
    if spec.region_codes:
        conditions[Reason.REGION] = ~Q(region__code__in=sorted(spec.region_codes))
    if spec.max_price_per_p_year is not None:
        conditions[Reason.PRICE_ABOVE_MAX] = Q(price_per_p_year__gt=spec.max_price_per_p_year)
    return conditions


def _any(conditions: dict[Reason, Q]) -> Q:
    combined = Q(pk__in=[])
    for condition in conditions.values():
        combined |= condition
    return combined


def statically_eligible(spec: RequestSpec) -> QuerySet[Cluster]:
    """Marketable clusters that pass every rule that needs no capacity figure."""
    return marketable_clusters().exclude(_any(static_reason_conditions(spec)))


def statically_rejected(spec: RequestSpec) -> QuerySet[Cluster]:
    """Marketable clusters that fail at least one static rule, closest first (fewest rules
    failed, then cheapest), annotated with ``failed_rules``."""
    conditions = static_reason_conditions(spec)
    failed = sum(
        (Case(When(condition, then=1), default=0) for condition in conditions.values()),
        Value(0),
    )
    return (
        marketable_clusters()
        .filter(_any(conditions))
        .annotate(failed_rules=failed)
        .order_by("failed_rules", "price_per_p_year", "id")
    )


def static_rejection_summary(spec: RequestSpec) -> tuple[int, dict[Reason, int]]:
    """How many marketable clusters fail any static rule, and how many fail each: one
    aggregate query."""
    conditions = static_reason_conditions(spec)
    counts = marketable_clusters().aggregate(
        any_rule=Count("id", filter=_any(conditions)),
        **{code.value: Count("id", filter=condition) for code, condition in conditions.items()},
    )
    total = counts.pop("any_rule")
    return total, {Reason(code): count for code, count in counts.items() if count}


FACT_COLUMNS = (
    "id",
    "gpu_model__code",
    "region__code",
    "interconnect",
    "price_per_p_year",
    "min_term_months",
    "available_from",
    "available_until",
    "gpus_per_server",
    "gpu_model__fp16_sparse_tflops",
    "server_count",
)


def facts_of(
    clusters: QuerySet[Cluster], free: dict[int, int] | None = None
) -> tuple[list[ClusterFacts], dict[int, int]]:
    """ClusterFacts for these clusters (one query), and their sizes by id."""
    free = free or {}
    facts, sizes = [], {}
    for (
        pk,
        gpu,
        region,
        interconnect,
        price,
        min_term,
        available_from,
        available_until,
        gpus,
        sparse,
        server_count,
    ) in fast_rows(clusters.values_list(*FACT_COLUMNS)):
        facts.append(
            ClusterFacts(
                cluster_id=pk,
                gpu_code=gpu,
                region_code=region,
                interconnect=interconnect,
                price_per_p_year=price,
                min_term_months=min_term,
                available_from=available_from,
                available_until=available_until,
                p_per_server=gpus * sparse / TFLOPS_PER_P,
                free_servers=free.get(pk),
            )
        )
        sizes[pk] = server_count
    return facts, sizes


def cluster_facts(
    spec: RequestSpec, *, now: datetime | None = None
) -> tuple[list[ClusterFacts], dict[int, Decimal]]:
    """Facts about the clusters that pass every static rule, with their free servers over the
    term, and the measured uptime of those with servers free. Three queries, whatever the
    number of clusters. (Clusters that fail a static rule are read only when shown:
    ``statically_rejected``.)"""
    eligible = statically_eligible(spec)
    free = free_servers(eligible, start=spec.start, end=spec.end, now=now, narrow=True)
    facts, sizes = facts_of(eligible, free)
    with_free = {pk: size for pk, size in sizes.items() if free.get(pk, 0) > 0}
    return facts, uptime_by_cluster_id(with_free, now=now)


# --- Market view ----------------------------------------------------------------------------
MARKET_HORIZONS_DAYS = (30, 90, 365)
SIGNED_WINDOW_DAYS = 90
# A median of fewer contracts than this could identify a customer's price: hidden.
MIN_CONTRACTS_FOR_MEDIAN = 3


@dataclass(frozen=True)
class MarketRow:
    gpu_model: str
    region: str
    clusters: int
    free_p: dict[int, Decimal]  # horizon in days -> P free for the whole horizon from today
    lowest_ask: Decimal
    median_ask: Decimal
    contracts_90d: int
    median_signed_90d: Decimal | None


def _median(values: list[Decimal]) -> Decimal:
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


def market_view(*, today: date | None = None, now: datetime | None = None) -> list[MarketRow]:
    """Per GPU model and region: free P over the next 30/90/365 days, lowest and median ask
    per P per year, and the median price of contracts signed in the last 90 days (anonymised:
    only with at least MIN_CONTRACTS_FOR_MEDIAN contracts). A fixed number of queries."""
    today = today or timezone.localdate()
    clusters = list(
        marketable_clusters().values_list(
            "id",
            "gpu_model__code",
            "region__code",
            "price_per_p_year",
            "gpus_per_server",
            "gpu_model__fp16_sparse_tflops",
        )
    )
    free_by_horizon = {
        days: free_servers(
            marketable_clusters(), start=today, end=today + timedelta(days=days), now=now
        )
        for days in MARKET_HORIZONS_DAYS
    }
    groups: dict[tuple[str, str], list[tuple]] = {}
    for row in clusters:
        groups.setdefault((row[1], row[2]), []).append(row)
    since = (now or timezone.now()) - timedelta(days=SIGNED_WINDOW_DAYS)
    signed: dict[tuple[str, str], dict[int, Decimal]] = {}
    for contract_id, gpu, region, price in (
        ContractLine.objects.filter(contract__created_at__gte=since)
        .exclude(contract__status=ContractStatus.CANCELLED)
        .values_list(
            "contract_id", "cluster__gpu_model__code", "cluster__region__code", "price_per_p_year"
        )
    ):
        signed.setdefault((gpu, region), {})[contract_id] = price
    rows = []
    for (gpu, region), members in sorted(groups.items()):
        asks = [member[3] for member in members]
        free_p = {
            days: sum(
                (
                    free_by_horizon[days].get(member[0], 0) * member[4] * member[5] / TFLOPS_PER_P
                    for member in members
                ),
                Decimal(0),
            )
            for days in MARKET_HORIZONS_DAYS
        }
        prices = list(signed.get((gpu, region), {}).values())
        rows.append(
            MarketRow(
                gpu_model=gpu,
                region=region,
                clusters=len(members),
                free_p=free_p,
                lowest_ask=min(asks),
                median_ask=_median(asks),
                contracts_90d=len(prices),
                median_signed_90d=(
                    _median(prices) if len(prices) >= MIN_CONTRACTS_FOR_MEDIAN else None
                ),
            )
        )
    return rows


def median_ask_by_gpu(*, today: date | None = None) -> dict[str, Decimal]:
    """Today's median ask price per P per year for each GPU model (for sizing estimates)."""
    asks: dict[str, list[Decimal]] = {}
    for code, price in marketable_clusters().values_list("gpu_model__code", "price_per_p_year"):
        asks.setdefault(code, []).append(price)
    return {code: _median(prices) for code, prices in asks.items()}
