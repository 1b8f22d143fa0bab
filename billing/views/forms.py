"""Forms of the invoice page: refunds and disputes. They check the shape of the input; the
rules stay in the services (whose errors the views attach to fields)."""

from django import forms
from django.utils.translation import gettext_lazy as _

from accounts.formatting import format_money
from accounts.money import FEN, MONEY_DECIMAL_PLACES, MONEY_MAX_DIGITS
from billing.models import ResaleProceeds

REASON_MAX_LENGTH = 2000


def _amount(**kwargs) -> forms.DecimalField:
    return forms.DecimalField(
        max_digits=MONEY_MAX_DIGITS, decimal_places=MONEY_DECIMAL_PLACES, min_value=FEN, **kwargs
    )


def _reason(label, help_text="") -> forms.CharField:
    return forms.CharField(
        label=label,
        help_text=help_text,
        max_length=REASON_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


class RefundForm(forms.Form):
    payment = forms.TypedChoiceField(label=_("Payment"), coerce=int)
    amount = _amount(label=_("Amount to refund (CNY)"))
    reason = _reason(
        _("Reason"),
        _("Shown to the customer and kept in the audit trail."),
    )

    def __init__(self, *args, payments=(), **kwargs):
        kwargs.setdefault("auto_id", "refund_%s")  # unique ids: the page has several forms
        super().__init__(*args, **kwargs)
        self.fields["payment"].choices = [
            (
                payment.pk,
                _("%(number)s · %(method)s · %(amount)s, %(left)s refundable")
                % {
                    "number": payment.pk,
                    "method": payment.get_gateway_display(),
                    "amount": format_money(payment.amount),
                    "left": format_money(payment.amount - payment.amount_refunded),
                },
            )
            for payment in payments
        ]


class DisputeForm(forms.Form):
    reason = _reason(
        _("What is wrong with this invoice?"),
        _("While the dispute is open we send no payment reminders for this invoice."),
    )

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("auto_id", "dispute_%s")
        super().__init__(*args, **kwargs)


class DisputeResolveForm(forms.Form):
    OUTCOMES = [
        ("credited", _("Credit the customer (issue a credit note)")),
        ("rejected", _("Reject the dispute")),
    ]
    outcome = forms.ChoiceField(label=_("Outcome"), choices=OUTCOMES, widget=forms.RadioSelect)
    amount = _amount(
        label=_("Credit amount (CNY)"), required=False, help_text=_("Only when crediting.")
    )
    reason = _reason(_("Reasons, for the customer"))

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("auto_id", "resolve_%s")
        super().__init__(*args, **kwargs)

    def clean(self):
        data = super().clean()
        if data.get("outcome") == "credited" and not data.get("amount"):
            self.add_error("amount", _("Give the amount to credit."))
        return data


class ResaleProceedsForm(forms.Form):
    resale_proceeds = forms.ChoiceField(
        label=_("How we receive what our buyers pay, less the commission"),
        choices=ResaleProceeds.choices,
        widget=forms.RadioSelect,
        help_text=_(
            "Applies to statements closed from now on. As balance, each statement pays our "
            "open invoices, oldest due first; what is left stays on our balance."
        ),
    )
