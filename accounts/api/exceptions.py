"""One JSON error shape for the whole API.

Every error answers ``{"errors": {field: [messages]}, "code": "...", "detail": "..."}``:
field errors under their field names (nested fields joined with dots), other errors under
``non_field_errors``. ``code`` is machine-readable; ``detail`` is for people.
"""

from django.core.exceptions import PermissionDenied
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

from accounts.errors import DomainError

NON_FIELD = "non_field_errors"


def _text(message) -> str:
    """A message as text that encodes: a lone surrogate the client sent (and DRF echoes back,
    as in '"\\ud800" is not a valid choice.') is written as its escape, not a crash."""
    return str(message).encode("utf-8", "backslashreplace").decode("utf-8")


def _flatten(detail, prefix: str = "") -> dict[str, list[str]]:
    """Turn DRF's nested error detail into ``{"a.b": ["message"]}``."""
    if isinstance(detail, dict):
        flat: dict[str, list[str]] = {}
        for key, value in detail.items():
            name = NON_FIELD if key in (NON_FIELD, "detail") and not prefix else _text(key)
            flat.update(_flatten(value, f"{prefix}.{name}" if prefix else name))
        return flat
    if isinstance(detail, list):
        if all(not isinstance(item, (dict, list)) for item in detail):
            return {prefix or NON_FIELD: [_text(item) for item in detail]}
        flat = {}
        for index, item in enumerate(detail):
            if isinstance(item, (dict, list)):
                flat.update(_flatten(item, f"{prefix}.{index}" if prefix else str(index)))
            else:
                flat.setdefault(prefix or NON_FIELD, []).append(_text(item))
        return flat
    return {prefix or NON_FIELD: [_text(detail)]}


def _first_code(codes) -> str:
    while isinstance(codes, (dict, list)):
        if not codes:
            return "invalid"
        codes = next(iter(codes.values())) if isinstance(codes, dict) else codes[0]
    return str(codes)


def api_exception_handler(exc, context):
    if isinstance(exc, DomainError):
        errors = _flatten(exc.details) if exc.details else {NON_FIELD: [_text(exc.message)]}
        return Response(
            {"errors": errors, "code": exc.code, "detail": _text(exc.message)}, status=exc.status
        )
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()

    response = exception_handler(exc, context)
    if response is None:
        return None  # unexpected: let Django log it and answer 500
    if isinstance(exc, exceptions.ValidationError):
        response.data = {
            "errors": _flatten(exc.detail),
            "code": "invalid",
            "detail": "Invalid input.",
        }
        response.status_code = status.HTTP_400_BAD_REQUEST
        return response
    if isinstance(exc, exceptions.APIException):
        detail = exc.detail
        message = _text(detail) if not isinstance(detail, (dict, list)) else "Request failed."
        response.data = {
            "errors": _flatten(detail),
            "code": _first_code(exc.get_codes()),
            "detail": message,
        }
    return response
