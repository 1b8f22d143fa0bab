"""Invoice disputes: customers open them, staff resolve them (a credit note or a rejection).
Thin: validate, call one service in ``billing.credits.disputes``, render."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import limits
from accounts.api.fields import TextField
from accounts.api.idempotency import idempotent
from accounts.api.input import ParseBodyFirstMixin
from accounts.errors import PermissionDeniedError
from accounts.money import FEN
from accounts.selectors import is_platform_admin
from billing import selectors
from billing.api import errors
from billing.api.payment_views import IDEMPOTENCY_PARAMETER, _money
from billing.credits.disputes import dispute_open, dispute_resolve
from billing.models import InvoiceDispute


class DisputeSerializer(serializers.ModelSerializer):
    invoice_number = serializers.CharField(source="invoice.number", read_only=True)
    credit_note = serializers.SlugRelatedField(slug_field="number", read_only=True, allow_null=True)
    credited_amount = _money(source="credit_note.amount", read_only=True, allow_null=True)

    class Meta:
        model = InvoiceDispute
        fields = [
            "id",
            "invoice",
            "invoice_number",
            "reason",
            "status",
            "resolution",
            "credit_note",
            "credited_amount",
            "created_at",
            "resolved_at",
        ]
        read_only_fields = fields
        extra_kwargs = {
            "status": {"help_text": "open (reminders paused), credited or rejected."},
            "resolution": {"help_text": "The admin's reasons."},
        }


class DisputeOpenSerializer(serializers.Serializer):
    reason = TextField(
        max_length=limits.MAX_NOTE_LENGTH,
        multiline=True,
        help_text="What is wrong with the invoice.",
    )


class DisputeResolveSerializer(serializers.Serializer):
    outcome = serializers.ChoiceField(choices=["credited", "rejected"])
    amount = _money(
        min_value=FEN, required=False, help_text="Tax included; required when credited."
    )
    reason = TextField(
        max_length=limits.MAX_NOTE_LENGTH,
        multiline=True,
        help_text="The reasons, for the customer.",
    )

    def validate(self, data):
        if data["outcome"] == "credited" and data.get("amount") is None:
            raise serializers.ValidationError({"amount": ["Required when crediting."]})
        return data


class InvoiceDisputeCreateView(ParseBodyFirstMixin, APIView):
    """The customer disputes one of its invoices; dunning pauses while the dispute is open."""

    permission_classes = [IsAuthenticated]

    @extend_schema(
        request=DisputeOpenSerializer,
        responses={
            201: DisputeSerializer,
            400: errors.INVALID,
            401: errors.UNAUTHENTICATED,
            403: errors.FORBIDDEN,
            404: errors.NOT_FOUND,
            409: errors.CONFLICT,
        },
    )
    def post(self, request, pk: int):
        invoice = get_object_or_404(selectors.invoice_list(user=request.user), pk=pk)
        if is_platform_admin(request.user):
            raise PermissionDeniedError("Only the invoice's customer disputes it.")
        serializer = DisputeOpenSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        dispute = dispute_open(
            invoice=invoice, reason=serializer.validated_data["reason"], by=request.user
        )
        return Response(DisputeSerializer(dispute).data, status=status.HTTP_201_CREATED)


class DisputeViewSet(
    ParseBodyFirstMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Disputes: customers see their own, staff all. Other organisations' are 404."""

    serializer_class = DisputeSerializer
    filterset_fields = ["status", "invoice"]
    ordering_fields = ["created_at", "resolved_at"]

    def get_queryset(self):
        return selectors.dispute_list(user=self.request.user)

    @extend_schema(
        responses={200: DisputeSerializer(many=True), 401: errors.UNAUTHENTICATED},
    )
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    @extend_schema(
        responses={200: DisputeSerializer, 401: errors.UNAUTHENTICATED, 404: errors.NOT_FOUND},
    )
    def retrieve(self, request, *args, **kwargs):
        return super().retrieve(request, *args, **kwargs)

    @extend_schema(
        request=DisputeResolveSerializer,
        parameters=[IDEMPOTENCY_PARAMETER],
        responses={
            200: DisputeSerializer,
            400: errors.INVALID,
            401: errors.UNAUTHENTICATED,
            403: errors.FORBIDDEN,
            404: errors.NOT_FOUND,
            409: errors.CONFLICT,
        },
    )
    @action(detail=True, methods=["post"])
    @idempotent
    def resolve(self, request, pk=None):
        """Staff: resolve with a credit note (``credited``, with ``amount``) or reject."""
        if not is_platform_admin(request.user):  # before the lookup: the same 403 for every id
            raise PermissionDeniedError("Only platform admins resolve disputes.")
        dispute = self.get_object()
        serializer = DisputeResolveSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        resolved = dispute_resolve(
            dispute=dispute,
            outcome=data["outcome"],
            amount=data.get("amount"),
            reason=data["reason"],
            by=request.user,
        )
        return Response(DisputeSerializer(resolved).data)
