"""Login rate limiting shared by the login page and the token API.

Failed attempts are counted in the cache per (client address, username) and per client address
over a sliding-ish fixed window. Once either count reaches its limit, further attempts are refused
until the window expires, whether or not the password would have been right: that is what stops
password guessing.
"""

import hashlib

from django.conf import settings
from django.core.cache import cache


def _keys(address: str, username: str) -> tuple[str, str]:
    user_digest = hashlib.sha256(username.strip().lower().encode()).hexdigest()[:32]
    return f"login-fail:{address}:{user_digest}", f"login-fail-addr:{address}"


def client_address(meta: dict) -> str:
    """The client's address. Behind a proxy, set the proxy to overwrite REMOTE_ADDR."""
    return meta.get("REMOTE_ADDR") or "unknown"


def login_is_blocked(*, address: str, username: str) -> bool:
    pair_key, address_key = _keys(address, username)
    counts = cache.get_many([pair_key, address_key])
    return (
        counts.get(pair_key, 0) >= settings.LOGIN_RATE_LIMIT_ATTEMPTS
        or counts.get(address_key, 0) >= settings.LOGIN_RATE_LIMIT_PER_ADDRESS
    )


def login_failed(*, address: str, username: str) -> None:
    window = settings.LOGIN_RATE_LIMIT_WINDOW_SECONDS
    for key in _keys(address, username):
        # add() is a no-op when the key exists, so the window starts at the first failure.
        cache.add(key, 0, timeout=window)
        try:
            cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.set(key, 1, timeout=window)


def login_succeeded(*, address: str, username: str) -> None:
    pair_key, _ = _keys(address, username)
    cache.delete(pair_key)
