"""Admin for every billing model: searchable, filterable, money as ``¥599,040.00``.

Money documents are read-only here and never deleted: invoices, their lines, credit notes,
payments, balances, SLA credits, payout statements and the audit trail are written by the
services only, so no field, inline or delete can step around a service's guard. What an admin
may do goes through actions that call the services: credit an invoice in full, close, rebuild
or pay out statements, resolve overdue flags, change a billing address.
"""

from collections.abc import Callable

from django import forms
from django.contrib import admin, messages
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from accounts.errors import DomainError
from accounts.formatting import format_money
from billing.credits.credit_notes import credit_note_issue, creditable
from billing.invoicing.overdue import overdue_flags_resolve
from billing.models import (
    BalanceEntry,
    BillingAccount,
    BillingEvent,
    BillingRunStep,
    ContractOverdueFlag,
    CreditNote,
    DocumentSequence,
    Invoice,
    InvoiceLine,
    Payment,
    PayoutLine,
    PayoutStatement,
    PayoutStatus,
    SlaCredit,
    WebhookEvent,
)
from billing.payments.cards import billing_account_update
from billing.payouts.statements import payout_close, payout_transition, payouts_build


def money(field: str, label: str) -> Callable:
    """A list/detail column showing ``field`` as money in the object's currency."""

    @admin.display(description=label, ordering=field)
    def column(obj):
        currency = getattr(obj, "currency", None) or getattr(
            getattr(obj, "invoice", None), "currency", "CNY"
        )
        return format_money(getattr(obj, field), currency)

    column.__name__ = f"{field}_money"
    return column


class ReadOnlyAdmin(admin.ModelAdmin):
    """Viewable, searchable and filterable; never added, changed or deleted by hand."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


def _run(request, modeladmin, action: Callable, objects) -> None:
    """Apply a service to each object; report successes and domain refusals in words."""
    done = 0
    for obj in objects:
        try:
            action(obj)
            done += 1
        except DomainError as exc:
            modeladmin.message_user(request, f"{obj}: {exc.message}", messages.WARNING)
    if done:
        text = ngettext("%(count)d done.", "%(count)d done.", done) % {"count": done}
        modeladmin.message_user(request, text, messages.SUCCESS)


# --- Accounts and payments ------------------------------------------------------------------
class BillingAccountForm(forms.ModelForm):
    class Meta:
        model = BillingAccount
        fields = ["billing_email"]


@admin.register(BillingAccount)
class BillingAccountAdmin(admin.ModelAdmin):
    """Only the billing address is edited here (through the service); cards are saved by the
    customer through Stripe, never typed in."""

    form = BillingAccountForm
    list_display = [
        "organization",
        "payment_method",
        "resale_proceeds",
        "billing_email",
        "created_at",
    ]
    list_select_related = ["organization"]
    list_filter = ["payment_method", "resale_proceeds", "created_at"]
    search_fields = ["organization__name", "billing_email", "stripe_customer_id"]
    readonly_fields = [
        "organization",
        "payment_method",
        "resale_proceeds",  # the organisation chooses it on its payouts page
        "stripe_customer_id",
        "stripe_payment_method_id",
        "created_at",
    ]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        billing_account_update(account=obj, billing_email=form.cleaned_data["billing_email"])


@admin.register(Payment)
class PaymentAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "invoice",
        "gateway",
        money("amount", _("amount")),
        "status",
        "attempt",
        money("amount_refunded", _("refunded")),
        "external_id",
        "created_at",
    ]
    list_select_related = ["invoice"]
    list_filter = ["gateway", "status", "created_at"]
    search_fields = ["invoice__number", "external_id", "reference", "idempotency_key"]
    date_hierarchy = "created_at"


@admin.register(BalanceEntry)
class BalanceEntryAdmin(ReadOnlyAdmin):
    list_display = [
        "organization",
        money("amount", _("amount")),
        "description",
        "invoice",
        "payment",
        "created_at",
    ]
    list_select_related = ["organization", "invoice", "payment"]
    list_filter = ["created_at"]
    search_fields = ["organization__name", "description", "invoice__number"]
    date_hierarchy = "created_at"


@admin.register(WebhookEvent)
class WebhookEventAdmin(ReadOnlyAdmin):
    list_display = ["event_id", "type", "created", "received_at", "processed_at"]
    list_filter = ["type", ("processed_at", admin.EmptyFieldListFilter)]
    search_fields = ["event_id", "type", "error"]


# --- Invoices -------------------------------------------------------------------------------
class InvoiceLineInline(ReadOnlyInline):
    model = InvoiceLine
    fields = ["position", "kind", "description", "period_start", "period_end", "amount", "tax"]
    readonly_fields = fields


class CreditNoteInline(ReadOnlyInline):
    model = CreditNote
    fields = ["number", "amount", "net", "tax", "reason", "created_by", "created_at"]
    readonly_fields = fields


class PaymentInline(ReadOnlyInline):
    model = Payment
    fields = ["gateway", "amount", "status", "attempt", "reference", "failure_code", "created_at"]
    readonly_fields = fields


@admin.register(Invoice)
class InvoiceAdmin(ReadOnlyAdmin):
    list_display = [
        "number",
        "customer",
        "contract",
        "period_start",
        "period_end",
        money("total", _("total")),
        money("amount_paid", _("paid")),
        "status",
        "issue_date",
        "due_date",
    ]
    list_select_related = ["customer", "contract"]
    list_filter = ["status", "issue_date", "due_date", "currency"]
    search_fields = ["number", "customer__name", "contract__id"]
    date_hierarchy = "issue_date"
    inlines = [InvoiceLineInline, CreditNoteInline, PaymentInline]
    actions = ["credit_in_full"]

    @admin.action(description=_("Credit selected invoices in full (voids unpaid ones)"))
    def credit_in_full(self, request, queryset):
        reason = _("Credited in full in the admin by %(user)s.") % {"user": request.user}
        _run(
            request,
            self,
            lambda invoice: credit_note_issue(
                invoice=invoice, amount=creditable(invoice), reason=str(reason), by=request.user
            ),
            queryset,
        )


@admin.register(InvoiceLine)
class InvoiceLineAdmin(ReadOnlyAdmin):
    list_display = [
        "invoice",
        "kind",
        "description",
        "period_start",
        "period_end",
        money("amount", _("amount")),
        "tax_rate",
        money("net", _("net")),
        money("tax", _("tax")),
    ]
    list_select_related = ["invoice"]
    list_filter = ["kind", "tax_rate"]
    search_fields = ["invoice__number", "description"]


@admin.register(SlaCredit)
class SlaCreditAdmin(ReadOnlyAdmin):
    list_display = [
        "contract",
        "outage",
        money("amount", _("amount")),
        "credited_hours",
        "invoice_line",
        "credit_note",
        "created_at",
    ]
    list_select_related = ["outage__cluster", "invoice_line__invoice", "credit_note"]
    list_filter = ["created_at", ("credit_note", admin.EmptyFieldListFilter)]
    search_fields = ["contract__id", "outage__cluster__name", "credit_note__number"]


@admin.register(CreditNote)
class CreditNoteAdmin(ReadOnlyAdmin):
    list_display = [
        "number",
        "invoice",
        money("amount", _("amount")),
        money("net", _("net")),
        money("tax", _("tax")),
        "created_by",
        "created_at",
    ]
    list_select_related = ["invoice", "created_by"]
    list_filter = ["created_at", "tax_rate"]
    search_fields = ["number", "invoice__number", "invoice__customer__name", "reason"]
    date_hierarchy = "created_at"


@admin.register(DocumentSequence)
class DocumentSequenceAdmin(ReadOnlyAdmin):
    list_display = ["prefix", "year", "last_number"]
    list_filter = ["prefix", "year"]
    search_fields = ["prefix"]


@admin.register(ContractOverdueFlag)
class ContractOverdueFlagAdmin(ReadOnlyAdmin):
    list_display = ["contract", "invoice", "days_overdue", "flagged_at", "resolved_at"]
    list_select_related = ["invoice"]
    list_filter = [("resolved_at", admin.EmptyFieldListFilter), "flagged_at"]
    search_fields = ["contract__id", "invoice__number", "invoice__customer__name"]
    actions = ["resolve"]

    @admin.display(description=_("Days overdue"))
    def days_overdue(self, obj: ContractOverdueFlag) -> int | str:
        if obj.invoice.due_date is None:
            return "-"
        return max(0, (timezone.localdate() - obj.invoice.due_date).days)

    @admin.action(description=_("Mark selected flags as dealt with"))
    def resolve(self, request, queryset):
        count = overdue_flags_resolve(flags=queryset)
        text = ngettext("%(count)d flag resolved.", "%(count)d flags resolved.", count)
        self.message_user(request, text % {"count": count}, messages.SUCCESS)


# --- Payouts --------------------------------------------------------------------------------
class PayoutLineInline(ReadOnlyInline):
    model = PayoutLine
    fields = [
        "contract",
        "invoice",
        "description",
        "collected",
        "vat",
        "commission",
        "sla_withheld",
        "payable",
    ]
    readonly_fields = fields


@admin.register(PayoutStatement)
class PayoutStatementAdmin(ReadOnlyAdmin):
    list_display = [
        "provider",
        "period_start",
        "status",
        money("collected", _("collected")),
        money("vat", _("VAT")),
        money("commission", _("commission")),
        money("sla_withheld", _("SLA withheld")),
        money("payable", _("payable")),
        "closed_at",
    ]
    list_select_related = ["provider"]
    list_filter = ["status", "period_start"]
    search_fields = ["provider__name"]
    inlines = [PayoutLineInline]
    actions = ["close_statements", "rebuild_statements", "mark_paid_out"]

    @admin.action(description=_("Close selected statements (final)"))
    def close_statements(self, request, queryset):
        _run(
            request,
            self,
            lambda statement: payout_close(statement=statement, by=request.user),
            queryset,
        )

    @admin.action(description=_("Rebuild the months of selected open statements"))
    def rebuild_statements(self, request, queryset):
        months = sorted(
            set(queryset.filter(status=PayoutStatus.OPEN).values_list("period_start", flat=True))
        )
        for month in months:
            payouts_build(month=month, actor_label=f"admin:{request.user}")
        text = ngettext("Rebuilt %(count)d month.", "Rebuilt %(count)d months.", len(months))
        self.message_user(request, text % {"count": len(months)}, messages.SUCCESS)

    @admin.action(description=_("Mark selected closed statements as paid out"))
    def mark_paid_out(self, request, queryset):
        _run(
            request,
            self,
            lambda statement: payout_transition(
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
        money("collected", _("collected")),
        money("vat", _("VAT")),
        money("commission", _("commission")),
        money("sla_withheld", _("SLA withheld")),
        money("payable", _("payable")),
    ]
    list_select_related = ["statement__provider", "invoice"]
    list_filter = ["statement__status", "statement__period_start"]
    search_fields = ["statement__provider__name", "invoice__number", "description"]


# --- Audit ----------------------------------------------------------------------------------
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
    list_filter = ["subject", "to_status", "created_at"]
    search_fields = ["subject_id", "actor_label", "reason", "actor__username"]
    date_hierarchy = "created_at"


@admin.register(BillingRunStep)
class BillingRunStepAdmin(ReadOnlyAdmin):
    list_display = ["run_date", "step", "chunk", "worker", "started_at", "finished_at"]
    list_filter = ["step", "run_date", ("finished_at", admin.EmptyFieldListFilter)]
    search_fields = ["step", "worker"]
    date_hierarchy = "started_at"
