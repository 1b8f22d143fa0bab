"""Invoices, payments, credit notes, provider payouts and their audit trail.

Money: CNY ``Decimal`` to the fen, tax included unless a field says ``net``. Every total is the
sum of its lines; ``net + tax == total`` on every invoice, line and credit note. The check
constraints round the sum to the fen: exact on PostgreSQL (numeric), and needed on SQLite, which
adds decimals as binary floats (91,891,953.10 + 5,513,517.19 is not 97,405,470.29 there).
"""

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Round

from accounts.errors import DomainError
from accounts.models import Organization
from inventory.models import Outage
from marketplace.models import Contract, money_field

TAX_RATE_DIGITS = {"max_digits": 6, "decimal_places": 4}


class PaymentMethod(models.TextChoices):
    BANK_TRANSFER = "bank_transfer", "Bank transfer"  # the embedded default
    STRIPE_CARD = "stripe_card", "Card (Stripe)"


class BillingAccount(models.Model):
    """How a customer organisation pays."""

    organization = models.OneToOneField(
        Organization, on_delete=models.PROTECT, related_name="billing_account"
    )
    payment_method = models.CharField(
        max_length=16, choices=PaymentMethod.choices, default=PaymentMethod.BANK_TRANSFER
    )
    billing_email = models.EmailField(blank=True)
    stripe_customer_id = models.CharField(max_length=64, blank=True)
    stripe_payment_method_id = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"Billing account of {self.organization}"


class InvoiceStatus(models.TextChoices):
    DRAFT = "draft", "Draft"  # lines being assembled; no number yet
    OPEN = "open", "Open"  # finalised and numbered; awaiting payment
    OVERDUE = "overdue", "Overdue"  # past its due date, unpaid
    PAID = "paid", "Paid"  # paid in full (terminal)
    VOID = "void", "Void"  # cancelled by a full credit note (terminal)


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
    """One contract's charge for one billing period (a calendar month or part of it).

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
    RENTAL = "rental", "Rental"  # the period's share of the contract price
    SLA_CREDIT = "sla_credit", "SLA credit"  # negative: outage beyond the SLA allowance
    ADJUSTMENT = "adjustment", "Adjustment"  # e.g. termination proration


class InvoiceLine(models.Model):
    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="lines")
    kind = models.CharField(max_length=16, choices=InvoiceLineKind.choices)
    description = models.CharField(max_length=300)
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


class Gateway(models.TextChoices):
    STRIPE = "stripe", "Stripe"
    BANK_TRANSFER = "bank_transfer", "Bank transfer"


class PaymentStatus(models.TextChoices):
    PENDING = "pending", "Pending"  # created; the gateway has not answered yet
    UNKNOWN = "unknown", "Unknown"  # the call timed out: reconciliation asks the gateway
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"  # declined or errored: dunning may retry with a new attempt
    REFUNDED = "refunded", "Refunded"  # fully refunded


IN_FLIGHT = [PaymentStatus.PENDING, PaymentStatus.UNKNOWN]


class Payment(models.Model):
    """One attempt to collect money for an invoice, or one bank transfer received."""

    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="payments")
    gateway = models.CharField(max_length=16, choices=Gateway.choices)
    amount = money_field()
    status = models.CharField(
        max_length=16, choices=PaymentStatus.choices, default=PaymentStatus.PENDING
    )
    attempt = models.PositiveSmallIntegerField(default=1)
    # Derived from our own row, never random, so a retried task cannot charge twice.
    idempotency_key = models.CharField(max_length=100, unique=True)
    external_id = models.CharField(max_length=100, blank=True, db_index=True)
    reference = models.CharField(max_length=200, blank=True)  # bank transfer reference
    failure_code = models.CharField(max_length=64, blank=True)
    failure_message = models.CharField(max_length=500, blank=True)
    amount_refunded = money_field(default=0)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["invoice"],
                condition=Q(status__in=["pending", "unknown"]),
                name="one_payment_in_flight_per_invoice",
            ),
            models.CheckConstraint(condition=Q(amount__gt=0), name="payment_amount_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.gateway} {self.amount} ({self.status})"


class BalanceEntry(models.Model):
    """A customer's money held by the platform: over-payments in (+), applied to invoices (-).

    Nothing received is ever lost: what exceeds an invoice lands here and is applied to later
    invoices or refunded.
    """

    organization = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="balance_entries"
    )
    amount = money_field()
    payment = models.ForeignKey(Payment, null=True, blank=True, on_delete=models.PROTECT)
    invoice = models.ForeignKey(Invoice, null=True, blank=True, on_delete=models.PROTECT)
    description = models.CharField(max_length=300)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.organization}: {self.amount}"


class WebhookEvent(models.Model):
    """A Stripe event as received. Unique per event id: duplicates are recognised and ignored."""

    event_id = models.CharField(max_length=100, unique=True)
    type = models.CharField(max_length=100)
    created = models.DateTimeField()  # Stripe's event time, for ordering
    payload = models.JSONField()
    received_at = models.DateTimeField(auto_now_add=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-received_at"]

    def __str__(self) -> str:
        return f"{self.type} {self.event_id}"


class ContractOverdueFlag(models.Model):
    """Raised by billing when a contract's invoice stays unpaid past the grace period, for an
    admin to decide on suspension. Cleared (resolved_at) when the invoice is paid."""

    contract = models.ForeignKey(Contract, on_delete=models.CASCADE, related_name="overdue_flags")
    invoice = models.OneToOneField(Invoice, on_delete=models.CASCADE, related_name="overdue_flag")
    flagged_at = models.DateTimeField(auto_now_add=True)
    resolved_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"Contract {self.contract_id} overdue ({self.invoice})"


class PayoutStatus(models.TextChoices):
    OPEN = "open", "Open"  # still collecting the month's payments
    CLOSED = "closed", "Closed"  # final and immutable
    PAID = "paid", "Paid out"  # transferred to the provider (terminal)


class PayoutStatement(models.Model):
    """A provider's monthly statement: what its customers paid, less commission and SLA credits."""

    provider = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="payouts")
    period_start = models.DateField()  # first day of the month
    period_end = models.DateField()  # exclusive
    status = models.CharField(
        max_length=16, choices=PayoutStatus.choices, default=PayoutStatus.OPEN
    )
    gross = money_field(default=0)  # customer payments attributable to the provider
    commission = money_field(default=0)
    sla_withheld = money_field(default=0)
    net = money_field(default=0)  # gross - commission - sla_withheld
    commission_rate = models.DecimalField(**TAX_RATE_DIGITS)
    closed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-period_start", "provider_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "period_start"], name="one_statement_per_provider_month"
            ),
            models.CheckConstraint(
                condition=Q(net=Round(F("gross") - F("commission") - F("sla_withheld"), 2)),
                name="payout_net_is_gross_less_deductions",
            ),
        ]

    def __str__(self) -> str:
        return f"Payout {self.provider} {self.period_start:%Y-%m}"


class PayoutLine(models.Model):
    statement = models.ForeignKey(PayoutStatement, on_delete=models.CASCADE, related_name="lines")
    contract = models.ForeignKey(Contract, on_delete=models.PROTECT, related_name="+")
    invoice = models.ForeignKey(Invoice, null=True, blank=True, on_delete=models.PROTECT)
    description = models.CharField(max_length=300)
    gross = money_field()
    commission = money_field()
    sla_withheld = money_field()
    net = money_field()

    class Meta:
        ordering = ["statement_id", "contract_id", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(net=Round(F("gross") - F("commission") - F("sla_withheld"), 2)),
                name="payout_line_net",
            )
        ]

    def __str__(self) -> str:
        return f"{self.contract_id}: {self.net}"


class BillingEvent(models.Model):
    """Audit: every state change of an invoice, payment, credit note or payout statement."""

    class Subject(models.TextChoices):
        INVOICE = "invoice"
        PAYMENT = "payment"
        CREDIT_NOTE = "credit_note"
        PAYOUT = "payout"

    subject = models.CharField(max_length=16, choices=Subject.choices)
    subject_id = models.BigIntegerField()
    from_status = models.CharField(max_length=24, blank=True)
    to_status = models.CharField(max_length=24)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_label = models.CharField(max_length=100, blank=True)  # task name, "webhook", ...
    reason = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["subject", "subject_id"], name="billing_event_subject")]

    def __str__(self) -> str:
        return f"{self.subject} {self.subject_id}: {self.from_status or '-'} -> {self.to_status}"
