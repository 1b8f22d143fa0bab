"""Writes about an organisation's members and invitations. Each service is one transaction.

Rules:
- Only the organisation's owners (and platform admins) invite, revoke, change roles and remove.
- A user belongs to one organisation: accepting an invitation creates a new user.
- An invitation link is good once, until it expires; only its token's sha256 is stored.
- An organisation always keeps at least one owner. Every change of roles or members locks the
  organisation's row first, so two owners demoting each other at once cannot leave none.
- A removed member can no longer act for the organisation: their membership goes, their API
  tokens are revoked and their account is deactivated, which also ends their sessions (a
  platform admin's account stays active: it never acted through the membership alone).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from accounts import keys
from accounts.errors import DomainError, InvalidInput, PermissionDeniedError
from accounts.models import (
    ApiToken,
    Invitation,
    Membership,
    MembershipRole,
    Organization,
    User,
)
from accounts.services import organization_can_edit

USERNAME_MAX_LENGTH = User._meta.get_field("username").max_length


class InvitationInvalid(DomainError):
    """The invitation link cannot be used (unknown, used, revoked or expired)."""

    code = "invitation_invalid"
    status = 410


class LastOwner(DomainError):
    """The change would leave the organisation without an owner."""

    code = "last_owner"
    status = 409


class MemberInputInvalid(DomainError):
    """Input broke a rule; ``details`` maps fields to messages."""

    code = "invalid"
    status = 400


def _require_manager(organization: Organization, by: User) -> None:
    if not organization_can_edit(organization=organization, user=by):
        raise PermissionDeniedError(_("Only the organisation's owner may manage its members."))


def _check_role(role: str) -> None:
    if role not in MembershipRole.values:
        raise InvalidInput("role", _("Choose owner, member or billing."))


def _lock_organization(organization: Organization) -> Organization:
    return Organization.objects.select_for_update().get(pk=organization.pk)


def invitation_accept_path(token: str) -> str:
    return reverse("accounts:invitation-accept", args=[token])


# --- Invitations ----------------------------------------------------------------------------
def invitation_create(
    *,
    organization: Organization,
    by: User,
    email: str,
    role: str,
    site_url: str,
    now: datetime | None = None,
) -> tuple[Invitation, str]:
    """Invite ``email`` to join with ``role``; email them a link once this commits.

    Inviting an address that has an open invitation replaces it (the old link stops working).
    Returns the invitation and its token (the secret in the link; only its digest is kept).
    ``site_url`` is the scheme and host the link starts with (``https://market.example``).
    """
    _require_manager(organization, by)
    email = (email or "").strip()
    try:
        validate_email(email)
    except DjangoValidationError:
        raise InvalidInput("email", _("Enter a valid email address.")) from None
    _check_role(role)
    now = now or timezone.now()
    token = keys.new_secret()
    with transaction.atomic():
        locked = _lock_organization(organization)
        if Membership.objects.filter(organization=locked, user__email__iexact=email).exists():
            raise InvalidInput("email", _("Someone with this email address is already a member."))
        Invitation.objects.filter(
            organization=locked,
            email__iexact=email,
            accepted_at__isnull=True,
            revoked_at__isnull=True,
        ).update(revoked_at=now)
        invitation = Invitation.objects.create(
            organization=locked,
            email=email,
            role=role,
            invited_by=by,
            token_hash=keys.digest(token),
            expires_at=now + timedelta(days=settings.INVITATION_VALID_DAYS),
        )
        accept_url = site_url.rstrip("/") + invitation_accept_path(token)
        language = get_language() or settings.LANGUAGE_CODE
        transaction.on_commit(lambda: _enqueue_email(invitation.pk, accept_url, language))
    return invitation, token


def _enqueue_email(invitation_id: int, accept_url: str, language: str) -> None:
    from accounts.tasks import send_invitation_email

    send_invitation_email.delay(invitation_id, accept_url, language)


def invitation_revoke(
    *, invitation: Invitation, by: User, now: datetime | None = None
) -> Invitation:
    """Withdraw an invitation that has not been accepted; its link stops working."""
    _require_manager(invitation.organization, by)
    with transaction.atomic():
        locked = Invitation.objects.select_for_update().get(pk=invitation.pk)
        if locked.accepted_at is not None:
            raise InvitationInvalid(_("This invitation has already been accepted."))
        if locked.revoked_at is None:
            locked.revoked_at = now or timezone.now()
            locked.save(update_fields=["revoked_at"])
    return locked


def invitation_for_token(token: str, *, now: datetime | None = None) -> Invitation:
    """The open invitation this link's token belongs to, or :class:`InvitationInvalid`."""
    invitation = (
        Invitation.objects.select_related("organization", "invited_by")
        .filter(token_hash=keys.digest(token or ""))
        .first()
    )
    _check_usable(invitation, now or timezone.now())
    return invitation


def _check_usable(invitation: Invitation | None, now: datetime) -> None:
    if invitation is None:
        raise InvitationInvalid(_("This invitation link is not valid."))
    if invitation.accepted_at is not None:
        raise InvitationInvalid(_("This invitation has already been used."))
    if invitation.revoked_at is not None:
        raise InvitationInvalid(_("This invitation was withdrawn."))
    if invitation.expires_at <= now:
        raise InvitationInvalid(
            _("This invitation has expired; ask the organisation's owner for a new one.")
        )


def invitation_accept(
    *, token: str, username: str, password: str, now: datetime | None = None
) -> User:
    """Join the invitation's organisation as a new user with the invitation's role and email.

    Single use: the invitation row is locked and re-checked, so two acceptances of one link
    make one user. Field errors (username taken, weak password) write nothing.
    """
    now = now or timezone.now()
    username = (username or "").strip()
    errors: dict[str, list[str]] = {}
    if not username:
        errors["username"] = [_("Choose a username.")]
    elif len(username) > USERNAME_MAX_LENGTH:
        errors["username"] = [_("The username is too long.")]
    elif User.objects.filter(username__iexact=username).exists():
        errors["username"] = [_("A user with that username already exists.")]
    with transaction.atomic():
        invitation = (
            Invitation.objects.select_for_update()
            .filter(token_hash=keys.digest(token or ""))
            .first()
        )
        _check_usable(invitation, now)
        candidate = User(username=username, email=invitation.email)
        try:
            validate_password(password, user=candidate)
        except DjangoValidationError as exc:
            errors["password"] = list(exc.messages)
        if errors:
            raise MemberInputInvalid(_("You have not joined yet."), details=errors)
        try:
            with transaction.atomic():
                user = User.objects.create_user(
                    username=username, email=invitation.email, password=password
                )
        except IntegrityError as exc:  # a concurrent sign-up took the username first
            raise MemberInputInvalid(
                _("You have not joined yet."),
                details={"username": [_("A user with that username already exists.")]},
            ) from exc
        Membership.objects.create(
            user=user, organization_id=invitation.organization_id, role=invitation.role
        )
        invitation.accepted_at = now
        invitation.accepted_by = user
        invitation.save(update_fields=["accepted_at", "accepted_by"])
    return user


# --- Members --------------------------------------------------------------------------------
def _owners_left(organization: Organization, *, without: Membership) -> int:
    return (
        Membership.objects.filter(organization=organization, role=MembershipRole.OWNER)
        .exclude(pk=without.pk)
        .count()
    )


def membership_change_role(*, membership: Membership, by: User, role: str) -> Membership:
    """Give a member another role; the last owner cannot stop being one."""
    _require_manager(membership.organization, by)
    _check_role(role)
    with transaction.atomic():
        organization = _lock_organization(membership.organization)
        locked = Membership.objects.select_for_update().get(pk=membership.pk)
        if locked.role == role:
            return locked
        if locked.role == MembershipRole.OWNER and not _owners_left(organization, without=locked):
            raise LastOwner(
                _("%(organization)s needs at least one owner; make someone else owner first.")
                % {"organization": organization.name},
                details={"role": [_("The last owner must stay owner.")]},
            )
        locked.role = role
        locked.save(update_fields=["role"])
    return locked


def membership_remove(*, membership: Membership, by: User) -> User:
    """Remove a member: they can no longer act for the organisation (never the last owner)."""
    _require_manager(membership.organization, by)
    with transaction.atomic():
        organization = _lock_organization(membership.organization)
        locked = Membership.objects.select_for_update().select_related("user").get(pk=membership.pk)
        if locked.role == MembershipRole.OWNER and not _owners_left(organization, without=locked):
            raise LastOwner(
                _("%(organization)s needs at least one owner; the last owner cannot be removed.")
                % {"organization": organization.name}
            )
        user = locked.user
        locked.delete()
        ApiToken.objects.filter(user=user).delete()
        if not user.is_staff:  # a platform admin keeps their admin account
            User.objects.filter(pk=user.pk).update(is_active=False)
            user.is_active = False
    return user
