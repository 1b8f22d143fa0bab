"""The public compute price index: what a P of each GPU model actually costs, day by day.

Method (shown on the market page):

- **Index**: for each GPU model (and for a region of it when enough organisations traded
  there), the P-weighted median of the price per P per year of every contract line signed in
  the trailing 30 days (the day included), primary and resale contracts alike, cancelled ones
  left out. P-weighted: a 40 P contract counts forty times a 1 P one; the median is the lowest
  price at which at least half of the P traded was signed.
- It is shown only when at least ``MIN_ORGANIZATIONS`` different customer organisations signed
  those contracts, so that no single buyer's price can be read off it.
- Beside it, as they stood that day: the lowest and median ask (listed clusters and open resale
  listings) and the P free for the whole of the next 30, 90 and 365 days.

``index_record`` writes a day's rows (the daily task runs it; running it again replaces them).
A past day recorded later (the demo's history) counts the contracts signed and the resale
listings made by then; the clusters' asks and the free P are as they stand when it is recorded.
"""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from accounts.money import TFLOPS_PER_P
from inventory.models import GpuModel, Region
from inventory.selectors import free_servers, marketable_clusters
from marketplace.index_models import MarketIndexDay
from marketplace.models import ContractLine, ContractStatus, ResaleListing, ResaleStatus

WINDOW_DAYS = 30
MIN_ORGANIZATIONS = 3
HORIZONS = (30, 90, 365)


def weighted_median(pairs: Iterable[tuple[Decimal, Decimal]]) -> Decimal | None:
    """The lowest value at which the weights of the values up to it reach half the total."""
    ordered = sorted(pairs)
    total = sum((weight for _, weight in ordered), Decimal(0))
    if not ordered or total <= 0:
        return None
    running = Decimal(0)
    for value, weight in ordered:
        running += weight
        if 2 * running >= total:
            return value
    return ordered[-1][0]


def _median(values: list[Decimal]) -> Decimal | None:
    if not values:
        return None
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


@dataclass
class _Bucket:
    trades: list[tuple[Decimal, Decimal]]  # (price, P)
    organizations: set[int]
    asks: list[Decimal]
    free_p: dict[int, Decimal]


def _bucket() -> _Bucket:
    return _Bucket([], set(), [], dict.fromkeys(HORIZONS, Decimal(0)))


def index_compute(
    *, day: date, now: datetime | None = None
) -> dict[tuple[int, int | None], _Bucket]:
    """Each (GPU model id, region id or None) with its trades, asks and free P for ``day``.
    Eight queries, whatever the size of the market."""
    tz = timezone.get_current_timezone()
    until = datetime.combine(day + timedelta(days=1), time.min, tzinfo=tz)
    since = until - timedelta(days=WINDOW_DAYS)
    buckets: dict[tuple[int, int | None], _Bucket] = defaultdict(_bucket)
    lines = (
        ContractLine.objects.filter(contract__created_at__gte=since, contract__created_at__lt=until)
        .exclude(contract__status=ContractStatus.CANCELLED)
        .values_list(
            "cluster__gpu_model_id",
            "cluster__region_id",
            "contract__customer_id",
            "p",
            "price_per_p_year",
        )
    )
    for gpu, region, customer, p, price in lines:
        for key in ((gpu, None), (gpu, region)):
            buckets[key].trades.append((price, p))
            buckets[key].organizations.add(customer)
    clusters = list(
        marketable_clusters().values_list(
            "id",
            "gpu_model_id",
            "region_id",
            "price_per_p_year",
            "gpus_per_server",
            "gpu_model__fp16_sparse_tflops",
        )
    )
    free = {
        days: free_servers(
            marketable_clusters(), start=day, end=day + timedelta(days=days), now=now
        )
        for days in HORIZONS
    }
    for pk, gpu, region, price, gpus, sparse in clusters:
        for key in ((gpu, None), (gpu, region)):
            buckets[key].asks.append(price)
            for days in HORIZONS:
                buckets[key].free_p[days] += free[days].get(pk, 0) * gpus * sparse / TFLOPS_PER_P
    # Listings made by the end of the day (a day recorded later leaves out later listings).
    listings = ResaleListing.objects.filter(
        status=ResaleStatus.LISTED, end__gt=day, created_at__lt=until
    )
    for gpu, region, price in listings.values_list(
        "cluster__gpu_model_id", "cluster__region_id", "price_per_p_year"
    ):
        for key in ((gpu, None), (gpu, region)):
            buckets[key].asks.append(price)
    return buckets


def index_record(*, day: date | None = None, now: datetime | None = None) -> int:
    """Write ``day``'s index rows (replacing any): one per GPU model traded or offered, and one
    per region of it where at least ``MIN_ORGANIZATIONS`` organisations traded. Idempotent."""
    day = day or timezone.localdate()
    buckets = index_compute(day=day, now=now)
    rows = []
    for (gpu, region), bucket in sorted(
        buckets.items(), key=lambda item: (item[0][0], item[0][1] or 0)
    ):
        enough = len(bucket.organizations) >= MIN_ORGANIZATIONS
        if region is not None and not enough:
            continue  # too few trades there: the region is folded into the model's row
        rows.append(
            MarketIndexDay(
                day=day,
                gpu_model_id=gpu,
                region_id=region,
                index_price_per_p_year=weighted_median(bucket.trades) if enough else None,
                trades=len(bucket.trades),
                organizations=len(bucket.organizations),
                lowest_ask=min(bucket.asks) if bucket.asks else None,
                median_ask=_median(bucket.asks),
                free_p_30d=bucket.free_p[30],
                free_p_90d=bucket.free_p[90],
                free_p_365d=bucket.free_p[365],
            )
        )
    with transaction.atomic():
        MarketIndexDay.objects.filter(day=day).delete()
        MarketIndexDay.objects.bulk_create(rows)
    return len(rows)


def index_history(
    *,
    gpu_model: GpuModel | None = None,
    region: Region | None = None,
    since: date | None = None,
    until: date | None = None,
):
    """Recorded index rows, oldest first. Without ``region``: the all-region rows."""
    rows = MarketIndexDay.objects.select_related("gpu_model", "region")
    rows = rows.filter(region=region) if region is not None else rows.filter(region__isnull=True)
    if gpu_model is not None:
        rows = rows.filter(gpu_model=gpu_model)
    if since is not None:
        rows = rows.filter(day__gte=since)
    if until is not None:
        rows = rows.filter(day__lte=until)
    return rows.order_by("day", "gpu_model__code")
