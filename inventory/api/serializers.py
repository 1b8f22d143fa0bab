from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts import limits
from accounts.api.fields import (
    CodeRelatedField,
    DecimalInput,
    ExactDecimalField,
    HorizonDateField,
    HorizonDateTimeField,
    TextField,
    exact_decimal_string,
    price_field,
)
from accounts.money import P_DECIMAL_PLACES, P_MAX_DIGITS
from inventory.models import (
    Allocation,
    Cluster,
    ClusterStatus,
    GpuModel,
    Interconnect,
    Outage,
    Region,
)


class GpuModelSerializer(serializers.ModelSerializer):
    class Meta:
        model = GpuModel
        fields = [
            "code",
            "name",
            "fp16_dense_tflops",
            "fp16_sparse_tflops",
            "memory_gb",
            "memory_type",
            "form_factor",
            "notes",
        ]


class RegionSerializer(serializers.ModelSerializer):
    class Meta:
        model = Region
        fields = ["code", "name", "name_zh", "province"]


class ProviderSummarySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    is_verified = serializers.BooleanField()


class ClusterSerializer(serializers.ModelSerializer):
    """A cluster as everybody reads it. ``free_servers``/``free_p`` are present when the request
    names a window (``start``, ``end``); ``uptime_90d`` is measured from recorded outages."""

    provider = ProviderSummarySerializer(read_only=True)
    gpu_model = serializers.CharField(source="gpu_model.code")
    region = serializers.CharField(source="region.code")
    region_name = serializers.CharField(source="region.name")
    rated_p_per_server = ExactDecimalField()
    rated_p = ExactDecimalField()
    uptime_90d = serializers.SerializerMethodField()
    free_servers = serializers.SerializerMethodField()
    free_p = serializers.SerializerMethodField()

    class Meta:
        model = Cluster
        fields = [
            "id",
            "provider",
            "name",
            "region",
            "region_name",
            "gpu_model",
            "gpus_per_server",
            "server_count",
            "rated_p_per_server",
            "rated_p",
            "interconnect",
            "interconnect_gbps",
            "price_per_p_year",
            "min_term_months",
            "available_from",
            "available_until",
            "sla_uptime_percent",
            "status",
            "description",
            "uptime_90d",
            "free_servers",
            "free_p",
            "created_at",
            "updated_at",
        ]

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_uptime_90d(self, cluster: Cluster) -> str | None:
        uptime = self.context.get("uptime", {}).get(cluster.pk)
        return None if uptime is None else str(uptime)

    @extend_schema_field(serializers.IntegerField(allow_null=True))
    def get_free_servers(self, cluster: Cluster) -> int | None:
        return self.context.get("free_servers", {}).get(cluster.pk)

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_free_p(self, cluster: Cluster) -> str | None:
        free = self.context.get("free_servers", {}).get(cluster.pk)
        return None if free is None else exact_decimal_string(free * cluster.rated_p_per_server)


class ClusterWriteSerializer(serializers.Serializer):
    """Create (all required fields) or PATCH (any subset) a cluster, within accounts.limits."""

    name = TextField(max_length=limits.MAX_NAME_LENGTH)
    region = CodeRelatedField(queryset=Region.objects.all())
    gpu_model = CodeRelatedField(queryset=GpuModel.objects.all())
    gpus_per_server = serializers.IntegerField(min_value=1, max_value=limits.MAX_GPUS_PER_SERVER)
    server_count = serializers.IntegerField(min_value=0, max_value=limits.MAX_SERVERS_PER_CLUSTER)
    interconnect = serializers.ChoiceField(choices=Interconnect.choices)
    interconnect_gbps = serializers.IntegerField(
        min_value=0, max_value=limits.MAX_INTERCONNECT_GBPS, required=False
    )
    price_per_p_year = price_field()
    min_term_months = serializers.IntegerField(
        min_value=limits.MIN_TERM_MONTHS, max_value=limits.MAX_TERM_MONTHS, required=False
    )
    available_from = HorizonDateField()
    available_until = HorizonDateField(required=False, allow_null=True)
    sla_uptime_percent = DecimalInput(
        max_digits=6,
        decimal_places=3,
        min_value=limits.MIN_SLA_UPTIME_PERCENT,
        max_value=100,
        required=False,
    )
    status = serializers.ChoiceField(choices=ClusterStatus.choices, required=False)
    description = TextField(
        max_length=limits.MAX_NOTE_LENGTH, multiline=True, required=False, allow_blank=True
    )


class SearchWindowSerializer(serializers.Serializer):
    """Query parameters that ask for free capacity over ``[start, end)``."""

    start = HorizonDateField(required=False)
    end = HorizonDateField(required=False)
    min_free_p = DecimalInput(
        max_digits=P_MAX_DIGITS,
        decimal_places=P_DECIMAL_PLACES,
        min_value=0,
        max_value=limits.MAX_REQUEST_P,
        required=False,
    )

    def validate(self, attrs):
        has_start, has_end = "start" in attrs, "end" in attrs
        if has_start != has_end:
            missing = "end" if has_start else "start"
            raise serializers.ValidationError({missing: ["Give both start and end."]})
        if has_start and attrs["end"] <= attrs["start"]:
            raise serializers.ValidationError({"end": ["Must be after start."]})
        if "min_free_p" in attrs and not has_start:
            raise serializers.ValidationError(
                {"min_free_p": ["Free capacity needs a window: give start and end."]}
            )
        return attrs


class AvailabilityQuerySerializer(serializers.Serializer):
    start = HorizonDateField()
    end = HorizonDateField()

    def validate(self, attrs):
        if attrs["end"] <= attrs["start"]:
            raise serializers.ValidationError({"end": ["Must be after start."]})
        if (attrs["end"] - attrs["start"]).days > 366 * 10:
            raise serializers.ValidationError({"end": ["The window may span at most 10 years."]})
        return attrs


class FreeSpanSerializer(serializers.Serializer):
    start = serializers.DateField()
    end = serializers.DateField()
    free_servers = serializers.IntegerField()


class OutageSerializer(serializers.ModelSerializer):
    cluster = serializers.PrimaryKeyRelatedField(read_only=True)
    is_locked = serializers.BooleanField(read_only=True)

    class Meta:
        model = Outage
        fields = [
            "id",
            "cluster",
            "start",
            "end",
            "servers_affected",
            "description",
            "created_at",
            "invoiced_at",
            "is_locked",
        ]
        read_only_fields = ["id", "cluster", "created_at", "invoiced_at", "is_locked"]


class OutageWriteSerializer(serializers.Serializer):
    start = HorizonDateTimeField()
    end = HorizonDateTimeField()
    servers_affected = serializers.IntegerField(min_value=1, max_value=limits.MAX_OUTAGE_SERVERS)
    description = TextField(max_length=limits.MAX_NOTE_LENGTH, multiline=True)

    def validate(self, attrs):
        start = attrs.get("start", getattr(self.instance, "start", None))
        end = attrs.get("end", getattr(self.instance, "end", None))
        if start and end and end <= start:
            raise serializers.ValidationError({"end": ["An outage must end after it starts."]})
        return attrs


class OutageCorrectionSerializer(OutageWriteSerializer):
    reason = TextField(
        max_length=limits.MAX_REASON_LENGTH,
        multiline=True,
        required=False,
        allow_blank=True,
        default="",
    )


class MaintenanceSerializer(serializers.Serializer):
    start = HorizonDateField()
    end = HorizonDateField()
    servers = serializers.IntegerField(min_value=1, max_value=limits.MAX_SERVERS_PER_CLUSTER)
    note = TextField(
        max_length=Allocation._meta.get_field("note").max_length,
        required=False,
        allow_blank=True,
        default="",
    )

    def validate(self, attrs):
        if attrs["end"] <= attrs["start"]:
            raise serializers.ValidationError({"end": ["Must be after start."]})
        return attrs


class AllocationSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    cluster = serializers.IntegerField(source="cluster_id")
    kind = serializers.CharField()
    servers = serializers.IntegerField()
    start = serializers.DateField()
    end = serializers.DateField()
    note = serializers.CharField()
