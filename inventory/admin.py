from django.contrib import admin

from inventory.models import (
    Allocation,
    Cluster,
    GpuModel,
    Outage,
    OutageCorrection,
    Region,
    UsageStep,
)


@admin.register(GpuModel)
class GpuModelAdmin(admin.ModelAdmin):
    list_display = [
        "code",
        "name",
        "fp16_dense_tflops",
        "fp16_sparse_tflops",
        "memory_gb",
        "memory_type",
        "form_factor",
    ]
    list_filter = ["form_factor", "memory_type"]
    search_fields = ["code", "name"]


@admin.register(Region)
class RegionAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "name_zh", "province"]
    list_filter = ["province"]
    search_fields = ["code", "name", "name_zh", "province"]


class AllocationInline(admin.TabularInline):
    model = Allocation
    extra = 0
    fields = ["kind", "servers", "start", "end", "expires_at", "reference", "note"]
    readonly_fields = fields
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Cluster)
class ClusterAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "provider",
        "region",
        "gpu_model",
        "gpus_per_server",
        "server_count",
        "interconnect",
        "price_per_p_year",
        "status",
        "available_from",
    ]
    list_select_related = ["provider", "region", "gpu_model"]
    list_filter = ["status", "gpu_model", "interconnect", "region"]
    search_fields = ["name", "provider__name"]
    autocomplete_fields = ["provider"]
    inlines = [AllocationInline]


@admin.register(Allocation)
class AllocationAdmin(admin.ModelAdmin):
    """Read-only view of the ledger: capacity changes go through the services, which lock."""

    list_display = ["cluster", "kind", "servers", "start", "end", "expires_at", "reference"]
    list_select_related = ["cluster"]
    list_filter = ["kind"]
    search_fields = ["reference", "cluster__name"]
    date_hierarchy = "start"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class OutageCorrectionInline(admin.TabularInline):
    model = OutageCorrection
    extra = 0
    readonly_fields = ["corrected_by", "reason", "before", "after", "created_at"]
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Outage)
class OutageAdmin(admin.ModelAdmin):
    """Outages are corrected through the API (audited); the admin shows them."""

    list_display = ["cluster", "start", "end", "servers_affected", "invoiced_at", "recorded_by"]
    list_select_related = ["cluster", "recorded_by"]
    list_filter = [("invoiced_at", admin.EmptyFieldListFilter)]
    search_fields = ["cluster__name", "description"]
    date_hierarchy = "start"
    inlines = [OutageCorrectionInline]

    def has_change_permission(self, request, obj=None):
        return obj is None or not obj.is_locked


@admin.register(OutageCorrection)
class OutageCorrectionAdmin(admin.ModelAdmin):
    list_display = ["outage", "corrected_by", "created_at"]
    list_select_related = ["outage", "corrected_by"]
    search_fields = ["reason"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(UsageStep)
class UsageStepAdmin(admin.ModelAdmin):
    """Derived from the ledger by the services; shown for diagnosis, never edited."""

    list_display = ["cluster", "start", "end", "used"]
    list_select_related = ["cluster"]
    search_fields = ["cluster__name"]
    date_hierarchy = "start"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
