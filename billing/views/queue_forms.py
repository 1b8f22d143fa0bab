"""Forms of the admins' work queue. They check the input's shape (``accounts.limits``); the
services check the rules, and the view puts their refusals on these forms."""

import uuid
from decimal import Decimal

from django import forms
from django.utils.translation import gettext_lazy as _

from accounts import limits
from accounts.money import MONEY_DECIMAL_PLACES, MONEY_MAX_DIGITS
from marketplace.forms import TerminationForm

REFERENCE_MAX_LENGTH = 200  # Payment.reference


class ConfirmForm(forms.Form):
    """An action with nothing to enter (verify, approve, ask the gateway again)."""


def _amount(label, help_text=""):
    return forms.DecimalField(
        label=label,
        help_text=help_text,
        min_value=Decimal("0.01"),
        max_value=limits.MAX_AMOUNT,
        max_digits=MONEY_MAX_DIGITS,
        decimal_places=MONEY_DECIMAL_PLACES,
    )


def _reason(label=None):
    return forms.CharField(
        label=label or _("Reason"),
        max_length=limits.MAX_REASON_LENGTH,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


class OnceForm(forms.Form):
    """A form that creates money (a payment, a credit note): a one-time key, so a second submit
    of the same form (a double click, a resent page) has no second effect. A post without
    one (a script's) is simply not protected."""

    submission_key = forms.CharField(widget=forms.HiddenInput, max_length=64, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            self.fields["submission_key"].initial = uuid.uuid4().hex


class BankTransferForm(OnceForm):
    amount = _amount(_("Amount received (¥)"))
    reference = forms.CharField(
        label=_("Bank reference"),
        max_length=REFERENCE_MAX_LENGTH,
        help_text=_("As it appears on the bank statement."),
    )


class CreditNoteForm(OnceForm):
    amount = _amount(_("Credit (¥, tax included)"))
    reason = _reason()


class VoidForm(forms.Form):
    reason = _reason(_("Why it is void"))


__all__ = [
    "BankTransferForm",
    "ConfirmForm",
    "CreditNoteForm",
    "OnceForm",
    "TerminationForm",
    "VoidForm",
]
