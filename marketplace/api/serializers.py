from decimal import Decimal

from django.utils.translation import gettext
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts import limits
from accounts.api.fields import (
    CodeRelatedField,
    DecimalInput,
    HorizonDateField,
    JsonBooleanField,
    TextField,
    code_list,
    price_field,
)
from accounts.money import P_DECIMAL_PLACES, P_MAX_DIGITS, TFLOPS_PER_P
from inventory.models import GpuModel, Region
from marketplace.models import (
    CapacityRequest,
    Contract,
    ContractEvent,
    ContractHistoryKind,
    ContractLine,
    InterconnectRequirement,
    Quote,
    QuoteLine,
    ResaleListing,
)
from marketplace.selectors import contract_view, history_kind


class CapacityRequestCreateSerializer(serializers.Serializer):
    gpu_models = code_list(queryset=GpuModel.objects.all(), allow_empty=False)
    min_p = DecimalInput(
        max_digits=P_MAX_DIGITS,
        decimal_places=P_DECIMAL_PLACES,
        required=False,
        min_value=0,
        max_value=limits.MAX_REQUEST_P,
    )
    servers = serializers.IntegerField(
        required=False, min_value=1, max_value=limits.MAX_SERVERS_PER_REQUEST
    )
    region = CodeRelatedField(queryset=Region.objects.all(), required=False, allow_null=True)
    regions = code_list(queryset=Region.objects.all(), required=False)
    interconnect = serializers.ChoiceField(
        choices=InterconnectRequirement.choices, default=InterconnectRequirement.ANY
    )
    single_cluster = JsonBooleanField(default=True)
    start_date = HorizonDateField()
    term_months = serializers.IntegerField(
        min_value=limits.MIN_TERM_MONTHS, max_value=limits.MAX_TERM_MONTHS
    )
    max_price_per_p_year = price_field(required=False, allow_null=True)
    note = TextField(
        max_length=CapacityRequest._meta.get_field("note").max_length,
        multiline=True,
        required=False,
        allow_blank=True,
        default="",
    )

    def validate(self, attrs):
        has_p, has_servers = attrs.get("min_p") is not None, attrs.get("servers") is not None
        if has_p == has_servers:
            message = (
                "Give either min_p or servers." if not has_p else "Give min_p or servers, not both."
            )
            raise serializers.ValidationError({"min_p": [message], "servers": [message]})
        if has_p and attrs["min_p"] <= 0:
            raise serializers.ValidationError({"min_p": ["Must be more than 0."]})
        if has_servers:
            _check_servers_within_max_p(attrs["servers"], attrs["gpu_models"])
        regions = list(attrs.pop("regions", []))
        region = attrs.pop("region", None)
        if region is not None and region not in regions:
            regions.append(region)
        attrs["regions"] = regions
        return attrs


def _check_servers_within_max_p(servers: int, gpu_models: list[GpuModel]) -> None:
    """A request for servers may not ask for more than MAX_REQUEST_P either: at the largest
    server (MAX_GPUS_PER_SERVER cards of the best-rated model named), so no quote for it can
    outgrow the money columns."""
    best = max(model.fp16_sparse_tflops for model in gpu_models)
    largest_server_p = limits.MAX_GPUS_PER_SERVER * best / TFLOPS_PER_P
    most = int(limits.MAX_REQUEST_P // largest_server_p)
    if servers > most:
        message = (
            f"At most {most:,} servers of these GPU models: a request may ask for up to "
            f"{limits.MAX_REQUEST_P:,} P."
        )
        raise serializers.ValidationError({"servers": [message]})


class CapacityRequestSerializer(serializers.ModelSerializer):
    gpu_models = serializers.SlugRelatedField(slug_field="code", many=True, read_only=True)
    regions = serializers.SlugRelatedField(slug_field="code", many=True, read_only=True)
    customer = serializers.PrimaryKeyRelatedField(read_only=True)

    class Meta:
        model = CapacityRequest
        fields = [
            "id",
            "customer",
            "status",
            "gpu_models",
            "regions",
            "min_p",
            "servers",
            "interconnect",
            "single_cluster",
            "start_date",
            "term_months",
            "end_date",
            "max_price_per_p_year",
            "note",
            "created_at",
        ]


class QuoteLineSerializer(serializers.ModelSerializer):
    cluster_name = serializers.CharField(source="cluster.name")
    provider = serializers.CharField(source="cluster.provider.name")
    region = serializers.CharField(source="cluster.region.code")
    gpu_model = serializers.CharField(source="cluster.gpu_model.code")
    interconnect = serializers.CharField(source="cluster.interconnect")
    sla_uptime_percent = serializers.DecimalField(
        source="cluster.sla_uptime_percent", max_digits=6, decimal_places=3
    )
    resale_until = serializers.DateField(
        source="resale_listing.end",
        allow_null=True,
        default=None,
        help_text="For resale capacity: the last day (exclusive) the reseller holds it.",
    )

    class Meta:
        model = QuoteLine
        fields = [
            "cluster",
            "cluster_name",
            "provider",
            "region",
            "gpu_model",
            "interconnect",
            "sla_uptime_percent",
            "servers",
            "p",
            "price_per_p_year",
            "resale_listing",
            "resale_until",
        ]

    def to_representation(self, line: QuoteLine) -> dict:
        data = super().to_representation(line)
        if line.resale_listing_id is None:
            data["resale_until"] = None
        return data


class QuoteSerializer(serializers.ModelSerializer):
    allocations = QuoteLineSerializer(source="lines", many=True)

    class Meta:
        model = Quote
        fields = [
            "id",
            "request",
            "rank",
            "status",
            "allocations",
            "total_p",
            "price_per_p_year",
            "annual_price",
            "total_price",
            "net_amount",
            "tax_amount",
            "vat_rate",
            "currency",
            "expires_at",
            "created_at",
        ]


class RejectionReasonSerializer(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()


class RejectedClusterSerializer(serializers.Serializer):
    cluster = serializers.IntegerField(
        help_text="The cluster; for a resale listing, the cluster its servers are on."
    )
    resale_listing = serializers.IntegerField(
        allow_null=True, help_text="The resale listing rejected, or null for a provider's cluster."
    )
    resale_until = serializers.DateField(
        allow_null=True,
        help_text="For a resale listing: the end (exclusive) of the window it is offered for.",
    )
    reasons = RejectionReasonSerializer(many=True)


class QuotesResultSerializer(serializers.Serializer):
    request = serializers.IntegerField()
    quotes = QuoteSerializer(many=True)
    rejected = RejectedClusterSerializer(
        many=True, help_text="The closest clusters and resale listings not used."
    )
    rejected_count = serializers.IntegerField()
    rejection_summary = serializers.DictField(child=serializers.IntegerField())


class ContractLineSerializer(serializers.ModelSerializer):
    cluster_name = serializers.CharField(source="cluster.name")

    class Meta:
        model = ContractLine
        fields = [
            "cluster",
            "cluster_name",
            "provider",
            "servers",
            "p",
            "price_per_p_year",
            "resale_listing",
        ]


class ContractEventSerializer(serializers.ModelSerializer):
    """One row of a contract's history. ``kind`` says what it is; for a resale event (listed,
    withdrawn, sold) the contract's state is unchanged (``from_status`` == ``to_status``) and
    ``resale_listing`` names the listing."""

    kind = serializers.SerializerMethodField(
        help_text=(
            "signed: the contract was signed (from_status is blank); transition: a change of "
            "state; ended_with_parent: a resale contract cancelled or terminated because the "
            "contract it resold ended; resale_listed, resale_withdrawn, resale_sold: a resale "
            "listing of this contract was created, withdrawn or sold from."
        )
    )
    by = serializers.SerializerMethodField()

    class Meta:
        model = ContractEvent
        fields = [
            "kind",
            "from_status",
            "to_status",
            "by",
            "reason",
            "resale_listing",
            "created_at",
        ]
        extra_kwargs = {"resale_listing": {"read_only": True}}

    @extend_schema_field(serializers.ChoiceField(choices=ContractHistoryKind.choices))
    def get_kind(self, event: ContractEvent) -> str:
        return history_kind(event)

    def get_by(self, event: ContractEvent) -> str:
        return event.actor.username if event.actor_id else event.actor_label


HIDDEN_FROM_PROVIDERS = ("total_p", "price_per_p_year", "annual_price", "total_price")


class ContractSerializer(serializers.ModelSerializer):
    """A contract. Providers see only their own lines of it, and not its totals."""

    allocations = serializers.SerializerMethodField()
    history = ContractEventSerializer(many=True)
    customer_name = serializers.CharField(source="customer.name")

    class Meta:
        model = Contract
        fields = [
            "id",
            "status",
            "customer",
            "customer_name",
            "quote",
            "kind",
            "parent_contract",
            "start_date",
            "end_date",
            "term_months",
            "total_p",
            "price_per_p_year",
            "annual_price",
            "total_price",
            "vat_rate",
            "currency",
            "allocations",
            "history",
            "termination_date",
            "termination_reason",
            "created_at",
        ]
        # A provider's view leaves the contract's totals out (null).
        extra_kwargs = {name: {"allow_null": True} for name in HIDDEN_FROM_PROVIDERS}

    def _view(self, contract: Contract):
        return contract_view(contract, user=self.context["request"].user)

    def get_allocations(self, contract: Contract) -> list[dict]:
        return ContractLineSerializer(self._view(contract).lines, many=True).data

    def to_representation(self, contract: Contract) -> dict:
        data = super().to_representation(contract)
        if not self._view(contract).show_totals:
            for name in HIDDEN_FROM_PROVIDERS:
                data[name] = None
        return data


class ResaleListingCreateSerializer(serializers.Serializer):
    cluster = serializers.IntegerField(min_value=1)
    servers = serializers.IntegerField(min_value=1, max_value=limits.MAX_SERVERS_PER_REQUEST)
    start = HorizonDateField()
    end = HorizonDateField()
    price_per_p_year = price_field()
    min_term_months = serializers.IntegerField(
        min_value=limits.MIN_TERM_MONTHS, max_value=limits.MAX_TERM_MONTHS, default=1
    )


class ResaleListingSerializer(serializers.ModelSerializer):
    class Meta:
        model = ResaleListing
        fields = [
            "id",
            "contract",
            "cluster",
            "servers",
            "start",
            "end",
            "price_per_p_year",
            "min_term_months",
            "status",
            "sold_servers",
            "created_at",
        ]


class TerminateSerializer(serializers.Serializer):
    reason = TextField(max_length=limits.MAX_REASON_LENGTH, multiline=True)
    effective_date = HorizonDateField()


class ReasonSerializer(serializers.Serializer):
    reason = TextField(
        max_length=limits.MAX_REASON_LENGTH,
        multiline=True,
        required=False,
        allow_blank=True,
        default="",
    )


class MarketRowSerializer(serializers.Serializer):
    gpu_model = serializers.CharField()
    region = serializers.CharField()
    clusters = serializers.IntegerField()
    free_p_30d = serializers.DecimalField(max_digits=20, decimal_places=3)
    free_p_90d = serializers.DecimalField(max_digits=20, decimal_places=3)
    free_p_365d = serializers.DecimalField(max_digits=20, decimal_places=3)
    lowest_ask_per_p_year = serializers.DecimalField(max_digits=20, decimal_places=2)
    median_ask_per_p_year = serializers.DecimalField(max_digits=20, decimal_places=2)
    contracts_signed_90d = serializers.IntegerField()
    median_signed_per_p_year_90d = serializers.DecimalField(
        max_digits=20,
        decimal_places=2,
        allow_null=True,
        help_text="Hidden (null) when fewer than 3 contracts were signed, to protect customers.",
    )


class SizingRequestSerializer(serializers.Serializer):
    WORKLOADS = [("inference", "Inference"), ("training", "Training")]
    MODES = [
        ("deadline", "Servers needed: inference at its daily load, training within `days`"),
        ("duration", "Days on `servers` servers (training only)"),
    ]

    workload = serializers.ChoiceField(choices=WORKLOADS)
    mode = serializers.ChoiceField(
        choices=MODES,
        default="deadline",
        help_text="`deadline` (default): how many servers. `duration`: how many days the "
        "training run takes on `servers` servers, and the term in months that covers it.",
    )
    params = serializers.IntegerField(
        min_value=1,
        max_value=int(limits.MAX_MODEL_PARAMS),
        help_text="Model parameters, e.g. 70000000000.",
    )
    # Inference
    daily_visits = serializers.IntegerField(
        min_value=1, max_value=int(limits.MAX_DAILY_VISITS), required=False
    )
    questions_per_visit = serializers.IntegerField(
        min_value=1, max_value=int(limits.MAX_QUESTIONS_PER_VISIT), required=False
    )
    tokens_per_question = serializers.IntegerField(
        min_value=1,
        max_value=int(limits.MAX_TOKENS_PER_QUESTION),
        required=False,
        help_text="Tokens per question and its answer.",
    )
    precision = serializers.ChoiceField(choices=["fp16", "int8"], default="fp16")
    # Training
    training_tokens = serializers.IntegerField(
        min_value=1, max_value=int(limits.MAX_TRAINING_TOKENS), required=False
    )
    days = DecimalInput(
        max_digits=8,
        decimal_places=2,
        min_value=Decimal("0.01"),
        max_value=limits.MAX_SIZING_DAYS,
        required=False,
        help_text="Mode `deadline`: the run must finish within this many days.",
    )
    servers = serializers.IntegerField(
        min_value=1,
        max_value=limits.MAX_SIZING_SERVERS,
        required=False,
        help_text="Mode `duration`: the servers the run has.",
    )
    activation_recomputation = JsonBooleanField(
        default=False, help_text="8 x params x tokens FLOPs instead of 6 x."
    )
    # Both
    utilisation = DecimalInput(
        max_digits=4, decimal_places=3, min_value=0, max_value=1, default=Decimal("0.45")
    )
    gpu_models = code_list(queryset=GpuModel.objects.all(), required=False)
    gpus_per_server = serializers.IntegerField(
        min_value=1, max_value=limits.MAX_GPUS_PER_SERVER, default=8
    )

    REQUIRED = {
        ("inference", "deadline"): ["daily_visits", "questions_per_visit", "tokens_per_question"],
        ("training", "deadline"): ["training_tokens", "days"],
        ("training", "duration"): ["training_tokens", "servers"],
    }

    def validate(self, attrs):
        key = (attrs["workload"], attrs["mode"])
        if key not in self.REQUIRED:
            raise serializers.ValidationError(
                {"mode": [gettext("Days on a number of servers applies to training only.")]}
            )
        missing = [name for name in self.REQUIRED[key] if attrs.get(name) is None]
        if missing:
            message = gettext("Required for this kind of sizing.")
            raise serializers.ValidationError({name: [message] for name in missing})
        return attrs


class SizingOptionSerializer(serializers.Serializer):
    gpu_model = serializers.CharField(source="code")
    name = serializers.CharField()
    peak_tflops = serializers.DecimalField(
        max_digits=12, decimal_places=3, help_text="Dense peak per card used for sizing."
    )
    cards = serializers.IntegerField()
    servers = serializers.IntegerField()
    rated_p = serializers.DecimalField(max_digits=20, decimal_places=3)
    median_ask_per_p_year = serializers.DecimalField(
        max_digits=20, decimal_places=2, allow_null=True
    )
    annual_cost = serializers.DecimalField(max_digits=20, decimal_places=2, allow_null=True)
    days = serializers.DecimalField(
        max_digits=40,
        decimal_places=1,
        allow_null=True,
        required=False,
        help_text="Mode `duration`: days the run takes on these servers (else null).",
    )
    term_months = serializers.IntegerField(
        allow_null=True,
        required=False,
        help_text="Mode `duration`: the fewest whole months that always last `days`.",
    )
    term_cost = serializers.DecimalField(
        max_digits=40,
        decimal_places=2,
        allow_null=True,
        required=False,
        help_text="Mode `duration`: annual cost x term_months / 12, tax included.",
    )


class SizingResultSerializer(serializers.Serializer):
    mode = serializers.ChoiceField(choices=SizingRequestSerializer.MODES)
    required_pflops = serializers.DecimalField(
        max_digits=30,
        decimal_places=3,
        allow_null=True,
        help_text="Mode `deadline`: effective PFLOPS at the dense peak (else null).",
    )
    total_flops = serializers.CharField(
        allow_null=True, help_text="Training: total FLOPs of the run, as a decimal string."
    )
    options = SizingOptionSerializer(many=True)
    formulas = serializers.ListField(child=serializers.CharField())


class MarketIndexQuerySerializer(serializers.Serializer):
    gpu_model = CodeRelatedField(queryset=GpuModel.objects.all(), required=False)
    region = CodeRelatedField(queryset=Region.objects.all(), required=False)
    since = HorizonDateField(required=False)
    until = HorizonDateField(required=False)

    def validate(self, attrs):
        since, until = attrs.get("since"), attrs.get("until")
        if since and until and until < since:
            raise serializers.ValidationError({"until": [gettext("Must not be before since.")]})
        return attrs


class MarketIndexRowSerializer(serializers.Serializer):
    date = serializers.DateField(source="day")
    gpu_model = serializers.CharField(source="gpu_model.code")
    region = serializers.CharField(source="region.code", allow_null=True, default=None)
    index_price_per_p_year = serializers.DecimalField(
        max_digits=20, decimal_places=2, allow_null=True
    )
    trades = serializers.IntegerField()
    organizations = serializers.IntegerField()
    lowest_ask = serializers.DecimalField(max_digits=20, decimal_places=2, allow_null=True)
    median_ask = serializers.DecimalField(max_digits=20, decimal_places=2, allow_null=True)
    free_p_30d = serializers.DecimalField(max_digits=20, decimal_places=3)
    free_p_90d = serializers.DecimalField(max_digits=20, decimal_places=3)
    free_p_365d = serializers.DecimalField(max_digits=20, decimal_places=3)
