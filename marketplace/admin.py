"""The Django admin for the marketplace: read-only rows, changes only through the services.

Requests, quotes and contracts are never edited or deleted here: quotes froze their prices,
contracts change state only through ``marketplace.services`` (the state machine, with its
history), and their rows are what billing and the ledger refer to. Admin actions approve or
cancel contracts and cancel requests through those services; market settings are saved
through theirs.
"""

from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from accounts.errors import DomainError
from accounts.formatting import format_money, format_p, format_rate
from marketplace import resale, services
from marketplace.index_models import MarketIndexDay
from marketplace.models import (
    CapacityRequest,
    Contract,
    ContractEvent,
    ContractLine,
    MarketSettings,
    Quote,
    QuoteLine,
    ResaleHold,
    ResaleListing,
)


class ViewOnlyMixin:
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


def run_service(model_admin, request, queryset, service, done_message) -> None:
    """Call ``service(obj)`` for each selected row; report how many worked and each refusal."""
    done = 0
    for obj in queryset:
        try:
            service(obj)
        except DomainError as exc:
            model_admin.message_user(request, f"{obj}: {exc.message}", level=messages.ERROR)
        else:
            done += 1
    if done:
        model_admin.message_user(request, done_message(done), level=messages.SUCCESS)


@admin.register(CapacityRequest)
class CapacityRequestAdmin(ViewOnlyMixin, admin.ModelAdmin):
    list_display = [
        "id",
        "customer",
        "demand",
        "single_cluster",
        "start_date",
        "term_months",
        "max_price",
        "status",
        "created_at",
    ]
    list_select_related = ["customer"]
    list_filter = ["status", "single_cluster", "interconnect", "gpu_models", "regions"]
    search_fields = ["customer__name", "note"]
    date_hierarchy = "start_date"
    actions = ["cancel_requests"]

    @admin.display(description=_("Demand"))
    def demand(self, obj: CapacityRequest) -> str:
        if obj.min_p is not None:
            return f"{format_p(obj.min_p)} P"
        return ngettext("%(count)d server", "%(count)d servers", obj.servers) % {
            "count": obj.servers
        }

    @admin.display(description=_("Max price per P per year"), ordering="max_price_per_p_year")
    def max_price(self, obj: CapacityRequest) -> str:
        return format_rate(obj.max_price_per_p_year) or "-"

    @admin.action(description=_("Cancel selected requests (releases their quotes' holds)"))
    def cancel_requests(self, request, queryset):
        run_service(
            self,
            request,
            queryset,
            lambda r: services.request_cancel(capacity_request=r),
            lambda n: (
                ngettext("Cancelled %(count)d request.", "Cancelled %(count)d requests.", n)
                % {"count": n}
            ),
        )


class QuoteLineInline(ViewOnlyMixin, admin.TabularInline):
    model = QuoteLine
    extra = 0
    fields = ["cluster", "servers", "p_display", "price_display"]
    readonly_fields = fields
    can_delete = False

    @admin.display(description=_("P"))
    def p_display(self, obj: QuoteLine) -> str:
        return format_p(obj.p)

    @admin.display(description=_("Price per P per year"))
    def price_display(self, obj: QuoteLine) -> str:
        return format_rate(obj.price_per_p_year)


@admin.register(Quote)
class QuoteAdmin(ViewOnlyMixin, admin.ModelAdmin):
    """Quotes are read-only: prices were frozen when they were made."""

    list_display = [
        "id",
        "request",
        "rank",
        "total_p_display",
        "price_display",
        "total_price_display",
        "status",
        "expires_at",
    ]
    list_select_related = ["request"]
    list_filter = ["status", "rank"]
    search_fields = ["request__customer__name"]
    date_hierarchy = "created_at"
    inlines = [QuoteLineInline]

    @admin.display(description=_("Total P"), ordering="total_p")
    def total_p_display(self, obj: Quote) -> str:
        return format_p(obj.total_p)

    @admin.display(description=_("Price per P per year"), ordering="price_per_p_year")
    def price_display(self, obj: Quote) -> str:
        return format_rate(obj.price_per_p_year, obj.currency)

    @admin.display(description=_("Total price"), ordering="total_price")
    def total_price_display(self, obj: Quote) -> str:
        return format_money(obj.total_price, obj.currency)


class ContractLineInline(ViewOnlyMixin, admin.TabularInline):
    model = ContractLine
    extra = 0
    fields = ["cluster", "provider", "servers", "p_display", "price_display"]
    readonly_fields = fields
    can_delete = False

    @admin.display(description=_("P"))
    def p_display(self, obj: ContractLine) -> str:
        return format_p(obj.p)

    @admin.display(description=_("Price per P per year"))
    def price_display(self, obj: ContractLine) -> str:
        return format_rate(obj.price_per_p_year)


class ContractEventInline(ViewOnlyMixin, admin.TabularInline):
    model = ContractEvent
    extra = 0
    fields = ["from_status", "to_status", "actor", "actor_label", "reason", "created_at"]
    readonly_fields = fields
    can_delete = False


@admin.register(Contract)
class ContractAdmin(ViewOnlyMixin, admin.ModelAdmin):
    """Contracts change state only through the actions (the state machine, with history)."""

    list_display = [
        "id",
        "customer",
        "kind",
        "status",
        "start_date",
        "end_date",
        "total_p_display",
        "price_display",
        "total_price_display",
    ]
    list_select_related = ["customer"]
    list_filter = ["status", "kind", "term_months", "lines__provider"]
    search_fields = ["customer__name", "lines__provider__name", "termination_reason"]
    date_hierarchy = "start_date"
    inlines = [ContractLineInline, ContractEventInline]
    actions = ["approve", "cancel"]

    @admin.display(description=_("Total P"), ordering="total_p")
    def total_p_display(self, obj: Contract) -> str:
        return format_p(obj.total_p)

    @admin.display(description=_("Price per P per year"), ordering="price_per_p_year")
    def price_display(self, obj: Contract) -> str:
        return format_rate(obj.price_per_p_year, obj.currency)

    @admin.display(description=_("Total price"), ordering="total_price")
    def total_price_display(self, obj: Contract) -> str:
        return format_money(obj.total_price, obj.currency)

    def get_fields(self, request, obj=None):
        return [f.name for f in Contract._meta.fields if f.name != "id"] + [
            "total_p_display",
            "price_display",
            "total_price_display",
        ]

    def get_readonly_fields(self, request, obj=None):
        return self.get_fields(request, obj)

    @admin.action(description=_("Approve selected contracts"))
    def approve(self, request, queryset):
        run_service(
            self,
            request,
            queryset,
            lambda c: services.contract_approve(contract=c, by=request.user),
            lambda n: (
                ngettext("Approved %(count)d contract.", "Approved %(count)d contracts.", n)
                % {"count": n}
            ),
        )

    @admin.action(description=_("Cancel selected contracts that have not started"))
    def cancel(self, request, queryset):
        run_service(
            self,
            request,
            queryset,
            lambda c: services.contract_cancel(
                contract=c, by=request.user, reason=str(_("Cancelled by a platform admin."))
            ),
            lambda n: (
                ngettext("Cancelled %(count)d contract.", "Cancelled %(count)d contracts.", n)
                % {"count": n}
            ),
        )


@admin.register(ResaleHold)
class ResaleHoldAdmin(ViewOnlyMixin, admin.ModelAdmin):
    """Resale servers held for open quotes: read-only (quote runs place and release them; a
    hold past its expiry counts as free)."""

    list_display = ["id", "listing", "servers", "start", "end", "expires_at", "reference"]
    list_select_related = ["listing"]
    search_fields = ["reference"]
    readonly_fields = [
        "listing",
        "servers",
        "start",
        "end",
        "expires_at",
        "reference",
        "created_at",
    ]


@admin.register(ResaleListing)
class ResaleListingAdmin(ViewOnlyMixin, admin.ModelAdmin):
    """Resale listings: read-only; withdrawing goes through the service (its locks)."""

    list_display = [
        "id",
        "contract",
        "cluster",
        "servers",
        "sold_servers",
        "start",
        "end",
        "price_display",
        "status",
    ]
    list_select_related = ["contract", "cluster"]
    list_filter = ["status"]
    search_fields = ["contract__customer__name", "cluster__name"]
    actions = ["withdraw"]

    @admin.display(description=_("Price per P per year"), ordering="price_per_p_year")
    def price_display(self, obj: ResaleListing) -> str:
        return format_rate(obj.price_per_p_year)

    def get_fields(self, request, obj=None):
        return [f.name for f in ResaleListing._meta.fields if f.name != "id"]

    def get_readonly_fields(self, request, obj=None):
        return self.get_fields(request, obj)

    @admin.action(description=_("Withdraw the unsold part of selected listings"))
    def withdraw(self, request, queryset):
        run_service(
            self,
            request,
            queryset,
            lambda listing: resale.resale_withdraw(listing=listing, by=request.user),
            lambda n: (
                ngettext("Withdrew %(count)d listing.", "Withdrew %(count)d listings.", n)
                % {"count": n}
            ),
        )


@admin.register(MarketIndexDay)
class MarketIndexDayAdmin(ViewOnlyMixin, admin.ModelAdmin):
    """The recorded price index (derived data: written by ``marketplace.index`` only)."""

    list_display = [
        "day",
        "gpu_model",
        "region",
        "index_price_per_p_year",
        "trades",
        "organizations",
        "lowest_ask",
        "median_ask",
    ]
    list_select_related = ["gpu_model", "region"]
    list_filter = ["gpu_model", "region"]
    date_hierarchy = "day"


@admin.register(ContractEvent)
class ContractEventAdmin(ViewOnlyMixin, admin.ModelAdmin):
    list_display = ["contract", "from_status", "to_status", "actor", "actor_label", "created_at"]
    list_select_related = ["contract", "actor"]
    list_filter = ["to_status", "from_status"]
    search_fields = ["reason", "actor__username", "actor_label"]
    date_hierarchy = "created_at"


@admin.register(MarketSettings)
class MarketSettingsAdmin(admin.ModelAdmin):
    """One row of platform switches, saved through ``market_settings_update``."""

    list_display = ["__str__", "auto_approve_contracts", "updated_at"]
    list_filter = ["auto_approve_contracts"]
    fields = ["auto_approve_contracts", "updated_at"]
    readonly_fields = ["updated_at"]

    def has_add_permission(self, request):
        return not MarketSettings.objects.exists()

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        saved = services.market_settings_update(
            by=request.user, auto_approve_contracts=form.cleaned_data["auto_approve_contracts"]
        )
        obj.pk = saved.pk
        obj.updated_at = saved.updated_at
