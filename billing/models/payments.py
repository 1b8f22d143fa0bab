"""How customers pay: billing accounts, payments (card and bank transfer), balances, webhooks."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from accounts.models import Organization
from billing.models.invoices import Invoice
from marketplace.models import money_field


class PaymentMethod(models.TextChoices):
    BANK_TRANSFER = "bank_transfer", _("Bank transfer")  # the embedded default
    STRIPE_CARD = "stripe_card", _("Card (Stripe)")


class ResaleProceeds(models.TextChoices):
    """How an organisation that sells (a reseller) receives what its buyers paid, less the
    platform's commission: on a payout statement paid out to it, or as balance applied to its
    own invoices."""

    PAYOUT = "payout", _("Paid out to us")
    BALANCE = "balance", _("Applied to our invoices as balance")


class BillingAccount(models.Model):
    """How a customer organisation pays, and how it receives its resale proceeds."""

    organization = models.OneToOneField(
        Organization, on_delete=models.PROTECT, related_name="billing_account"
    )
    payment_method = models.CharField(
        max_length=16, choices=PaymentMethod.choices, default=PaymentMethod.BANK_TRANSFER
    )
    billing_email = models.EmailField(blank=True)
    stripe_customer_id = models.CharField(max_length=64, blank=True)
    stripe_payment_method_id = models.CharField(max_length=64, blank=True)
    resale_proceeds = models.CharField(
        max_length=16, choices=ResaleProceeds.choices, default=ResaleProceeds.PAYOUT
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(resale_proceeds__in=["payout", "balance"]),
                name="billing_account_resale_proceeds_known",
            )
        ]

    def __str__(self) -> str:
        return f"Billing account of {self.organization}"


class Gateway(models.TextChoices):
    STRIPE = "stripe", _("Stripe")
    BANK_TRANSFER = "bank_transfer", _("Bank transfer")


class PaymentStatus(models.TextChoices):
    PENDING = "pending", _("Pending")  # created; the gateway has not answered yet
    UNKNOWN = "unknown", _("Unknown")  # the call timed out: reconciliation asks the gateway
    SUCCEEDED = "succeeded", _("Succeeded")
    FAILED = "failed", _("Failed")  # declined or errored: dunning may retry with a new attempt
    REFUNDED = "refunded", _("Refunded")  # fully refunded


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
    # A payout statement paid out as balance: at most one entry per statement.
    payout = models.OneToOneField(
        "billing.PayoutStatement",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="balance_entry",
    )
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
