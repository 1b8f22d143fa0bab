"""Admin for every billing model. Money documents are read-only here: the services write them.

Finalised invoices, credit notes, payments, audit rows and closed statements cannot be edited;
admins act through actions that call the services (void, close, build statements, resolve).
"""

from django.contrib import admin, messages
from django.utils import timezone

from accounts.errors import DomainError
from billing import services
from billing.models import (
    BalanceEntry,
    BillingAccount,
    BillingEvent,
    ContractOverdueFlag,
    CreditNote,
    DocumentSequence,
    Invoice,
    InvoiceLine,
    InvoiceStatus,
    Payment,
    PayoutLine,
    PayoutStatement,
    PayoutStatus,
    SlaCredit,
    WebhookEvent,
)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Viewable and searchable, never changed by hand."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


def _run(request, modeladmin, action, objects) -> None:
    """Apply a service to each object; report successes and domain refusals."""
    done = 0
    for obj in objects:
        try:
            action(obj)
            done += 1
        except DomainError as exc:
            modeladmin.message_user(request, f"{obj}: {exc.message}", messages.WARNING)
    if done:
        modeladmin.message_user(request, f"{done} done.", messages.SUCCESS)


@admin.register(BillingAccount)
class BillingAccountAdmin(admin.ModelAdmin):
    list_display = ["organization", "payment_method", "billing_email", "created_at"]
    list_select_related = ["organization"]
    list_filter = ["payment_method"]
    search_fields = ["organization__name", "billing_email", "stripe_customer_id"]
    readonly_fields = ["stripe_customer_id", "stripe_payment_method_id", "created_at"]


class InvoiceLineInline(admin.TabularInline):
    model = InvoiceLine
    extra = 0
    fields = ["position", "kind", "description", "amount", "tax_rate", "net", "tax"]

    def _editable(self, obj) -> bool:
        return obj is not None and obj.status == InvoiceStatus.DRAFT

    def has_add_permission(self, request, obj=None):
        return self._editable(obj)

    def has_change_permission(self, request, obj=None):
        return self._editable(obj)

    def has_delete_permission(self, request, obj=None):
        return self._editable(obj)


class CreditNoteInline(ReadOnlyInline):
    model = CreditNote
    fields = ["number", "amount", "net", "tax", "reason", "created_by", "created_at"]
    readonly_fields = fields


class PaymentInline(ReadOnlyInline):
    model = Payment
    fields = ["gateway", "amount", "status", "attempt", "reference", "failure_code", "created_at"]
    readonly_fields = fields


@admin.register(Invoice)
class InvoiceAdmin(admin.ModelAdmin):
    list_display = [
        "number",
        "customer",
        "contract",
        "period_start",
        "total",
        "amount_paid",
        "status",
        "issue_date",
        "due_date",
    ]
    list_select_related = ["customer"]
    list_filter = ["status", "issue_date", "currency"]
    search_fields = ["number", "customer__name", "contract__id"]
    date_hierarchy = "issue_date"
    raw_id_fields = ["customer", "contract"]
    inlines = [InvoiceLineInline, CreditNoteInline, PaymentInline]
    actions = ["void_invoices"]

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and obj.is_finalised:  # finalised: nothing changes by hand
            return [field.name for field in Invoice._meta.fields]
        return [
            "number",
            "status",
            "subtotal",
            "tax",
            "total",
            "amount_paid",
            "issue_date",
            "due_date",
            "finalized_at",
            "paid_at",
        ]

    def has_delete_permission(self, request, obj=None):
        return obj is not None and not obj.is_finalised

    @admin.action(description="Void selected invoices (unpaid only)")
    def void_invoices(self, request, queryset):
        _run(
            request,
            self,
            lambda invoice: services.invoice_transition(
                invoice=invoice,
                to=InvoiceStatus.VOID,
                actor=request.user,
                reason="Voided in the admin.",
            ),
            queryset,
        )


@admin.register(InvoiceLine)
class InvoiceLineAdmin(ReadOnlyAdmin):
    list_display = ["invoice", "kind", "description", "amount", "tax_rate", "net", "tax"]
    list_select_related = ["invoice"]
    list_filter = ["kind"]
    search_fields = ["invoice__number", "description"]


@admin.register(SlaCredit)
class SlaCreditAdmin(ReadOnlyAdmin):
    list_display = ["contract", "outage", "amount", "credited_hours", "invoice_line", "created_at"]
    list_select_related = ["outage", "invoice_line__invoice"]
    search_fields = ["contract__id", "outage__cluster__name"]
    list_filter = ["created_at"]


@admin.register(CreditNote)
class CreditNoteAdmin(ReadOnlyAdmin):
    list_display = ["number", "invoice", "amount", "net", "tax", "created_by", "created_at"]
    list_select_related = ["invoice", "created_by"]
    search_fields = ["number", "invoice__number", "invoice__customer__name", "reason"]
    date_hierarchy = "created_at"


@admin.register(DocumentSequence)
class DocumentSequenceAdmin(ReadOnlyAdmin):
    list_display = ["prefix", "year", "last_number"]
    list_filter = ["prefix", "year"]


@admin.register(Payment)
class PaymentAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "invoice",
        "gateway",
        "amount",
        "status",
        "attempt",
        "external_id",
        "created_at",
    ]
    list_select_related = ["invoice"]
    list_filter = ["gateway", "status"]
    search_fields = ["invoice__number", "external_id", "reference", "idempotency_key"]
    date_hierarchy = "created_at"


@admin.register(BalanceEntry)
class BalanceEntryAdmin(ReadOnlyAdmin):
    list_display = ["organization", "amount", "description", "invoice", "payment", "created_at"]
    list_select_related = ["organization", "invoice"]
    search_fields = ["organization__name", "description", "invoice__number"]
    date_hierarchy = "created_at"


@admin.register(WebhookEvent)
class WebhookEventAdmin(ReadOnlyAdmin):
    list_display = ["event_id", "type", "created", "received_at", "processed_at"]
    list_filter = ["type", ("processed_at", admin.EmptyFieldListFilter)]
    search_fields = ["event_id", "type"]


@admin.register(ContractOverdueFlag)
class ContractOverdueFlagAdmin(admin.ModelAdmin):
    list_display = ["contract", "invoice", "days_overdue", "flagged_at", "resolved_at"]
    list_select_related = ["invoice"]
    list_filter = [("resolved_at", admin.EmptyFieldListFilter)]
    search_fields = ["contract__id", "invoice__number", "invoice__customer__name"]
    readonly_fields = ["contract", "invoice", "flagged_at", "resolved_at"]
    actions = ["resolve"]

    def has_add_permission(self, request):
        return False

    @admin.display(description="Days overdue")
    def days_overdue(self, obj: ContractOverdueFlag) -> int | str:
        if obj.invoice.due_date is None:
            return "-"
        return max(0, (timezone.localdate() - obj.invoice.due_date).days)

    @admin.action(description="Mark selected flags as dealt with")
    def resolve(self, request, queryset):
        count = queryset.filter(resolved_at__isnull=True).update(resolved_at=timezone.now())
        self.message_user(request, f"{count} flag(s) resolved.", messages.SUCCESS)


class PayoutLineInline(ReadOnlyInline):
    model = PayoutLine
    fields = ["contract", "invoice", "description", "gross", "commission", "sla_withheld", "net"]
    readonly_fields = fields


@admin.register(PayoutStatement)
class PayoutStatementAdmin(ReadOnlyAdmin):
    list_display = [
        "provider",
        "period_start",
        "status",
        "gross",
        "commission",
        "sla_withheld",
        "net",
        "closed_at",
    ]
    list_select_related = ["provider"]
    list_filter = ["status", "period_start"]
    search_fields = ["provider__name"]
    inlines = [PayoutLineInline]
    actions = ["close_statements", "rebuild_statements", "mark_paid_out"]

    @admin.action(description="Close selected statements (final)")
    def close_statements(self, request, queryset):
        _run(
            request,
            self,
            lambda statement: services.payout_close(statement=statement, by=request.user),
            queryset,
        )

    @admin.action(description="Rebuild the months of selected open statements")
    def rebuild_statements(self, request, queryset):
        months = sorted(
            set(queryset.filter(status=PayoutStatus.OPEN).values_list("period_start", flat=True))
        )
        for month in months:
            services.payouts_build(month=month, actor_label=f"admin:{request.user}")
        self.message_user(request, f"Rebuilt {len(months)} month(s).", messages.SUCCESS)

    @admin.action(description="Mark selected closed statements as paid out")
    def mark_paid_out(self, request, queryset):
        _run(
            request,
            self,
            lambda statement: services.payout_transition(
                statement=statement, to=PayoutStatus.PAID, actor=request.user
            ),
            queryset,
        )


@admin.register(PayoutLine)
class PayoutLineAdmin(ReadOnlyAdmin):
    list_display = [
        "statement",
        "contract",
        "invoice",
        "gross",
        "commission",
        "sla_withheld",
        "net",
    ]
    list_select_related = ["statement__provider", "invoice"]
    search_fields = ["statement__provider__name", "invoice__number"]


@admin.register(BillingEvent)
class BillingEventAdmin(ReadOnlyAdmin):
    list_display = [
        "created_at",
        "subject",
        "subject_id",
        "from_status",
        "to_status",
        "actor",
        "actor_label",
    ]
    list_select_related = ["actor"]
    list_filter = ["subject", "to_status"]
    search_fields = ["subject_id", "actor_label", "reason", "actor__username"]
    date_hierarchy = "created_at"
