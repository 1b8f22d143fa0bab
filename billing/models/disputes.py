"""Refunds of payments and customers' disputes of invoices."""

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from billing.models.invoices import CreditNote, Invoice
from billing.models.payments import Payment
from marketplace.models import money_field


class RefundStatus(models.TextChoices):
    PENDING = "pending", _("Awaiting confirmation")  # sent to Stripe; its webhook confirms
    SUCCEEDED = "succeeded", _("Refunded")
    FAILED = "failed", _("Failed")  # the gateway refused: the amount stays on the balance


class Refund(models.Model):
    """Money given back on a payment: through Stripe for a card, recorded for a bank transfer.

    ``amount`` = ``from_balance`` (an over-payment the customer's balance still held) + the
    credit note's amount (where the invoice itself changes).
    """

    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="refunds")
    amount = money_field()
    from_balance = money_field(default=0)
    credit_note = models.OneToOneField(
        CreditNote, null=True, blank=True, on_delete=models.PROTECT, related_name="refund"
    )
    reason = models.TextField()
    status = models.CharField(
        max_length=16, choices=RefundStatus.choices, default=RefundStatus.PENDING
    )
    idempotency_key = models.CharField(max_length=100, unique=True)  # sent to the gateway
    external_id = models.CharField(max_length=100, blank=True, db_index=True)  # Stripe re_...
    failure_message = models.CharField(max_length=500, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="refund_amount_positive"),
            models.CheckConstraint(
                condition=Q(from_balance__gte=0, from_balance__lte=F("amount")),
                name="refund_from_balance_within_amount",
            ),
        ]

    def __str__(self) -> str:
        return f"Refund {self.pk}: {self.amount} of payment {self.payment_id} ({self.status})"


class DisputeStatus(models.TextChoices):
    OPEN = "open", pgettext_lazy("dispute", "Open")  # dunning pauses on the invoice
    CREDITED = "credited", _("Resolved with a credit note")
    REJECTED = "rejected", _("Rejected")


class InvoiceDispute(models.Model):
    """A customer contests an invoice. While it is open the invoice is not chased."""

    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="disputes")
    reason = models.TextField()
    status = models.CharField(
        max_length=16, choices=DisputeStatus.choices, default=DisputeStatus.OPEN
    )
    opened_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    resolution = models.TextField(blank=True)  # the admin's reasons
    credit_note = models.OneToOneField(
        CreditNote, null=True, blank=True, on_delete=models.PROTECT, related_name="dispute"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["invoice"],
                condition=Q(status="open"),
                name="one_open_dispute_per_invoice",
            ),
            models.CheckConstraint(
                condition=Q(status="open") | Q(resolved_at__isnull=False),
                name="resolved_dispute_has_date",
            ),
            models.CheckConstraint(
                condition=~Q(status="credited") | Q(credit_note__isnull=False),
                name="credited_dispute_has_credit_note",
            ),
        ]

    def __str__(self) -> str:
        return f"Dispute {self.pk} of invoice {self.invoice_id} ({self.status})"
