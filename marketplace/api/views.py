import csv
import io
from datetime import timedelta

from django.http import HttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, renderers, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api.idempotency import idempotent
from accounts.api.input import ParseBodyFirstMixin
from accounts.api.permissions import IsCustomer, IsPlatformAdmin
from accounts.api.renderers import JsonErrorsMixin
from accounts.errors import InvalidInput, PermissionDeniedError
from accounts.readcache import CachedReadMixin
from accounts.selectors import organization_of
from inventory.models import Cluster
from marketplace import index, resale, resale_selectors, selectors, services
from marketplace.api.serializers import (
    CapacityRequestCreateSerializer,
    CapacityRequestSerializer,
    ContractSerializer,
    MarketIndexQuerySerializer,
    MarketIndexRowSerializer,
    MarketRowSerializer,
    QuoteSerializer,
    QuotesResultSerializer,
    ReasonSerializer,
    RejectedClusterSerializer,
    ResaleListingCreateSerializer,
    ResaleListingSerializer,
    SizingRequestSerializer,
    SizingResultSerializer,
    TerminateSerializer,
)
from marketplace.models import Contract
from marketplace.sizing import DurationResult

REJECTIONS_SHOWN = 50


def _rejected(rejections) -> list[dict]:
    return [
        {
            "cluster": subject.cluster_id,
            "resale_listing": subject.resale_listing_id,
            "resale_until": subject.resale_until.isoformat() if subject.resale_until else None,
            "reasons": [{"code": r.code.value, "message": r.message} for r in reasons],
        }
        for subject, reasons in rejections
    ]


class CapacityRequestViewSet(
    ParseBodyFirstMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    """A customer's capacity requests. Quotes are generated per request."""

    serializer_class = CapacityRequestSerializer
    filterset_fields = ["status"]

    def get_queryset(self):
        return selectors.request_list(user=self.request.user)

    def get_permissions(self):
        if self.action == "create":
            return [IsAuthenticated(), IsCustomer()]
        return super().get_permissions()

    @extend_schema(
        request=CapacityRequestCreateSerializer, responses={201: CapacityRequestSerializer}
    )
    def create(self, request, *args, **kwargs):
        organization = organization_of(request.user)
        if organization is None or not organization.is_customer:
            raise InvalidInput("customer", "Act for a customer organisation to request capacity.")
        serializer = CapacityRequestCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        capacity_request = services.request_create(
            customer=organization, by=request.user, **serializer.validated_data
        )
        capacity_request = self.get_queryset().get(pk=capacity_request.pk)
        return Response(
            CapacityRequestSerializer(capacity_request).data, status=status.HTTP_201_CREATED
        )

    @extend_schema(request=None, responses={201: QuotesResultSerializer})
    @action(detail=True, methods=["post"])
    @idempotent
    def quotes(self, request, pk=None):
        """Run matching: the best offers, priced and held, and why other clusters were not used."""
        capacity_request = self.get_object()
        result = services.quotes_generate(capacity_request=capacity_request, by=request.user)
        quotes = (
            selectors.quote_list(user=request.user)
            .filter(pk__in=[quote.pk for quote in result.quotes])
            .prefetch_related(
                "lines__cluster__provider",
                "lines__cluster__region",
                "lines__cluster__gpu_model",
                "lines__resale_listing",
            )
        )
        payload = {
            "request": capacity_request.pk,
            "quotes": QuoteSerializer(sorted(quotes, key=lambda q: q.rank), many=True).data,
            "rejected": _rejected(result.rejections[:REJECTIONS_SHOWN]),
            "rejected_count": len(result.rejections),
            "rejection_summary": result.rejections.summary,
        }
        return Response(payload, status=status.HTTP_201_CREATED)

    @extend_schema(responses=RejectedClusterSerializer(many=True))
    @action(detail=True, methods=["get"])
    def rejections(self, request, pk=None):
        """Every visible cluster and resale listing with the reasons it cannot serve this request
        now (paginated)."""
        capacity_request = self.get_object()
        rejections = services.request_rejections(capacity_request=capacity_request)
        page = self.paginate_queryset(rejections)
        return self.get_paginated_response(_rejected(page))

    @extend_schema(request=None, responses=CapacityRequestSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        capacity_request = services.request_cancel(capacity_request=self.get_object())
        return Response(CapacityRequestSerializer(capacity_request).data)


class QuoteViewSet(
    ParseBodyFirstMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    serializer_class = QuoteSerializer
    filterset_fields = ["request", "status"]

    def get_queryset(self):
        return selectors.quote_list(user=self.request.user).prefetch_related(
            "lines__cluster__provider",
            "lines__cluster__region",
            "lines__cluster__gpu_model",
            "lines__resale_listing",
        )

    @extend_schema(request=None, responses={201: ContractSerializer})
    @action(detail=True, methods=["post"])
    @idempotent
    def accept(self, request, pk=None):
        """Sign the contract: books the capacity. Honours ``Idempotency-Key``."""
        quote = self.get_object()
        contract = services.quote_accept(quote=quote, by=request.user)
        contract = selectors.contract_list(user=request.user).get(pk=contract.pk)
        return Response(
            ContractSerializer(contract, context={"request": request}).data,
            status=status.HTTP_201_CREATED,
        )


class ContractViewSet(
    CachedReadMixin,
    ParseBodyFirstMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """Contracts: customers see theirs, providers those on their clusters, admins all."""

    serializer_class = ContractSerializer
    filterset_fields = ["status"]

    def get_queryset(self):
        return selectors.contract_list(user=self.request.user)

    def _respond(self, contract: Contract) -> Response:
        contract = self.get_queryset().get(pk=contract.pk)
        return Response(ContractSerializer(contract, context=self.get_serializer_context()).data)

    @extend_schema(request=None, responses=ContractSerializer)
    @action(detail=True, methods=["post"], permission_classes=[IsPlatformAdmin])
    def approve(self, request, pk=None):
        return self._respond(services.contract_approve(contract=self.get_object(), by=request.user))

    @extend_schema(request=ReasonSerializer, responses=ContractSerializer)
    @action(detail=True, methods=["post"])
    @idempotent
    def cancel(self, request, pk=None):
        """Withdraw before the start date (the customer, or an admin)."""
        contract = self.get_object()
        is_customer = selectors.contract_view(contract, user=request.user).is_customer
        if not (is_customer or request.user.is_staff):
            raise PermissionDeniedError("Only the customer or an admin may cancel a contract.")
        serializer = ReasonSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return self._respond(
            services.contract_cancel(
                contract=contract, by=request.user, reason=serializer.validated_data["reason"]
            )
        )

    @extend_schema(request=TerminateSerializer, responses=ContractSerializer)
    @action(detail=True, methods=["post"])
    @idempotent
    def terminate(self, request, pk=None):
        """End early (admins; providers of all its clusters with the notice period)."""
        contract = self.get_object()
        as_provider = (
            not request.user.is_staff
            and selectors.contract_view(contract, user=request.user).is_sole_provider
        )
        if not (request.user.is_staff or as_provider):
            raise PermissionDeniedError("Only an admin or the contract's provider may terminate.")
        serializer = TerminateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return self._respond(
            services.contract_terminate(
                contract=contract,
                by=request.user,
                as_provider=as_provider,
                **serializer.validated_data,
            )
        )

    @extend_schema(
        request=ResaleListingCreateSerializer,
        responses={
            201: ResaleListingSerializer,
        },
    )
    @action(detail=True, methods=["post"], url_path="resale-listings")
    @idempotent
    def resale_listings(self, request, pk=None):
        """List some of the contract's servers on one cluster for resale (its customer only).
        Honours ``Idempotency-Key``."""
        contract = self.get_object()
        resale.check_reseller(contract, request.user)
        serializer = ResaleListingCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        cluster = Cluster.objects.filter(pk=data.pop("cluster")).first()
        if cluster is None:
            raise InvalidInput("cluster", "The contract holds no servers on this cluster.")
        listing = resale.resale_list(contract=contract, by=request.user, cluster=cluster, **data)
        return Response(ResaleListingSerializer(listing).data, status=status.HTTP_201_CREATED)


class ResaleListingViewSet(
    ParseBodyFirstMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Resale listings: the reseller sees its own, admins all."""

    serializer_class = ResaleListingSerializer
    filterset_fields = ["status", "contract"]

    def get_queryset(self):
        return resale_selectors.resale_listing_list(user=self.request.user)

    @extend_schema(request=None, responses={200: ResaleListingSerializer})
    @action(detail=True, methods=["post"])
    def withdraw(self, request, pk=None):
        """Take back the unsold part of the listing."""
        listing = resale.resale_withdraw(listing=self.get_object(), by=request.user)
        return Response(ResaleListingSerializer(listing).data)


class MarketView(CachedReadMixin, ParseBodyFirstMixin, APIView):
    """The market at a glance, per GPU model and region (anonymised)."""

    @extend_schema(responses=MarketRowSerializer(many=True))
    def get(self, request):
        rows = [
            {
                "gpu_model": row.gpu_model,
                "region": row.region,
                "clusters": row.clusters,
                "free_p_30d": row.free_p[30],
                "free_p_90d": row.free_p[90],
                "free_p_365d": row.free_p[365],
                "lowest_ask_per_p_year": row.lowest_ask,
                "median_ask_per_p_year": row.median_ask,
                "contracts_signed_90d": row.contracts_90d,
                "median_signed_per_p_year_90d": row.median_signed_90d,
            }
            for row in selectors.market_view()
        ]
        return Response(MarketRowSerializer(rows, many=True).data)


class CSVRenderer(renderers.BaseRenderer):
    """Lets ``?format=csv`` through content negotiation; the view writes the CSV itself."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return data if isinstance(data, bytes | str) else str(data)


INDEX_HISTORY_DAYS = 365
INDEX_COLUMNS = (
    "date",
    "gpu_model",
    "region",
    "index_price_per_p_year",
    "trades",
    "organizations",
    "lowest_ask",
    "median_ask",
    "free_p_30d",
    "free_p_90d",
    "free_p_365d",
)


class MarketIndexView(CachedReadMixin, JsonErrorsMixin, ParseBodyFirstMixin, APIView):
    """The compute price index per GPU model (and region), day by day; ``?format=csv`` for a
    CSV file. Anyone may read it. Without ``since``, the last 365 days."""

    permission_classes = [AllowAny]
    renderer_classes = [renderers.JSONRenderer, CSVRenderer]

    @extend_schema(
        parameters=[MarketIndexQuerySerializer],
        responses={
            200: MarketIndexRowSerializer(many=True),
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="CSV"),
        },
    )
    def get(self, request):
        query = MarketIndexQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        filters = query.validated_data
        since = filters.get("since") or timezone.localdate() - timedelta(days=INDEX_HISTORY_DAYS)
        rows = index.index_history(
            gpu_model=filters.get("gpu_model"),
            region=filters.get("region"),
            since=since,
            until=filters.get("until"),
        )
        data = MarketIndexRowSerializer(rows, many=True).data
        if request.accepted_renderer.format != "csv":
            return Response(data)
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(INDEX_COLUMNS)
        for row in data:
            writer.writerow(["" if row[c] is None else row[c] for c in INDEX_COLUMNS])
        response = HttpResponse(out.getvalue(), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="compute-price-index.csv"'
        return response


class SizingView(ParseBodyFirstMixin, APIView):
    """From a workload to P: the article's method, with its formulas shown. Mode `duration`
    answers how many days a training run takes on a number of servers."""

    permission_classes = [AllowAny]

    @extend_schema(request=SizingRequestSerializer, responses=SizingResultSerializer)
    def post(self, request):
        serializer = SizingRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        result, prices = services.workload_size(**data)
        duration = isinstance(result, DurationResult)
        options = [
            {
                **vars(option),
                "median_ask_per_p_year": prices.get(option.code),
                "days": option.days_display if duration else None,
            }
            for option in result.options
        ]
        return Response(
            SizingResultSerializer(
                {
                    "mode": data["mode"],
                    "required_pflops": None if duration else result.required_pflops_display,
                    "total_flops": str(result.total_flops) if duration else None,
                    "options": options,
                    "formulas": list(result.formulas),
                }
            ).data
        )
