"""Forms of the inventory pages. They check input against ``accounts.limits``; the services
check the business rules (capacity, bookings) and the views turn their errors into field
errors."""

import uuid
from datetime import date, datetime, timedelta
from decimal import Decimal

from django import forms
from django.utils import timezone
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _

from accounts import limits
from accounts.money import (
    MONEY_DECIMAL_PLACES,
    MONEY_MAX_DIGITS,
    RATE_DECIMAL_PLACES,
    RATE_MAX_DIGITS,
)
from inventory.models import (
    DEPRECIATION_YEARS_DEFAULT,
    DEPRECIATION_YEARS_MAX,
    DEPRECIATION_YEARS_MIN,
    Allocation,
    Cluster,
    ClusterStatus,
    GpuModel,
    Interconnect,
    Outage,
    Region,
)

# Bounds the API's cluster serializer applies and accounts/limits.py does not name (yet).
MAX_INTERCONNECT_GBPS = 100_000  # per server; today's fastest fabrics are 3,200 Gbit/s
MIN_SLA_UPTIME_PERCENT = Decimal("50")
MAX_SLA_UPTIME_PERCENT = Decimal("100")
SEARCH_WINDOW_DAYS = 90  # the window searched when none is given
P_DECIMAL_PLACES = 3
DATETIME_INPUT = "%Y-%m-%dT%H:%M"


def _label(model, name: str):
    """A form label from the model's verbose name (lazy: translated when shown)."""
    return capfirst(model._meta.get_field(name).verbose_name)


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, attrs=None):
        super().__init__(attrs=attrs, format="%Y-%m-%d")


class DateTimeInput(forms.DateTimeInput):
    input_type = "datetime-local"

    def __init__(self, attrs=None):
        super().__init__(attrs=attrs, format=DATETIME_INPUT)


class RegionField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Region) -> str:
        return obj.local_name


class GpuModelField(forms.ModelChoiceField):
    def label_from_instance(self, obj: GpuModel) -> str:
        return obj.code


def _check_horizon(form: forms.Form, name: str, today: date) -> None:
    value = form.cleaned_data.get(name)
    if value is None:
        return
    day = value.date() if isinstance(value, datetime) else value
    if not limits.date_in_horizon(day, today):
        form.add_error(
            name,
            _("Give a date from %(earliest)s to %(latest)s.")
            % {
                "earliest": limits.EARLIEST_DATE.isoformat(),
                "latest": limits.latest_date(today).isoformat(),
            },
        )


def _plain(value: Decimal | None) -> Decimal | None:
    """``120000.000000`` -> ``120000`` for an input's initial value."""
    if value is None:
        return None
    return value.quantize(Decimal(1)) if value == value.to_integral_value() else value.normalize()


# --- Search ---------------------------------------------------------------------------------
class ClusterSearchForm(forms.Form):
    """The filters of the capacity search. A missing start is today; a missing end is
    ``SEARCH_WINDOW_DAYS`` after the start, so free capacity always has a window."""

    gpu_model = GpuModelField(
        GpuModel.objects.all(),
        to_field_name="code",
        required=False,
        empty_label=_("Any GPU"),
        label=_("GPU model"),
    )
    region = RegionField(
        Region.objects.all(),
        to_field_name="code",
        required=False,
        empty_label=_("Any region"),
        label=_("Region"),
    )
    interconnect = forms.ChoiceField(
        choices=[("", _("Any network")), *Interconnect.choices],
        required=False,
        label=_("Interconnect"),
    )
    max_price = forms.DecimalField(
        required=False,
        min_value=limits.MIN_PRICE_PER_P_YEAR,
        max_value=limits.MAX_PRICE_PER_P_YEAR,
        max_digits=RATE_MAX_DIGITS,
        decimal_places=RATE_DECIMAL_PLACES,
        label=_("Max price per P per year (¥)"),
    )
    start = forms.DateField(required=False, widget=DateInput, label=_("From"))
    end = forms.DateField(
        required=False,
        widget=DateInput,
        label=_("Until"),
        help_text=_("The first day you no longer need the servers."),
    )
    min_free_p = forms.DecimalField(
        required=False,
        min_value=0,
        max_value=limits.MAX_REQUEST_P,
        decimal_places=P_DECIMAL_PLACES,
        label=_("Minimum free P"),
    )

    def __init__(self, *args, today: date, **kwargs):
        super().__init__(*args, **kwargs)
        self.today = today

    @classmethod
    def for_query(cls, query, *, today: date) -> "ClusterSearchForm":
        """The form bound to a query string, the window's missing dates filled in (so the
        inputs show the window searched)."""
        data = query.copy()
        if not data.get("start"):
            data["start"] = today.isoformat()
        if not data.get("end"):
            try:
                start = date.fromisoformat(data["start"])
                data["end"] = (start + timedelta(days=SEARCH_WINDOW_DAYS)).isoformat()
            except (ValueError, OverflowError):
                pass  # a wrong or far-off start: its field error says so
        return cls(data, today=today)

    def clean(self):
        data = super().clean()
        for name in ("start", "end"):
            _check_horizon(self, name, self.today)
        if "start" in self.errors or "end" in self.errors:
            return data
        start = data.get("start") or self.today
        end = data.get("end") or start + timedelta(days=SEARCH_WINDOW_DAYS)
        if end <= start:
            self.add_error("end", _("Must be after the start."))
            return data
        data["start"], data["end"] = start, end
        data["min_free_p"] = data.get("min_free_p") or Decimal(0)
        return data


# --- Clusters -------------------------------------------------------------------------------
class ClusterForm(forms.Form):
    """Create or edit a cluster. Editing sends only the fields that changed to the service."""

    name = forms.CharField(max_length=limits.MAX_NAME_LENGTH, label=_label(Cluster, "name"))
    region = RegionField(
        Region.objects.all(),
        to_field_name="code",
        empty_label=_("Choose a region"),
        label=_label(Cluster, "region"),
    )
    gpu_model = GpuModelField(
        GpuModel.objects.all(),
        to_field_name="code",
        empty_label=_("Choose a GPU model"),
        label=_label(Cluster, "gpu_model"),
    )
    gpus_per_server = forms.IntegerField(
        min_value=1,
        max_value=limits.MAX_GPUS_PER_SERVER,
        initial=8,
        label=_label(Cluster, "gpus_per_server"),
    )
    server_count = forms.IntegerField(
        min_value=1,
        max_value=limits.MAX_SERVERS_PER_CLUSTER,
        label=_label(Cluster, "server_count"),
    )
    price_per_p_year = forms.DecimalField(
        min_value=limits.MIN_PRICE_PER_P_YEAR,
        max_value=limits.MAX_PRICE_PER_P_YEAR,
        max_digits=RATE_MAX_DIGITS,
        decimal_places=RATE_DECIMAL_PLACES,
        label=_("Price per P per year (¥, tax included)"),
        help_text=_("New prices apply to new quotes only; signed contracts keep theirs."),
    )
    interconnect = forms.ChoiceField(
        choices=Interconnect.choices, label=_label(Cluster, "interconnect")
    )
    interconnect_gbps = forms.IntegerField(
        min_value=0,
        max_value=MAX_INTERCONNECT_GBPS,
        initial=0,
        required=False,
        label=_label(Cluster, "interconnect_gbps"),
    )
    min_term_months = forms.IntegerField(
        min_value=limits.MIN_TERM_MONTHS,
        max_value=limits.MAX_TERM_MONTHS,
        initial=1,
        label=_label(Cluster, "min_term_months"),
    )
    available_from = forms.DateField(widget=DateInput, label=_label(Cluster, "available_from"))
    available_until = forms.DateField(
        widget=DateInput,
        required=False,
        label=_label(Cluster, "available_until"),
        help_text=_("The first day it is no longer available; leave empty if open-ended."),
    )
    sla_uptime_percent = forms.DecimalField(
        min_value=MIN_SLA_UPTIME_PERCENT,
        max_value=MAX_SLA_UPTIME_PERCENT,
        max_digits=6,
        decimal_places=3,
        initial=Decimal("99.9"),
        label=_label(Cluster, "sla_uptime_percent"),
        help_text=_("The uptime you promise; outages below it earn customers service credits."),
    )
    description = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=limits.MAX_NOTE_LENGTH,
        required=False,
        label=_label(Cluster, "description"),
    )

    server_cost_per_server = forms.DecimalField(
        min_value=Decimal("0.01"),
        max_value=limits.MAX_AMOUNT,
        max_digits=MONEY_MAX_DIGITS,
        decimal_places=MONEY_DECIMAL_PLACES,
        required=False,
        label=_("Cost per server (¥)"),
        help_text=_(
            "What one server cost with its share of the networking. Only you see it: your "
            "dashboard's payback view uses it."
        ),
    )
    depreciation_years = forms.TypedChoiceField(
        choices=[
            (years, str(years))
            for years in range(DEPRECIATION_YEARS_MIN, DEPRECIATION_YEARS_MAX + 1)
        ],
        coerce=int,
        required=False,
        empty_value=DEPRECIATION_YEARS_DEFAULT,
        initial=DEPRECIATION_YEARS_DEFAULT,
        label=_label(Cluster, "depreciation_years"),
        help_text=_("Straight-line depreciation over 5 to 7 years."),
    )

    # Inputs whose change refreshes the live rating (htmx).
    RATING_FIELDS = ("gpu_model", "gpus_per_server", "server_count", "price_per_p_year")

    def __init__(self, *args, today: date, **kwargs):
        super().__init__(*args, **kwargs)
        self.today = today

    @classmethod
    def for_cluster(cls, cluster: Cluster, data=None, *, today: date) -> "ClusterForm":
        initial = {
            "name": cluster.name,
            "region": cluster.region.code,
            "gpu_model": cluster.gpu_model.code,
            "gpus_per_server": cluster.gpus_per_server,
            "server_count": cluster.server_count,
            "price_per_p_year": _plain(cluster.price_per_p_year),
            "interconnect": cluster.interconnect,
            "interconnect_gbps": cluster.interconnect_gbps,
            "min_term_months": cluster.min_term_months,
            "available_from": cluster.available_from,
            "available_until": cluster.available_until,
            "sla_uptime_percent": _plain(cluster.sla_uptime_percent),
            "description": cluster.description,
            "server_cost_per_server": _plain(cluster.server_cost_per_server),
            "depreciation_years": cluster.depreciation_years,
        }
        return cls(data, initial=initial, today=today)

    def clean(self):
        data = super().clean()
        for name in ("available_from", "available_until"):
            _check_horizon(self, name, self.today)
        if data.get("interconnect_gbps") is None and "interconnect_gbps" not in self.errors:
            data["interconnect_gbps"] = 0
        start, end = data.get("available_from"), data.get("available_until")
        if start and end and end <= start and "available_until" not in self.errors:
            self.add_error("available_until", _("Must be after the first available day."))
        return data

    def changes(self) -> dict:
        """The cleaned values of the fields the user changed (for ``cluster_update``)."""
        return {name: self.cleaned_data[name] for name in self.changed_data}


class RatingForm(forms.Form):
    """The live rating's inputs: lenient (a half-typed form still rates what it can)."""

    gpu_model = GpuModelField(GpuModel.objects.all(), to_field_name="code")
    gpus_per_server = forms.IntegerField(min_value=1, max_value=limits.MAX_GPUS_PER_SERVER)
    server_count = forms.IntegerField(
        min_value=1, max_value=limits.MAX_SERVERS_PER_CLUSTER, required=False
    )
    price_per_p_year = forms.DecimalField(
        min_value=limits.MIN_PRICE_PER_P_YEAR,
        max_value=limits.MAX_PRICE_PER_P_YEAR,
        max_digits=RATE_MAX_DIGITS,
        decimal_places=RATE_DECIMAL_PLACES,
        required=False,
    )

    def clean(self):
        data = super().clean()
        for name in ("server_count", "price_per_p_year"):  # optional: drop what does not parse
            if name in self.errors:
                del self.errors[name]
                data[name] = None
        return data


class ClusterStatusForm(forms.Form):
    status = forms.ChoiceField(choices=ClusterStatus.choices)


# --- Maintenance and outages ----------------------------------------------------------------
class SubmissionKeyMixin(forms.Form):
    """A one-time key in a hidden field: the service makes a repeated submission of the same
    form (double click, reload) return the first result instead of acting twice."""

    submission_key = forms.RegexField(
        regex=r"^[0-9a-f]{32}$", required=False, widget=forms.HiddenInput
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            self.fields["submission_key"].initial = uuid.uuid4().hex


class MaintenanceForm(SubmissionKeyMixin, forms.Form):
    servers = forms.IntegerField(
        min_value=1, max_value=limits.MAX_SERVERS_PER_CLUSTER, label=_label(Allocation, "servers")
    )
    start = forms.DateField(widget=DateInput, label=_("First day"))
    end = forms.DateField(
        widget=DateInput,
        label=_("Back in service on"),
        help_text=_("The first day the servers are available again."),
    )
    note = forms.CharField(
        max_length=Allocation._meta.get_field("note").max_length,
        required=False,
        label=_("What is being done"),
    )

    def __init__(self, *args, today: date, **kwargs):
        super().__init__(*args, **kwargs)
        self.today = today

    @classmethod
    def for_query(cls, query, *, today: date) -> "ClusterSearchForm":
        """The form bound to a query string, the window's missing dates filled in (so the
        inputs show the window searched)."""
        data = query.copy()
        if not data.get("start"):
            data["start"] = today.isoformat()
        if not data.get("end"):
            try:
                start = date.fromisoformat(data["start"])
                data["end"] = (start + timedelta(days=SEARCH_WINDOW_DAYS)).isoformat()
            except (ValueError, OverflowError):
                pass  # a wrong or far-off start: its field error says so
        return cls(data, today=today)

    def clean(self):
        data = super().clean()
        for name in ("start", "end"):
            _check_horizon(self, name, self.today)
        start, end = data.get("start"), data.get("end")
        if start and end and end <= start and "end" not in self.errors:
            self.add_error("end", _("Must be after the first day."))
        return data


class OutageForm(forms.Form):
    start = forms.DateTimeField(
        widget=DateTimeInput, input_formats=[DATETIME_INPUT], label=_("Down from")
    )
    end = forms.DateTimeField(
        widget=DateTimeInput, input_formats=[DATETIME_INPUT], label=_("Back up at")
    )
    servers_affected = forms.IntegerField(
        min_value=1,
        max_value=limits.MAX_SERVERS_PER_CLUSTER,
        label=_label(Outage, "servers_affected"),
    )
    description = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=limits.MAX_NOTE_LENGTH,
        label=_("What happened"),
    )

    def __init__(self, *args, today: date, **kwargs):
        super().__init__(*args, **kwargs)
        self.today = today

    @classmethod
    def for_outage(cls, outage: Outage, data=None, *, today: date, **kwargs) -> "OutageForm":
        def minute(moment: datetime) -> datetime:  # what the input shows, so unchanged reads so
            return timezone.localtime(moment).replace(second=0, microsecond=0)

        initial = {
            "start": minute(outage.start),
            "end": minute(outage.end),
            "servers_affected": outage.servers_affected,
            "description": outage.description,
        }
        return cls(data, initial=initial, today=today, **kwargs)

    def clean(self):
        data = super().clean()
        for name in ("start", "end"):
            _check_horizon(self, name, self.today)
        start, end = data.get("start"), data.get("end")
        if start and end and end <= start and "end" not in self.errors:
            self.add_error("end", _("An outage must end after it starts."))
        return data

    def changes(self) -> dict:
        return {name: self.cleaned_data[name] for name in self.changed_data}


class OutageRecordForm(SubmissionKeyMixin, OutageForm):
    """Record a new outage (once per submission)."""


class OutageCorrectionForm(OutageForm):
    """An admin's correction of an invoiced outage: the same fields and a reason."""

    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}),
        max_length=limits.MAX_REASON_LENGTH,
        label=_("Reason for the correction"),
        help_text=_("Kept in the outage's audit trail with your name."),
    )

    def changes(self) -> dict:
        return {name: self.cleaned_data[name] for name in self.changed_data if name != "reason"}
