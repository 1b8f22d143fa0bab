"""Reads of the inventory: visibility, free capacity (in SQL), search, availability, uptime."""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from django.db import connection
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from accounts.models import User
from accounts.selectors import is_platform_admin, organization_of
from inventory.capacity import FreeSpan, Usage, free_timeline
from inventory.models import Allocation, Cluster, ClusterStatus, Outage
from inventory.reliability import UPTIME_WINDOW, OutageSpan, uptime_percent


def active_allocations_q(now: datetime) -> Q:
    """Allocations that occupy servers: everything except holds past their expiry."""
    return Q(expires_at__isnull=True) | Q(expires_at__gt=now)


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
# The peak usage of each candidate cluster over [start, end) is computed by a sweep: every
# active allocation overlapping the window contributes +servers at max(start, window start) and
# -servers at its end (if inside the window); a running sum per cluster ordered by time (ends
# before starts at the same instant, because windows are half-open) gives the servers in use
# after each change, and its maximum is the peak. One statement for any number of clusters.
_FREE_SQL = """
WITH cand AS ({candidates}),
win AS (
    SELECT a.cluster_id, a.start, a."end", a.servers
    FROM inventory_allocation a
    JOIN cand ON cand.cid = a.cluster_id
    WHERE a.start < %s AND a."end" > %s AND (a.expires_at IS NULL OR a.expires_at > %s)
),
ev AS (
    SELECT cluster_id, CASE WHEN start > %s THEN start ELSE %s END AS t, servers AS d FROM win
    UNION ALL
    SELECT cluster_id, "end" AS t, -servers AS d FROM win WHERE "end" < %s
),
run AS (
    SELECT cluster_id,
           SUM(d) OVER (PARTITION BY cluster_id ORDER BY t, d ROWS UNBOUNDED PRECEDING) AS used
    FROM ev
),
peak AS (SELECT cluster_id, MAX(used) AS used FROM run GROUP BY cluster_id),
free AS (
    SELECT cand.cid, cand.price, cand.tflops_per_server,
           CASE WHEN cand.avail_from <= %s AND (cand.avail_until IS NULL OR cand.avail_until >= %s)
                THEN cand.cap - COALESCE(peak.used, 0) ELSE 0 END AS free_servers
    FROM cand LEFT JOIN peak ON peak.cluster_id = cand.cid
)
SELECT cid, free_servers FROM free
WHERE free_servers * tflops_per_server >= CAST(%s AS NUMERIC)
ORDER BY price, cid
"""


@dataclass(frozen=True)
class FreeCapacity:
    """Clusters in price order (then id) with their free servers over the window."""

    cluster_ids: list[int]
    free_servers: dict[int, int]


def free_capacity(
    clusters: QuerySet[Cluster],
    *,
    start: date,
    end: date,
    min_free_p: Decimal = Decimal(0),
    now: datetime | None = None,
) -> FreeCapacity:
    """Free servers of every cluster in ``clusters`` over ``[start, end)``, in one query.

    Only clusters with at least ``min_free_p`` P free are returned, cheapest first.
    """
    now = now or timezone.now()
    candidates = clusters.order_by().values(
        cid=F("id"),
        cap=F("server_count"),
        price=F("price_per_p_year"),
        avail_from=F("available_from"),
        avail_until=F("available_until"),
        tflops_per_server=F("gpus_per_server") * F("gpu_model__fp16_sparse_tflops"),
    )
    candidate_sql, candidate_params = candidates.query.sql_with_params()
    ops = connection.ops
    start_p, end_p = ops.adapt_datefield_value(start), ops.adapt_datefield_value(end)
    min_tflops = str(min_free_p * 1000)
    params = [
        *candidate_params,
        end_p,
        start_p,
        ops.adapt_datetimefield_value(now),
        start_p,
        start_p,
        end_p,
        start_p,
        end_p,
        min_tflops,
    ]
    with connection.cursor() as cursor:
        cursor.execute(_FREE_SQL.format(candidates=candidate_sql), params)
        rows = cursor.fetchall()
    return FreeCapacity(
        cluster_ids=[row[0] for row in rows], free_servers={row[0]: int(row[1]) for row in rows}
    )


def cluster_free_servers(
    cluster: Cluster, *, start: date, end: date, now: datetime | None = None
) -> int:
    """Servers of one cluster free for the whole of ``[start, end)``."""
    result = free_capacity(Cluster.objects.filter(pk=cluster.pk), start=start, end=end, now=now)
    return result.free_servers.get(cluster.pk, 0)


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
    spans = free_timeline(
        server_count=0,
        usages=cluster_usages(cluster, start=since, end=last_end, now=now),
        start=since,
        end=last_end,
        available_from=since,
        available_until=None,
    )
    return -min(span.free_servers for span in spans) if spans else 0


def uptime_by_cluster(
    clusters: Sequence[Cluster], *, now: datetime | None = None
) -> dict[int, Decimal]:
    """Measured uptime percent over the last 90 days for each cluster, in one query."""
    now = now or timezone.now()
    window_start = now - UPTIME_WINDOW
    spans: dict[int, list[OutageSpan]] = {cluster.pk: [] for cluster in clusters}
    outages = Outage.objects.filter(
        cluster_id__in=list(spans), end__gt=window_start, start__lt=now
    ).values_list("cluster_id", "start", "end", "servers_affected")
    for cluster_id, start, end, servers in outages:
        spans[cluster_id].append(OutageSpan(start=start, end=end, servers_affected=servers))
    return {
        cluster.pk: uptime_percent(
            server_count=cluster.server_count,
            outages=spans[cluster.pk],
            window_start=window_start,
            window_end=now,
        )
        for cluster in clusters
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
