"""X-Forwarded-* are believed only from TRUSTED_PROXIES (config.middleware.TrustedProxyMiddleware).

A plain-HTTP request that claims ``X-Forwarded-Proto: https`` from anyone else is redirected to
HTTPS like any plain-HTTP request; from a trusted proxy the claim stands.
"""

import pytest
from django.http import HttpResponse
from django.test import Client, RequestFactory

from config.middleware import FORWARDED_HEADERS, TrustedProxyMiddleware

pytestmark = pytest.mark.django_db

URL = "/api/v1/gpu-models/"
PROXY = "10.0.0.5"
STRANGER = "203.0.113.9"


@pytest.fixture
def https_only(settings):
    settings.SECURE_SSL_REDIRECT = True
    settings.TRUSTED_PROXIES = ["10.0.0.0/24", "192.0.2.7"]
    settings.ALLOWED_HOSTS = ["market.example.cn", "testserver"]


def _get(remote_addr: str, **headers):
    # A new client per request: SecurityMiddleware reads its settings when it is built.
    return Client().get(URL, REMOTE_ADDR=remote_addr, **headers)


def test_forwarded_proto_from_an_untrusted_peer_is_redirected_to_https(https_only):
    response = _get(STRANGER, HTTP_X_FORWARDED_PROTO="https")
    assert response.status_code == 301
    assert response["Location"] == f"https://testserver{URL}"


def test_forwarded_proto_from_a_trusted_proxy_is_believed(https_only):
    response = _get(PROXY, HTTP_X_FORWARDED_PROTO="https")
    assert response.status_code == 200
    assert response.json()  # the catalog


def test_a_single_trusted_address_works_as_well_as_a_network(https_only):
    assert _get("192.0.2.7", HTTP_X_FORWARDED_PROTO="https").status_code == 200
    assert _get("192.0.2.8", HTTP_X_FORWARDED_PROTO="https").status_code == 301


def test_plain_http_through_a_trusted_proxy_is_still_redirected(https_only):
    response = _get(PROXY, HTTP_X_FORWARDED_PROTO="http")
    assert response.status_code == 301


def test_no_proxy_is_trusted_by_default(settings):
    settings.SECURE_SSL_REDIRECT = True
    settings.TRUSTED_PROXIES = []
    assert _get("127.0.0.1", HTTP_X_FORWARDED_PROTO="https").status_code == 301


def test_middleware_runs_before_security_middleware(settings):
    order = settings.MIDDLEWARE
    assert order.index("config.middleware.TrustedProxyMiddleware") < order.index(
        "django.middleware.security.SecurityMiddleware"
    )


@pytest.mark.parametrize("trusted", [True, False])
def test_every_forwarding_header_is_dropped_unless_the_peer_is_trusted(settings, trusted):
    settings.TRUSTED_PROXIES = [PROXY]
    seen = {}

    def view(request):
        seen.update({name: request.META.get(name) for name in FORWARDED_HEADERS})
        return HttpResponse()

    headers = dict.fromkeys(FORWARDED_HEADERS, "https")
    request = RequestFactory().get("/", REMOTE_ADDR=PROXY if trusted else STRANGER, **headers)
    TrustedProxyMiddleware(view)(request)
    expected = "https" if trusted else None
    assert seen == dict.fromkeys(FORWARDED_HEADERS, expected)
