"""The resale listing form on a contract's page."""

from django import forms
from django.utils.translation import gettext_lazy as _

from accounts import limits
from marketplace.forms import _check_horizon, _date_widget
from marketplace.models import Contract


class ResaleListingForm(forms.Form):
    cluster = forms.TypedChoiceField(label=_("Cluster"), coerce=int)
    servers = forms.IntegerField(
        label=_("Servers"), min_value=1, max_value=limits.MAX_SERVERS_PER_REQUEST
    )
    start = forms.DateField(label=_("From"), widget=_date_widget())
    end = forms.DateField(
        label=_("Until"),
        widget=_date_widget(),
        help_text=_("Service ends at the start of this day."),
    )
    price_per_p_year = forms.DecimalField(
        label=_("Ask per P per year (CNY, tax included)"),
        min_value=limits.MIN_PRICE_PER_P_YEAR,
        max_value=limits.MAX_PRICE_PER_P_YEAR,
        decimal_places=2,
    )
    min_term_months = forms.IntegerField(
        label=_("Minimum term (months)"),
        min_value=limits.MIN_TERM_MONTHS,
        max_value=limits.MAX_TERM_MONTHS,
        initial=1,
    )

    def __init__(self, *args, contract: Contract, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["cluster"].choices = [
            (line.cluster_id, line.cluster.name) for line in contract.lines.all()
        ]

    def clean_start(self):
        return _check_horizon(self.cleaned_data.get("start"))

    def clean_end(self):
        return _check_horizon(self.cleaned_data.get("end"))
