"""API authentication by the named, hashed tokens of :class:`accounts.models.ApiToken`.

``Authorization: Token <key>``: the key is hashed (sha256) and looked up by its unique index in
one query that also brings the user, their membership and organisation (which every scoped
view reads next). ``request.auth`` is the token, so ``DELETE /api/v1/auth/token/`` can revoke
exactly the key it was called with.
"""

from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication

from accounts import selectors, services


class ApiTokenAuthentication(TokenAuthentication):
    keyword = "Token"

    def authenticate_credentials(self, key: str):
        token = selectors.api_token_for_key(key)
        if token is None:
            raise exceptions.AuthenticationFailed(_("Invalid token."))
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed(_("User inactive or deleted."))
        services.api_token_touch(token=token)
        return token.user, token
