"""Invoices, their lines, SLA credits, credit notes, document numbering and overdue flags.

Money: CNY ``Decimal`` to the fen, tax included unless a field says ``net``. Every total is the
sum of its lines; ``net + tax == total`` on every invoice, line and credit note. The check
constraints round the sum to the fen: exact on PostgreSQL (numeric), and needed on SQLite, which
adds decimals as binary floats (91,891,953.10 + 5,513,517.19 is not 97,405,470.29 there).
"""

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Round
from django.utils.translation import gettext_lazy as _

from accounts.errors import DomainError
from accounts.models import Organization
from inventory.models import Outage
from marketplace.models import Contract, money_field

TAX_RATE_DIGITS = {"max_digits": 6, "decimal_places": 4}


class InvoiceStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")  # lines being assembled; no number yet
    OPEN = "open", _("Open")  # finalised and numbered; awaiting payment
    OVERDUE = "overdue", _("Overdue")  # past its due date, unpaid
    PAID = "paid", _("Paid")  # paid in full (terminal)
    VOID = "void", _("Void")  # cancelled by a full credit note (terminal)


class FinalisedInvoiceError(DomainError):
    """Something tried to change what a finalised invoice says. Corrections are credit notes."""

    code = "invoice_finalised"
    status = 409


# What a finalised invoice says and may never change (status and payment progress still move).
INVOICE_FINANCIAL_FIELDS = (
    "customer_id",
    "contract_id",
    "period_index",
    "period_start",
    "period_end",
    "number",
    "currency",
    "subtotal",
    "tax",
    "total",
    "issue_date",
    "due_date",
)


def _stored_status(model, pk) -> str | None:
    return model.objects.filter(pk=pk).values_list("status", flat=True).first()


class Invoice(models.Model):
    """One contract's charge for one billing period: a contract month (``billing.periods``).

    At most one non-void invoice per contract and period, enforced by a partial unique index, so
    a billing run that repeats, overlaps another or dies half-way can never bill twice.
    A finalised invoice never changes its lines or amounts; corrections are credit notes.
    """

    customer = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="invoices")
    contract = models.ForeignKey(Contract, on_delete=models.PROTECT, related_name="invoices")
    period_index = models.PositiveIntegerField()  # position in the contract's schedule
    period_start = models.DateField()
    period_end = models.DateField()  # exclusive
    number = models.CharField(max_length=32, unique=True, null=True, blank=True)
    status = models.CharField(
        max_length=16, choices=InvoiceStatus.choices, default=InvoiceStatus.DRAFT
    )
    currency = models.CharField(max_length=3, default="CNY")
    subtotal = money_field(default=0)  # net, sum of the lines' net
    tax = money_field(default=0)  # sum of the lines' tax
    total = money_field(default=0)  # tax included: subtotal + tax, and the sum of the lines
    amount_paid = money_field(default=0)
    issue_date = models.DateField(null=True, blank=True)
    due_date = models.DateField(null=True, blank=True)
    finalized_at = models.DateTimeField(null=True, blank=True)
    paid_at = models.DateTimeField(null=True, blank=True)
    # Collection (cards) and dunning.
    collection_attempts = models.PositiveSmallIntegerField(default=0)
    next_collection_on = models.DateField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-period_start", "-id"]
        indexes = [
            models.Index(fields=["status", "due_date"], name="invoice_status_due"),
            models.Index(fields=["customer", "period_start"], name="invoice_customer_period"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["contract", "period_start"],
                condition=~Q(status="void"),
                name="one_live_invoice_per_contract_period",
            ),
            models.CheckConstraint(
                condition=Q(total=Round(F("subtotal") + F("tax"), 2)),
                name="invoice_total_is_net_plus_tax",
            ),
            models.CheckConstraint(condition=Q(amount_paid__gte=0), name="invoice_paid_gte_0"),
            models.CheckConstraint(
                condition=Q(status="draft") | Q(number__isnull=False),
                name="invoice_finalised_has_number",
            ),
        ]

    def __str__(self) -> str:
        return self.number or f"Draft invoice {self.pk}"

    # The issue demands that finalised invoices refuse edits at the model layer, so this is the
    # one ``save()`` override in the project: a guard, no business logic. Services are the only
    # writers; this catches anything else (admin, shell, a stray ``save()``). It reads the
    # stored row only when a financial field may be written. ``QuerySet.update()`` bypasses it.
    def save(self, *args, **kwargs):
        self._refuse_financial_changes(kwargs.get("update_fields"))
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        if self.pk and _stored_status(Invoice, self.pk) not in (None, InvoiceStatus.DRAFT):
            raise FinalisedInvoiceError(f"Invoice {self} is finalised and cannot be deleted.")
        return super().delete(*args, **kwargs)

    @property
    def is_finalised(self) -> bool:
        return self.status != InvoiceStatus.DRAFT

    @property
    def amount_due(self):
        return self.total - self.amount_paid

    def _refuse_financial_changes(self, update_fields) -> None:
        if self._state.adding or self.pk is None:
            return
        fields = INVOICE_FINANCIAL_FIELDS
        if update_fields is not None:
            named = {self._meta.get_field(name).attname for name in update_fields}
            fields = tuple(field for field in fields if field in named)
        if not fields:
            return
        stored = Invoice.objects.filter(pk=self.pk).values("status", *fields).first()
        if stored is None or stored["status"] == InvoiceStatus.DRAFT:
            return
        changed = [field for field in fields if getattr(self, field) != stored[field]]
        if changed:
            raise FinalisedInvoiceError(
                f"Invoice {self} is finalised; {', '.join(changed)} cannot change. "
                "Issue a credit note instead."
            )


class InvoiceLineKind(models.TextChoices):
    RENTAL = "rental", _("Rental")  # the period's share of the contract price
    SLA_CREDIT = "sla_credit", _("SLA credit")  # negative: outage beyond the SLA allowance
    ADJUSTMENT = "adjustment", _("Adjustment")  # e.g. termination proration


class InvoiceLine(models.Model):
    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="lines")
    kind = models.CharField(max_length=16, choices=InvoiceLineKind.choices)
    description = models.CharField(max_length=300)
    # The dates the line covers, [start, end): a rental line its contract month (or the days of
    # it served before a termination), an SLA credit line the outage's local dates.
    period_start = models.DateField(null=True, blank=True)
    period_end = models.DateField(null=True, blank=True)
    amount = money_field()  # tax included; negative for credits
    tax_rate = models.DecimalField(**TAX_RATE_DIGITS)  # stored per line: rates change
    net = money_field()
    tax = money_field()
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["invoice_id", "position", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(amount=Round(F("net") + F("tax"), 2)),
                name="line_amount_is_net_plus_tax",
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.amount}"

    # Part of the finalised-invoice guard above: a finalised invoice's lines never change.
    def save(self, *args, **kwargs):
        self._refuse_if_finalised()
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        self._refuse_if_finalised()
        return super().delete(*args, **kwargs)

    def _refuse_if_finalised(self) -> None:
        status = _stored_status(Invoice, self.invoice_id)
        if status not in (None, InvoiceStatus.DRAFT):
            raise FinalisedInvoiceError("The lines of a finalised invoice cannot change.")


class SlaCredit(models.Model):
    """An outage's credit to one contract: at most once per outage and contract."""

    contract = models.ForeignKey(Contract, on_delete=models.PROTECT, related_name="sla_credits")
    outage = models.ForeignKey(Outage, on_delete=models.PROTECT, related_name="sla_credits")
    amount = money_field()  # positive; the invoice line (or credit note) carries it
    credited_hours = models.DecimalField(max_digits=12, decimal_places=4)
    invoice_line = models.OneToOneField(
        InvoiceLine, null=True, blank=True, on_delete=models.SET_NULL, related_name="sla_credit"
    )
    # Outages in a contract's last month have no next invoice: their credits are settled by a
    # credit note on the contract's last invoice instead of an invoice line.
    credit_note = models.ForeignKey(
        "CreditNote", null=True, blank=True, on_delete=models.PROTECT, related_name="sla_credits"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["contract", "outage"], name="one_credit_per_outage"),
            models.CheckConstraint(condition=Q(amount__gte=0), name="sla_credit_gte_0"),
        ]

    def __str__(self) -> str:
        return f"SLA credit {self.amount} (contract {self.contract_id}, outage {self.outage_id})"


class CreditNote(models.Model):
    """A correction to a finalised invoice. Immutable once issued."""

    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="credit_notes")
    number = models.CharField(max_length=32, unique=True)
    amount = money_field()  # tax included, positive: what the customer is owed back
    net = money_field()
    tax = money_field()
    tax_rate = models.DecimalField(**TAX_RATE_DIGITS)
    reason = models.TextField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="credit_note_positive"),
            models.CheckConstraint(
                condition=Q(amount=Round(F("net") + F("tax"), 2)), name="credit_note_net_plus_tax"
            ),
        ]

    def __str__(self) -> str:
        return self.number


class DocumentSequence(models.Model):
    """Gap-free numbering per document kind and year (INV-2027-000001), taken under a row lock
    in the transaction that finalises the document."""

    prefix = models.CharField(max_length=8)  # "INV", "CN"
    year = models.PositiveSmallIntegerField()
    last_number = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["prefix", "year"], name="one_sequence_per_year")
        ]

    def __str__(self) -> str:
        return f"{self.prefix}-{self.year}: {self.last_number}"


class ContractOverdueFlag(models.Model):
    """Raised by billing when a contract's invoice stays unpaid past the grace period, for an
    admin to decide on suspension. Cleared (resolved_at) when the invoice is paid."""

    contract = models.ForeignKey(Contract, on_delete=models.CASCADE, related_name="overdue_flags")
    invoice = models.OneToOneField(Invoice, on_delete=models.CASCADE, related_name="overdue_flag")
    flagged_at = models.DateTimeField(auto_now_add=True)
    resolved_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"Contract {self.contract_id} overdue ({self.invoice})"
