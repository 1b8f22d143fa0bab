"""Reads of the marketplace: scoped lists, the facts matching runs on, the market view."""

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db.models import Case, Count, Max, Min, Prefetch, Q, QuerySet, Value, When
from django.utils import timezone
from django.utils.translation import get_language, gettext

from accounts.models import Organization, User
from accounts.money import TFLOPS_PER_P, split_tax
from accounts.selectors import is_platform_admin, organization_of, scope_to_organization
from inventory.models import Cluster, GpuModel, Interconnect, Region
from inventory.selectors import (
    fast_rows,
    free_servers,
    marketable_clusters,
    uptime_by_cluster,
    uptime_by_cluster_id,
)
from inventory.sla_tiers import sla_tiers_by_cluster
from marketplace import pricing, resale_history
from marketplace.eligibility import (
    ACCEPTED_INTERCONNECTS,
    ClusterFacts,
    Names,
    Reason,
    RequestSpec,
)
from marketplace.figures import ReferenceServer, reference_server
from marketplace.models import (
    CapacityRequest,
    Contract,
    ContractEvent,
    ContractEventKind,
    ContractHistoryKind,
    ContractLine,
    ContractStatus,
    InterconnectRequirement,
    MarketSettings,
    Quote,
    QuoteLine,
    QuoteStatus,
)
from marketplace.sizing import DEFAULT_GPUS_PER_SERVER


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

    @property
    def servers(self) -> int:
        """Servers on the lines this viewer sees."""
        return sum(line.servers for line in self.lines)

    @property
    def p(self) -> Decimal:
        """P on the lines this viewer sees."""
        return sum((line.p for line in self.lines), Decimal(0))


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
        # A reseller is the seller of a resale contract, not a provider: it cannot end it.
        is_sole_provider=(
            org_id is not None
            and contract.kind == "primary"
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


def any_rule_fails(conditions: dict[Reason, Q]) -> Q:
    """Rows failing at least one of the rules (each a condition that holds when it fails)."""
    combined = Q(pk__in=[])
    for condition in conditions.values():
        combined |= condition
    return combined


def statically_eligible(spec: RequestSpec) -> QuerySet[Cluster]:
    """Marketable clusters that pass every rule that needs no capacity figure."""
    return marketable_clusters().exclude(any_rule_fails(static_reason_conditions(spec)))


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
        .filter(any_rule_fails(conditions))
        .annotate(failed_rules=failed)
        .order_by("failed_rules", "price_per_p_year", "id")
    )


def static_rejection_summary(spec: RequestSpec) -> tuple[int, dict[Reason, int]]:
    """How many marketable clusters fail any static rule, and how many fail each: one
    aggregate query."""
    conditions = static_reason_conditions(spec)
    counts = marketable_clusters().aggregate(
        any_rule=Count("id", filter=any_rule_fails(conditions)),
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


# --- Names in the reader's language -----------------------------------------------------------
def region_label(name: str, name_zh: str) -> str:
    """A region's name in the active language (the catalog's Chinese name where it has one)."""
    if name_zh and (get_language() or "").startswith("zh"):
        return name_zh
    return name


def display_names() -> Names:
    """Names for the codes of GPU models, regions and networks, in the active language (two small
    queries: the GPU catalog and the regions)."""
    return Names(
        gpus=dict(GpuModel.objects.values_list("code", "name")),
        regions={
            code: region_label(name, name_zh)
            for code, name, name_zh in Region.objects.values_list("code", "name", "name_zh")
        },
        networks={code: str(label) for code, label in Interconnect.choices},
        requirements={code: str(label) for code, label in InterconnectRequirement.choices},
    )


# --- Pages: the quotes of a request ----------------------------------------------------------
@dataclass(frozen=True)
class QuoteLineView:
    line: QuoteLine
    uptime: Decimal  # measured over the last 90 days, percent
    sla_tiers: tuple = ()  # the cluster's SLA credit tiers (inventory.SlaCreditTier)


@dataclass(frozen=True)
class QuoteView:
    quote: Quote
    lines: list[QuoteLineView]
    monthly_price: Decimal  # one full billing month, tax included
    expired: bool


def quote_views(
    capacity_request: CapacityRequest, *, now: datetime | None = None
) -> list[QuoteView]:
    """The request's open offers, best first (and the accepted one, once booked), each line
    with its cluster, provider, region, measured uptime and SLA credit tiers. Five queries."""
    now = now or timezone.now()
    quotes = list(
        Quote.objects.filter(
            request=capacity_request, status__in=[QuoteStatus.OPEN, QuoteStatus.ACCEPTED]
        )
        .prefetch_related(
            Prefetch(
                "lines",
                QuoteLine.objects.select_related(
                    "cluster__provider",
                    "cluster__region",
                    "cluster__gpu_model",
                    "resale_listing",
                ),
            )
        )
        .order_by("rank", "id")
    )
    clusters = {line.cluster_id: line.cluster for quote in quotes for line in quote.lines.all()}
    uptime = uptime_by_cluster(list(clusters.values()), now=now) if clusters else {}
    tiers = sla_tiers_by_cluster(clusters) if clusters else {}
    return [
        QuoteView(
            quote=quote,
            lines=[
                QuoteLineView(line, uptime[line.cluster_id], tuple(tiers.get(line.cluster_id, ())))
                for line in quote.lines.all()
            ],
            monthly_price=pricing.monthly_price(lines_exact_annual(quote.lines.all())),
            expired=quote.expires_at <= now,
        )
        for quote in quotes
    ]


@dataclass(frozen=True)
class Signing:
    """Exactly what accepting a quote signs: the parties, the servers, the term and price."""

    quote: Quote
    capacity_request: CapacityRequest
    customer: Organization
    providers: list[Organization]  # in the order of the lines
    lines: list[QuoteLineView]
    monthly_price: Decimal
    expired: bool
    needs_approval: bool  # an admin approves before the contract starts


def quote_signing(quote: Quote, *, now: datetime | None = None) -> Signing:
    """What a customer is about to sign when accepting ``quote``."""
    capacity_request = CapacityRequest.objects.select_related("customer").get(pk=quote.request_id)
    view = next(v for v in quote_views(capacity_request, now=now) if v.quote.pk == quote.pk)
    providers: dict[int, Organization] = {}
    for line in view.lines:
        providers.setdefault(line.line.cluster.provider_id, line.line.cluster.provider)
    return Signing(
        quote=view.quote,
        capacity_request=capacity_request,
        customer=capacity_request.customer,
        providers=list(providers.values()),
        lines=view.lines,
        monthly_price=view.monthly_price,
        expired=view.expired,
        needs_approval=not MarketSettings.load().auto_approve_contracts,
    )


# --- Pages: contracts ------------------------------------------------------------------------
def contract_detail(*, user: User) -> QuerySet[Contract]:
    """``contract_list`` with what a contract's page and PDF show: lines with cluster, region,
    GPU and provider, history with actors, the customer's and providers' legal profiles."""
    return (
        contract_list(user=user)
        .prefetch_related(None)
        .prefetch_related(
            Prefetch(
                "lines",
                ContractLine.objects.select_related(
                    "cluster__region", "cluster__gpu_model", "provider"
                ),
            ),
            Prefetch("history", ContractEvent.objects.select_related("actor")),
        )
    )


@dataclass(frozen=True)
class Parties:
    customer: Organization
    providers: list[Organization]  # of the lines the viewer sees, in their order


def contract_parties(contract: Contract, view: ContractView) -> Parties:
    """Who signed: the customer, and the providers of the lines this viewer may see."""
    providers: dict[int, Organization] = {}
    for line in view.lines:
        providers.setdefault(line.provider_id, line.provider)
    return Parties(customer=contract.customer, providers=list(providers.values()))


def lines_exact_annual(lines) -> Decimal:
    """The exact (unrounded) annual price of quote or contract lines: what every amount is
    derived from, rounded once (``marketplace.pricing``)."""
    return pricing.exact_annual_price((line.p, line.price_per_p_year) for line in lines)


def contract_exact_annual(contract: Contract) -> Decimal:
    """The contract's exact annual price (prefetch ``lines`` when reading many contracts)."""
    return lines_exact_annual(contract.lines.all())


def contract_monthly_price(contract: Contract) -> Decimal:
    """One full contract month's charge, tax included: exact annual / 12, rounded once."""
    return pricing.monthly_price(contract_exact_annual(contract))


def contract_tax_split(contract: Contract) -> tuple[Decimal, Decimal]:
    """The contract's total for its term as (net, VAT), each to the fen."""
    return split_tax(contract.total_price, contract.vat_rate)


@dataclass(frozen=True)
class OpenQuotes:
    count: int
    lowest_price_per_p_year: Decimal
    expires_at: datetime


def open_quote_summary(request_ids: list[int]) -> dict[int, OpenQuotes]:
    """For each request, its open quotes: how many, the lowest price, when they expire (one
    query)."""
    rows = (
        Quote.objects.filter(request_id__in=request_ids, status=QuoteStatus.OPEN)
        .values("request_id")
        .annotate(count=Count("id"), lowest=Min("price_per_p_year"), expires=Max("expires_at"))
        .order_by()
    )
    return {
        row["request_id"]: OpenQuotes(row["count"], row["lowest"], row["expires"]) for row in rows
    }


@dataclass(frozen=True)
class HistoryRow:
    at: datetime
    from_status: str  # in words; blank for the signing
    to_status: str  # in words
    to_code: str  # the state's code
    by: str
    reason: str


def history_kind(event: ContractEvent) -> str:
    """What the history row is (``ContractHistoryKind``): a resale event by its own kind, the
    signing (no state before it), a resale contract ended because the contract it resold ended,
    or any other change of state."""
    if event.kind:
        return event.kind
    if not event.from_status:
        return ContractHistoryKind.SIGNED
    if event.actor_label == resale_history.ENDED_BY_PARENT:
        return ContractHistoryKind.ENDED_WITH_PARENT
    return ContractHistoryKind.TRANSITION


def contract_history(contract: Contract) -> list[HistoryRow]:
    """The contract's transitions in words. Reasons people typed are shown as typed; those the
    platform wrote itself (signing, automatic approval, the daily schedule) in the reader's
    language."""
    rows = []
    for event in contract.history.all():
        if event.kind:
            rows.append(
                HistoryRow(
                    at=event.created_at,
                    from_status="",
                    to_status=str(ContractEventKind(event.kind).label),
                    to_code=event.kind,
                    by=event.actor.username if event.actor_id else gettext("Platform"),
                    reason=resale_history.describe(event),
                )
            )
            continue
        reason = event.reason
        if event.actor_id is not None:
            by = event.actor.username
        elif event.actor_label == "auto-approval":
            by = gettext("Platform (automatic approval)")
            reason = gettext("Auto-approval is enabled.") if reason else ""
        elif event.actor_label.startswith("task:"):
            by = gettext("Platform (schedule)")
            reason = {
                ContractStatus.ACTIVE: gettext("Started on its start date."),
                ContractStatus.COMPLETED: gettext("Ran its full term."),
            }.get(event.to_status, reason)
        else:
            by = gettext("Platform")
        if not event.from_status and reason == f"Signed from quote {contract.quote_id}.":
            reason = gettext("Signed from quote %(quote)s.") % {"quote": contract.quote_id}
        rows.append(
            HistoryRow(
                at=event.created_at,
                from_status=(
                    str(ContractStatus(event.from_status).label) if event.from_status else ""
                ),
                to_status=str(ContractStatus(event.to_status).label),
                to_code=event.to_status,
                by=by,
                reason=reason,
            )
        )
    return rows


# --- Home: the reference figures -------------------------------------------------------------
def reference_figures() -> list[ReferenceServer]:
    """The worked examples of the market, from the catalog: an 8-card server of each reference
    GPU model, its rating in P and its rent for a year at the reference price."""
    models = {
        model.code: model
        for model in GpuModel.objects.filter(code__in=settings.REFERENCE_GPU_MODELS)
    }
    return [
        reference_server(
            gpu_code=code,
            gpu_name=models[code].name,
            gpus_per_server=DEFAULT_GPUS_PER_SERVER,
            fp16_sparse_tflops=models[code].fp16_sparse_tflops,
            price_per_p_year=settings.REFERENCE_PRICE_PER_P_YEAR,
        )
        for code in settings.REFERENCE_GPU_MODELS
        if code in models
    ]
