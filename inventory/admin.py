"""The Django admin for inventory: it shows everything and changes nothing around a service.

Clusters' hardware (GPU model, cards per server, server count) and availability change only
through ``inventory.services.cluster_update`` on the provider's cluster page, which refuses to
shrink below what is booked or to change booked hardware; here they are read-only, and listing
or delisting is an action through that service. The capacity ledger, derived usage and outage
corrections are never edited or deleted here; an outage can be deleted only before billing has
used it.
"""

from django.contrib import admin, messages
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from accounts.errors import DomainError
from accounts.formatting import format_p, format_percent, format_rate
from inventory import services
from inventory.models import (
    Allocation,
    Cluster,
    ClusterStatus,
    GpuModel,
    Outage,
    OutageCorrection,
    Region,
    SlaCreditTier,
    UsageStep,
)

# What makes a GPU's rating: fixed once clusters use the model, since their P and the prices
# signed on them depend on it.
GPU_RATING_FIELDS = ["code", "fp16_dense_tflops", "fp16_sparse_tflops"]


class NoDeleteMixin:
    def has_delete_permission(self, request, obj=None):
        return False


class ViewOnlyMixin(NoDeleteMixin):
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(GpuModel)
class GpuModelAdmin(admin.ModelAdmin):
    list_display = [
        "code",
        "name",
        "dense_tflops",
        "sparse_tflops",
        "p_per_8_card_server",
        "memory_gb",
        "memory_type",
        "form_factor",
    ]
    list_filter = ["form_factor", "memory_type"]
    search_fields = ["code", "name"]

    @admin.display(description=_("FP16 dense TFLOPS"), ordering="fp16_dense_tflops")
    def dense_tflops(self, obj: GpuModel) -> str:
        return format_p(obj.fp16_dense_tflops)

    @admin.display(description=_("FP16 sparse TFLOPS"), ordering="fp16_sparse_tflops")
    def sparse_tflops(self, obj: GpuModel) -> str:
        return format_p(obj.fp16_sparse_tflops)

    @admin.display(description=_("P per 8-card server"))
    def p_per_8_card_server(self, obj: GpuModel) -> str:
        return format_p(obj.rated_p_per_server(8))

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and obj.clusters.exists():
            return GPU_RATING_FIELDS
        return []

    def has_delete_permission(self, request, obj=None):
        return obj is None or not obj.clusters.exists()


@admin.register(Region)
class RegionAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "name_zh", "province"]
    list_filter = ["province"]
    search_fields = ["code", "name", "name_zh", "province"]

    def get_readonly_fields(self, request, obj=None):
        return ["code"] if obj is not None and obj.clusters.exists() else []

    def has_delete_permission(self, request, obj=None):
        return obj is None or not obj.clusters.exists()


class AllocationInline(ViewOnlyMixin, admin.TabularInline):
    model = Allocation
    extra = 0
    fields = ["kind", "servers", "start", "end", "expires_at", "reference", "note"]
    readonly_fields = fields
    can_delete = False
    show_change_link = True


@admin.register(Cluster)
class ClusterAdmin(ViewOnlyMixin, admin.ModelAdmin):
    list_display = [
        "name",
        "provider",
        "region",
        "gpu_model",
        "gpus_per_server",
        "server_count",
        "rated_p_display",
        "interconnect",
        "price_display",
        "status",
        "available_from",
    ]
    list_select_related = ["provider", "region", "gpu_model"]
    list_filter = [
        "status",
        "gpu_model",
        "interconnect",
        "region",
        ("provider__verified_at", admin.EmptyFieldListFilter),
    ]
    search_fields = ["name", "provider__name", "description"]
    date_hierarchy = "available_from"
    fields = [
        "provider_page",
        "provider",
        "name",
        "status",
        "region",
        "gpu_model",
        "gpus_per_server",
        "server_count",
        "rated_p_display",
        "interconnect",
        "interconnect_gbps",
        "price_display",
        "min_term_months",
        "available_from",
        "available_until",
        "sla_display",
        "description",
        "created_at",
        "updated_at",
    ]
    readonly_fields = fields
    inlines = [AllocationInline]
    actions = ["list_clusters", "delist_clusters"]

    @admin.display(description=_("Rated P"))
    def rated_p_display(self, obj: Cluster) -> str:
        return format_p(obj.rated_p)

    @admin.display(description=_("Price per P per year"), ordering="price_per_p_year")
    def price_display(self, obj: Cluster) -> str:
        return format_rate(obj.price_per_p_year)

    @admin.display(description=_("SLA uptime"))
    def sla_display(self, obj: Cluster) -> str:
        return format_percent(obj.sla_uptime_percent, 3)

    @admin.display(description=_("Changes"))
    def provider_page(self, obj: Cluster) -> str:
        return format_html(
            '{} <a href="{}">{}</a>',
            _("Hardware, price and availability change on the provider's cluster page:"),
            reverse("inventory:cluster-detail", args=[obj.pk]),
            obj.name,
        )

    def _set_status(self, request, queryset, status: str, done_message) -> None:
        done = 0
        for cluster in queryset:
            try:
                services.cluster_update(cluster=cluster, changes={"status": status})
            except DomainError as exc:
                self.message_user(request, f"{cluster}: {exc.message}", level=messages.ERROR)
            else:
                done += 1
        if done:
            self.message_user(request, done_message(done), level=messages.SUCCESS)

    @admin.action(description=_("List selected clusters (offer them to customers)"))
    def list_clusters(self, request, queryset):
        self._set_status(
            request,
            queryset,
            ClusterStatus.LISTED,
            lambda n: (
                ngettext("Listed %(count)d cluster.", "Listed %(count)d clusters.", n)
                % {"count": n}
            ),
        )

    @admin.action(description=_("Delist selected clusters (bookings stay)"))
    def delist_clusters(self, request, queryset):
        self._set_status(
            request,
            queryset,
            ClusterStatus.DELISTED,
            lambda n: (
                ngettext("Delisted %(count)d cluster.", "Delisted %(count)d clusters.", n)
                % {"count": n}
            ),
        )


@admin.register(Allocation)
class AllocationAdmin(ViewOnlyMixin, admin.ModelAdmin):
    """The ledger: capacity changes go through the services, which lock and check."""

    list_display = ["cluster", "kind", "servers", "start", "end", "expires_at", "reference"]
    list_select_related = ["cluster"]
    list_filter = ["kind", "cluster__gpu_model", "cluster__region"]
    search_fields = ["reference", "cluster__name", "note"]
    date_hierarchy = "start"


class OutageCorrectionInline(ViewOnlyMixin, admin.TabularInline):
    model = OutageCorrection
    extra = 0
    readonly_fields = ["corrected_by", "reason", "before", "after", "created_at"]
    can_delete = False


@admin.register(Outage)
class OutageAdmin(admin.ModelAdmin):
    """Outages are recorded and corrected through the services (validated, and audited once
    invoiced); here they are shown, and deleted only while billing has not used them."""

    list_display = ["cluster", "start", "end", "servers_affected", "invoiced_at", "recorded_by"]
    list_select_related = ["cluster", "recorded_by"]
    list_filter = [("invoiced_at", admin.EmptyFieldListFilter), "cluster__region"]
    search_fields = ["cluster__name", "description"]
    date_hierarchy = "start"
    inlines = [OutageCorrectionInline]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return obj is not None and not obj.is_locked

    def get_actions(self, request):
        # The bulk delete cannot tell invoiced outages apart: delete one at a time.
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions


@admin.register(OutageCorrection)
class OutageCorrectionAdmin(ViewOnlyMixin, admin.ModelAdmin):
    list_display = ["outage", "corrected_by", "created_at"]
    list_select_related = ["outage", "corrected_by"]
    list_filter = ["created_at"]
    search_fields = ["reason", "outage__cluster__name"]


@admin.register(UsageStep)
class UsageStepAdmin(ViewOnlyMixin, admin.ModelAdmin):
    """Derived from the ledger by the services; shown for diagnosis, never edited."""

    list_display = ["cluster", "start", "end", "used"]
    list_select_related = ["cluster"]
    list_filter = ["cluster__gpu_model"]
    search_fields = ["cluster__name"]
    date_hierarchy = "start"


@admin.register(SlaCreditTier)
class SlaCreditTierAdmin(ViewOnlyMixin, admin.ModelAdmin):
    """Each cluster's published SLA credit table (defaults from ``inventory.sla_tiers``)."""

    list_display = ["cluster", "below_uptime_percent", "credit_percent"]
    list_select_related = ["cluster"]
    list_filter = ["credit_percent"]
    search_fields = ["cluster__name", "cluster__provider__name"]
