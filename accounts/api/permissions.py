"""Permission classes used by every app's API."""

from rest_framework.permissions import BasePermission

from accounts.selectors import is_platform_admin, organization_of


class IsPlatformAdmin(BasePermission):
    message = "Only platform admins may do this."

    def has_permission(self, request, view) -> bool:
        return is_platform_admin(request.user)


class IsProvider(BasePermission):
    """The caller acts for a provider organisation (admins pass too)."""

    message = "Only provider organisations may do this."

    def has_permission(self, request, view) -> bool:
        if is_platform_admin(request.user):
            return True
        organization = organization_of(request.user)
        return organization is not None and organization.is_provider


class IsCustomer(BasePermission):
    """The caller acts for a customer organisation (admins pass too)."""

    message = "Only customer organisations may do this."

    def has_permission(self, request, view) -> bool:
        if is_platform_admin(request.user):
            return True
        organization = organization_of(request.user)
        return organization is not None and organization.is_customer
