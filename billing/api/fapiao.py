"""Fapiao requests in the API: customers request for a paid invoice and follow the status;
admins export the pending ones for bulk issue and record each fapiao's number and date, or
reject. Thin: validate shape, call one service of ``billing.fapiao.requests``, render."""

from __future__ import annotations

from django.http import StreamingHttpResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, renderers, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import limits
from accounts.api.fields import HorizonDateField, TextField
from accounts.api.idempotency import idempotent
from accounts.api.permissions import IsCustomer, IsPlatformAdmin
from accounts.api.renderers import JsonErrorsMixin
from accounts.errors import PermissionDeniedError
from accounts.selectors import is_platform_admin
from billing import selectors
from billing.api.errors import error as _error
from billing.api.views import CSVRenderer
from billing.fapiao import requests as fapiao
from billing.fapiao.export import fapiao_requests_csv
from billing.models import FapiaoKind, FapiaoRequest

UNAUTHENTICATED = _error("Not logged in.")


class FapiaoRequestSerializer(serializers.ModelSerializer):
    invoice_number = serializers.CharField(source="invoice.number", read_only=True)

    class Meta:
        model = FapiaoRequest
        fields = [
            "id",
            "invoice",
            "invoice_number",
            "kind",
            "title",
            "tax_id",
            "address_phone",
            "bank_account",
            "status",
            "fapiao_number",
            "issued_on",
            "rejection_reason",
            "created_at",
            "decided_at",
        ]
        read_only_fields = fields


class FapiaoRequestCreateSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=FapiaoKind.choices)
    title = TextField(max_length=200)
    tax_id = TextField(max_length=18, help_text="Unified social credit code.")


class FapiaoIssuedSerializer(serializers.Serializer):
    fapiao_number = TextField(max_length=32)
    issued_on = HorizonDateField(help_text="Not after today.")


class FapiaoRejectSerializer(serializers.Serializer):
    reason = TextField(max_length=limits.MAX_NOTE_LENGTH, multiline=True)


class InvoiceFapiaoRequestView(APIView):
    """POST /invoices/{id}/fapiao-requests/: a customer requests a fapiao for a paid invoice."""

    permission_classes = [IsAuthenticated, IsCustomer]

    @extend_schema(
        request=FapiaoRequestCreateSerializer,
        responses={
            201: FapiaoRequestSerializer,
            400: _error(
                "Invalid kind, title or tax ID (a unified social credit code); a "
                "special fapiao without the organisation's address, phone and bank."
            ),
            401: UNAUTHENTICATED,
            403: _error("Not a customer organisation (platform admins included)."),
            404: _error("No such invoice among the organisation's."),
            409: _error(
                "The invoice is not paid, a request is already open, or a fapiao was "
                "already issued for it."
            ),
        },
    )
    @idempotent
    def post(self, request, pk: int):
        if is_platform_admin(request.user):  # the buyer asks for its own tax document
            raise PermissionDeniedError("Only the invoice's customer requests a fapiao.")
        invoice = get_object_or_404(selectors.invoice_list(user=request.user), pk=pk)
        serializer = FapiaoRequestCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        created = fapiao.fapiao_request_create(
            invoice=invoice, by=request.user, **serializer.validated_data
        )
        return Response(FapiaoRequestSerializer(created).data, status=status.HTTP_201_CREATED)


class FapiaoRequestViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Fapiao requests: customers see their own, admins all; admins record or reject."""

    serializer_class = FapiaoRequestSerializer
    filterset_fields = ["status", "kind", "invoice"]
    ordering_fields = ["created_at", "issued_on"]

    def get_queryset(self):
        return selectors.fapiao_request_list(user=self.request.user)

    @extend_schema(
        responses={
            200: FapiaoRequestSerializer(many=True),
            400: _error("An unknown filter or ordering value."),
            401: UNAUTHENTICATED,
        }
    )
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    @extend_schema(
        responses={200: FapiaoRequestSerializer, 401: UNAUTHENTICATED, 404: _error("Not found.")}
    )
    def retrieve(self, request, *args, **kwargs):
        return super().retrieve(request, *args, **kwargs)

    @extend_schema(
        request=FapiaoIssuedSerializer,
        responses={
            200: FapiaoRequestSerializer,
            400: _error("Missing number, a number already recorded, or a date in the future."),
            401: UNAUTHENTICATED,
            403: _error("Only platform admins record fapiao."),
            404: _error("No such request."),
            409: _error("The request was already issued or rejected."),
        },
    )
    @action(detail=True, methods=["post"], permission_classes=[IsPlatformAdmin])
    def issued(self, request, pk=None):
        """Record the fapiao issued in the tax-control software: its number and date."""
        target = self.get_object()
        serializer = FapiaoIssuedSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        done = fapiao.fapiao_mark_issued(
            request=target, by=request.user, **serializer.validated_data
        )
        return Response(FapiaoRequestSerializer(done).data)

    @extend_schema(
        request=FapiaoRejectSerializer,
        responses={
            200: FapiaoRequestSerializer,
            400: _error("No reason given."),
            401: UNAUTHENTICATED,
            403: _error("Only platform admins reject requests."),
            404: _error("No such request."),
            409: _error("The request was already issued or rejected."),
        },
    )
    @action(detail=True, methods=["post"], permission_classes=[IsPlatformAdmin])
    def reject(self, request, pk=None):
        """Reject the request with a reason the customer sees; it may request again."""
        target = self.get_object()
        serializer = FapiaoRejectSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        done = fapiao.fapiao_reject(
            request=target, reason=serializer.validated_data["reason"], by=request.user
        )
        return Response(FapiaoRequestSerializer(done).data)


class FapiaoExportView(JsonErrorsMixin, APIView):
    """Pending requests as CSV for bulk issue in the tax-control software (admins)."""

    permission_classes = [IsAuthenticated, IsPlatformAdmin]
    renderer_classes = [renderers.JSONRenderer, CSVRenderer]

    @extend_schema(
        responses={
            (200, "text/csv"): OpenApiResponse(
                OpenApiTypes.STR, description="UTF-8 CSV with a byte-order mark"
            ),
        },
    )
    def get(self, request):
        response = StreamingHttpResponse(
            fapiao_requests_csv(selectors.fapiao_requests_pending().iterator(chunk_size=500)),
            content_type="text/csv; charset=utf-8",
        )
        response["Content-Disposition"] = 'attachment; filename="fapiao-requests.csv"'
        return response
