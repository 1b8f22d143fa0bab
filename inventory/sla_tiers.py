"""SLA credit tiers as data: each cluster publishes its promised monthly uptime and a table of
credits (as public clouds do). The defaults, the one home of them: below the promised uptime
10 %, below 99 % 25 %, below 95 % 100 % of the affected servers' monthly charge (thresholds at
or above the promise are dropped, so a 98 % promise gets 10 % below 98 % and 100 % below 95 %).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from decimal import Decimal

from inventory.models import Cluster, SlaCreditTier

DEFAULT_TIERS: tuple[tuple[Decimal | None, Decimal], ...] = (
    (None, Decimal("10")),  # None: the promised uptime itself
    (Decimal("99"), Decimal("25")),
    (Decimal("95"), Decimal("100")),
)


def default_tiers(sla_uptime_percent: Decimal) -> list[tuple[Decimal, Decimal]]:
    """``[(below_uptime_percent, credit_percent), ...]``, highest threshold first."""
    tiers: list[tuple[Decimal, Decimal]] = []
    for below, credit in DEFAULT_TIERS:
        threshold = sla_uptime_percent if below is None else below
        if below is not None and threshold >= sla_uptime_percent:
            continue
        tiers.append((threshold, credit))
    return tiers


def sla_tiers_create_defaults(*, cluster: Cluster) -> list[SlaCreditTier]:
    """Give a cluster the default tiers for its promised uptime (a new cluster; idempotent)."""
    if cluster.sla_tiers.exists():
        return list(cluster.sla_tiers.all())
    return SlaCreditTier.objects.bulk_create(
        SlaCreditTier(cluster=cluster, below_uptime_percent=below, credit_percent=credit)
        for below, credit in default_tiers(cluster.sla_uptime_percent)
    )


def sla_tiers_by_cluster(cluster_ids: Iterable[int]) -> dict[int, list[SlaCreditTier]]:
    """Each cluster's tiers, highest threshold first, in one query."""
    result: dict[int, list[SlaCreditTier]] = defaultdict(list)
    for tier in SlaCreditTier.objects.filter(cluster_id__in=list(cluster_ids)).order_by(
        "cluster_id", "-below_uptime_percent"
    ):
        result[tier.cluster_id].append(tier)
    return dict(result)


def sla_tiers_follow_promise(*, cluster: Cluster, previous: Decimal) -> list[SlaCreditTier]:
    """After the promised uptime changed from ``previous``: tiers that were the defaults for
    the old promise become the defaults for the new one; a table set otherwise stays."""
    current = [(t.below_uptime_percent, t.credit_percent) for t in cluster.sla_tiers.all()]
    if current != default_tiers(previous):
        return list(cluster.sla_tiers.all())
    cluster.sla_tiers.all().delete()
    return sla_tiers_create_defaults(cluster=cluster)
