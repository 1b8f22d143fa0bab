"""Serializer fields shared by every app's API."""

from decimal import Decimal

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers


def exact_decimal_string(value: Decimal) -> str:
    """``Decimal("4.992000")`` -> ``"4.992"``; never an exponent, never a float."""
    text = format(value.normalize(), "f")
    return text


@extend_schema_field({"type": "string", "format": "decimal", "example": "4.992"})
class ExactDecimalField(serializers.Field):
    """A read-only exact decimal (P, TFLOPS, rates) as a JSON string without trailing zeros."""

    def __init__(self, **kwargs):
        kwargs["read_only"] = True
        super().__init__(**kwargs)

    def to_representation(self, value: Decimal) -> str:
        return exact_decimal_string(value)
