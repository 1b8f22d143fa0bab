"""Demo clusters, bookings, maintenance and outages for `manage.py seed_demo` (idempotent)."""

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from accounts.demo import DemoAccounts
from accounts.models import Organization
from inventory import services
from inventory.models import Allocation, AllocationKind, Cluster, GpuModel, Outage, Region


@dataclass(frozen=True)
class DemoInventory:
    clusters: dict[str, Cluster]


# name, region, gpu, servers, interconnect, Gbit/s, price per P per year, min term, status
CLUSTERS = [
    ("Hefei A800 IB-01", "hefei", "A800-80G", 32, "infiniband", 1600, "120000", 3, "listed"),
    ("Wuhu H800 IB-02", "wuhu", "H800-80G", 16, "infiniband", 3200, "135000", 6, "listed"),
    ("Shanghai A800 RoCE-03", "shanghai", "A800-80G", 12, "roce", 800, "115000", 1, "listed"),
    ("Qinghai H20 Eth-04", "qinghai", "H20-96G", 40, "ethernet", 200, "95000", 1, "listed"),
    ("Jinan L40S Eth-05", "jinan", "L40S-48G", 20, "ethernet", 200, "88000", 1, "draft"),
    ("Beijing A100 IB-06", "beijing", "A100-80G", 6, "infiniband", 800, "105000", 1, "delisted"),
]
# What the provider paid per server with its networking, and the depreciation life in years
# (DOMAIN.md: an 8-card A800 server costs about CNY 1.2-1.5 million, depreciated over 5-7).
SERVER_COSTS = {
    "Hefei A800 IB-01": ("1350000", 5),
    "Wuhu H800 IB-02": ("2300000", 5),
    "Shanghai A800 RoCE-03": ("1250000", 6),
    "Qinghai H20 Eth-04": ("850000", 6),
    "Jinan L40S Eth-05": ("520000", 5),
    "Beijing A100 IB-06": ("1200000", 7),
}
UNVERIFIED_CLUSTER = ("Wuhu A800 IB-09", "wuhu", "A800-80G", 8, "infiniband", 1600, "99000", 1)


def _cluster(provider: Organization, row: tuple, *, available_from: date) -> Cluster:
    name, region, gpu, servers, interconnect, gbps, price, min_term, *status = row
    cluster = Cluster.objects.filter(provider=provider, name=name).first()
    if cluster is not None:
        return cluster
    return services.cluster_create(
        provider=provider,
        name=name,
        region=Region.objects.get(code=region),
        gpu_model=GpuModel.objects.get(code=gpu),
        gpus_per_server=8,
        server_count=servers,
        interconnect=interconnect,
        interconnect_gbps=gbps,
        price_per_p_year=Decimal(price),
        min_term_months=min_term,
        available_from=available_from,
        status=status[0] if status else "listed",
        description="Tier III data centre, 2N power, 24x7 on-site engineers.",
    )


@transaction.atomic
def seed_inventory(accounts: DemoAccounts) -> DemoInventory:
    today = timezone.localdate()
    since = today.replace(day=1) - timedelta(days=365)
    clusters = {row[0]: _cluster(accounts.provider, row, available_from=since) for row in CLUSTERS}
    _cluster(accounts.unverified_provider, UNVERIFIED_CLUSTER, available_from=since)
    for name, (cost, years) in SERVER_COSTS.items():
        cluster = clusters[name]
        if cluster.server_cost_per_server is None:
            clusters[name] = services.cluster_update(
                cluster=cluster,
                changes={"server_cost_per_server": Decimal(cost), "depreciation_years": years},
            )

    hefei = clusters["Hefei A800 IB-01"]
    if not Allocation.objects.filter(cluster=hefei, kind=AllocationKind.MAINTENANCE).exists():
        start = today + timedelta(days=20)
        services.maintenance_block(
            cluster=hefei,
            servers=2,
            start=start,
            end=start + timedelta(days=2),
            note="Firmware upgrade of the InfiniBand fabric",
            by=accounts.admin,
        )
    if not Outage.objects.filter(cluster=hefei).exists():
        start = timezone.now() - timedelta(days=41, hours=7)
        services.outage_record(
            cluster=hefei,
            start=start,
            end=start + timedelta(hours=3, minutes=20),
            servers_affected=1,
            description="GPU fell off the bus on one node; the card was replaced under warranty.",
            by=accounts.admin,
        )
    wuhu = clusters["Wuhu H800 IB-02"]
    if not Outage.objects.filter(cluster=wuhu).exists():
        start = timezone.now() - timedelta(days=12, hours=3)
        services.outage_record(
            cluster=wuhu,
            start=start,
            end=start + timedelta(hours=5),
            servers_affected=2,
            description="Top-of-rack switch failure; traffic moved to the standby switch.",
            by=accounts.admin,
        )
    return DemoInventory(clusters=clusters)
