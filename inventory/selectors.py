"""Reads of the inventory: visibility, free capacity (in SQL), search, availability, uptime."""

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from dateutil.relativedelta import relativedelta
from django.core.exceptions import EmptyResultSet
from django.db import connection
from django.db.models import F, Q, QuerySet, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from accounts.models import Organization, User
from accounts.selectors import is_platform_admin, organization_of
from inventory.capacity import FreeSpan, Usage, free_timeline, peak_usage
from inventory.models import (
    Allocation,
    AllocationKind,
    Cluster,
    ClusterStatus,
    GpuModel,
    Outage,
    Region,
    SlaCreditTier,
    price_per_server_year,
)
from inventory.reliability import UPTIME_WINDOW, OutageSpan, uptime_percent
from inventory.sla_tiers import sla_tiers_by_cluster


def active_allocations_q(now: datetime) -> Q:
    """Allocations that occupy servers: everything except holds past their expiry."""
    return Q(expires_at__isnull=True) | Q(expires_at__gt=now)


def fast_rows(values_list: QuerySet) -> list[tuple]:
    """The rows of a ``values_list()`` queryset, read straight from the cursor on PostgreSQL.

    For reads of every cluster on a hot path (matching): psycopg already returns Decimal, date
    and str, so Django's per-row processing is skipped. Other databases go through the ORM,
    whose converters they need.
    """
    if connection.vendor != "postgresql":
        return list(values_list)
    try:
        sql, params = values_list.query.sql_with_params()
    except EmptyResultSet:
        return []
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def marketable_clusters() -> QuerySet[Cluster]:
    """Clusters customers may see and book: listed, of a verified provider."""
    return Cluster.objects.filter(status=ClusterStatus.LISTED, provider__verified_at__isnull=False)


def cluster_visible_q(user: User | None) -> Q | None:
    """Which clusters ``user`` may see; ``None`` means all (admins)."""
    if is_platform_admin(user):
        return None
    marketable = Q(status=ClusterStatus.LISTED, provider__verified_at__isnull=False)
    organization = organization_of(user)
    if organization is None:
        return marketable
    return marketable | Q(provider_id=organization.pk)


def cluster_list(*, user: User | None) -> QuerySet[Cluster]:
    queryset = Cluster.objects.select_related("provider", "region", "gpu_model")
    visible = cluster_visible_q(user)
    return queryset if visible is None else queryset.filter(visible)


def cluster_owned_by(cluster: Cluster, user: User) -> bool:
    if is_platform_admin(user):
        return True
    organization = organization_of(user)
    return organization is not None and cluster.provider_id == organization.pk


# --- Free capacity in SQL -------------------------------------------------------------------
# Two ways to the same number, each a single statement for any number of clusters:
#
# 1. From the ledger (the source of truth; reservations use it under the cluster lock): a sweep.
#    Every active allocation overlapping the window contributes +servers at max(start, window
#    start) and -servers at its end (if inside the window); a running sum per cluster ordered by
#    time (ends before starts at the same instant, since windows are half-open) gives the
#    servers in use after each change, and its maximum is the peak.
# 2. From the derived usage steps (search, matching, display): bookings and maintenance as a
#    step function kept in line with the ledger under the cluster lock, so the peak over a
#    window is a plain MAX(used). Holds are not in the steps (they expire by themselves), so
#    clusters with unexpired holds in the window are swept exactly as in 1.
#
# Tokens written @name are bound positionally by _bind (portable across PostgreSQL and SQLite).
_CANDIDATES = "cand AS ({candidates})"

_LEDGER_WINDOW = """
win AS (
    SELECT a.cluster_id, a.start, a."end", a.servers
    FROM inventory_allocation a
    JOIN {sweep_clusters} sc ON sc.cid = a.cluster_id
    WHERE a.start < @end AND a."end" > @start AND (a.expires_at IS NULL OR a.expires_at > @now)
),
ev AS (
    SELECT w.cluster_id,
           CASE WHEN two.k = 1 THEN (CASE WHEN w.start > @start THEN w.start ELSE @start END)
                ELSE w."end" END AS t,
           CASE WHEN two.k = 1 THEN w.servers ELSE -w.servers END AS d
    FROM win w
    CROSS JOIN (SELECT 1 AS k UNION ALL SELECT 2 AS k) two
    WHERE two.k = 1 OR w."end" < @end
),
run AS (
    SELECT cluster_id,
           SUM(d) OVER (PARTITION BY cluster_id ORDER BY t, d ROWS UNBOUNDED PRECEDING) AS used
    FROM ev
),
peak AS (SELECT cluster_id, MAX(used) AS used FROM run GROUP BY cluster_id)"""

_COVERS_WINDOW = (
    "cand.avail_from <= @start AND (cand.avail_until IS NULL OR cand.avail_until >= @end)"
)

_LEDGER_SQL = f"""
WITH {_CANDIDATES},{_LEDGER_WINDOW.format(sweep_clusters="cand")}
SELECT cand.cid,
       CASE WHEN {_COVERS_WINDOW} THEN cand.cap - COALESCE(peak.used, 0) ELSE 0 END
FROM cand LEFT JOIN peak ON peak.cluster_id = cand.cid
ORDER BY cand.price, cand.cid
"""  # nosec B608 # assembled from module constants; every value is a bound parameter

_STEPS_SQL_TEMPLATE = f"""
WITH {_CANDIDATES},
steps AS (
    SELECT s.cluster_id, MAX(s.used) AS used
    FROM inventory_usagestep s
    {{steps_join}}
    WHERE s.start < @end AND s."end" > @start
    GROUP BY s.cluster_id
),
held AS (
    SELECT DISTINCT a.cluster_id AS cid
    FROM inventory_allocation a
    WHERE a.kind = 'hold' AND a.expires_at > @now AND a.start < @end AND a."end" > @start
),{_LEDGER_WINDOW.format(sweep_clusters="held")},
free AS (
    SELECT cand.cid, cand.price, cand.tflops_per_server AS tf,
           CASE WHEN {_COVERS_WINDOW}
                THEN cand.cap - COALESCE(
                    CASE WHEN held.cid IS NULL THEN steps.used ELSE peak.used END, 0)
                ELSE 0 END AS free_servers
    FROM cand
    LEFT JOIN steps ON steps.cluster_id = cand.cid
    LEFT JOIN held ON held.cid = cand.cid
    LEFT JOIN peak ON peak.cluster_id = cand.cid
)
SELECT cid, free_servers FROM free
WHERE free_servers * tf >= CAST(@min_tflops AS NUMERIC)
ORDER BY price, cid
"""  # nosec B608 # assembled from module constants; every value is a bound parameter

# Scanning every step in the window and joining afterwards is fastest when most clusters are
# candidates (search); joining first is when few are (matching a narrow request).
_STEPS_SQL = _STEPS_SQL_TEMPLATE.replace("{steps_join}", "")
_STEPS_SQL_NARROW = _STEPS_SQL_TEMPLATE.replace(
    "{steps_join}", "JOIN cand ON cand.cid = s.cluster_id"
)

_TOKEN = re.compile(r"@([a-z_]+)")


def _bind(sql: str, values: dict) -> tuple[str, list]:
    """Replace ``@name`` tokens with placeholders and list their values in order."""
    params: list = []

    def placeholder(match: re.Match) -> str:
        params.append(values[match.group(1)])
        return "%s"

    return _TOKEN.sub(placeholder, sql), params


def _run_window_query(
    template: str,
    clusters: QuerySet[Cluster],
    *,
    start: date,
    end: date,
    now: datetime | None,
    min_free_p: Decimal = Decimal(0),
) -> list[tuple]:
    candidates = clusters.order_by().values(
        cid=F("id"),
        cap=F("server_count"),
        price=F("price_per_p_year"),
        avail_from=F("available_from"),
        avail_until=F("available_until"),
        tflops_per_server=F("gpus_per_server") * F("gpu_model__fp16_sparse_tflops"),
    )
    try:
        candidate_sql, candidate_params = candidates.query.sql_with_params()
    except EmptyResultSet:  # e.g. pk__in=[]: nothing to compute
        return []
    # The candidate SQL may contain literal % signs only as placeholders; keep them apart from
    # the @tokens by binding the template first, then splicing the candidate query in.
    ops = connection.ops
    sql, params = _bind(
        template,
        {
            "start": ops.adapt_datefield_value(start),
            "end": ops.adapt_datefield_value(end),
            "now": ops.adapt_datetimefield_value(now or timezone.now()),
            "min_tflops": str(min_free_p * 1000),
        },
    )
    head, tail = sql.split("{candidates}")
    with connection.cursor() as cursor:
        cursor.execute(head + candidate_sql + tail, [*candidate_params, *params])
        return cursor.fetchall()


def free_servers_from_ledger(
    clusters: QuerySet[Cluster], *, start: date, end: date, now: datetime | None = None
) -> dict[int, int]:
    """Free servers of each cluster over ``[start, end)`` swept from the ledger itself.

    Reservations call this under the cluster lock: it sees rows written earlier in the same
    transaction, which the derived steps only reflect at its end.
    """
    rows = _run_window_query(_LEDGER_SQL, clusters, start=start, end=end, now=now)
    return {cluster_id: int(free) for cluster_id, free in rows}


def free_servers(
    clusters: QuerySet[Cluster],
    *,
    start: date,
    end: date,
    min_free_p: Decimal = Decimal(0),
    now: datetime | None = None,
    narrow: bool = False,
) -> dict[int, int]:
    """Free servers over ``[start, end)`` of the clusters with at least ``min_free_p`` P free,
    cheapest first (then by id; dicts keep that order). One query, any number of clusters.
    ``narrow``: the clusters are a small part of the market (join before aggregating)."""
    rows = _run_window_query(
        _STEPS_SQL_NARROW if narrow else _STEPS_SQL,
        clusters,
        start=start,
        end=end,
        now=now,
        min_free_p=min_free_p,
    )
    return {cluster_id: int(free) for cluster_id, free in rows}


def cluster_free_servers(
    cluster: Cluster, *, start: date, end: date, now: datetime | None = None
) -> int:
    """Servers of one cluster free for the whole of ``[start, end)``."""
    free = free_servers(Cluster.objects.filter(pk=cluster.pk), start=start, end=end, now=now)
    return free.get(cluster.pk, 0)


def cluster_usages(
    cluster: Cluster, *, start: date, end: date, now: datetime | None = None
) -> list[Usage]:
    now = now or timezone.now()
    rows = (
        Allocation.objects.filter(active_allocations_q(now), cluster=cluster)
        .filter(start__lt=end, end__gt=start)
        .values_list("start", "end", "servers")
    )
    return [Usage(start=s, end=e, servers=n) for s, e, n in rows]


def cluster_availability(
    cluster: Cluster, *, start: date, end: date, now: datetime | None = None
) -> list[FreeSpan]:
    """The free-server timeline of a cluster over ``[start, end)``, piecewise constant."""
    return free_timeline(
        server_count=cluster.server_count,
        usages=cluster_usages(cluster, start=start, end=end, now=now),
        start=start,
        end=end,
        available_from=cluster.available_from,
        available_until=cluster.available_until,
    )


def cluster_peak_from(cluster: Cluster, *, since: date, now: datetime | None = None) -> int:
    """Most servers of ``cluster`` in use at any moment from ``since`` on."""
    now = now or timezone.now()
    last_end = (
        Allocation.objects.filter(active_allocations_q(now), cluster=cluster, end__gt=since)
        .order_by("-end")
        .values_list("end", flat=True)
        .first()
    )
    if last_end is None:
        return 0
    return peak_usage(
        cluster_usages(cluster, start=since, end=last_end, now=now), start=since, end=last_end
    )


def uptime_by_cluster(
    clusters: Sequence[Cluster], *, now: datetime | None = None
) -> dict[int, Decimal]:
    """Measured uptime percent over the last 90 days for each cluster, in one query."""
    return uptime_by_cluster_id({cluster.pk: cluster.server_count for cluster in clusters}, now=now)


def uptime_by_cluster_id(
    server_counts: dict[int, int], *, now: datetime | None = None
) -> dict[int, Decimal]:
    """Uptime percent over the last 90 days, by cluster id (given each cluster's size)."""
    now = now or timezone.now()
    window_start = now - UPTIME_WINDOW
    spans: dict[int, list[OutageSpan]] = {cluster_id: [] for cluster_id in server_counts}
    outages = Outage.objects.filter(end__gt=window_start, start__lt=now)
    if len(spans) <= 100:  # a page of clusters: ask for theirs; else scan the 90-day window
        outages = outages.filter(cluster_id__in=list(spans))
    for cluster_id, start, end, servers in outages.values_list(
        "cluster_id", "start", "end", "servers_affected"
    ):
        if cluster_id in spans:
            spans[cluster_id].append(OutageSpan(start=start, end=end, servers_affected=servers))
    full = Decimal("100.000")
    return {
        cluster_id: full
        if not spans[cluster_id]
        else uptime_percent(
            server_count=server_count,
            outages=spans[cluster_id],
            window_start=window_start,
            window_end=now,
        )
        for cluster_id, server_count in server_counts.items()
    }


def outage_list(*, user: User | None, cluster: Cluster | None = None) -> QuerySet[Outage]:
    queryset = Outage.objects.select_related("cluster")
    if cluster is not None:
        queryset = queryset.filter(cluster=cluster)
    if is_platform_admin(user):
        return queryset
    organization = organization_of(user)
    if organization is None:
        return queryset.none()
    visible = cluster_visible_q(user)
    return queryset.filter(cluster__in=Cluster.objects.filter(visible))


def clusters_by_ids(ids: Iterable[int]) -> dict[int, Cluster]:
    return {
        cluster.pk: cluster
        for cluster in Cluster.objects.select_related("provider", "region", "gpu_model").filter(
            pk__in=list(ids)
        )
    }


# --- Pages: search, a cluster's page, a provider's clusters, the live rating ----------------
@dataclass(frozen=True)
class SearchRow:
    """One search result: a cluster and what is free of it over the searched window."""

    cluster: Cluster
    free_servers: int
    free_p: Decimal
    uptime: Decimal


def cluster_search(
    *,
    user: User | None,
    start: date,
    end: date,
    gpu_model: GpuModel | None = None,
    region: Region | None = None,
    interconnect: str = "",
    max_price: Decimal | None = None,
    min_free_p: Decimal = Decimal(0),
    now: datetime | None = None,
) -> dict[int, int]:
    """Free servers over ``[start, end)`` of the clusters ``user`` may see that pass the
    filters and have at least ``min_free_p`` P free, cheapest first (one query)."""
    clusters = cluster_list(user=user)
    if gpu_model is not None:
        clusters = clusters.filter(gpu_model=gpu_model)
    if region is not None:
        clusters = clusters.filter(region=region)
    if interconnect:
        clusters = clusters.filter(interconnect=interconnect)
    if max_price is not None:
        clusters = clusters.filter(price_per_p_year__lte=max_price)
    return free_servers(clusters, start=start, end=end, min_free_p=min_free_p, now=now)


def search_rows(
    cluster_ids: Sequence[int], free: dict[int, int], *, now: datetime | None = None
) -> list[SearchRow]:
    """The rows of one page of search results, in the order given (two queries)."""
    by_id = clusters_by_ids(cluster_ids)
    clusters = [by_id[pk] for pk in cluster_ids if pk in by_id]
    uptime = uptime_by_cluster(clusters, now=now)
    return [
        SearchRow(
            cluster=cluster,
            free_servers=free[cluster.pk],
            free_p=free[cluster.pk] * cluster.rated_p_per_server,
            uptime=uptime[cluster.pk],
        )
        for cluster in clusters
    ]


CALENDAR_MONTHS = 12
RECENT_OUTAGES = 10


@dataclass(frozen=True)
class ClusterPage:
    """What a cluster's page shows: facts, the 12-month calendar, uptime and outages."""

    cluster: Cluster
    owned: bool
    calendar_start: date
    calendar_end: date  # exclusive
    availability: list[FreeSpan]
    uptime: Decimal
    outages: list[Outage]
    maintenance: list[Allocation]  # current and coming blocks; the owner's view only
    sla_tiers: list[SlaCreditTier] = field(default_factory=list)  # highest threshold first


def cluster_page(
    cluster: Cluster, *, user: User | None, today: date, now: datetime | None = None
) -> ClusterPage:
    """Read ``cluster`` (already checked visible to ``user``) for its page.

    Outages of a visible cluster are public: its record of uptime is what customers weigh.
    """
    end = today + relativedelta(months=CALENDAR_MONTHS)
    owned = user is not None and cluster_owned_by(cluster, user)
    maintenance = (
        list(
            Allocation.objects.filter(
                cluster=cluster, kind=AllocationKind.MAINTENANCE, end__gt=today
            ).order_by("start", "id")
        )
        if owned
        else []
    )
    return ClusterPage(
        cluster=cluster,
        owned=owned,
        calendar_start=today,
        calendar_end=end,
        availability=cluster_availability(cluster, start=today, end=end, now=now),
        uptime=uptime_by_cluster([cluster], now=now)[cluster.pk],
        outages=list(
            Outage.objects.filter(cluster=cluster).order_by("-start", "id")[:RECENT_OUTAGES]
        ),
        maintenance=maintenance,
        sla_tiers=sla_tiers_by_cluster([cluster.pk]).get(cluster.pk, []),
    )


@dataclass(frozen=True)
class ProviderClusterRow:
    cluster: Cluster
    booked_servers: int  # under contract today
    booked_p: Decimal


@dataclass(frozen=True)
class ProviderClusters:
    rows: list[ProviderClusterRow]
    listed_p: Decimal  # rated P of the clusters listed now
    booked_p: Decimal  # P under contract today, every cluster


def provider_clusters(*, organization: Organization, today: date) -> ProviderClusters:
    """A provider's clusters, any status, with the servers booked on ``today`` (one query)."""
    booked_today = Q(
        allocations__kind=AllocationKind.BOOKING,
        allocations__start__lte=today,
        allocations__end__gt=today,
    )
    clusters = (
        Cluster.objects.filter(provider=organization)
        .select_related("gpu_model", "region", "provider")
        .annotate(booked=Coalesce(Sum("allocations__servers", filter=booked_today), 0))
        .order_by("name", "id")
    )
    rows = [
        ProviderClusterRow(
            cluster=cluster,
            booked_servers=cluster.booked,
            booked_p=cluster.booked * cluster.rated_p_per_server,
        )
        for cluster in clusters
    ]
    return ProviderClusters(
        rows=rows,
        listed_p=sum(
            (row.cluster.rated_p for row in rows if row.cluster.status == ClusterStatus.LISTED),
            Decimal(0),
        ),
        booked_p=sum((row.booked_p for row in rows), Decimal(0)),
    )


@dataclass(frozen=True)
class RatingPreview:
    gpu_model: GpuModel
    gpus_per_server: int
    server_count: int | None
    rated_p_per_server: Decimal
    rated_p: Decimal | None
    price_per_server_year: Decimal | None


def rating_preview(
    *,
    gpu_model: GpuModel,
    gpus_per_server: int,
    server_count: int | None = None,
    price_per_p_year: Decimal | None = None,
) -> RatingPreview:
    """The P rating a cluster with this hardware would have (the catalog's rule), its total
    over ``server_count`` servers and what a server rents for a year at ``price_per_p_year``."""
    per_server = gpu_model.rated_p_per_server(gpus_per_server)
    return RatingPreview(
        gpu_model=gpu_model,
        gpus_per_server=gpus_per_server,
        server_count=server_count,
        rated_p_per_server=per_server,
        rated_p=None if server_count is None else server_count * per_server,
        price_per_server_year=(
            None
            if price_per_p_year is None
            else price_per_server_year(
                rated_p_per_server=per_server, price_per_p_year=price_per_p_year
            )
        ),
    )
