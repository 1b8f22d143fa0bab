"""A read cache for the busiest reads: rendered answers kept under a data version.

Searches, the market, a customer's contracts and invoices and the public pages are read far
more often than anything changes; rendering them costs 6-20 ms of CPU each, a cached copy well
under one. What keeps a cached copy truthful:

- **The data version.** Every SQL statement that writes (anything but a read, except writes to
  ``IGNORED_TABLES``) bumps one counter in the cache: a write outside a transaction at once; a
  transaction when it commits (``transaction.on_commit``), and also at the write when its own
  thread has used the cache since (only that thread sees the write before the commit, and a
  test's transaction never commits). Every key holds the version, so a write anywhere retires
  every cached copy at once. Writes through Django's ORM or its cursors
  are all seen (an execute wrapper on every connection); nothing in the project writes around
  them.
- **Who asks and how.** A key holds the user (API answers are per user; pages are cached only
  for anonymous visitors), the language, the media type, the full path with its query and
  today's date (statuses and free capacity count from today).
- **A short life.** Copies expire after ``READ_CACHE_SECONDS`` (default 5 s), which bounds what
  no write announces: a quote's hold that lapses by the clock, and a bump lost while Redis
  was unreachable.

Authentication, permissions and throttles run before the cache is asked, on every request. With
Redis (``REDIS_URL``) the version and copies are shared by every process, Celery workers
included; on the embedded default they live in the process (which is the only one). While the
cache is unreachable, nothing is cached and everything is computed.
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
from collections.abc import Callable
from functools import wraps

from django.conf import settings
from django.core.cache import cache
from django.db import connection as db_connection
from django.db import transaction
from django.db.backends.signals import connection_created
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.utils import timezone, translation

logger = logging.getLogger("accounts.readcache")

VERSION_KEY = "readcache:version"
# Writes that change nothing a cached answer shows: sessions and login-attempt bookkeeping.
IGNORED_TABLES = frozenset({"django_session", "axes_accessattempt", "axes_accesslog"})
_READS = ("SELECT", "SAVEPOINT", "RELEASE", "ROLLBACK", "SET", "SHOW", "BEGIN", "COMMIT", "PRAGMA")
_TABLE = re.compile(r'^\s*(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+"?([A-Za-z0-9_]+)"?', re.I)
_WRITES_IN_CTE = re.compile(r'\b(?:INSERT\s+INTO|UPDATE\s+"?\w+"?\s+SET|DELETE\s+FROM)\b', re.I)
_CSRF_INPUT = re.compile(rb'name="csrfmiddlewaretoken" value="([A-Za-z0-9]+)"')
_CSRF_PLACEHOLDER = b"\x00per-visitor-token\x00"


def enabled() -> bool:
    return getattr(settings, "READ_CACHE_SECONDS", 5) > 0


# --- The data version -----------------------------------------------------------------------
# While the cache cannot be reached, the read cache stands aside for a few seconds instead of
# waiting on a timeout for every request and every write (per process).
PAUSE_SECONDS = 5.0
_paused_until = [0.0]


def _pause(exc: object) -> None:
    # At least a copy's life: copies made before the failure have expired when it ends, so a
    # write whose bump was skipped meanwhile cannot be hidden by one.
    seconds = max(PAUSE_SECONDS, settings.READ_CACHE_SECONDS)
    if time.monotonic() >= _paused_until[0]:
        logger.warning("read cache unavailable for %s s: %s", seconds, exc)
    _paused_until[0] = time.monotonic() + seconds


def _paused() -> bool:
    return time.monotonic() < _paused_until[0]


def current_version() -> int | None:
    """The data version, or None while the cache cannot be reached (then nothing is cached)."""
    if _paused():
        return None
    try:
        version = cache.get(VERSION_KEY)
        if version is None:
            # First use, or the key was evicted: start above any earlier value (copies made
            # under an earlier count must not match again).
            cache.add(VERSION_KEY, time.time_ns(), timeout=None)
            version = cache.get(VERSION_KEY)
    except Exception as exc:  # the cache is an accelerator, never a failure
        _pause(exc)
        return None
    if version is None:  # the resilient cache answered "not cached": it is unreachable
        _pause("no answer")
    return version


def bump() -> None:
    """Retire every cached copy (a write happened). Never raises: a bump lost while the cache
    is unreachable is bounded by the copies' short life."""
    if _paused():
        return
    try:
        cache.incr(VERSION_KEY)
    except ValueError:  # no version yet: nothing was cached under one
        current_version()
    except Exception as exc:
        _pause(exc)


def is_write(sql: str) -> bool:
    head = sql.lstrip()[:9].upper()
    if head.startswith(_READS):
        return False
    if head.startswith("WITH"):  # a read, unless one of its parts writes
        return bool(_WRITES_IN_CTE.search(sql))
    match = _TABLE.match(sql)
    return not (match and match.group(1).lower() in IGNORED_TABLES)


def _bump_after_commit() -> None:
    bump()


def _watch_writes(execute, sql, params, many, context):
    result = execute(sql, params, many, context)
    if not isinstance(sql, str) or not is_write(sql):
        return result
    connection = context["connection"]
    if not connection.in_atomic_block:
        bump()  # autocommit: the write is already committed
        return result
    # In a transaction, only this connection's thread sees the write before it commits: bump
    # now if this thread used the cache since its last write (tests never commit), and once
    # more on commit, for everyone else. A callback still pending covers the commit.
    if getattr(connection, "_readcache_used", False):
        connection._readcache_used = False
        bump()
    pending = getattr(connection, "_readcache_callback", None)
    if pending is None or all(entry[1] is not pending for entry in connection.run_on_commit):

        def callback() -> None:
            _bump_after_commit()

        connection._readcache_callback = callback
        transaction.on_commit(callback, using=connection.alias, robust=True)
    return result


def _install(sender, connection, **kwargs) -> None:
    if _watch_writes not in connection.execute_wrappers:
        connection.execute_wrappers.append(_watch_writes)


def install() -> None:
    """Watch every database connection's writes (called from ``AccountsConfig.ready``)."""
    connection_created.connect(_install, dispatch_uid="accounts.readcache")
    from django.db import connections

    for connection in connections.all(initialized_only=True):
        _install(None, connection)


# --- Keys and copies ------------------------------------------------------------------------
def _key(kind: str, request: HttpRequest, *parts: object) -> str | None:
    version = current_version()
    if version is None:
        return None
    db_connection._readcache_used = True  # a write in this thread's transaction bumps at once
    user = getattr(request, "user", None)
    user_id = user.pk if user is not None and user.is_authenticated else 0
    raw = "\x1f".join(
        str(part)
        for part in (
            version,
            timezone.localdate().isoformat(),
            user_id,
            translation.get_language(),
            request.get_full_path(),
            *parts,
        )
    )
    return f"readcache:{kind}:{hashlib.sha256(raw.encode()).hexdigest()}"


def _get(key: str):
    try:
        return cache.get(key)
    except Exception:
        return None


def _set(key: str, value) -> None:
    try:
        cache.set(key, value, timeout=settings.READ_CACHE_SECONDS)
    except Exception as exc:
        logger.warning("read cache not written: %s", exc)


# --- API answers ----------------------------------------------------------------------------
class CachedReadMixin:
    """Mix into a DRF view: its ``cached_actions`` (``"list"``, ``"retrieve"``; ``"get"`` on an
    APIView) answer from the read cache. Runs after authentication, permissions and throttles;
    only JSON 200 answers are kept."""

    cached_actions: frozenset[str] = frozenset({"list", "retrieve", "get"})

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        action = getattr(self, "action", None) or request.method.lower()
        if (
            request.method == "GET"
            and action in self.cached_actions
            and enabled()
            and getattr(request.accepted_renderer, "format", None) == "json"
        ):
            handler = getattr(self, "get", None)  # None: GET is not mapped here (a 405)
            if handler is not None:
                self.get = lambda *a, **kw: self._answer_cached(request, handler, a, kw)

    def _answer_cached(self, request, handler, args, kwargs):
        key = _key("api", request, request.accepted_media_type)
        if key is not None:
            hit = _get(key)
            if hit is not None:
                body, content_type = hit
                return HttpResponse(body, content_type=content_type)
        response = handler(*args, **kwargs)
        renders_later = hasattr(response, "add_post_render_callback")
        if key is not None and response.status_code == 200 and renders_later:
            response.add_post_render_callback(
                lambda rendered: _set(key, (rendered.content, rendered["Content-Type"]))
            )
        return response


# --- Public pages ---------------------------------------------------------------------------
def _anonymous_and_plain(request: HttpRequest) -> bool:
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return False
    if getattr(request, "htmx", False):
        return False
    stored = getattr(request, "_messages", None)
    return not (stored is not None and len(stored))


def public_page(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Cache a page's GET for anonymous visitors. The CSRF token in the page (its forms and
    htmx headers) is not kept: each visitor gets their own, put in on the way out."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if request.method != "GET" or not enabled() or not _anonymous_and_plain(request):
            return view(request, *args, **kwargs)
        key = _key("page", request)
        if key is not None:
            hit = _get(key)
            if hit is not None:
                body, content_type, vary = hit
                if _CSRF_PLACEHOLDER in body:
                    body = body.replace(_CSRF_PLACEHOLDER, get_token(request).encode())
                response = HttpResponse(body, content_type=content_type)
                if vary:
                    response["Vary"] = vary
                return response
        response = view(request, *args, **kwargs)
        if key is not None and response.status_code == 200 and not response.cookies:
            body = _without_csrf_token(response.content)
            if body is not None:
                _set(key, (body, response["Content-Type"], response.get("Vary")))
        return response

    return wrapper


def _without_csrf_token(content: bytes) -> bytes | None:
    """The page with its CSRF token replaced by a placeholder; None when the page carries a
    token we could not find (it is then not cached)."""
    match = _CSRF_INPUT.search(content)
    if match is None:
        return None if b"csrf" in content.lower() else content
    body = content.replace(match.group(1), _CSRF_PLACEHOLDER)
    return None if b"csrf" in _strip_known_csrf(body).lower() else body


def _strip_known_csrf(body: bytes) -> bytes:
    """The page without the places that legitimately name CSRF (the input's name and the htmx
    header), so any other mention means a token we would leak."""
    return body.replace(b"csrfmiddlewaretoken", b"").replace(b"X-CSRFToken", b"")
