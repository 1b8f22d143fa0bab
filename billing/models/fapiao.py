"""Fapiao requests: a customer asks for a 发票 (issued by the tax-control system, not by us) for
a paid invoice; admins issue it there and record its number and date here, or reject it."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from accounts.validators import validate_unified_social_credit_code
from billing.models.invoices import Invoice


class FapiaoKind(models.TextChoices):
    SPECIAL = "special", _("Special VAT fapiao (专票)")  # 增值税专用发票: the buyer deducts VAT
    ORDINARY = "ordinary", _("Ordinary VAT fapiao (普票)")  # 增值税普通发票


class FapiaoStatus(models.TextChoices):
    REQUESTED = "requested", _("Requested")  # waiting for the finance team
    ISSUED = "issued", _("Issued")  # terminal: number and date recorded
    REJECTED = "rejected", _("Rejected")  # terminal: the customer may request again


class FapiaoRequest(models.Model):
    """One request for a fapiao on one invoice; at most one open (requested) per invoice.

    The buyer's details are copied from the organisation's profile when requested, so the
    fapiao carries what the customer asked for even if the profile changes later.
    """

    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="fapiao_requests")
    kind = models.CharField(_("kind"), max_length=16, choices=FapiaoKind.choices)
    title = models.CharField(_("title (buyer's name)"), max_length=200)
    tax_id = models.CharField(
        _("taxpayer ID"), max_length=18, validators=[validate_unified_social_credit_code]
    )
    address_phone = models.CharField(_("address and phone"), max_length=300, blank=True)
    bank_account = models.CharField(_("bank and account"), max_length=300, blank=True)
    status = models.CharField(
        max_length=16, choices=FapiaoStatus.choices, default=FapiaoStatus.REQUESTED
    )
    fapiao_number = models.CharField(_("fapiao number"), max_length=32, blank=True)
    issued_on = models.DateField(_("issued on"), null=True, blank=True)
    rejection_reason = models.TextField(blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["invoice"],
                condition=Q(status="requested"),
                name="one_open_fapiao_request_per_invoice",
            ),
            models.UniqueConstraint(
                fields=["fapiao_number"],
                condition=~Q(fapiao_number=""),
                name="fapiao_number_unique",
            ),
            models.CheckConstraint(
                condition=~Q(status="issued") | (~Q(fapiao_number="") & Q(issued_on__isnull=False)),
                name="issued_fapiao_has_number_and_date",
            ),
            models.CheckConstraint(
                condition=Q(kind__in=["special", "ordinary"]), name="fapiao_kind_known"
            ),
        ]

    def __str__(self) -> str:
        return f"Fapiao request {self.pk} ({self.status}) for invoice {self.invoice_id}"
