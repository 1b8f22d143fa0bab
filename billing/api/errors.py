"""The API's error answer, for the schema: ``{"errors": {field: [..]}, "code", "detail"}``."""

from drf_spectacular.utils import OpenApiResponse

from accounts.api.schema import ErrorSerializer


def error(description: str) -> OpenApiResponse:
    return OpenApiResponse(ErrorSerializer, description=description)


UNAUTHENTICATED = error("Not logged in (no or a bad token).")
INVALID = error("Invalid input, per field.")
FORBIDDEN = error("Visible, but not yours to do.")
NOT_FOUND = error("No such object, or another organisation's.")
CONFLICT = error("The object's state does not allow it.")
GATEWAY = error("The payment provider refused or could not be reached.")
