"""Capacity requests, quotes (prices frozen, capacity held), contracts and their history.

Money: CNY, tax included, ``Decimal``. Settled amounts have 2 places; rates (price per P per
year) keep 6. P is exact (3 places suffice for every catalog rating; 6 are stored).
"""

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from accounts.models import Organization
from accounts.money import (
    MONEY_DECIMAL_PLACES,
    MONEY_MAX_DIGITS,
    P_DECIMAL_PLACES,
    P_MAX_DIGITS,
    RATE_DECIMAL_PLACES,
    RATE_MAX_DIGITS,
)
from inventory.models import Cluster, GpuModel, Region


def money_field(**kwargs) -> models.DecimalField:
    return models.DecimalField(
        max_digits=MONEY_MAX_DIGITS, decimal_places=MONEY_DECIMAL_PLACES, **kwargs
    )


def rate_field(**kwargs) -> models.DecimalField:
    return models.DecimalField(
        max_digits=RATE_MAX_DIGITS, decimal_places=RATE_DECIMAL_PLACES, **kwargs
    )


def p_field(**kwargs) -> models.DecimalField:
    return models.DecimalField(max_digits=P_MAX_DIGITS, decimal_places=P_DECIMAL_PLACES, **kwargs)


class InterconnectRequirement(models.TextChoices):
    ANY = "any", _("Any network")
    RDMA = "rdma", _("RDMA (InfiniBand or RoCE)")  # what multi-node training needs
    INFINIBAND = "infiniband", _("InfiniBand only")
    ROCE = "roce", _("RoCE only")


class RequestStatus(models.TextChoices):
    OPEN = "open", pgettext_lazy("capacity request", "Open")  # quotes may be generated
    BOOKED = "booked", _("Booked")  # a quote was accepted
    CANCELLED = "cancelled", _("Cancelled")  # withdrawn by the customer


class CapacityRequest(models.Model):
    customer = models.ForeignKey(
        Organization,
        verbose_name=_("customer"),
        on_delete=models.PROTECT,
        related_name="capacity_requests",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    gpu_models = models.ManyToManyField(GpuModel, verbose_name=_("GPU models"), related_name="+")
    # Empty: anywhere.
    regions = models.ManyToManyField(
        Region, verbose_name=_("regions"), blank=True, related_name="+"
    )
    # Exactly one of min_p / servers.
    min_p = p_field(verbose_name=_("minimum P"), null=True, blank=True)
    servers = models.PositiveIntegerField(verbose_name=_("servers"), null=True, blank=True)
    interconnect = models.CharField(
        verbose_name=_("network"),
        max_length=16,
        choices=InterconnectRequirement.choices,
        default=InterconnectRequirement.ANY,
    )
    # Training: every server in one cluster.
    single_cluster = models.BooleanField(verbose_name=_("single cluster"), default=True)
    start_date = models.DateField(verbose_name=_("start date"))
    term_months = models.PositiveSmallIntegerField(verbose_name=_("term (months)"))
    # Exclusive: start_date + term_months months.
    end_date = models.DateField(verbose_name=_("end date"))
    max_price_per_p_year = rate_field(
        verbose_name=_("maximum price per P per year"), null=True, blank=True
    )
    status = models.CharField(
        verbose_name=_("status"),
        max_length=16,
        choices=RequestStatus.choices,
        default=RequestStatus.OPEN,
    )
    note = models.CharField(verbose_name=_("note"), max_length=500, blank=True)
    created_at = models.DateTimeField(verbose_name=_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(min_p__isnull=False) & Q(servers__isnull=True))
                | (Q(min_p__isnull=True) & Q(servers__isnull=False)),
                name="request_min_p_xor_servers",
            ),
            models.CheckConstraint(
                condition=Q(term_months__gte=1) & Q(term_months__lte=60),
                name="request_term_1_to_60",
            ),
            models.CheckConstraint(condition=Q(end_date__gt=F("start_date")), name="request_end"),
        ]

    def __str__(self) -> str:
        demand = f"{self.min_p} P" if self.min_p is not None else f"{self.servers} servers"
        return f"Request {self.pk}: {demand} from {self.start_date}, {self.term_months} months"


class QuoteStatus(models.TextChoices):
    OPEN = "open", pgettext_lazy("quote", "Open")  # capacity held until expires_at
    ACCEPTED = "accepted", _("Accepted")  # became a contract
    SUPERSEDED = "superseded", _("Superseded")  # replaced by newer quotes or a sibling accepted


class Quote(models.Model):
    """A priced offer. Prices are frozen from the clusters' ask prices at quote time."""

    request = models.ForeignKey(
        CapacityRequest,
        verbose_name=_("capacity request"),
        on_delete=models.CASCADE,
        related_name="quotes",
    )
    rank = models.PositiveSmallIntegerField(verbose_name=_("rank"))  # 1 = the best offer
    total_p = p_field(verbose_name=_("total P"))
    # P-weighted over the lines.
    price_per_p_year = rate_field(verbose_name=_("price per P per year"))
    # Total_p x price_per_p_year, to the fen.
    annual_price = money_field(verbose_name=_("annual price"))
    # Exact annual price x term_months / 12, rounded once (marketplace.pricing).
    total_price = money_field(verbose_name=_("total price"))
    net_amount = money_field(verbose_name=_("net amount"))
    tax_amount = money_field(verbose_name=_("VAT"))
    vat_rate = models.DecimalField(verbose_name=_("VAT rate"), max_digits=6, decimal_places=4)
    currency = models.CharField(verbose_name=_("currency"), max_length=3, default="CNY")
    expires_at = models.DateTimeField(verbose_name=_("expires at"))
    status = models.CharField(
        verbose_name=_("status"),
        max_length=16,
        choices=QuoteStatus.choices,
        default=QuoteStatus.OPEN,
    )
    created_at = models.DateTimeField(verbose_name=_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["request_id", "rank"]
        constraints = [
            models.CheckConstraint(
                condition=Q(net_amount__gte=0) & Q(tax_amount__gte=0), name="quote_amounts_gte_0"
            ),
        ]

    def __str__(self) -> str:
        return f"Quote {self.pk} ({self.total_p} P at {self.price_per_p_year}/P/year)"

    @property
    def hold_reference(self) -> str:
        return f"quote:{self.pk}"


class QuoteLine(models.Model):
    quote = models.ForeignKey(
        Quote, verbose_name=_("quote"), on_delete=models.CASCADE, related_name="lines"
    )
    cluster = models.ForeignKey(
        Cluster, verbose_name=_("cluster"), on_delete=models.PROTECT, related_name="+"
    )
    servers = models.PositiveIntegerField(verbose_name=_("servers"))
    p = p_field(verbose_name=_("P"))
    # The cluster's ask price when quoted, or the resale listing's ask.
    price_per_p_year = rate_field(verbose_name=_("price per P per year"))
    # Set when the servers are another customer's contracted capacity offered for resale.
    resale_listing = models.ForeignKey(
        "ResaleListing",
        verbose_name=_("resale listing"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )

    class Meta:
        ordering = ["quote_id", "cluster_id", "id"]

    def __str__(self) -> str:
        return f"{self.servers} x cluster {self.cluster_id}"


class ContractStatus(models.TextChoices):
    PENDING_APPROVAL = "pending_approval", _("Pending approval")  # signed, awaiting an admin
    APPROVED = "approved", _("Approved")  # will start on its start date
    ACTIVE = "active", _("Active")  # running: billed monthly
    COMPLETED = "completed", _("Completed")  # ran its full term (terminal)
    CANCELLED = "cancelled", _("Cancelled")  # withdrawn before it started (terminal)
    TERMINATED = "terminated", _("Terminated")  # ended early by an admin (terminal)


class ContractKind(models.TextChoices):
    PRIMARY = "primary", _("Primary")  # capacity bought from the provider
    RESALE = "resale", _("Resale")  # capacity bought from another customer's contract


class Contract(models.Model):
    """A signed booking. Its price never changes after signing.

    A resale contract (``kind=resale``) sells servers of ``parent_contract`` (the reseller's
    contract with the provider) to another customer; its lines name the reseller as seller.
    """

    customer = models.ForeignKey(
        Organization, verbose_name=_("customer"), on_delete=models.PROTECT, related_name="contracts"
    )
    request = models.ForeignKey(
        CapacityRequest,
        verbose_name=_("capacity request"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    # Null only for the second and further contracts signed from one quote that mixed sellers.
    quote = models.OneToOneField(
        Quote,
        verbose_name=_("quote"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="contract",
    )
    kind = models.CharField(
        verbose_name=_("kind"),
        max_length=16,
        choices=ContractKind.choices,
        default=ContractKind.PRIMARY,
    )
    parent_contract = models.ForeignKey(
        "self",
        verbose_name=_("resold from contract"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="resale_contracts",
    )
    status = models.CharField(
        verbose_name=_("status"),
        max_length=24,
        choices=ContractStatus.choices,
        default=ContractStatus.PENDING_APPROVAL,
    )
    start_date = models.DateField(verbose_name=_("start date"))
    end_date = models.DateField(verbose_name=_("end date"))  # exclusive
    term_months = models.PositiveSmallIntegerField(verbose_name=_("term (months)"))
    total_p = p_field(verbose_name=_("total P"))
    price_per_p_year = rate_field(verbose_name=_("price per P per year"))
    annual_price = money_field(verbose_name=_("annual price"))
    total_price = money_field(verbose_name=_("total price"))
    vat_rate = models.DecimalField(verbose_name=_("VAT rate"), max_digits=6, decimal_places=4)
    currency = models.CharField(verbose_name=_("currency"), max_length=3, default="CNY")
    signed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("signed by"),
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    # Effective date, exclusive end.
    termination_date = models.DateField(verbose_name=_("termination date"), null=True, blank=True)
    termination_reason = models.TextField(verbose_name=_("termination reason"), blank=True)
    created_at = models.DateTimeField(verbose_name=_("signed at"), auto_now_add=True)
    updated_at = models.DateTimeField(verbose_name=_("updated at"), auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "start_date"], name="contract_status_start")]
        constraints = [
            models.CheckConstraint(condition=Q(end_date__gt=F("start_date")), name="contract_end"),
            models.CheckConstraint(condition=Q(total_price__gte=0), name="contract_price_gte_0"),
            models.CheckConstraint(
                condition=Q(kind="primary", parent_contract__isnull=True)
                | Q(kind="resale", parent_contract__isnull=False),
                name="contract_resale_has_parent",
            ),
        ]

    def __str__(self) -> str:
        return f"Contract {self.pk} ({self.status})"

    @property
    def booking_reference(self) -> str:
        return f"contract:{self.pk}"


class ContractLine(models.Model):
    contract = models.ForeignKey(
        Contract, verbose_name=_("contract"), on_delete=models.CASCADE, related_name="lines"
    )
    cluster = models.ForeignKey(
        Cluster, verbose_name=_("cluster"), on_delete=models.PROTECT, related_name="contract_lines"
    )
    provider = models.ForeignKey(
        Organization,
        verbose_name=_("provider"),
        on_delete=models.PROTECT,
        related_name="provided_contract_lines",
    )
    servers = models.PositiveIntegerField(verbose_name=_("servers"))
    p = p_field(verbose_name=_("P"))
    price_per_p_year = rate_field(verbose_name=_("price per P per year"))
    resale_listing = models.ForeignKey(
        "ResaleListing",
        verbose_name=_("resale listing"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="sales",
    )

    class Meta:
        ordering = ["contract_id", "cluster_id", "id"]

    def __str__(self) -> str:
        return f"{self.servers} x cluster {self.cluster_id}"


class ResaleStatus(models.TextChoices):
    LISTED = "listed", pgettext_lazy("resale", "Listed")  # open to buyers
    SOLD = "sold", pgettext_lazy("resale", "Sold")  # every server sold for the whole window
    WITHDRAWN = "withdrawn", pgettext_lazy("resale", "Withdrawn")  # unsold part taken back


class ResaleListing(models.Model):
    """Servers of a contract on one cluster, offered to other customers over ``[start, end)``.

    What a contract may list is bounded by what it holds on the cluster minus what it has
    listed (or, for withdrawn listings, sold) for overlapping time: see
    ``marketplace.resale``, which checks it under the cluster's row lock.
    """

    contract = models.ForeignKey(
        "Contract",
        verbose_name=_("contract"),
        on_delete=models.PROTECT,
        related_name="resale_listings",
    )
    cluster = models.ForeignKey(
        Cluster, verbose_name=_("cluster"), on_delete=models.PROTECT, related_name="+"
    )
    servers = models.PositiveIntegerField(verbose_name=_("servers"))
    start = models.DateField(verbose_name=_("start"))
    end = models.DateField(verbose_name=_("end"))  # exclusive
    price_per_p_year = rate_field(verbose_name=_("price per P per year"))
    min_term_months = models.PositiveSmallIntegerField(
        verbose_name=_("minimum term (months)"), default=1
    )
    status = models.CharField(
        verbose_name=_("status"),
        max_length=16,
        choices=ResaleStatus.choices,
        default=ResaleStatus.LISTED,
    )
    # Most servers sold at any moment of the window.
    sold_servers = models.PositiveIntegerField(verbose_name=_("servers sold"), default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(verbose_name=_("listed at"), auto_now_add=True)
    updated_at = models.DateTimeField(verbose_name=_("updated at"), auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "start", "end"], name="resale_status_window")]
        constraints = [
            models.CheckConstraint(condition=Q(end__gt=F("start")), name="resale_end_after_start"),
            models.CheckConstraint(condition=Q(servers__gte=1), name="resale_servers_gte_1"),
            models.CheckConstraint(
                condition=Q(sold_servers__lte=F("servers")), name="resale_sold_lte_servers"
            ),
            models.CheckConstraint(condition=Q(price_per_p_year__gt=0), name="resale_price_gt_0"),
            models.CheckConstraint(
                condition=Q(min_term_months__gte=1) & Q(min_term_months__lte=60),
                name="resale_min_term_1_to_60",
            ),
        ]

    def __str__(self) -> str:
        window = f"[{self.start}, {self.end})"
        return f"Resale {self.pk}: {self.servers} x cluster {self.cluster_id} {window}"


class ResaleHold(models.Model):
    """Servers of a resale listing held for a request's open quotes over ``[start, end)``.

    The secondary market's counterpart of an inventory hold (``inventory.Allocation`` of kind
    hold): written when quotes are made, under the underlying cluster's row lock, removed when
    the quotes are replaced or accepted; a hold past ``expires_at`` counts as free at once. A
    listing has free, over a window, its servers less the peak of its sales and live holds.
    """

    listing = models.ForeignKey(
        ResaleListing,
        verbose_name=_("resale listing"),
        on_delete=models.CASCADE,
        related_name="holds",
    )
    servers = models.PositiveIntegerField(verbose_name=_("servers"))
    start = models.DateField(verbose_name=_("start"))
    end = models.DateField(verbose_name=_("end"))  # exclusive
    expires_at = models.DateTimeField(verbose_name=_("expires at"))
    # Whose hold, in the caller's terms: ``request:<id>``, as for provider capacity.
    reference = models.CharField(max_length=100, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["listing_id", "start", "id"]
        indexes = [models.Index(fields=["expires_at"], name="resale_hold_expiry")]
        constraints = [
            models.CheckConstraint(
                condition=Q(end__gt=F("start")), name="resale_hold_end_after_start"
            ),
            models.CheckConstraint(condition=Q(servers__gte=1), name="resale_hold_servers_gte_1"),
        ]

    def __str__(self) -> str:
        return f"Hold {self.servers} x resale {self.listing_id} [{self.start}, {self.end})"


class ContractEventKind(models.TextChoices):
    """What a history row records: a change of state (blank), or a secondary-market event on
    the contract, which leaves its state as it is (from and to are both its state then)."""

    TRANSITION = "", _("Change of state")
    RESALE_LISTED = "resale_listed", _("Listed for resale")
    RESALE_WITHDRAWN = "resale_withdrawn", _("Resale listing withdrawn")
    RESALE_SOLD = "resale_sold", _("Resold")


class ContractHistoryKind(models.TextChoices):
    """What a row of a contract's history is, as the API names it (``kind`` of each item of
    ``history``): the signing, a change of state, a resale contract ended because the contract
    it resold ended, or a secondary-market event (``ContractEventKind``)."""

    SIGNED = "signed", _("Signed")
    TRANSITION = "transition", _("Change of state")
    ENDED_WITH_PARENT = "ended_with_parent", _("Ended with the contract it resold")
    RESALE_LISTED = "resale_listed", _("Listed for resale")
    RESALE_WITHDRAWN = "resale_withdrawn", _("Resale listing withdrawn")
    RESALE_SOLD = "resale_sold", _("Resold")


class ContractEvent(models.Model):
    """History of a contract: its transitions (who, when, from, to, why) and the resale events
    on it (``kind``, with the listing and the figures in ``details`` to say it in words)."""

    contract = models.ForeignKey(
        Contract, verbose_name=_("contract"), on_delete=models.CASCADE, related_name="history"
    )
    # Blank: created.
    from_status = models.CharField(
        verbose_name=_("from"), max_length=24, blank=True, choices=ContractStatus.choices
    )
    to_status = models.CharField(
        verbose_name=_("to"), max_length=24, choices=ContractStatus.choices
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    # E.g. "task:contracts_advance".
    actor_label = models.CharField(verbose_name=_("by (system)"), max_length=100, blank=True)
    reason = models.TextField(verbose_name=_("reason"), blank=True)
    kind = models.CharField(
        verbose_name=_("event"),
        max_length=24,
        blank=True,
        default=ContractEventKind.TRANSITION,
        choices=ContractEventKind.choices,
    )
    resale_listing = models.ForeignKey(
        ResaleListing,
        verbose_name=_("resale listing"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="history",
    )
    # The figures of a resale event (servers, cluster, window, ask, buyer, resale contract).
    details = models.JSONField(verbose_name=_("details"), default=dict, blank=True)
    created_at = models.DateTimeField(verbose_name=_("when"), auto_now_add=True)

    class Meta:
        ordering = ["contract_id", "created_at", "id"]

    def __str__(self) -> str:
        return f"{self.contract_id}: {self.from_status or '-'} -> {self.to_status}"


class MarketSettings(models.Model):
    """Platform switches admins change at run time (one row)."""

    auto_approve_contracts = models.BooleanField(
        verbose_name=_("approve contracts automatically"), default=False
    )
    updated_at = models.DateTimeField(verbose_name=_("updated at"), auto_now=True)

    class Meta:
        verbose_name_plural = "market settings"

    def __str__(self) -> str:
        return "Market settings"

    @classmethod
    def load(cls) -> "MarketSettings":
        return cls.objects.get_or_create(pk=1)[0]


# Registered with the app here; defined apart to keep this module short.
from marketplace.index_models import MarketIndexDay  # noqa: E402, F401
