"""Billing API shapes. Money is a JSON string with two places (``"49920.00"``)."""

from rest_framework import serializers

from accounts.api.fields import DecimalInput, TextField
from accounts.money import FEN, MONEY_DECIMAL_PLACES, MONEY_MAX_DIGITS
from billing.models import CreditNote, Invoice, InvoiceLine, PayoutLine, PayoutStatement


def money(**kwargs) -> serializers.DecimalField:
    return DecimalInput(max_digits=MONEY_MAX_DIGITS, decimal_places=MONEY_DECIMAL_PLACES, **kwargs)


class InvoiceLineSerializer(serializers.ModelSerializer):
    """A line and the dates it covers, ``[period_start, period_end)`` (a contract month)."""

    class Meta:
        model = InvoiceLine
        fields = [
            "kind",
            "description",
            "period_start",
            "period_end",
            "amount",
            "tax_rate",
            "net",
            "tax",
        ]
        read_only_fields = fields


class CreditNoteSerializer(serializers.ModelSerializer):
    class Meta:
        model = CreditNote
        fields = ["id", "number", "amount", "net", "tax", "tax_rate", "reason", "created_at"]
        read_only_fields = fields


class InvoiceSerializer(serializers.ModelSerializer):
    """An invoice: ``subtotal`` (net) + ``tax`` = ``total`` (tax included) = sum of the lines."""

    customer_name = serializers.CharField(source="customer.name", read_only=True)
    lines = InvoiceLineSerializer(many=True, read_only=True)
    credit_notes = CreditNoteSerializer(many=True, read_only=True)
    amount_due = money(read_only=True)

    class Meta:
        model = Invoice
        fields = [
            "id",
            "number",
            "customer",
            "customer_name",
            "contract",
            "period_start",
            "period_end",
            "currency",
            "lines",
            "subtotal",
            "tax",
            "total",
            "amount_paid",
            "amount_due",
            "status",
            "issue_date",
            "due_date",
            "paid_at",
            "credit_notes",
        ]
        read_only_fields = fields


class CreditNoteCreateSerializer(serializers.Serializer):
    amount = money(min_value=FEN, help_text="Tax included, positive: what the customer is owed.")
    reason = TextField(max_length=2000, multiline=True)


class InvoiceExportQuerySerializer(serializers.Serializer):
    status = serializers.ChoiceField(
        choices=Invoice._meta.get_field("status").choices, required=False
    )
    issued_from = serializers.DateField(required=False)
    issued_to = serializers.DateField(required=False)
    customer = serializers.IntegerField(required=False, min_value=1)


class PayoutLineSerializer(serializers.ModelSerializer):
    class Meta:
        model = PayoutLine
        fields = [
            "contract",
            "invoice",
            "description",
            "collected",
            "vat",
            "collected_net_of_vat",
            "commission_base",
            "commission",
            "sla_withheld",
            "payable",
        ]
        read_only_fields = fields


class PayoutStatementSerializer(serializers.ModelSerializer):
    """A provider's month. ``collected`` (tax included) = ``collected_net_of_vat`` + ``vat``;
    ``commission`` = ``commission_rate`` x the ``commission_base`` amount (``net_of_vat``: the
    VAT-exclusive amount collected; ``collected``: tax included); ``payable`` = ``collected`` -
    ``commission`` - ``sla_withheld``. Each amount is the sum of the lines'."""

    provider_name = serializers.CharField(source="provider.name", read_only=True)
    lines = PayoutLineSerializer(many=True, read_only=True)

    class Meta:
        model = PayoutStatement
        fields = [
            "id",
            "provider",
            "provider_name",
            "period_start",
            "period_end",
            "status",
            "collected",
            "vat",
            "collected_net_of_vat",
            "commission_base",
            "commission_rate",
            "commission",
            "sla_withheld",
            "payable",
            "closed_at",
            "lines",
        ]
        read_only_fields = fields
