"""Error answers outside the views: the API's JSON shape for /api/ paths, pages elsewhere.

Django answers a URL that matches nothing, an uncaught exception, or a database that cannot be
reached before any DRF code runs; the API's clients still get ``{"errors", "code", "detail"}``.
"""

import logging
import sys

from django.db import InterfaceError, OperationalError, connections
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template import loader
from django.utils.translation import gettext
from django.views import defaults

logger = logging.getLogger("config.errors")

API_PREFIX = "/api/"
# Seconds a client should wait before retrying after the database was unreachable.
RETRY_AFTER_SECONDS = 5
DATABASE_ERRORS = (OperationalError, InterfaceError)


def is_api(request: HttpRequest) -> bool:
    return request.path.startswith(API_PREFIX)


def api_error(status: int, code: str, detail: str) -> JsonResponse:
    return JsonResponse(
        {"errors": {"non_field_errors": [detail]}, "code": code, "detail": detail}, status=status
    )


def close_broken_connections() -> None:
    """Drop database connections that failed, so the next request opens a fresh one.

    Django does this when a request finishes (``close_old_connections``); doing it here as
    well means even the very next query in this process gets a working connection. A
    connection inside an atomic block is left alone: its owner is still unwinding.
    """
    for connection in connections.all(initialized_only=True):
        if not connection.in_atomic_block:
            connection.close_if_unusable_or_obsolete()


def database_unavailable(request: HttpRequest, exc: Exception) -> HttpResponse:
    """503 for a database that dropped the connection or cannot be reached.

    Whatever the request had written was in a transaction the database never committed, so
    nothing is half-saved: the client can retry as it is.
    """
    logger.error("database unavailable on %s %s: %s", request.method, request.path, exc)
    close_broken_connections()
    if is_api(request):
        response: HttpResponse = api_error(
            503,
            "database_unavailable",
            gettext(
                "The service could not reach its database. Nothing was saved; "
                "try again in a few seconds."
            ),
        )
    else:
        response = HttpResponse(loader.render_to_string("503.html", request=None), status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    if is_api(request):
        return api_error(404, "not_found", gettext("Not found."))
    return defaults.page_not_found(request, exception)


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    if is_api(request):
        return api_error(400, "bad_request", gettext("Bad request."))
    return defaults.bad_request(request, exception)


def permission_denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    if is_api(request):
        return api_error(403, "permission_denied", gettext("Permission denied."))
    return defaults.permission_denied(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    exc = sys.exc_info()[1]
    if isinstance(exc, DATABASE_ERRORS):
        return database_unavailable(request, exc)
    if is_api(request):
        return api_error(500, "server_error", gettext("Server error. It has been logged."))
    return defaults.server_error(request)
