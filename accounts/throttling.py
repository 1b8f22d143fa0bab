"""Login throttling: django-axes, with failures kept in the database so limits hold across
processes and hosts, and the client address from :func:`accounts.network.client_address`
(``X-Forwarded-For`` believed only from ``TRUSTED_PROXIES``).

Two limits, both over ``LOGIN_LOCKOUT_MINUTES``: ``LOGIN_FAILURE_LIMIT`` failures for one
username from one address (guessing one account's password) and
``LOGIN_FAILURE_LIMIT_PER_ADDRESS`` failures from one address whatever the username (trying
many accounts). While either holds, every attempt is refused, right password or not. A
successful login clears that username's failures from that address only, so an attacker
cannot wipe their count on other accounts by logging into their own.

The login page, the admin's login and ``POST /api/v1/auth/token/`` all authenticate through
``django.contrib.auth.authenticate`` with the request, which is where axes counts and refuses.
"""

from axes.backends import AxesStandaloneBackend
from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_failure_limit
from django.conf import settings
from django.contrib.auth.signals import user_logged_in
from django.db.models import Sum
from django.http import HttpResponse
from django.utils.translation import gettext_lazy as _

LOCKOUT_MESSAGE = _(
    "Too many failed login attempts. For your security, logging in is paused for "
    "%(minutes)s minutes; try again later or reset your password."
)


def lockout_message() -> str:
    return LOCKOUT_MESSAGE % {"minutes": settings.LOGIN_LOCKOUT_MINUTES}


def api_login_succeeded(request, user) -> None:
    """A login that opens no session (the token API) still counts as one: django-axes clears
    the pair's failures and logs the access, Django records ``last_login``."""
    user_logged_in.send(sender=user.__class__, request=request, user=user)


def is_locked_out(request) -> bool:
    """Whether axes refused (or has just locked out) the login attempt made with ``request``."""
    return bool(getattr(request, "axes_locked_out", False))


class LoginThrottleBackend(AxesStandaloneBackend):
    """Axes' gate in front of the model backend.

    An ``authenticate()`` call without a request (Django's test client ``login()``, scripts)
    has no client address to count against, so it passes through to the next backend; every
    login that users reach (page, admin, API) passes its request.
    """

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)


class LoginThrottleHandler(AxesDatabaseHandler):
    """Axes' database handler with a second, per-address limit and a narrower reset.

    ``AXES_LOCKOUT_PARAMETERS`` is ``[["username", "ip_address"], "ip_address"]``, so the
    attempts come as two querysets in that order: the pair's and the address's.
    """

    def get_failures(self, request, credentials=None) -> int:
        pair, address = (
            attempts.aggregate(total=Sum("failures_since_start"))["total"] or 0
            for attempts in self.get_user_attempts(request, credentials)
        )
        if address >= settings.LOGIN_FAILURE_LIMIT_PER_ADDRESS:
            # Axes compares one number with one limit: report the address's lockout as the
            # pair's limit reached.
            return max(pair, get_failure_limit(request, credentials))
        return pair

    def reset_user_attempts(self, request, credentials=None) -> int:
        pair = self.filter_user_attempts(request, credentials)[0]
        count, _ = pair.delete()
        return count


def lockout_response(request, original_response=None, credentials=None) -> HttpResponse:
    """What a locked-out client gets (``AXES_LOCKOUT_CALLABLE``): the page or API answer the
    view already made (which says why, in the user's language), with status 429."""
    if original_response is None or original_response.status_code in (301, 302, 303, 307):
        return HttpResponse(lockout_message(), status=429, content_type="text/plain")
    original_response.status_code = 429
    return original_response
