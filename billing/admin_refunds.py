"""Read-only admin for refunds and invoice disputes (registered from ``billing.apps``, so
``billing/admin.py`` stays within its size). Both are written by their services only
(``billing.payments.refunds``, ``billing.credits.disputes``) through the API and the invoice
page, so nothing here adds, changes or deletes them."""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from accounts.formatting import format_money
from billing.models import InvoiceDispute, Refund


class _ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Refund)
class RefundAdmin(_ReadOnly):
    list_display = ["pk", "payment", "amount_money", "status", "credit_note", "created_at"]
    list_select_related = ["payment", "credit_note"]
    list_filter = ["status", "created_at"]
    search_fields = ["payment__invoice__number", "external_id", "reason", "credit_note__number"]
    date_hierarchy = "created_at"

    @admin.display(description=_("Amount"), ordering="amount")
    def amount_money(self, obj):
        return format_money(obj.amount)


@admin.register(InvoiceDispute)
class InvoiceDisputeAdmin(_ReadOnly):
    list_display = ["pk", "invoice", "status", "created_at", "resolved_at", "credit_note"]
    list_select_related = ["invoice", "credit_note"]
    list_filter = ["status", "created_at"]
    search_fields = ["invoice__number", "invoice__customer__name", "reason", "resolution"]
    date_hierarchy = "created_at"
