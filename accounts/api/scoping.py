"""The DRF side of organisation scoping: views declare the path to the owner, nothing else."""

from accounts.selectors import scope_to_organization


class OrganizationScopedMixin:
    """Scope ``get_queryset()`` to the caller's organisation (admins see all).

    Set ``org_field`` to the lookup path from the model to its owning organisation. Objects of
    other organisations are then simply not found: 404, never 403.
    """

    org_field = "organization"

    def get_queryset(self):
        queryset = super().get_queryset()
        return scope_to_organization(queryset, user=self.request.user, org_field=self.org_field)
