from django.utils import timezone
from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response

from accounts.api.fields import CODE_PATTERN
from accounts.api.filters import CodeInFilter, IdFilter, StrictFilterSet, price_filter
from accounts.api.idempotency import idempotent
from accounts.api.input import ParseBodyFirstMixin
from accounts.api.permissions import IsProvider
from accounts.errors import InvalidInput, PermissionDeniedError
from accounts.readcache import CachedReadMixin
from accounts.selectors import organization_of
from inventory import selectors, services
from inventory.api.serializers import (
    AllocationSerializer,
    AvailabilityQuerySerializer,
    ClusterSerializer,
    ClusterWriteSerializer,
    FreeSpanSerializer,
    GpuModelSerializer,
    MaintenanceSerializer,
    OutageCorrectionSerializer,
    OutageSerializer,
    OutageWriteSerializer,
    RegionSerializer,
    SearchWindowSerializer,
)
from inventory.models import Allocation, Cluster, ClusterStatus, GpuModel, Interconnect, Region


class GpuModelViewSet(CachedReadMixin, ParseBodyFirstMixin, viewsets.ReadOnlyModelViewSet):
    """The GPU catalog. Ratings: P per server = GPUs per server x FP16 sparse TFLOPS / 1000."""

    queryset = GpuModel.objects.all()
    serializer_class = GpuModelSerializer
    permission_classes = [AllowAny]
    lookup_field = "code"
    lookup_value_regex = CODE_PATTERN  # anything else (a NUL byte, say) is simply not found
    pagination_class = None


class RegionViewSet(CachedReadMixin, ParseBodyFirstMixin, viewsets.ReadOnlyModelViewSet):
    queryset = Region.objects.all()
    serializer_class = RegionSerializer
    permission_classes = [AllowAny]
    lookup_field = "code"
    lookup_value_regex = CODE_PATTERN
    pagination_class = None


class ClusterFilter(StrictFilterSet):
    gpu_model = CodeInFilter(field_name="gpu_model__code", help_text="GPU codes, comma-separated")
    region = CodeInFilter(field_name="region__code", help_text="Region codes, comma-separated")
    interconnect = filters.MultipleChoiceFilter(choices=Interconnect.choices)
    max_price = price_filter(field_name="price_per_p_year", lookup_expr="lte")
    status = filters.ChoiceFilter(choices=ClusterStatus.choices)
    provider = IdFilter(field_name="provider_id")

    class Meta:
        model = Cluster
        fields = ["gpu_model", "region", "interconnect", "max_price", "status", "provider"]


class ClusterViewSet(
    CachedReadMixin,
    ParseBodyFirstMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    """Provider clusters. Customers see listed clusters of verified providers, ordered by price
    per P per year; providers also see their own; admins see all."""

    serializer_class = ClusterSerializer
    filterset_class = ClusterFilter
    ordering_fields = ["price_per_p_year", "server_count", "created_at"]
    ordering = ["price_per_p_year", "id"]

    def get_queryset(self):
        return selectors.cluster_list(user=self.request.user)

    def get_permissions(self):
        if self.action == "create":
            return [IsAuthenticated(), IsProvider()]
        return super().get_permissions()

    def _owned(self, cluster: Cluster) -> Cluster:
        if not selectors.cluster_owned_by(cluster, self.request.user):
            raise PermissionDeniedError("Only the cluster's provider may do this.")
        return cluster

    def _serialize(self, clusters, *, free_servers=None) -> list[dict]:
        """Clusters with their measured uptime (one query for the lot)."""
        context = {
            **self.get_serializer_context(),
            "uptime": selectors.uptime_by_cluster(clusters),
            "free_servers": free_servers or {},
        }
        return ClusterSerializer(clusters, many=True, context=context).data

    @extend_schema(parameters=[SearchWindowSerializer])
    def list(self, request, *args, **kwargs):
        window = SearchWindowSerializer(data=request.query_params)
        window.is_valid(raise_exception=True)
        queryset = self.filter_queryset(self.get_queryset())
        if "start" not in window.validated_data:
            page = self.paginate_queryset(queryset)
            return self.get_paginated_response(self._serialize(list(page)))
        start, end = window.validated_data["start"], window.validated_data["end"]
        free = selectors.free_servers(
            queryset, start=start, end=end, min_free_p=window.validated_data.get("min_free_p", 0)
        )
        page_ids = self.paginate_queryset(list(free))
        by_id = selectors.clusters_by_ids(page_ids)
        clusters = [by_id[pk] for pk in page_ids]
        return self.get_paginated_response(self._serialize(clusters, free_servers=free))

    def retrieve(self, request, *args, **kwargs):
        return Response(self._serialize([self.get_object()])[0])

    @extend_schema(request=ClusterWriteSerializer, responses={201: ClusterSerializer})
    def create(self, request, *args, **kwargs):
        organization = organization_of(request.user)
        if organization is None or not organization.is_provider:
            raise InvalidInput(
                "provider",
                "Act for a provider organisation to list clusters (admins: use /admin/).",
            )
        serializer = ClusterWriteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        cluster = services.cluster_create(provider=organization, **serializer.validated_data)
        cluster = selectors.clusters_by_ids([cluster.pk])[cluster.pk]
        return Response(self._serialize([cluster])[0], status=status.HTTP_201_CREATED)

    @extend_schema(request=ClusterWriteSerializer, responses=ClusterSerializer)
    def partial_update(self, request, *args, **kwargs):
        cluster = self._owned(self.get_object())
        serializer = ClusterWriteSerializer(cluster, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        cluster = services.cluster_update(cluster=cluster, changes=serializer.validated_data)
        cluster = selectors.clusters_by_ids([cluster.pk])[cluster.pk]
        return Response(self._serialize([cluster])[0])

    @extend_schema(
        parameters=[AvailabilityQuerySerializer], responses=FreeSpanSerializer(many=True)
    )
    @action(detail=True, methods=["get"], pagination_class=None)
    def availability(self, request, pk=None):
        """Free servers over ``[start, end)``, as spans of constant value."""
        cluster = self.get_object()
        query = AvailabilityQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        spans = selectors.cluster_availability(cluster, **query.validated_data)
        return Response(FreeSpanSerializer(spans, many=True).data)

    @extend_schema(
        methods=["GET"], responses=OutageSerializer(many=True), operation_id="clusters_outages_list"
    )
    @extend_schema(
        methods=["POST"],
        request=OutageWriteSerializer,
        responses={201: OutageSerializer},
        operation_id="clusters_outages_create",
    )
    @action(detail=True, methods=["get", "post"])
    def outages(self, request, pk=None):
        cluster = self.get_object()
        if request.method == "GET":
            outages = selectors.outage_list(user=request.user, cluster=cluster)
            page = self.paginate_queryset(outages)
            return self.get_paginated_response(OutageSerializer(page, many=True).data)
        self._owned(cluster)
        serializer = OutageWriteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        outage = services.outage_record(
            cluster=cluster, by=request.user, **serializer.validated_data
        )
        return Response(OutageSerializer(outage).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=MaintenanceSerializer, responses={201: AllocationSerializer})
    @action(detail=True, methods=["post"])
    @idempotent
    def maintenance(self, request, pk=None):
        """Block servers for planned maintenance (refused where they are sold or held)."""
        cluster = self._owned(self.get_object())
        serializer = MaintenanceSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        allocation = services.maintenance_block(
            cluster=cluster, by=request.user, **serializer.validated_data
        )
        return Response(AllocationSerializer(allocation).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses=AllocationSerializer(many=True))
    @action(detail=True, methods=["get"])
    def allocations(self, request, pk=None):
        """The cluster's capacity ledger (provider and admins): bookings, holds, maintenance."""
        cluster = self._owned(self.get_object())
        rows = Allocation.objects.filter(
            selectors.active_allocations_q(timezone.now()), cluster=cluster
        )
        page = self.paginate_queryset(rows)
        return self.get_paginated_response(AllocationSerializer(page, many=True).data)


class OutageViewSet(
    ParseBodyFirstMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Outages of the clusters you can see. Providers edit their own until billed; after that
    only admins correct them, with a reason, and each correction is audited."""

    serializer_class = OutageSerializer
    filterset_fields = ["cluster"]

    def get_queryset(self):
        return selectors.outage_list(user=self.request.user)

    @extend_schema(request=OutageCorrectionSerializer, responses=OutageSerializer)
    def partial_update(self, request, *args, **kwargs):
        outage = self.get_object()
        if not selectors.cluster_owned_by(outage.cluster, request.user):
            raise PermissionDeniedError("Only the cluster's provider or an admin may do this.")
        serializer = OutageCorrectionSerializer(outage, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        changes = dict(serializer.validated_data)
        reason = changes.pop("reason", "")
        outage = services.outage_update(
            outage=outage, changes=changes, by=request.user, reason=reason
        )
        return Response(OutageSerializer(outage).data)
