"""GPU catalog, regions, provider clusters, the capacity ledger and outages.

Units: TFLOPS per card (FP16, dense and sparse), P = PFLOPS = 1,000 TFLOPS. A cluster's rating
is ``gpus_per_server x fp16_sparse_tflops / 1000`` P per server, exact. Prices are CNY per P per
year, tax included.
"""

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from accounts.models import Organization
from accounts.money import (
    MONEY_DECIMAL_PLACES,
    MONEY_MAX_DIGITS,
    RATE_DECIMAL_PLACES,
    RATE_MAX_DIGITS,
    TFLOPS_DECIMAL_PLACES,
    TFLOPS_MAX_DIGITS,
    TFLOPS_PER_P,
)


class GpuModel(models.Model):
    """One row of the catalog. Loaded by a data migration, editable by admins."""

    code = models.SlugField(max_length=32, unique=True)  # e.g. "A800-80G"
    name = models.CharField(max_length=100)
    fp16_dense_tflops = models.DecimalField(
        max_digits=TFLOPS_MAX_DIGITS, decimal_places=TFLOPS_DECIMAL_PLACES
    )
    # The market's rating basis (FP16 Tensor with sparsity), per card.
    fp16_sparse_tflops = models.DecimalField(
        max_digits=TFLOPS_MAX_DIGITS, decimal_places=TFLOPS_DECIMAL_PLACES
    )
    memory_gb = models.PositiveIntegerField()
    memory_type = models.CharField(max_length=32, blank=True)
    form_factor = models.CharField(max_length=16, default="SXM")
    notes = models.TextField(blank=True)

    class Meta:
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(
                condition=Q(fp16_dense_tflops__gt=0)
                & Q(fp16_sparse_tflops__gte=F("fp16_dense_tflops")),
                name="gpu_tflops_positive_and_sparse_at_least_dense",
            )
        ]

    def __str__(self) -> str:
        return self.code

    def rated_p_per_server(self, gpus_per_server: int) -> Decimal:
        return gpus_per_server * self.fp16_sparse_tflops / TFLOPS_PER_P


class Region(models.Model):
    """A data-centre location (city or province), as data."""

    code = models.SlugField(max_length=40, unique=True)  # e.g. "hefei"
    name = models.CharField(max_length=100)  # "Hefei"
    name_zh = models.CharField(max_length=50, blank=True)  # "合肥"
    province = models.CharField(max_length=100, blank=True)  # "Anhui"

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def local_name(self) -> str:
        """The name in the active language: 合肥 on Chinese pages, Hefei on English ones."""
        language = get_language() or ""
        return self.name_zh if language.startswith("zh") and self.name_zh else self.name


class Interconnect(models.TextChoices):
    INFINIBAND = "infiniband", _("InfiniBand")  # RDMA fabric for multi-node training
    ROCE = "roce", _("RoCE")  # RDMA over converged Ethernet
    ETHERNET = "ethernet", _("Ethernet")  # plain TCP/IP; fine for inference


class ClusterStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")  # being set up; only the provider sees it
    LISTED = "listed", _("Listed")  # offered to customers (once the provider is verified)
    DELISTED = "delisted", _("Delisted")  # withdrawn from new business; bookings stay


# Providers depreciate servers straight-line over 5-7 years (DOMAIN.md, provider economics).
DEPRECIATION_YEARS_MIN = 5
DEPRECIATION_YEARS_MAX = 7
DEPRECIATION_YEARS_DEFAULT = 5


def price_per_server_year(*, rated_p_per_server: Decimal, price_per_p_year: Decimal) -> Decimal:
    """What one server rents for a year at a price per P per year (exact; round for display)."""
    return rated_p_per_server * price_per_p_year


class Cluster(models.Model):
    provider = models.ForeignKey(
        Organization,
        on_delete=models.PROTECT,
        related_name="clusters",
        verbose_name=_("provider"),
    )
    name = models.CharField(_("name"), max_length=200)
    region = models.ForeignKey(
        Region, on_delete=models.PROTECT, related_name="clusters", verbose_name=_("region")
    )
    gpu_model = models.ForeignKey(
        GpuModel, on_delete=models.PROTECT, related_name="clusters", verbose_name=_("GPU model")
    )
    gpus_per_server = models.PositiveSmallIntegerField(_("cards per server"), default=8)
    server_count = models.PositiveIntegerField(_("servers"))
    interconnect = models.CharField(_("interconnect"), max_length=16, choices=Interconnect.choices)
    interconnect_gbps = models.PositiveIntegerField(
        _("network bandwidth (Gbit/s)"),
        default=0,
        help_text=_("Network bandwidth per server, Gbit/s."),
    )
    # Ask price, CNY per P per year, tax included. Applies to new quotes only.
    price_per_p_year = models.DecimalField(
        _("price per P per year"), max_digits=RATE_MAX_DIGITS, decimal_places=RATE_DECIMAL_PLACES
    )
    min_term_months = models.PositiveSmallIntegerField(_("minimum term (months)"), default=1)
    available_from = models.DateField(_("available from"))
    # Exclusive; None: open-ended.
    available_until = models.DateField(_("available until"), null=True, blank=True)
    sla_uptime_percent = models.DecimalField(
        _("SLA uptime (%)"), max_digits=6, decimal_places=3, default=Decimal("99.9")
    )
    status = models.CharField(
        _("status"), max_length=16, choices=ClusterStatus.choices, default=ClusterStatus.DRAFT
    )
    description = models.TextField(_("description"), blank=True)
    # The provider's own economics, for its payback view (never shown to customers): what one
    # server with its share of the networking cost, and over how many years it is depreciated.
    server_cost_per_server = models.DecimalField(
        _("cost per server (¥)"),
        max_digits=MONEY_MAX_DIGITS,
        decimal_places=MONEY_DECIMAL_PLACES,
        null=True,
        blank=True,
        help_text=_("What one server cost with its networking; only you see it."),
    )
    depreciation_years = models.PositiveSmallIntegerField(
        _("depreciation life (years)"),
        default=DEPRECIATION_YEARS_DEFAULT,
        help_text=_("Straight-line depreciation over 5 to 7 years."),
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["price_per_p_year", "id"]
        indexes = [
            models.Index(fields=["status", "price_per_p_year"], name="cluster_status_price"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(server_count__gte=0), name="cluster_servers_gte_0"),
            models.CheckConstraint(condition=Q(gpus_per_server__gte=1), name="cluster_gpus_gte_1"),
            models.CheckConstraint(condition=Q(price_per_p_year__gt=0), name="cluster_price_gt_0"),
            models.CheckConstraint(
                condition=Q(min_term_months__gte=1) & Q(min_term_months__lte=60),
                name="cluster_min_term_1_to_60",
            ),
            models.CheckConstraint(
                condition=Q(available_until__isnull=True)
                | Q(available_until__gt=F("available_from")),
                name="cluster_availability_window_ordered",
            ),
            models.CheckConstraint(
                condition=Q(sla_uptime_percent__gt=0) & Q(sla_uptime_percent__lte=100),
                name="cluster_sla_percent_range",
            ),
            models.CheckConstraint(
                condition=Q(depreciation_years__gte=DEPRECIATION_YEARS_MIN)
                & Q(depreciation_years__lte=DEPRECIATION_YEARS_MAX),
                name="cluster_depreciation_5_to_7_years",
            ),
            models.CheckConstraint(
                condition=Q(server_cost_per_server__isnull=True) | Q(server_cost_per_server__gt=0),
                name="cluster_server_cost_gt_0",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.gpu_model_id and self.gpu_model.code})"

    @property
    def rated_p_per_server(self) -> Decimal:
        return self.gpu_model.rated_p_per_server(self.gpus_per_server)

    @property
    def rated_p(self) -> Decimal:
        return self.server_count * self.rated_p_per_server

    @property
    def price_per_server_year(self) -> Decimal:
        return price_per_server_year(
            rated_p_per_server=self.rated_p_per_server, price_per_p_year=self.price_per_p_year
        )


class AllocationKind(models.TextChoices):
    BOOKING = "booking", _("Booking")  # sold under a contract
    HOLD = "hold", _("Hold")  # held for a quote until expires_at
    MAINTENANCE = "maintenance", _("Maintenance")  # blocked by the provider


class Allocation(models.Model):
    """One use of some of a cluster's servers over ``[start, end)`` (dates, end exclusive).

    The ledger never stores more than the cluster has at any moment: reservations lock the
    cluster row and check the peak usage before inserting (see ``inventory.services``). Holds
    with ``expires_at`` in the past count as free without any job having to run first.
    ``reference`` names the owner in the caller's terms (e.g. ``"quote:12"``), because inventory
    does not know the apps above it.
    """

    cluster = models.ForeignKey(
        Cluster, on_delete=models.CASCADE, related_name="allocations", verbose_name=_("cluster")
    )
    kind = models.CharField(_("kind"), max_length=16, choices=AllocationKind.choices)
    servers = models.PositiveIntegerField(_("servers"))
    start = models.DateField(_("start"))
    end = models.DateField(_("end"))
    expires_at = models.DateTimeField(null=True, blank=True)  # holds only
    reference = models.CharField(max_length=100, db_index=True)
    note = models.CharField(_("note"), max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["cluster_id", "start", "id"]
        indexes = [
            models.Index(fields=["cluster", "start", "end"], name="alloc_cluster_window"),
            models.Index(
                fields=["cluster", "expires_at"], condition=Q(kind="hold"), name="alloc_holds"
            ),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(end__gt=F("start")), name="alloc_end_after_start"),
            models.CheckConstraint(condition=Q(servers__gte=1), name="alloc_servers_gte_1"),
            models.CheckConstraint(
                condition=Q(kind="hold", expires_at__isnull=False)
                | (~Q(kind="hold") & Q(expires_at__isnull=True)),
                name="alloc_only_holds_expire",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.servers} x {self.cluster_id} [{self.start}, {self.end})"


class UsageStep(models.Model):
    """Derived: the step function of servers in use by bookings and maintenance (not holds).

    Each cluster's usage over time as non-overlapping ``[start, end)`` spans of constant
    ``used`` > 0. Rebuilt from the allocations, under the cluster's row lock, by every service
    that changes them, so search can read a cluster's peak over any window with a plain
    ``MAX(used)`` instead of sweeping the ledger. Holds are left out because they expire by
    themselves; search adds them back (see ``inventory.selectors``).
    """

    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="usage_steps")
    start = models.DateField()
    end = models.DateField()
    used = models.PositiveIntegerField()

    class Meta:
        ordering = ["cluster_id", "start"]
        indexes = [
            models.Index(fields=["cluster", "start"], name="usagestep_cluster_start"),
            # Search reads (cluster, used) of the steps overlapping a window: index-only scans.
            models.Index(
                fields=["start"], include=["end", "cluster", "used"], name="usagestep_window"
            ),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(end__gt=F("start")), name="step_end_after_start"),
            models.CheckConstraint(condition=Q(used__gte=1), name="step_used_gte_1"),
        ]

    def __str__(self) -> str:
        return f"{self.cluster_id} [{self.start}, {self.end}) {self.used}"


class Outage(models.Model):
    """Servers of a cluster down over ``[start, end)``. Billing turns these into SLA credits.

    Once billing has invoiced the period an outage touches (``invoiced_at`` set), only admins may
    correct it, and each correction is audited in :class:`OutageCorrection`.
    """

    cluster = models.ForeignKey(
        Cluster, on_delete=models.PROTECT, related_name="outages", verbose_name=_("cluster")
    )
    start = models.DateTimeField(_("start"))
    end = models.DateTimeField(_("end"))
    servers_affected = models.PositiveIntegerField(_("servers affected"))
    description = models.TextField(_("description"))
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    invoiced_at = models.DateTimeField(null=True, blank=True)
    # The one-time key of the page form that recorded it: one outage per submission.
    submission_key = models.CharField(max_length=64, blank=True, default="")

    class Meta:
        ordering = ["-start", "id"]
        indexes = [models.Index(fields=["cluster", "start"], name="outage_cluster_start")]
        constraints = [
            models.UniqueConstraint(
                fields=["cluster", "submission_key"],
                condition=~Q(submission_key=""),
                name="outage_one_per_submission",
            ),
            models.CheckConstraint(condition=Q(end__gt=F("start")), name="outage_end_after_start"),
            models.CheckConstraint(
                condition=Q(servers_affected__gte=1), name="outage_servers_gte_1"
            ),
        ]

    def __str__(self) -> str:
        return f"Outage {self.cluster_id} {self.start:%Y-%m-%d %H:%M} ({self.servers_affected})"

    @property
    def is_locked(self) -> bool:
        return self.invoiced_at is not None


class OutageCorrection(models.Model):
    """Audit of an admin's correction to an outage that billing had already used."""

    outage = models.ForeignKey(Outage, on_delete=models.CASCADE, related_name="corrections")
    corrected_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    reason = models.TextField(_("reason"))
    before = models.JSONField()
    after = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Correction of outage {self.outage_id} at {self.created_at:%Y-%m-%d %H:%M}"


class SlaCreditTier(models.Model):
    """One row of a cluster's published SLA credit table: when the measured uptime of a contract
    month is below ``below_uptime_percent``, the customer is credited ``credit_percent`` of the
    affected servers' monthly charge (the highest tier that applies). Billing credits the larger
    of this and the hour-based refund, capped at the month's charge (``billing.credits.sla``)."""

    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="sla_tiers")
    below_uptime_percent = models.DecimalField(
        _("monthly uptime below, percent"), max_digits=6, decimal_places=3
    )
    credit_percent = models.DecimalField(
        _("credit, percent of the monthly charge"), max_digits=5, decimal_places=2
    )

    class Meta:
        ordering = ["cluster_id", "-below_uptime_percent"]
        constraints = [
            models.UniqueConstraint(
                fields=["cluster", "below_uptime_percent"], name="sla_tier_one_per_threshold"
            ),
            models.CheckConstraint(
                condition=Q(below_uptime_percent__gt=0) & Q(below_uptime_percent__lte=100),
                name="sla_tier_threshold_range",
            ),
            models.CheckConstraint(
                condition=Q(credit_percent__gt=0) & Q(credit_percent__lte=100),
                name="sla_tier_credit_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.cluster_id}: < {self.below_uptime_percent}% -> {self.credit_percent}%"
