"""Provider payout statements: what a provider's customers paid in a month, less deductions.

Every amount is CNY to the fen. ``collected`` is tax included: ``collected_net_of_vat + vat``.
The commission is ``commission_rate`` of the ``commission_base``: the VAT-exclusive amount
collected (``net_of_vat``, the default of ``PLATFORM_COMMISSION_BASE``) or the amount collected
tax included (``collected``). ``payable = collected - commission - sla_withheld``.
"""

from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Round
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from accounts.models import Organization
from billing.models.invoices import TAX_RATE_DIGITS, Invoice
from marketplace.models import Contract, money_field


class PayoutStatus(models.TextChoices):
    OPEN = "open", pgettext_lazy("payout", "Open")  # still collecting the month's payments
    CLOSED = "closed", _("Closed")  # final and immutable
    PAID = "paid", _("Paid out")  # transferred to the provider (terminal)


class CommissionBase(models.TextChoices):
    NET_OF_VAT = "net_of_vat", _("the amount collected, excluding VAT")
    COLLECTED = "collected", _("the amount collected, tax included")


def _sums(prefix: str) -> list[models.CheckConstraint]:
    return [
        models.CheckConstraint(
            condition=Q(collected=Round(F("collected_net_of_vat") + F("vat"), 2)),
            name=f"{prefix}_collected_is_net_plus_vat",
        ),
        models.CheckConstraint(
            condition=Q(payable=Round(F("collected") - F("commission") - F("sla_withheld"), 2)),
            name=f"{prefix}_payable_is_collected_less_deductions",
        ),
        models.CheckConstraint(
            condition=Q(commission_base__in=CommissionBase.values),
            name=f"{prefix}_commission_base_known",
        ),
    ]


def _base_field():
    return models.CharField(
        max_length=16, choices=CommissionBase.choices, default=CommissionBase.NET_OF_VAT
    )


class PayoutStatement(models.Model):
    """A provider's monthly statement: what its customers paid, less commission and SLA credits."""

    provider = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="payouts")
    period_start = models.DateField()  # first day of the month
    period_end = models.DateField()  # exclusive
    status = models.CharField(
        max_length=16, choices=PayoutStatus.choices, default=PayoutStatus.OPEN
    )
    collected = money_field(default=0)  # customer payments attributable to the provider, tax incl.
    vat = money_field(default=0)  # the VAT in ``collected``
    collected_net_of_vat = money_field(default=0)
    commission_base = _base_field()
    commission_rate = models.DecimalField(**TAX_RATE_DIGITS)
    commission = money_field(default=0)
    sla_withheld = money_field(default=0)
    payable = money_field(default=0)  # collected - commission - sla_withheld
    closed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-period_start", "provider_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "period_start"], name="one_statement_per_provider_month"
            ),
            *_sums("payout"),
        ]

    def __str__(self) -> str:
        return f"Payout {self.provider} {self.period_start:%Y-%m}"


class PayoutLine(models.Model):
    statement = models.ForeignKey(PayoutStatement, on_delete=models.CASCADE, related_name="lines")
    contract = models.ForeignKey(Contract, on_delete=models.PROTECT, related_name="+")
    invoice = models.ForeignKey(Invoice, null=True, blank=True, on_delete=models.PROTECT)
    description = models.CharField(max_length=300)
    collected = money_field()
    vat = money_field(default=0)
    collected_net_of_vat = money_field(default=0)
    commission_base = _base_field()
    commission = money_field()
    sla_withheld = money_field()
    payable = money_field()

    class Meta:
        ordering = ["statement_id", "contract_id", "id"]
        constraints = _sums("payout_line")

    def __str__(self) -> str:
        return f"{self.contract_id}: {self.payable}"
