"""Reads about users and organisations, and the one place that scopes querysets to a caller.

Every app that stores objects owned by an organisation scopes its querysets with
:func:`scope_to_organization`: admins (staff) see everything, everybody else sees the rows whose
``org_field`` is their own organisation, and anonymous users or users without an organisation see
nothing. Views then answer 404 for anything outside the scope.
"""

from typing import TypeVar

from django.db.models import Case, IntegerField, Model, QuerySet, Value, When

from accounts import keys
from accounts.models import (
    ApiToken,
    Invitation,
    Membership,
    MembershipRole,
    Organization,
    User,
)

M = TypeVar("M", bound=Model)


def organization_of(user: User | None) -> Organization | None:
    """The organisation a user acts for, or None (anonymous, staff without one)."""
    if user is None or not user.is_authenticated:
        return None
    membership = getattr(user, "membership", None)
    return membership.organization if membership is not None else None


def is_platform_admin(user: User | None) -> bool:
    return bool(user is not None and user.is_authenticated and user.is_staff)


def scope_to_organization(
    queryset: QuerySet[M], *, user: User | None, org_field: str = "organization"
) -> QuerySet[M]:
    """Restrict ``queryset`` to what ``user`` may see through ``org_field``.

    ``org_field`` is the lookup path from the model to its owning organisation
    (``"organization"``, ``"provider"``, ``"contract__customer"``; ``"pk"`` for Organization).
    """
    if is_platform_admin(user):
        return queryset
    organization = organization_of(user)
    if organization is None:
        return queryset.none()
    return queryset.filter(**{org_field: organization.pk})


def organization_list(*, user: User) -> QuerySet[Organization]:
    return scope_to_organization(Organization.objects.all(), user=user, org_field="pk")


def api_token_for_key(key: str) -> ApiToken | None:
    """The token with this key, its user, membership and organisation: one indexed query."""
    return (
        ApiToken.objects.select_related("user__membership__organization")
        .filter(key_hash=keys.digest(key))
        .first()
    )


def api_token_list(*, user: User) -> QuerySet[ApiToken]:
    """A user's own tokens, newest first (everyone sees only their own)."""
    if user is None or not user.is_authenticated:
        return ApiToken.objects.none()
    return ApiToken.objects.filter(user=user)


def organization_members(*, organization: Organization) -> QuerySet[Membership]:
    """The organisation's memberships with their users, owners first, then by username."""
    order = Case(
        When(role=MembershipRole.OWNER, then=Value(0)),
        When(role=MembershipRole.MEMBER, then=Value(1)),
        default=Value(2),
        output_field=IntegerField(),
    )
    return (
        Membership.objects.filter(organization=organization)
        .select_related("user")
        .order_by(order, "user__username")
    )


def organization_open_invitations(*, organization: Organization) -> QuerySet[Invitation]:
    """Invitations neither accepted nor revoked (expired ones too, so owners see and resend)."""
    return Invitation.objects.filter(
        organization=organization, accepted_at__isnull=True, revoked_at__isnull=True
    ).select_related("invited_by")


def visible_organization(*, user: User, pk: int | None) -> Organization | None:
    """The organisation a page is about: ``pk`` if the user may see it (their own; staff: any),
    or their own when ``pk`` is None. None when there is nothing to show (the page answers 404
    or, for staff without an organisation, points to the admin)."""
    if pk is None:
        return organization_of(user)
    return organization_list(user=user).filter(pk=pk).first()


def visible_membership(*, user: User, pk: int) -> Membership | None:
    return (
        scope_to_organization(Membership.objects.select_related("organization", "user"), user=user)
        .filter(pk=pk)
        .first()
    )


def visible_invitation(*, user: User, pk: int) -> Invitation | None:
    return (
        scope_to_organization(Invitation.objects.select_related("organization"), user=user)
        .filter(pk=pk)
        .first()
    )
