"""Forms of the marketplace pages. They validate input against ``accounts.limits``; the rules
of the business stay in ``marketplace.services`` (whose errors the views attach to fields)."""

from datetime import date
from decimal import Decimal

from django import forms
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from accounts import limits
from inventory.models import GpuModel, Region
from marketplace.models import CapacityRequest, ContractStatus, InterconnectRequirement
from marketplace.selectors import region_label
from marketplace.sizing import DEFAULT_GPUS_PER_SERVER, DEFAULT_UTILISATION

PARAMETERS_PER_BILLION = 10**9
PERCENT = Decimal(100)


def first_of_next_month(today: date) -> date:
    return date(today.year + today.month // 12, today.month % 12 + 1, 1)


def _date_widget() -> forms.DateInput:
    return forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


def _check_horizon(value: date | None) -> date | None:
    today = timezone.localdate()
    if value is not None and not limits.date_in_horizon(value, today):
        raise forms.ValidationError(
            gettext("Give a date between %(earliest)s and %(latest)s.")
            % {
                "earliest": limits.EARLIEST_DATE.isoformat(),
                "latest": limits.latest_date(today).isoformat(),
            }
        )
    return value


class GpuChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: GpuModel) -> str:
        return obj.name


class GpuMultipleChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: GpuModel) -> str:
        return obj.name


class RegionChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Region) -> str:
        return region_label(obj.name, obj.name_zh)


class RegionMultipleChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: Region) -> str:
        return region_label(obj.name, obj.name_zh)


# --- Home: the compact capacity search (submits to the cluster search page) -------------------
class MarketSearchForm(forms.Form):
    """Only rendered: the cluster search page (``/clusters/``) reads and validates these."""

    gpu_model = GpuChoiceField(
        GpuModel.objects.all(),
        to_field_name="code",
        required=False,
        empty_label=_("Any GPU model"),
        label=_("GPU model"),
    )
    region = RegionChoiceField(
        Region.objects.all(),
        to_field_name="code",
        required=False,
        empty_label=_("Any region"),
        label=_("Region"),
    )
    start = forms.DateField(label=_("From"), required=False, widget=_date_widget())
    end = forms.DateField(label=_("Until"), required=False, widget=_date_widget())
    min_free_p = forms.DecimalField(
        label=_("At least this many P free"),
        required=False,
        min_value=0,
        max_value=limits.MAX_REQUEST_P,
    )


# --- Sizing ---------------------------------------------------------------------------------
class SizingForm(forms.Form):
    WORKLOADS = [("inference", _("Inference")), ("training", _("Training"))]
    MODES = [
        ("deadline", _("How many servers: for the daily load, or to finish training in time")),
        ("duration", _("How many days: a training run on a number of servers")),
    ]
    RECOMPUTATION = [
        ("no", _("No: 6 x parameters x tokens")),
        ("yes", _("Yes, activation recomputation: 8 x parameters x tokens")),
    ]
    PRECISIONS = [
        ("fp16", _("FP16 (dense peak)")),
        ("int8", _("INT8 after quantisation (twice the FP16 dense peak)")),
    ]

    workload = forms.ChoiceField(
        label=_("Workload"), choices=WORKLOADS, widget=forms.RadioSelect, initial="training"
    )
    mode = forms.ChoiceField(
        label=_("Question"), choices=MODES, widget=forms.RadioSelect, initial="deadline"
    )
    params_billions = forms.DecimalField(
        label=_("Model size, billions of parameters"),
        min_value=Decimal("0.000000001"),
        max_value=limits.MAX_MODEL_PARAMS / PARAMETERS_PER_BILLION,
        decimal_places=9,
        help_text=_("For example 70 for a 70B model."),
    )
    # Inference
    daily_visits = forms.IntegerField(
        label=_("Visits per day"),
        required=False,
        min_value=1,
        max_value=int(limits.MAX_DAILY_VISITS),
    )
    questions_per_visit = forms.IntegerField(
        label=_("Questions per visit"),
        required=False,
        min_value=1,
        max_value=int(limits.MAX_QUESTIONS_PER_VISIT),
    )
    tokens_per_question = forms.IntegerField(
        label=_("Tokens per question and answer"),
        required=False,
        min_value=1,
        max_value=int(limits.MAX_TOKENS_PER_QUESTION),
    )
    precision = forms.ChoiceField(
        label=_("Precision"),
        choices=PRECISIONS,
        widget=forms.RadioSelect,
        initial="fp16",
        required=False,
    )
    # Training
    training_tokens_billions = forms.DecimalField(
        label=_("Training tokens, billions"),
        required=False,
        min_value=Decimal("0.000000001"),
        max_value=limits.MAX_TRAINING_TOKENS / PARAMETERS_PER_BILLION,
        decimal_places=9,
        help_text=_("For example 2000 for 2 trillion tokens."),
    )
    activation_recomputation = forms.ChoiceField(
        label=_("Activation recomputation"),
        choices=RECOMPUTATION,
        widget=forms.RadioSelect,
        initial="no",
        required=False,
    )
    days = forms.DecimalField(
        label=_("Finish within (days)"),
        required=False,
        min_value=Decimal("0.01"),
        max_digits=8,
        decimal_places=2,
        help_text=_("For the question how many servers."),
    )
    servers = forms.IntegerField(
        label=_("Servers available"),
        required=False,
        min_value=1,
        max_value=limits.MAX_SIZING_SERVERS,
        help_text=_("For the question how many days."),
    )
    # Both
    utilisation_percent = forms.DecimalField(
        label=_("Utilisation (%)"),
        min_value=Decimal("1"),
        max_value=PERCENT,
        decimal_places=1,
        initial=(DEFAULT_UTILISATION * PERCENT).normalize(),
        help_text=_("Measured against the dense peak; the article assumes 45%."),
    )
    gpu_models = GpuMultipleChoiceField(
        GpuModel.objects.all(),
        to_field_name="code",
        label=_("GPU models to compare"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("None chosen: every model in the catalog."),
    )
    gpus_per_server = forms.IntegerField(
        label=_("Cards per server"),
        min_value=1,
        max_value=limits.MAX_GPUS_PER_SERVER,
        initial=DEFAULT_GPUS_PER_SERVER,
    )

    REQUIRED = {
        ("inference", "deadline"): ("daily_visits", "questions_per_visit", "tokens_per_question"),
        ("training", "deadline"): ("training_tokens_billions", "days"),
        ("training", "duration"): ("training_tokens_billions", "servers"),
    }

    def clean(self):
        data = super().clean()
        workload, mode = data.get("workload"), data.get("mode")
        if not workload or not mode:
            return data
        if (workload, mode) not in self.REQUIRED:
            self.add_error("mode", gettext("Days on a number of servers applies to training only."))
            return data
        for name in self.REQUIRED[(workload, mode)]:
            if data.get(name) is None and name not in self.errors:
                self.add_error(name, gettext("Required for this question."))
        for name in ("params_billions", "training_tokens_billions"):
            value = data.get(name)
            if value is not None and (value * PARAMETERS_PER_BILLION) % 1:
                self.add_error(name, gettext("Give a whole number of parameters or tokens."))
        return data

    def service_inputs(self) -> dict:
        """The cleaned input as ``services.workload_size`` takes it."""
        data = self.cleaned_data
        tokens = data.get("training_tokens_billions")
        return {
            "workload": data["workload"],
            "mode": data["mode"],
            "gpu_models": list(data["gpu_models"]) or None,
            "params": int(data["params_billions"] * PARAMETERS_PER_BILLION),
            "utilisation": data["utilisation_percent"] / PERCENT,
            "gpus_per_server": data["gpus_per_server"],
            "daily_visits": data.get("daily_visits"),
            "questions_per_visit": data.get("questions_per_visit"),
            "tokens_per_question": data.get("tokens_per_question"),
            "precision": data.get("precision") or "fp16",
            "training_tokens": int(tokens * PARAMETERS_PER_BILLION) if tokens else None,
            "days": data.get("days"),
            "servers": data.get("servers"),
            "activation_recomputation": data.get("activation_recomputation") == "yes",
        }


# --- Capacity requests ----------------------------------------------------------------------
class CapacityRequestForm(forms.Form):
    gpu_models = GpuMultipleChoiceField(
        GpuModel.objects.all(),
        to_field_name="code",
        label=_("GPU models"),
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Any of these will do."),
    )
    servers = forms.IntegerField(
        label=_("Servers"),
        required=False,
        min_value=1,
        max_value=limits.MAX_SERVERS_PER_REQUEST,
        help_text=_("Give servers or P, not both."),
    )
    min_p = forms.DecimalField(
        label=_("Or at least this many P"),
        required=False,
        min_value=Decimal("0.001"),
        max_value=limits.MAX_REQUEST_P,
        decimal_places=3,
        help_text=_("Rated P (FP16 sparse), as clusters are listed."),
    )
    regions = RegionMultipleChoiceField(
        Region.objects.all(),
        to_field_name="code",
        label=_("Regions"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("None chosen: any region."),
    )
    interconnect = forms.ChoiceField(
        label=_("Network"), choices=InterconnectRequirement.choices, initial="any"
    )
    single_cluster = forms.BooleanField(
        label=_("All servers in one cluster (needed for multi-node training)"),
        required=False,
        initial=True,
    )
    start_date = forms.DateField(label=_("Start date"), widget=_date_widget())
    term_months = forms.IntegerField(
        label=_("Term (months)"),
        min_value=limits.MIN_TERM_MONTHS,
        max_value=limits.MAX_TERM_MONTHS,
        initial=12,
    )
    max_price_per_p_year = forms.DecimalField(
        label=_("Highest price per P per year (¥, tax included)"),
        required=False,
        min_value=limits.MIN_PRICE_PER_P_YEAR,
        max_value=limits.MAX_PRICE_PER_P_YEAR,
        decimal_places=2,
    )
    note = forms.CharField(
        label=_("Note"),
        required=False,
        max_length=CapacityRequest._meta.get_field("note").max_length,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def clean_start_date(self):
        return _check_horizon(self.cleaned_data.get("start_date"))

    def clean(self):
        data = super().clean()
        has_servers = data.get("servers") is not None
        has_p = data.get("min_p") is not None
        if has_servers == has_p and "servers" not in self.errors and "min_p" not in self.errors:
            message = (
                gettext("Give a number of servers or the P you need.")
                if not has_servers
                else gettext("Give servers or P, not both.")
            )
            self.add_error("servers", message)
        return data

    @classmethod
    def initial_from(cls, query, *, today: date) -> dict:
        """Initial values from a pre-filling link (the cluster search's, the sizing
        calculator's): ``gpu_model``, ``region``, ``servers``, ``min_p``, ``term_months``,
        ``start_date``, ``single_cluster``. Values that do not fit are left out."""
        initial: dict = {"start_date": first_of_next_month(today), "term_months": 12}
        initial["single_cluster"] = True
        codes = query.getlist("gpu_model") + query.getlist("gpu_models")
        if codes:
            initial["gpu_models"] = list(GpuModel.objects.filter(code__in=codes))
        regions = query.getlist("region") + query.getlist("regions")
        if regions:
            initial["regions"] = list(Region.objects.filter(code__in=regions))
        probe = cls(
            data={
                "servers": query.get("servers", ""),
                "min_p": query.get("min_p", ""),
                "term_months": query.get("term_months", ""),
                "start_date": query.get("start_date", ""),
            }
        )
        probe.is_valid()
        for name in ("servers", "min_p", "term_months", "start_date"):
            if query.get(name) and name not in probe.errors:
                initial[name] = probe.cleaned_data.get(name)
        if "single_cluster" in query:
            initial["single_cluster"] = query["single_cluster"].lower() in {
                "1",
                "true",
                "on",
                "yes",
            }
        return initial

    def service_inputs(self) -> dict:
        data = self.cleaned_data
        return {
            "gpu_models": list(data["gpu_models"]),
            "regions": list(data["regions"]),
            "servers": data.get("servers"),
            "min_p": data.get("min_p"),
            "interconnect": data["interconnect"],
            "single_cluster": data["single_cluster"],
            "start_date": data["start_date"],
            "term_months": data["term_months"],
            "max_price_per_p_year": data.get("max_price_per_p_year"),
            "note": data.get("note") or "",
        }


# --- Contracts ------------------------------------------------------------------------------
class TerminationForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason"),
        max_length=limits.MAX_REASON_LENGTH,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    effective_date = forms.DateField(
        label=_("Effective date"),
        widget=_date_widget(),
        help_text=_("Service ends at the start of this day."),
    )

    def clean_effective_date(self):
        return _check_horizon(self.cleaned_data.get("effective_date"))


class ContractFilterForm(forms.Form):
    status = forms.ChoiceField(
        label=_("Status"),
        required=False,
        choices=[("", _("All statuses")), *ContractStatus.choices],
    )
