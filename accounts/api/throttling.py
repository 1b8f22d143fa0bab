"""DRF request throttles keyed on the client address that :mod:`accounts.network` trusts.

DRF's own ``get_ident`` believes ``X-Forwarded-For`` according to ``NUM_PROXIES``, a second
notion of "the client" beside ``TRUSTED_PROXIES``; this one has a single source of truth.
"""

from rest_framework.throttling import ScopedRateThrottle

from accounts.network import request_client_address


class ClientAddressScopedRateThrottle(ScopedRateThrottle):
    def get_ident(self, request) -> str:
        return request_client_address(request)
