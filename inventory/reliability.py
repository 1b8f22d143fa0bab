"""Measured uptime from recorded outages (pure)."""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

UPTIME_WINDOW = timedelta(days=90)
UPTIME_PLACES = Decimal("0.001")


@dataclass(frozen=True)
class OutageSpan:
    start: datetime
    end: datetime
    servers_affected: int


def uptime_percent(
    *,
    server_count: int,
    outages: Iterable[OutageSpan],
    window_start: datetime,
    window_end: datetime,
) -> Decimal:
    """Percent of server-time up over the window: 100 x (1 - down server-seconds / all).

    Each outage counts its overlap with the window times the servers it affected (at most the
    cluster's size). A cluster with no servers is reported fully up.
    """
    total = Decimal(server_count) * Decimal(int((window_end - window_start).total_seconds()))
    if total <= 0:
        return Decimal("100.000")
    down = Decimal(0)
    for outage in outages:
        overlap = min(outage.end, window_end) - max(outage.start, window_start)
        if overlap.total_seconds() > 0:
            servers = min(outage.servers_affected, server_count)
            down += Decimal(servers) * Decimal(int(overlap.total_seconds()))
    uptime = Decimal(100) * (1 - min(down, total) / total)
    return uptime.quantize(UPTIME_PLACES, rounding=ROUND_HALF_UP)
