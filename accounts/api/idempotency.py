"""``Idempotency-Key`` for POSTs with money or capacity effects (as in API.md).

The first request with a key runs inside a transaction that also stores its response; a
repeat with the same key replays that response without running again. Two concurrent first
requests with the same key serialise on the unique index: the second blocks until the first
commits, then replays its response. A key reused with a different body is a 422. A key that
is longer than ``limits.MAX_IDEMPOTENCY_KEY_LENGTH`` or not printable ASCII is a 400.
"""

import functools
import hashlib
import json
import re

from django.db import IntegrityError, transaction
from rest_framework.response import Response

from accounts import limits
from accounts.errors import DomainError, InvalidInput
from accounts.models import IdempotencyRecord

HEADER = "HTTP_IDEMPOTENCY_KEY"
MAX_KEY_LENGTH = limits.MAX_IDEMPOTENCY_KEY_LENGTH
_PRINTABLE_ASCII = re.compile(r"^[\x20-\x7e]+\Z")


class IdempotencyKeyReused(DomainError):
    code = "idempotency_key_reused"
    status = 422


def _fingerprint(request) -> str:
    body = json.dumps(request.data, sort_keys=True, default=str) if request.data else ""
    return hashlib.sha256(body.encode()).hexdigest()


def _replay(record: IdempotencyRecord, fingerprint: str) -> Response:
    if record.request_fingerprint != fingerprint:
        raise IdempotencyKeyReused(
            "This Idempotency-Key was used with a different request body.",
            details={"idempotency_key": ["Already used with a different request body."]},
        )
    response = Response(record.response_body, status=record.response_status)
    response["Idempotent-Replayed"] = "true"
    return response


def idempotent(view_method):
    """Decorate a DRF view method (``self, request, ...``) to honour ``Idempotency-Key``.

    Only successful (2xx) responses are stored; an error leaves no record, so the client may
    retry the same key once the cause is fixed.
    """

    @functools.wraps(view_method)
    def wrapper(self, request, *args, **kwargs):
        key = request.META.get(HEADER, "").strip()
        if not key:
            return view_method(self, request, *args, **kwargs)
        if len(key) > MAX_KEY_LENGTH:
            raise InvalidInput("idempotency_key", f"At most {MAX_KEY_LENGTH} characters.")
        if not _PRINTABLE_ASCII.match(key):
            raise InvalidInput(
                "idempotency_key", "Use printable ASCII characters only (e.g. a UUID)."
            )
        scope = f"{request.method} {request.path}"
        fingerprint = _fingerprint(request)
        existing = IdempotencyRecord.objects.filter(
            user=request.user, scope=scope, key=key, response_status__isnull=False
        ).first()
        if existing is not None:
            return _replay(existing, fingerprint)
        try:
            with transaction.atomic():
                # Claim the key first: a concurrent twin blocks here until we commit or roll back.
                record = IdempotencyRecord.objects.create(
                    user=request.user, scope=scope, key=key, request_fingerprint=fingerprint
                )
                response = view_method(self, request, *args, **kwargs)
                if not 200 <= response.status_code < 300:
                    transaction.set_rollback(True)
                    return response
                record.response_status = response.status_code
                record.response_body = json.loads(json.dumps(response.data, default=str))
                record.save(update_fields=["response_status", "response_body"])
                return response
        except IntegrityError:
            record = IdempotencyRecord.objects.get(user=request.user, scope=scope, key=key)
            return _replay(record, fingerprint)

    return wrapper
