"""``POST /api/v1/payments/{id}/refund/``: staff give money back on a payment. Thin: validate,
call ``refund_issue``, render."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import limits
from accounts.api.fields import TextField
from accounts.api.idempotency import HEADER, MAX_KEY_LENGTH
from accounts.api.input import ParseBodyFirstMixin
from accounts.errors import InvalidInput, PermissionDeniedError
from accounts.money import FEN
from accounts.selectors import is_platform_admin, scope_to_organization
from billing.api import errors
from billing.api.payment_views import IDEMPOTENCY_PARAMETER, _money
from billing.models import Payment, Refund
from billing.payments.refunds import refund_issue, refund_unanswered


class RefundRequestSerializer(serializers.Serializer):
    amount = _money(min_value=FEN, help_text="CNY to give back, at most what is not refunded.")
    reason = TextField(max_length=limits.MAX_NOTE_LENGTH, multiline=True)


class RefundSerializer(serializers.ModelSerializer):
    credit_note = serializers.SlugRelatedField(slug_field="number", read_only=True, allow_null=True)

    class Meta:
        model = Refund
        fields = [
            "id",
            "payment",
            "amount",
            "from_balance",
            "credit_note",
            "reason",
            "status",
            "external_id",
            "failure_message",
            "created_at",
            "confirmed_at",
        ]
        read_only_fields = fields
        extra_kwargs = {
            "from_balance": {"help_text": "Taken from an over-payment held on the balance."},
            "credit_note": {"help_text": "Issued where the invoice itself changes."},
            "status": {"help_text": "Card refunds stay pending until Stripe confirms them."},
        }


class PaymentRefundView(ParseBodyFirstMixin, APIView):
    """Staff: refund a payment in full or in part (card: through Stripe; bank: recorded)."""

    permission_classes = [IsAuthenticated]

    @extend_schema(
        request=RefundRequestSerializer,
        parameters=[IDEMPOTENCY_PARAMETER],
        responses={
            201: RefundSerializer,
            200: OpenApiResponse(RefundSerializer, description="Replayed (same Idempotency-Key)."),
            202: OpenApiResponse(
                RefundSerializer,
                description="Stripe did not answer: pending, outcome unknown. Repeat the request "
                "with the same Idempotency-Key to ask again; the webhook confirms it otherwise.",
            ),
            400: errors.INVALID,
            401: errors.UNAUTHENTICATED,
            403: errors.FORBIDDEN,
            404: errors.NOT_FOUND,
            409: errors.CONFLICT,
            502: errors.GATEWAY,
        },
    )
    def post(self, request, pk: int):
        if not is_platform_admin(request.user):  # before the lookup: the same 403 for every id
            raise PermissionDeniedError("Only platform admins refund payments.")
        payments = scope_to_organization(
            Payment.objects.select_related("invoice"),
            user=request.user,
            org_field="invoice__customer",
        )
        payment = get_object_or_404(payments, pk=pk)
        request_key = request.META.get(HEADER, "").strip()
        if len(request_key) > MAX_KEY_LENGTH:
            raise InvalidInput("idempotency_key", f"At most {MAX_KEY_LENGTH} characters.")
        if request_key and not (request_key.isascii() and request_key.isprintable()):
            raise InvalidInput(
                "idempotency_key", "Use printable ASCII characters only (e.g. a UUID)."
            )
        serializer = RefundRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        outcome = refund_issue(
            payment=payment,
            amount=serializer.validated_data["amount"],
            reason=serializer.validated_data["reason"],
            actor=request.user,
            request_key=request_key,
            actor_label="api",
        )
        if refund_unanswered(outcome.refund):
            code = status.HTTP_202_ACCEPTED  # no answer from Stripe: repeat with the same key
        elif outcome.replayed:
            code = status.HTTP_200_OK
        else:
            code = status.HTTP_201_CREATED
        response = Response(RefundSerializer(outcome.refund).data, status=code)
        if outcome.replayed:
            response["Idempotent-Replayed"] = "true"
        return response
