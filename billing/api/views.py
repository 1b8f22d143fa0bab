"""Invoices and payout statements for people: thin views over billing's selectors and services."""

from django.http import HttpResponse, StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, renderers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api.idempotency import idempotent
from accounts.api.permissions import IsPlatformAdmin
from accounts.api.renderers import JsonErrorsMixin
from accounts.readcache import CachedReadMixin
from billing import documents, selectors
from billing.api.serializers import (
    CreditNoteCreateSerializer,
    CreditNoteSerializer,
    InvoiceExportQuerySerializer,
    InvoiceSerializer,
    PayoutStatementSerializer,
)
from billing.credits.credit_notes import credit_note_issue

EXPORT_BATCH = 2000


class _FileRenderer(renderers.BaseRenderer):
    """Accepts ``Accept: <file type>``; the view answers with a ready-made file response.

    Listed after JSON, so errors still come back in the API's JSON shape.
    """

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return data if isinstance(data, bytes | str) else str(data)


class PDFRenderer(_FileRenderer):
    media_type = "application/pdf"
    format = "pdf"


class CSVRenderer(_FileRenderer):
    media_type = "text/csv"
    format = "csv"


class InvoiceViewSet(
    CachedReadMixin,
    JsonErrorsMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """Invoices: customers see their own, admins all. Other organisations' invoices are 404."""

    serializer_class = InvoiceSerializer
    filterset_fields = ["status", "contract"]
    ordering_fields = ["period_start", "issue_date", "due_date", "total"]

    def get_queryset(self):
        return selectors.invoice_list(user=self.request.user)

    @extend_schema(
        responses={
            (200, "application/pdf"): OpenApiResponse(OpenApiTypes.BINARY, description="PDF")
        }
    )
    @action(detail=True, methods=["get"], renderer_classes=[renderers.JSONRenderer, PDFRenderer])
    def pdf(self, request, pk=None):
        """The invoice as a statement PDF (账单 / Statement: seller, buyer, lines); not a fapiao."""
        invoice = self.get_object()
        response = HttpResponse(documents.invoice_pdf(invoice), content_type="application/pdf")
        response["Content-Disposition"] = f'inline; filename="{invoice.number or invoice.pk}.pdf"'
        return response

    @extend_schema(request=CreditNoteCreateSerializer, responses={201: CreditNoteSerializer})
    @action(
        detail=True,
        methods=["post"],
        url_path="credit-notes",
        permission_classes=[IsPlatformAdmin],
    )
    @idempotent
    def credit_notes(self, request, pk=None):
        """Credit part or all of the invoice (admins). Honours ``Idempotency-Key``."""
        invoice = self.get_object()
        serializer = CreditNoteCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        note = credit_note_issue(
            invoice=invoice,
            amount=serializer.validated_data["amount"],
            reason=serializer.validated_data["reason"],
            by=request.user,
        )
        return Response(CreditNoteSerializer(note).data, status=status.HTTP_201_CREATED)


class InvoiceExportView(JsonErrorsMixin, APIView):
    """Every finalised invoice as CSV (admins), streamed: ``?status=&issued_from=&issued_to=``."""

    permission_classes = [IsPlatformAdmin]
    renderer_classes = [renderers.JSONRenderer, CSVRenderer]

    @extend_schema(
        parameters=[InvoiceExportQuerySerializer],
        responses={(200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="CSV")},
    )
    def get(self, request):
        query = InvoiceExportQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        filters = query.validated_data
        invoices = selectors.invoices_for_export(
            status=filters.get("status"),
            issued_from=filters.get("issued_from"),
            issued_to=filters.get("issued_to"),
            customer_id=filters.get("customer"),
        )
        response = StreamingHttpResponse(
            documents.invoices_csv(invoices.iterator(chunk_size=EXPORT_BATCH)),
            content_type="text/csv; charset=utf-8",
        )
        response["Content-Disposition"] = 'attachment; filename="invoices.csv"'
        return response


class PayoutViewSet(
    CachedReadMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Monthly payout statements: providers see their own, admins all."""

    serializer_class = PayoutStatementSerializer
    filterset_fields = ["status", "period_start"]
    ordering_fields = ["period_start", "payable"]

    def get_queryset(self):
        return selectors.payout_list(user=self.request.user)

    @extend_schema(
        responses={
            200: PayoutStatementSerializer(many=True),
        }
    )
    def list(self, request, *args, **kwargs):
        """The provider's statements (admins: all), newest month first, with their lines."""
        return super().list(request, *args, **kwargs)

    @extend_schema(
        responses={
            200: PayoutStatementSerializer,
        }
    )
    def retrieve(self, request, *args, **kwargs):
        return super().retrieve(request, *args, **kwargs)
