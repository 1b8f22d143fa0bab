"""The OpenAPI schema tells the truth about errors, on every operation, unasked.

:class:`StandardAutoSchema` (``REST_FRAMEWORK["DEFAULT_SCHEMA_CLASS"]``) adds the error answers an
operation can give, each in the API's one error shape (:mod:`accounts.api.exceptions`), unless the
view documents that status itself with ``extend_schema(responses=...)``:

- **400** on writes (a body that is not valid) and wherever query parameters are validated
  (filters, ordering, pagination, query serializers);
- **401** wherever credentials are read: a missing or bad token (an endpoint open to anyone still
  refuses a token that is not valid);
- **403** where a permission beyond "logged in" applies, on every write by a logged-in client
  (the object's owner decides), and on a detail route's own actions;
- **404** on detail routes (another organisation's object is not found) and on paginated lists
  (a page past the last);
- **409** on writes: a business rule refusing the action in the object's present state
  (:class:`accounts.errors.DomainError`), or an ``Idempotency-Key`` reused for another request;
- **429** where the view is throttled (sign-up and token; django-axes' login lockout);
- **503** everywhere: the database could not be reached (``config.middleware``); nothing saved.

A new endpoint gets these without anything written for it; the rules here read the view's own
authentication, permission, throttle, pagination and filter settings.
"""

import math
from datetime import date
from decimal import Decimal

from django.utils import timezone
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiResponse
from rest_framework import permissions, serializers

from accounts import limits
from accounts.api.fields import DecimalInput, HorizonDateField, HorizonDateTimeField, TextField

JSON = "application/json"
UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
# Permission classes that only ask "anyone?" or "logged in?": they refuse with 401, never 403.
LOGIN_ONLY = (permissions.AllowAny, permissions.IsAuthenticated)


class ErrorSerializer(serializers.Serializer):
    """``{"errors": {field: [messages]}, "code": "...", "detail": "..."}``."""

    errors = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        help_text="Messages per field (nested fields joined with dots); other errors under "
        "`non_field_errors`.",
    )
    code = serializers.CharField(help_text="Machine-readable reason, e.g. `invalid`, `not_found`.")
    detail = serializers.CharField(help_text="The reason in words, for people.")


DESCRIPTIONS = {
    400: "Invalid input: the fields at fault under `errors`. Nothing was written.",
    401: "Not authenticated: credentials missing or not valid.",
    403: "Forbidden: the object is visible but this action is not allowed to you.",
    404: "Not found (or belongs to another organisation); a page past the last one.",
    409: "Conflict: refused in the object's present state, or the Idempotency-Key was used "
    "for another request. Nothing was written.",
    429: "Too many requests: retry after the time in the `Retry-After` header.",
    503: "The database could not be reached. Nothing was saved; retry after `Retry-After`.",
}


# --- input rules the fields enforce, as JSON Schema ------------------------------------------
# Not a control character (C0, DEL, C1); a multi-line text also allows tab, LF and CR.
_NO_CONTROL = "\\u0000-\\u001f\\u007f-\\u009f"
_NO_CONTROL_MULTI = "\\u0000-\\u0008\\u000b\\u000c\\u000e-\\u001f\\u007f-\\u009f"
# Month and day of a real date (29 February left out: the schema is stricter there, never looser).
_MONTH_DAY = (
    "(?:(?:0[1-9]|1[0-2])-(?:0[1-9]|1[0-9]|2[0-8])"
    "|(?:0[13-9]|1[0-2])-(?:29|30)|(?:0[13578]|1[02])-31)"
)
_TIME = (
    "T(?:[01][0-9]|2[0-3]):[0-5][0-9](?::[0-5][0-9](?:\\.[0-9]{1,6})?)?"
    "(?:Z|[+-](?:0[0-9]|1[0-4]):[0-5][0-9])"
)


def _years(first: int, last: int) -> str:
    return "(?:" + "|".join(str(year) for year in range(first, last + 1)) + ")"


def horizon_date_pattern(today: date | None = None, *, with_time: bool = False) -> str:
    """ISO dates within the horizon (``accounts.limits``): whole years from EARLIEST_DATE's year
    to the last year wholly inside it. A moment starts a year later (a time zone offset moves
    its local date across the first day)."""
    today = today or timezone.localdate()
    first = limits.EARLIEST_DATE.year + (1 if with_time else 0)
    last = limits.latest_date(today).year - 1
    return f"^{_years(first, last)}-{_MONTH_DAY}{_TIME if with_time else ''}$"


def _decimal_pattern(field: serializers.DecimalField) -> str | None:
    """The decimal strings the field accepts, where its bounds can be written as a pattern:
    no sign unless negatives are allowed; as many integer digits as the maximum allows."""
    places = field.decimal_places
    fraction = f"(?:\\.[0-9]{{1,{places}}})?" if places else ""
    maximum = field.max_value
    digits = (field.max_digits or 30) - (places or 0)
    if maximum is not None:
        whole = int(maximum)
        digits = len(str(whole)) if 10 ** len(str(whole)) - 1 <= maximum else len(str(whole)) - 1
        if digits < 1:
            return None  # below 10 (a rate up to 1): the server's 400 names the bound
    minimum = field.min_value
    if minimum is None:
        return f"^-?[0-9]{{1,{digits}}}{fraction}$"
    if minimum == 0:
        return f"^[0-9]{{1,{digits}}}{fraction}$"
    positive = f"[1-9][0-9]{{0,{digits - 1}}}{fraction}"
    if minimum == 1:
        return f"^{positive}$"
    exponent = -minimum.normalize().as_tuple().exponent  # 0.01 -> 2
    if 0 < minimum < 1 and minimum == Decimal(1).scaleb(-exponent) and exponent <= places:
        small = f"0\\.[0-9]{{0,{exponent - 1}}}[1-9][0-9]{{0,{places - exponent}}}"
        return f"^(?:{positive}|{small})$"
    return None  # a bound a pattern cannot say simply: the server's 400 names it


_STRING_KEYS = ("type", "format", "pattern", "maxLength", "minLength")


def _also_whole_numbers(field: serializers.DecimalField, schema: dict) -> None:
    """A decimal input also takes a whole JSON number (``DecimalInput``): say so, bounded."""
    digits = (field.max_digits or 30) - (field.decimal_places or 0)
    whole: dict = {"type": "integer", "maximum": 10**digits - 1}
    if field.max_value is not None:
        whole["maximum"] = min(whole["maximum"], math.floor(field.max_value))
    whole["minimum"] = -whole["maximum"] if field.min_value is None else math.ceil(field.min_value)
    text = {key: schema.pop(key) for key in _STRING_KEYS if key in schema}
    schema["oneOf"] = [text, whole]


def refine_field_schema(field, schema: dict) -> None:
    """Write into ``schema`` what the field checks and spectacular cannot see."""
    if isinstance(field, TextField):
        allowed = _NO_CONTROL_MULTI if field.multiline else _NO_CONTROL
        if field.allow_blank or not field.trim_whitespace:
            schema["pattern"] = f"^[^{allowed}]*$"
        else:  # trimmed, then must not be blank: at least one visible character
            schema["pattern"] = f"^[^{allowed}]*[^\\s{allowed}][^{allowed}]*$"
    elif isinstance(field, HorizonDateTimeField):
        schema.pop("format", None)
        schema["pattern"] = horizon_date_pattern(with_time=True)
    elif isinstance(field, HorizonDateField):
        schema.pop("format", None)
        schema["pattern"] = horizon_date_pattern()
    elif isinstance(field, serializers.DecimalField) and schema.get("type") == "string":
        pattern = _decimal_pattern(field)
        if pattern:
            schema["pattern"] = pattern
        if isinstance(field, DecimalInput):
            _also_whole_numbers(field, schema)
    elif isinstance(field, serializers.ListField | serializers.ManyRelatedField) and not (
        field.allow_empty
    ):
        schema["minItems"] = max(schema.get("minItems", 0), 1)


def _may_be_blank(field) -> bool:
    if getattr(field, "allow_blank", False):
        return True
    model = getattr(getattr(field.parent, "Meta", None), "model", None)
    try:
        return bool(model and model._meta.get_field(field.source).blank)
    except Exception:  # not a model field (a method, a nested source): as declared
        return False


class StandardAutoSchema(AutoSchema):
    def _map_serializer_field(self, field, direction, bypass_extensions=False):
        schema = super()._map_serializer_field(field, direction, bypass_extensions)
        if not isinstance(schema, dict) or "$ref" in schema:
            return schema
        if direction == "request":
            refine_field_schema(field, schema)
        return schema

    def _insert_field_validators(self, field, schema):
        super()._insert_field_validators(field, schema)
        if schema.get("readOnly") and schema.get("format") == "email" and _may_be_blank(field):
            schema.pop("format")  # an optional address reads back as ""

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        if direction != "response":
            return responses
        for status in self.error_statuses():
            responses.setdefault(
                str(status),
                self._get_response_for_code(
                    OpenApiResponse(ErrorSerializer, description=DESCRIPTIONS[status]),
                    str(status),
                    media_types=[JSON],
                ),
            )
        return responses

    # --- which statuses ------------------------------------------------------------------
    def error_statuses(self) -> list[int]:
        statuses = []
        write = self.method in UNSAFE
        if write or self._validates_query():
            statuses.append(400)
        if self._reads_credentials():
            statuses.append(401)
        if self._can_forbid(write):
            statuses.append(403)
        if self._is_detail_route() or self._is_paginated():
            statuses.append(404)
        if write:
            statuses.append(409)
        if self._is_throttled():
            statuses.append(429)
        statuses.append(503)
        return statuses

    def _reads_credentials(self) -> bool:
        return bool(self.view.get_authenticators())

    def _permissions(self) -> list:
        return list(self.view.get_permissions())

    def _requires_login(self) -> bool:
        return not all(isinstance(p, permissions.AllowAny) for p in self._permissions())

    def _can_forbid(self, write: bool) -> bool:
        if not self._reads_credentials():
            return False
        if any(not isinstance(p, LOGIN_ONLY) for p in self._permissions()):
            return True
        if write and self._requires_login():
            return True
        # A detail route's own action (``/clusters/{id}/allocations/``) may be the owner's only.
        return self._is_detail_route() and self._is_extra_action()

    def _is_extra_action(self) -> bool:
        handler = getattr(self.view, getattr(self.view, "action", None) or "", None)
        return hasattr(handler, "mapping")

    def _is_detail_route(self) -> bool:
        return "{" in self.path

    def _is_paginated(self) -> bool:
        return self.method == "GET" and self._is_list_view() and self._get_paginator() is not None

    def _validates_query(self) -> bool:
        return any(parameter.get("in") == "query" for parameter in self._get_parameters())

    def _is_throttled(self) -> bool:
        return bool(self.view.get_throttles())
