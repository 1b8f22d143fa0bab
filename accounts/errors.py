"""Domain errors shared by every app. The API turns them into JSON with a machine code."""


class DomainError(Exception):
    """A business rule refused an action. ``status`` is the HTTP status the API answers with."""

    code = "domain_error"
    status = 409

    def __init__(self, message: str, *, code: str | None = None, details: dict | None = None):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.details = details or {}


class InvalidInput(DomainError):
    """Input that passed the serializer but breaks a business rule, tied to a field."""

    code = "invalid"
    status = 400

    def __init__(self, field: str, message: str):
        super().__init__(message, details={field: [message]})
        self.field = field


class PermissionDeniedError(DomainError):
    code = "permission_denied"
    status = 403
