"""How the API reads a request before any view code runs.

- The body is parsed up front on every POST, PUT and PATCH, so malformed JSON (or a media type
  we do not parse) is a 400/415 even on actions that take no input, such as ``.../cancel/``:
  nothing acts on a request it could not read.
- ``?format=`` names a renderer we have, or the request is a 400 naming the choices (DRF
  answers an unknown format with a bare 404).
- A query parameter given without a value (``?status=``, ``?start=``) is a 400: django-filter
  and DRF would quietly treat it as absent, so a client's typo would list everything.
"""

from django.http import Http404
from rest_framework import serializers
from rest_framework.negotiation import DefaultContentNegotiation

BODY_METHODS = {"POST", "PUT", "PATCH"}


class ParseBodyFirstMixin:
    """Mix into every API view: read the body before permissions, throttles and the handler."""

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        if request.method in BODY_METHODS:
            request.data  # noqa: B018 - parsing raises ParseError / UnsupportedMediaType here


def refuse_empty_query_values(request) -> None:
    empty = sorted(
        name for name, values in request.query_params.lists() if any(v == "" for v in values)
    )
    if empty:
        raise serializers.ValidationError(
            {name: ["Give a value, or leave the parameter out."] for name in empty}
        )


class StrictContentNegotiation(DefaultContentNegotiation):
    """Runs first on every API request (DRF negotiates before authenticating)."""

    def select_renderer(self, request, renderers, format_suffix=None):
        refuse_empty_query_values(request)
        return super().select_renderer(request, renderers, format_suffix)

    def filter_renderers(self, renderers, format):
        try:
            return super().filter_renderers(renderers, format)
        except Http404 as exc:
            formats = ", ".join(sorted({renderer.format for renderer in renderers}))
            raise serializers.ValidationError(
                {"format": [f"Unknown format; choose one of: {formats}."]}
            ) from exc
