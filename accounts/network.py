"""Who is on the other end of a request: the client address, trusting proxies only by setting.

``X-Forwarded-For`` and ``X-Forwarded-Proto`` can be sent by anyone; they are believed only when
the direct peer (``REMOTE_ADDR``) is one of ``settings.TRUSTED_PROXIES`` (addresses or CIDR
networks). Behind such proxies the client is the right-most address in ``X-Forwarded-For`` that is
not itself a trusted proxy.
"""

import ipaddress
from collections.abc import Iterable, Mapping
from functools import lru_cache

from django.conf import settings

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=8)
def _networks(entries: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(entry.strip(), strict=False) for entry in entries if entry)


def _parse(address: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(address.strip())
    except ValueError:
        return None


def is_trusted_proxy(address: str, proxies: Iterable[str] | None = None) -> bool:
    parsed = _parse(address or "")
    if parsed is None:
        return False
    entries = tuple(settings.TRUSTED_PROXIES if proxies is None else proxies)
    return any(parsed in network for network in _networks(entries))


def client_address(meta: Mapping[str, str], proxies: Iterable[str] | None = None) -> str:
    """The client's address for rate limits and logs (``request.META`` in, a string out)."""
    peer = meta.get("REMOTE_ADDR", "") or ""
    if not is_trusted_proxy(peer, proxies):
        return peer
    hops = [hop.strip() for hop in meta.get("HTTP_X_FORWARDED_FOR", "").split(",") if hop.strip()]
    for hop in reversed(hops):
        if _parse(hop) is None:
            return peer  # a malformed chain: fall back to the proxy itself
        if not is_trusted_proxy(hop, proxies):
            return hop
    return hops[0] if hops else peer


def request_client_address(request) -> str:
    """:func:`client_address` of a Django (or DRF) request; django-axes calls this."""
    return client_address(request.META)
