"""Forms of the fapiao pages. They check shape; ``billing.fapiao.requests`` checks the rules."""

from django import forms
from django.utils.translation import gettext_lazy as _

from accounts.validators import validate_unified_social_credit_code
from billing.models import FapiaoKind


class FapiaoRequestForm(forms.Form):
    kind = forms.ChoiceField(
        label=_("Kind of fapiao"), choices=FapiaoKind.choices, widget=forms.RadioSelect
    )
    title = forms.CharField(
        label=_("Title (buyer's name)"),
        max_length=200,
        help_text=_("The organisation's legal name, exactly as registered."),
    )
    tax_id = forms.CharField(
        label=_("Taxpayer ID"),
        max_length=18,
        validators=[validate_unified_social_credit_code],
        help_text=_("The unified social credit code: 18 characters."),
    )


class FapiaoIssuedForm(forms.Form):
    fapiao_number = forms.CharField(label=_("Fapiao number"), max_length=32)
    issued_on = forms.DateField(
        label=_("Issued on"), widget=forms.DateInput(attrs={"type": "date"})
    )


class FapiaoRejectForm(forms.Form):
    reason = forms.CharField(label=_("Reason for rejecting"), max_length=2000)
