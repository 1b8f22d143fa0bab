"""The admin's view of fapiao requests: searchable and filterable, never edited by hand (the
finance team issues and rejects on the fapiao page, through ``billing.fapiao.requests``).
Registered from ``BillingConfig.ready`` so ``billing/admin.py`` stays within its size."""

from django.contrib import admin

from billing.admin import ReadOnlyAdmin
from billing.models import FapiaoRequest


@admin.register(FapiaoRequest)
class FapiaoRequestAdmin(ReadOnlyAdmin):
    list_display = [
        "invoice",
        "kind",
        "title",
        "tax_id",
        "status",
        "fapiao_number",
        "issued_on",
        "created_at",
    ]
    list_select_related = ["invoice"]
    list_filter = ["status", "kind", "issued_on"]
    search_fields = ["invoice__number", "title", "tax_id", "fapiao_number"]
    date_hierarchy = "created_at"
