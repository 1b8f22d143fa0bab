from django.contrib import admin, messages

from marketplace import services
from marketplace.models import (
    CapacityRequest,
    Contract,
    ContractEvent,
    ContractLine,
    ContractStatus,
    MarketSettings,
    Quote,
    QuoteLine,
)


@admin.register(CapacityRequest)
class CapacityRequestAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "customer",
        "min_p",
        "servers",
        "single_cluster",
        "start_date",
        "term_months",
        "status",
        "created_at",
    ]
    list_select_related = ["customer"]
    list_filter = ["status", "single_cluster", "interconnect"]
    search_fields = ["customer__name", "note"]
    date_hierarchy = "start_date"
    filter_horizontal = ["gpu_models", "regions"]


class QuoteLineInline(admin.TabularInline):
    model = QuoteLine
    extra = 0
    readonly_fields = ["cluster", "servers", "p", "price_per_p_year"]
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Quote)
class QuoteAdmin(admin.ModelAdmin):
    """Quotes are read-only: prices were frozen when they were made."""

    list_display = [
        "id",
        "request",
        "rank",
        "total_p",
        "price_per_p_year",
        "total_price",
        "status",
        "expires_at",
    ]
    list_select_related = ["request"]
    list_filter = ["status"]
    search_fields = ["request__customer__name"]
    inlines = [QuoteLineInline]

    def has_change_permission(self, request, obj=None):
        return False

    def has_add_permission(self, request):
        return False


class ContractLineInline(admin.TabularInline):
    model = ContractLine
    extra = 0
    readonly_fields = ["cluster", "provider", "servers", "p", "price_per_p_year"]
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


class ContractEventInline(admin.TabularInline):
    model = ContractEvent
    extra = 0
    readonly_fields = ["from_status", "to_status", "actor", "actor_label", "reason", "created_at"]
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Contract)
class ContractAdmin(admin.ModelAdmin):
    """Contracts change state only through the actions (validated, with history)."""

    list_display = [
        "id",
        "customer",
        "status",
        "start_date",
        "end_date",
        "total_p",
        "price_per_p_year",
        "total_price",
    ]
    list_select_related = ["customer"]
    list_filter = ["status"]
    search_fields = ["customer__name", "lines__provider__name"]
    date_hierarchy = "start_date"
    readonly_fields = [field.name for field in Contract._meta.fields]
    inlines = [ContractLineInline, ContractEventInline]
    actions = ["approve"]

    def has_add_permission(self, request):
        return False

    @admin.action(description="Approve selected contracts")
    def approve(self, request, queryset):
        approved = 0
        for contract in queryset.filter(status=ContractStatus.PENDING_APPROVAL):
            services.contract_approve(contract=contract, by=request.user)
            approved += 1
        self.message_user(request, f"Approved {approved} contract(s).", messages.SUCCESS)


@admin.register(ContractEvent)
class ContractEventAdmin(admin.ModelAdmin):
    list_display = ["contract", "from_status", "to_status", "actor", "actor_label", "created_at"]
    list_select_related = ["contract", "actor"]
    list_filter = ["to_status"]
    search_fields = ["reason"]

    def has_change_permission(self, request, obj=None):
        return False

    def has_add_permission(self, request):
        return False


@admin.register(MarketSettings)
class MarketSettingsAdmin(admin.ModelAdmin):
    list_display = ["__str__", "auto_approve_contracts", "updated_at"]
