"""`GET /api/v1/`: an index of the API's entry points."""

from drf_spectacular.utils import extend_schema
from rest_framework.decorators import api_view, permission_classes
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.reverse import reverse

ENTRY_POINTS = {
    "schema": "schema",
    "docs": "swagger-ui",
    "register": "api-register",
    "token": "api-token",  # nosec B105 # a URL name, not a password
    "me": "api-me",
    "organizations": "organization-list",
    "gpu_models": "gpu-model-list",
    "regions": "region-list",
    "clusters": "cluster-list",
    "outages": "outage-list",
    "capacity_requests": "capacity-request-list",
    "quotes": "quote-list",
    "contracts": "contract-list",
    "market": "market",
    "sizing": "sizing",
}


@extend_schema(exclude=True)
@api_view(["GET"])
@permission_classes([AllowAny])
def api_root(request: Request) -> Response:
    return Response(
        {name: reverse(url_name, request=request) for name, url_name in ENTRY_POINTS.items()}
    )
