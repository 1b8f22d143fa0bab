"""Project middleware: trust proxy headers only from our proxies; survive a lost database."""

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from accounts.network import is_trusted_proxy
from config.errors import DATABASE_ERRORS, database_unavailable

# Headers a reverse proxy sets about the original request. From anyone else they are lies.
FORWARDED_HEADERS = (
    "HTTP_X_FORWARDED_PROTO",
    "HTTP_X_FORWARDED_FOR",
    "HTTP_X_FORWARDED_HOST",
    "HTTP_X_FORWARDED_PORT",
    "HTTP_X_REAL_IP",
    "HTTP_FORWARDED",
)


class TrustedProxyMiddleware:
    """Drop forwarding headers unless the direct peer is one of ``settings.TRUSTED_PROXIES``.

    Must come before ``SecurityMiddleware``: otherwise a client sending
    ``X-Forwarded-Proto: https`` over plain HTTP would skip the HTTPS redirect and get secure
    cookies over an insecure channel. Behind a trusted proxy the headers stay, so
    ``SECURE_PROXY_SSL_HEADER`` and ``accounts.network.client_address`` read them.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not is_trusted_proxy(request.META.get("REMOTE_ADDR", "")):
            headers = set(FORWARDED_HEADERS)
            if settings.SECURE_PROXY_SSL_HEADER:
                headers.add(settings.SECURE_PROXY_SSL_HEADER[0])
            for header in headers:
                request.META.pop(header, None)
        return self.get_response(request)


class DatabaseUnavailableMiddleware:
    """A view that loses its database connection answers 503 (see ``config.errors``)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, DATABASE_ERRORS):
            return database_unavailable(request, exception)
        return None
