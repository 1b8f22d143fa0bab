"""Writes about users and organisations. Each service is one transaction."""

from collections.abc import Iterable

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework.authtoken.models import Token

from accounts.errors import DomainError, InvalidInput, PermissionDeniedError
from accounts.models import Membership, MembershipRole, Organization, OrganizationRole, User


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
) -> tuple[User, Organization, Token]:
    """Create a user, their organisation (they become its owner) and an API token, atomically.

    Raises :class:`RegistrationError` with field errors and writes nothing on bad input.
    """
    roles = set(roles)
    errors: dict[str, list[str]] = {}
    unknown = sorted(roles - set(OrganizationRole.values))
    if unknown:
        errors["organization.roles"] = [f"Unknown role(s): {', '.join(unknown)}."]
    elif not roles:
        errors["organization.roles"] = ["Choose at least one role: provider or customer."]
    if User.objects.filter(username__iexact=username).exists():
        errors["username"] = ["A user with that username already exists."]
    if Organization.objects.filter(name__iexact=organization_name).exists():
        errors["organization.name"] = ["An organisation with that name already exists."]
    candidate = User(username=username, email=email)
    try:
        validate_password(password, user=candidate)
    except DjangoValidationError as exc:
        errors["password"] = list(exc.messages)
    if errors:
        raise RegistrationError("Registration failed.", details=errors)

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
            token = Token.objects.create(user=user)
    except IntegrityError as exc:  # a concurrent registration took the name first
        raise RegistrationError(
            "Registration failed.",
            details={"username": ["A user or organisation with that name already exists."]},
        ) from exc
    return user, organization, token


def token_for(*, user: User) -> Token:
    token, _ = Token.objects.get_or_create(user=user)
    return token


def token_revoke(*, user: User) -> None:
    Token.objects.filter(user=user).delete()


def organization_verify(*, organization: Organization, by: User) -> Organization:
    """Mark a provider organisation verified. Idempotent: verifying twice keeps the first time."""
    if not by.is_staff:
        raise PermissionDeniedError("Only platform admins verify providers.")
    if not organization.is_provider:
        raise InvalidInput("organization", "Only provider organisations are verified.")
    with transaction.atomic():
        locked = Organization.objects.select_for_update().get(pk=organization.pk)
        if locked.verified_at is None:
            locked.verified_at = timezone.now()
            locked.verified_by = by
            locked.save(update_fields=["verified_at", "verified_by"])
    return locked


def organization_unverify(*, organization: Organization, by: User) -> Organization:
    if not by.is_staff:
        raise PermissionDeniedError("Only platform admins verify providers.")
    Organization.objects.filter(pk=organization.pk).update(verified_at=None, verified_by=None)
    organization.refresh_from_db()
    return organization


def organization_rename(*, organization: Organization, name: str) -> Organization:
    if Organization.objects.filter(name__iexact=name).exclude(pk=organization.pk).exists():
        raise InvalidInput("name", "An organisation with that name already exists.")
    organization.name = name
    organization.save(update_fields=["name"])
    return organization
