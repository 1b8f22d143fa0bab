"""Query-string filters that refuse what they do not understand (400 with the field named).

django-filter and DRF quietly ignore a garbage boolean (``?is_provider=maybe``) or an unknown
ordering field, and pass a NUL byte in a code straight to the database. These bound every value
with :mod:`accounts.limits` instead; the filter backend and ordering filter here are the
project's defaults (``REST_FRAMEWORK`` in settings).
"""

from django import forms
from django.db import models
from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.filters import OrderingFilter

from accounts import limits
from accounts.api.fields import is_code
from accounts.money import RATE_DECIMAL_PLACES, RATE_MAX_DIGITS

TRUE_VALUES = {"true", "1"}
FALSE_VALUES = {"false", "0"}


class StrictBooleanField(forms.Field):
    """``true``/``false`` (or ``1``/``0``); anything else is an error, not "no filter"."""

    def to_python(self, value):
        if value in (None, ""):
            return None
        text = str(value).lower()
        if text in TRUE_VALUES:
            return True
        if text in FALSE_VALUES:
            return False
        raise forms.ValidationError("Must be true or false.", code="invalid")

    def validate(self, value):
        if value is None and self.required:
            raise forms.ValidationError(self.error_messages["required"], code="required")


class StrictBooleanFilter(filters.BooleanFilter):
    field_class = StrictBooleanField

    def __init__(self, *args, **kwargs):
        # django-filter's BooleanWidget turns unknown values into None; read the raw text.
        kwargs["widget"] = forms.TextInput
        super().__init__(*args, **kwargs)


class CodeListField(forms.CharField):
    """Comma-separated catalog codes, each a well-formed slug, at most MAX_CODES_PER_LIST."""

    def clean(self, value):
        value = super().clean(value)
        if value in (None, ""):
            return None
        codes = [code.strip() for code in value.split(",")]
        if len(codes) > limits.MAX_CODES_PER_LIST:
            raise forms.ValidationError(
                f"At most {limits.MAX_CODES_PER_LIST} codes.", code="max_length"
            )
        if not all(is_code(code) for code in codes):
            raise forms.ValidationError(
                "Codes are letters, digits, '-' and '_', separated by commas.", code="invalid"
            )
        return codes


_CODE = rf"[-a-zA-Z0-9_]{{1,{limits.MAX_CODE_LENGTH}}}"


@extend_schema_field(
    {
        "type": "string",
        "pattern": rf"^{_CODE}(?:,{_CODE}){{0,{limits.MAX_CODES_PER_LIST - 1}}}$",
    }
)
class CodeInFilter(filters.CharFilter):
    """``?gpu_model=A800-80G,H800-80G``: rows whose code is one of these."""

    field_class = CodeListField

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("lookup_expr", "in")
        super().__init__(*args, **kwargs)


@extend_schema_field({"type": "integer", "minimum": 1, "maximum": limits.MAX_ID})
class IdFilter(filters.NumberFilter):
    """An object id: a whole number within PostgreSQL's bigint."""

    field_class = forms.IntegerField

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", limits.MAX_ID)
        super().__init__(*args, **kwargs)


@extend_schema_field(
    {
        "type": "string",
        "format": "decimal",
        "pattern": rf"^[0-9]{{1,{len(str(int(limits.MAX_PRICE_PER_P_YEAR))) - 1}}}"
        rf"(?:\.[0-9]{{1,{RATE_DECIMAL_PLACES}}})?$",
    }
)
class PriceFilter(filters.NumberFilter):
    """A price per P per year, bounded like the prices clients may set."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("min_value", 0)
        kwargs.setdefault("max_value", limits.MAX_PRICE_PER_P_YEAR)
        kwargs.setdefault("max_digits", RATE_MAX_DIGITS)
        kwargs.setdefault("decimal_places", RATE_DECIMAL_PLACES)
        super().__init__(*args, **kwargs)


def price_filter(**kwargs) -> PriceFilter:
    return PriceFilter(**kwargs)


class StrictFilterSet(filters.FilterSet):
    """The base of every filter set: booleans are strict; a related object is named by its id
    (an id that matches nothing filters to nothing, as any other value would)."""

    FILTER_DEFAULTS = {
        **filters.FilterSet.FILTER_DEFAULTS,
        models.ForeignKey: {"filter_class": IdFilter},
        models.OneToOneField: {"filter_class": IdFilter},
        models.BooleanField: {"filter_class": StrictBooleanFilter},
        models.NullBooleanField: {"filter_class": StrictBooleanFilter},
    }


class StrictFilterBackend(filters.DjangoFilterBackend):
    """``filterset_fields`` build on :class:`StrictFilterSet`; errors are 400s."""

    filterset_base = StrictFilterSet
    raise_exception = True


class StrictOrderingFilter(OrderingFilter):
    """``?ordering=`` with a field the view does not offer is a 400 naming the choices."""

    def get_ordering(self, request, queryset, view):
        params = request.query_params.get(self.ordering_param)
        if params:
            fields = [param.strip() for param in params.split(",")]
            valid = self.remove_invalid_fields(queryset, fields, view, request)
            if len(valid) != len(fields):
                offered = sorted(
                    item[0] for item in self.get_valid_fields(queryset, view, {"request": request})
                )
                choices = ", ".join(offered) if offered else "none"
                raise serializers.ValidationError(
                    {self.ordering_param: [f"Order by one of: {choices} (prefix - to reverse)."]}
                )
            return valid
        return self.get_default_ordering(view)

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        serializer_class = getattr(view, "get_serializer_class", lambda: None)()
        model = getattr(getattr(serializer_class, "Meta", None), "model", None)
        if model is None:
            return parameters
        offered = sorted(
            item[0] for item in self.get_valid_fields(model._default_manager.none(), view, {})
        )
        for parameter in parameters:
            if parameter["name"] == self.ordering_param and offered:
                choices = [choice for name in offered for choice in (name, f"-{name}")]
                parameter["schema"] = {"type": "string", "enum": choices}
                parameter["description"] = "Order by one field (prefix - to reverse)."
        return parameters
