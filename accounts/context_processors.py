from accounts.selectors import organization_of


def organization(request) -> dict:
    user = getattr(request, "user", None)
    return {"current_organization": organization_of(user)}
