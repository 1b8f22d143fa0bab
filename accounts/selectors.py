"""Reads about users and organisations, and the one place that scopes querysets to a caller.

Every app that stores objects owned by an organisation scopes its querysets with
:func:`scope_to_organization`: admins (staff) see everything, everybody else sees the rows whose
``org_field`` is their own organisation, and anonymous users or users without an organisation see
nothing. Views then answer 404 for anything outside the scope.
"""

from typing import TypeVar

from django.db.models import Model, QuerySet

from accounts.models import Organization, User

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
