"""Provider payout statements: what a provider's customers paid in a month, less deductions."""

from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Round
from django.utils.translation import gettext_lazy as _

from accounts.models import Organization
from billing.models.invoices import TAX_RATE_DIGITS, Invoice
from marketplace.models import Contract, money_field


class PayoutStatus(models.TextChoices):
    OPEN = "open", _("Open")  # still collecting the month's payments
    CLOSED = "closed", _("Closed")  # final and immutable
    PAID = "paid", _("Paid out")  # transferred to the provider (terminal)


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
