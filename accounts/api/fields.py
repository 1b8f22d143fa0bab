"""Serializer fields shared by every app's API.

Input fields here bound what a client may send with the constants of :mod:`accounts.limits`,
so nothing a client types can reach the database or the arithmetic unchecked: codes are slugs
(a NUL byte or a control character never reaches a SQL parameter), dates lie within the
business horizon, text has a length and no control characters.
"""

import re
from datetime import date, datetime
from decimal import Decimal

from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.relations import ManyRelatedField

from accounts import limits

# Codes of catalog rows (GPU models, regions): what ``SlugField`` stores, nothing else.
CODE_PATTERN = r"[-a-zA-Z0-9_]+"
_CODE = re.compile(rf"^{CODE_PATTERN}\Z")
# Control characters: C0 (but tab, line feed and carriage return in multi-line text), DEL, C1.
_CONTROL_SINGLE_LINE = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_CONTROL_MULTI_LINE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def exact_decimal_string(value: Decimal) -> str:
    """``Decimal("4.992000")`` -> ``"4.992"``; never an exponent, never a float."""
    text = format(value.normalize(), "f")
    return text


def is_code(value: object) -> bool:
    """A well-formed catalog code: a short slug (no NUL, no control or non-ASCII character)."""
    return (
        isinstance(value, str)
        and len(value) <= limits.MAX_CODE_LENGTH
        and _CODE.match(value) is not None
    )


@extend_schema_field({"type": "string", "format": "decimal", "example": "4.992"})
class ExactDecimalField(serializers.Field):
    """A read-only exact decimal (P, TFLOPS, rates) as a JSON string without trailing zeros."""

    def __init__(self, **kwargs):
        kwargs["read_only"] = True
        super().__init__(**kwargs)

    def to_representation(self, value: Decimal) -> str:
        return exact_decimal_string(value)


class TextField(serializers.CharField):
    """Free text bounded by a limit, without control characters.

    ``multiline`` allows tab, line feed and carriage return (descriptions, reasons); a
    single-line field (names) allows none. DRF's CharField already refuses NUL bytes and lone
    surrogates; this refuses the other control characters too.
    """

    default_error_messages = {
        "control_characters": "Must not contain control characters.",
    }

    def __init__(self, *, max_length: int, multiline: bool = False, **kwargs):
        self.multiline = multiline
        super().__init__(max_length=max_length, **kwargs)

    def to_internal_value(self, data) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        value = super().to_internal_value(data)
        pattern = _CONTROL_MULTI_LINE if self.multiline else _CONTROL_SINGLE_LINE
        if pattern.search(value):
            self.fail("control_characters")
        return value


class DecimalInput(serializers.DecimalField):
    """A decimal given as a JSON string ("1.5") or a whole JSON number (2); never a float, which
    would have been rounded by the client's JSON before we see it."""

    def to_internal_value(self, data):
        if isinstance(data, bool | float):
            self.fail("invalid")
        return super().to_internal_value(data)


class JsonBooleanField(serializers.BooleanField):
    """``true`` or ``false``: DRF would also take 0, 1, "yes", "on" and the like."""

    def to_internal_value(self, data) -> bool:
        if isinstance(data, bool):
            return data
        self.fail("invalid", input=data)


class CodeRelatedField(serializers.SlugRelatedField):
    """A catalog row named by its ``code``; a malformed code is refused before any query."""

    def __init__(self, **kwargs):
        kwargs.setdefault("slug_field", "code")
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        if not is_code(data):
            self.fail("invalid")
        return super().to_internal_value(data)


class CodeListField(ManyRelatedField):
    """A list of catalog codes (``CodeRelatedField(many=True)``), at most MAX_CODES_PER_LIST."""

    default_error_messages = {
        "max_length": f"At most {limits.MAX_CODES_PER_LIST} codes.",
    }

    def to_internal_value(self, data):
        if not isinstance(data, list):  # DRF takes any iterable: a dict, even {}
            self.fail("not_a_list", input_type=type(data).__name__)
        if len(data) > limits.MAX_CODES_PER_LIST:
            self.fail("max_length")
        return super().to_internal_value(data)


def code_list(*, queryset, **kwargs) -> CodeListField:
    """A list of catalog codes; errors stay under the list's own name, as DRF puts them."""
    return CodeListField(child_relation=CodeRelatedField(queryset=queryset), **kwargs)


def _out_of_horizon(value: date) -> str | None:
    today = timezone.localdate()
    if value < limits.EARLIEST_DATE:
        return f"Must be on or after {limits.EARLIEST_DATE.isoformat()}."
    latest = limits.latest_date(today)
    if value > latest:
        return (
            f"Must be on or before {latest.isoformat()} ({limits.HORIZON_YEARS} years from today)."
        )
    return None


class HorizonDateField(serializers.DateField):
    """A date between ``EARLIEST_DATE`` and ``HORIZON_YEARS`` from today."""

    def to_internal_value(self, value) -> date:
        if not isinstance(value, str | date):
            self.fail("invalid", format="YYYY-MM-DD")
        parsed = super().to_internal_value(value)
        problem = _out_of_horizon(parsed)
        if problem:
            raise serializers.ValidationError(problem, code="horizon")
        return parsed


class HorizonDateTimeField(serializers.DateTimeField):
    """A moment whose local date lies within the horizon (see :class:`HorizonDateField`)."""

    def to_internal_value(self, value) -> datetime:
        if not isinstance(value, str | datetime):
            self.fail("invalid", format="YYYY-MM-DDThh:mm[:ss][+HH:MM]")
        parsed = super().to_internal_value(value)
        local = timezone.localtime(parsed) if timezone.is_aware(parsed) else parsed
        problem = _out_of_horizon(local.date())
        if problem:
            raise serializers.ValidationError(problem, code="horizon")
        return parsed


def price_field(**kwargs) -> serializers.DecimalField:
    """A price per P per year, within what the business allows."""
    from accounts.money import RATE_DECIMAL_PLACES, RATE_MAX_DIGITS

    return DecimalInput(
        max_digits=RATE_MAX_DIGITS,
        decimal_places=RATE_DECIMAL_PLACES,
        min_value=limits.MIN_PRICE_PER_P_YEAR,
        max_value=limits.MAX_PRICE_PER_P_YEAR,
        **kwargs,
    )
