"""Payment endpoints: pay an invoice by card, record a bank transfer, receive Stripe webhooks.
Thin: validate, call one service, render."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api.fields import DecimalInput, TextField
from accounts.api.idempotency import HEADER, MAX_KEY_LENGTH, idempotent
from accounts.api.permissions import IsPlatformAdmin
from accounts.errors import DomainError
from accounts.money import FEN, MONEY_DECIMAL_PLACES, MONEY_MAX_DIGITS
from accounts.selectors import scope_to_organization
from billing.models import IN_FLIGHT, Invoice, Payment
from billing.payments.charges import invoice_pay
from billing.payments.transfers import bank_transfer_record
from billing.payments.webhooks import webhook_receive

IDEMPOTENCY_PARAMETER = OpenApiParameter(
    "Idempotency-Key",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    description="Repeat a request safely: the same key returns the first result.",
)


def _money(**kwargs) -> serializers.DecimalField:
    return DecimalInput(max_digits=MONEY_MAX_DIGITS, decimal_places=MONEY_DECIMAL_PLACES, **kwargs)


class PaymentSerializer(serializers.ModelSerializer):
    class Meta:
        model = Payment
        fields = [
            "id",
            "invoice",
            "gateway",
            "amount",
            "status",
            "attempt",
            "external_id",
            "reference",
            "failure_code",
            "failure_message",
            "amount_refunded",
            "created_at",
        ]
        read_only_fields = fields


class InvoicePaymentStateSerializer(serializers.ModelSerializer):
    amount_due = _money(read_only=True)

    class Meta:
        model = Invoice
        fields = ["id", "number", "status", "total", "amount_paid", "amount_due", "currency"]
        read_only_fields = fields


class PaymentResultSerializer(serializers.Serializer):
    payment = PaymentSerializer()
    invoice = InvoicePaymentStateSerializer()
    to_balance = _money(help_text="Received beyond what the invoice owed: credited to the balance.")


class MarkPaidSerializer(serializers.Serializer):
    amount = _money(min_value=FEN)
    reference = TextField(max_length=200, help_text="The bank transfer reference.")


class WebhookAckSerializer(serializers.Serializer):
    event = serializers.CharField()
    duplicate = serializers.BooleanField()


def _result(payment: Payment, invoice: Invoice, to_balance=0) -> dict:
    return PaymentResultSerializer(
        {"payment": payment, "invoice": invoice, "to_balance": to_balance}
    ).data


class InvoicePayView(APIView):
    """Charge the card on file for what the invoice still owes (customers: own invoices)."""

    permission_classes = [IsAuthenticated]

    @extend_schema(
        request=None,
        parameters=[IDEMPOTENCY_PARAMETER],
        responses={
            200: PaymentResultSerializer,
            201: PaymentResultSerializer,
            202: PaymentResultSerializer,
        },
    )
    def post(self, request, pk: int):
        invoices = scope_to_organization(
            Invoice.objects.all(), user=request.user, org_field="customer"
        )
        invoice = get_object_or_404(invoices, pk=pk)
        request_key = request.META.get(HEADER, "").strip()
        if len(request_key) > MAX_KEY_LENGTH:
            raise DomainError(
                "Idempotency-Key is too long.",
                code="invalid",
                details={"idempotency_key": [f"At most {MAX_KEY_LENGTH} characters."]},
            )
        result = invoice_pay(invoice=invoice, user=request.user, request_key=request_key)
        invoice.refresh_from_db()
        if result.replayed:
            code = status.HTTP_200_OK
        elif result.payment.status in IN_FLIGHT:
            code = status.HTTP_202_ACCEPTED  # outcome unknown: settled by reconciliation
        else:
            code = status.HTTP_201_CREATED  # succeeded, or failed (see payment.failure_code)
        response = Response(_result(result.payment, invoice), status=code)
        if result.replayed:
            response["Idempotent-Replayed"] = "true"
        return response


class InvoiceMarkPaidView(APIView):
    """Staff: record a bank transfer received for an invoice."""

    permission_classes = [IsAuthenticated, IsPlatformAdmin]

    @extend_schema(
        request=MarkPaidSerializer,
        parameters=[IDEMPOTENCY_PARAMETER],
        responses={201: PaymentResultSerializer},
    )
    @idempotent
    def post(self, request, pk: int):
        serializer = MarkPaidSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        invoice = get_object_or_404(Invoice, pk=pk)
        result = bank_transfer_record(
            invoice=invoice,
            amount=serializer.validated_data["amount"],
            reference=serializer.validated_data["reference"],
            actor=request.user,
            actor_label="api",
        )
        return Response(
            _result(result.payment, result.invoice, result.to_balance),
            status=status.HTTP_201_CREATED,
        )


class StripeWebhookView(APIView):
    """Signed Stripe events. No session or token: the signature is the authentication."""

    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(
        request={"application/json": OpenApiTypes.OBJECT},
        parameters=[
            OpenApiParameter(
                "Stripe-Signature",
                OpenApiTypes.STR,
                OpenApiParameter.HEADER,
                required=True,
                description="Stripe's signature of the payload (checked against the secret).",
            )
        ],
        responses={200: WebhookAckSerializer},
        auth=[],
    )
    def post(self, request):
        result = webhook_receive(
            payload=request.body, signature=request.META.get("HTTP_STRIPE_SIGNATURE")
        )
        return Response({"event": result.event_id, "duplicate": result.duplicate})
