"""Writes about users and organisations. Each service is one transaction."""

from collections.abc import Iterable
from datetime import timedelta

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts import keys
from accounts.errors import DomainError, InvalidInput, PermissionDeniedError
from accounts.models import (
    PROFILE_FIELDS,
    ApiToken,
    Membership,
    MembershipRole,
    Organization,
    OrganizationRole,
    User,
)


class RegistrationError(DomainError):
    """Registration input broke a rule; ``details`` maps fields to messages."""

    code = "invalid"
    status = 400


def user_register(
    *,
    username: str,
    password: str,
    email: str,
    organization_name: str,
    roles: Iterable[str],
    api_token_name: str | None = None,
) -> tuple[User, Organization, str | None]:
    """Create a user and their organisation (they become its owner), atomically.

    With ``api_token_name``, an API token of that name is made too and its key returned (the
    API's sign-up); the pages' sign-up makes none. Raises :class:`RegistrationError` with field
    errors and writes nothing on bad input.
    """
    roles = set(roles)
    errors: dict[str, list[str]] = {}
    unknown = sorted(roles - set(OrganizationRole.values))
    if unknown:
        errors["organization.roles"] = [
            _("Unknown role(s): %(roles)s.") % {"roles": ", ".join(unknown)}
        ]
    elif not roles:
        errors["organization.roles"] = [_("Choose at least one role: provider or customer.")]
    if User.objects.filter(username__iexact=username).exists():
        errors["username"] = [_("A user with that username already exists.")]
    if Organization.objects.filter(name__iexact=organization_name).exists():
        errors["organization.name"] = [_("An organisation with that name already exists.")]
    candidate = User(username=username, email=email)
    try:
        validate_password(password, user=candidate)
    except DjangoValidationError as exc:
        errors["password"] = list(exc.messages)
    if errors:
        raise RegistrationError(_("Registration failed."), details=errors)

    key = None
    try:
        with transaction.atomic():
            user = User.objects.create_user(username=username, email=email, password=password)
            organization = Organization.objects.create(
                name=organization_name,
                is_provider=OrganizationRole.PROVIDER in roles,
                is_customer=OrganizationRole.CUSTOMER in roles,
            )
            Membership.objects.create(
                user=user, organization=organization, role=MembershipRole.OWNER
            )
            if api_token_name is not None:
                key = api_token_create(user=user, name=api_token_name)[1]
    except IntegrityError as exc:  # a concurrent registration took the name first
        raise RegistrationError(
            _("Registration failed."),
            details={"username": [_("A user or organisation with that name already exists.")]},
        ) from exc
    return user, organization, key


# --- API tokens -----------------------------------------------------------------------------
# How stale ``last_used_at`` may get before a request refreshes it (one write a minute at most).
API_TOKEN_TOUCH_INTERVAL = timedelta(minutes=1)


def api_token_create(*, user: User, name: str) -> tuple[ApiToken, str]:
    """Make a named API token for ``user``; returns it and its key (the only time it is seen)."""
    name = (name or "").strip()
    if not name:
        raise InvalidInput("name", _("Give the token a name."))
    if len(name) > ApiToken._meta.get_field("name").max_length:
        raise InvalidInput("name", _("The name is too long."))
    key = keys.new_secret(keys.API_KEY_PREFIX)
    with transaction.atomic():
        token = ApiToken.objects.create(
            user=user,
            name=name,
            key_hash=keys.digest(key),
            prefix=key[: keys.SHOWN_PREFIX_LENGTH],
        )
    return token, key


def api_token_revoke(*, token: ApiToken, by: User) -> None:
    """Delete a token: its owner, or a platform admin, may. The key stops working at once."""
    if token.user_id != by.pk and not by.is_staff:
        raise PermissionDeniedError(_("Only the token's owner may revoke it."))
    with transaction.atomic():
        ApiToken.objects.filter(pk=token.pk).delete()


def api_token_touch(*, token: ApiToken, now=None) -> None:
    """Record that ``token`` was used, at most once per ``API_TOKEN_TOUCH_INTERVAL``."""
    now = now or timezone.now()
    if token.last_used_at is not None and now - token.last_used_at < API_TOKEN_TOUCH_INTERVAL:
        return
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    token.last_used_at = now


def organization_verify(*, organization: Organization, by: User) -> Organization:
    """Mark a provider organisation verified. Idempotent: verifying twice keeps the first time."""
    if not by.is_staff:
        raise PermissionDeniedError(_("Only platform admins verify providers."))
    if not organization.is_provider:
        raise InvalidInput("organization", _("Only provider organisations are verified."))
    with transaction.atomic():
        locked = Organization.objects.select_for_update().get(pk=organization.pk)
        if locked.verified_at is None:
            locked.verified_at = timezone.now()
            locked.verified_by = by
            locked.save(update_fields=["verified_at", "verified_by"])
    return locked


def organization_unverify(*, organization: Organization, by: User) -> Organization:
    if not by.is_staff:
        raise PermissionDeniedError(_("Only platform admins verify providers."))
    Organization.objects.filter(pk=organization.pk).update(verified_at=None, verified_by=None)
    organization.refresh_from_db()
    return organization


def organization_can_edit(*, organization: Organization, user: User) -> bool:
    """Owners edit their organisation's profile and members; platform admins edit any."""
    if user.is_staff:
        return True
    membership = getattr(user, "membership", None)
    return (
        membership is not None
        and membership.organization_id == organization.pk
        and membership.role == MembershipRole.OWNER
    )


class ProfileInvalid(DomainError):
    """Profile input broke a rule; ``details`` maps fields to messages."""

    code = "invalid"
    status = 400


def organization_profile_update(
    *, organization: Organization, by: User, changes: dict[str, str]
) -> Organization:
    """Change the name, legal profile and contact of an organisation (owner or admin).

    Values are stripped; the unified social credit code is upper-cased and checked
    (GB 32100-2015) and must not belong to another organisation. All or nothing: any field
    error writes nothing.
    """
    if not organization_can_edit(organization=organization, user=by):
        raise PermissionDeniedError(_("Only the organisation's owner may change it."))
    unknown = sorted(set(changes) - set(PROFILE_FIELDS))
    if unknown:
        refused = [_("This field cannot be changed.")]
        raise ProfileInvalid(_("Unknown field."), details=dict.fromkeys(unknown, refused))
    values = {name: (value or "").strip() for name, value in changes.items()}
    if "unified_social_credit_code" in values:
        values["unified_social_credit_code"] = values["unified_social_credit_code"].upper()
    errors: dict[str, list[str]] = {}
    for name, value in values.items():
        try:
            Organization._meta.get_field(name).clean(value, organization)
        except DjangoValidationError as exc:
            errors[name] = list(exc.messages)
    if "name" in values and not values["name"]:
        errors["name"] = [_("An organisation needs a name.")]
    others = Organization.objects.exclude(pk=organization.pk)
    if values.get("name") and others.filter(name__iexact=values["name"]).exists():
        errors["name"] = [_("An organisation with that name already exists.")]
    code = values.get("unified_social_credit_code")
    taken = code and others.filter(unified_social_credit_code=code).exists()
    if taken and "unified_social_credit_code" not in errors:
        errors["unified_social_credit_code"] = [
            _("Another organisation is registered with this code.")
        ]
    if errors:
        raise ProfileInvalid(_("The profile was not saved."), details=errors)
    try:
        with transaction.atomic():
            Organization.objects.filter(pk=organization.pk).update(**values)
    except IntegrityError as exc:  # a concurrent update took the name or the code first
        raise ProfileInvalid(
            _("The profile was not saved."),
            details={"name": [_("Another organisation took this name or code just now.")]},
        ) from exc
    organization.refresh_from_db()
    return organization
