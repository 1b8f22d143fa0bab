"""Account pages: sign-up, login and passwords, the organisation's profile, members and API
tokens. Thin: a form checks the shape, one service writes, one selector reads; a domain error
becomes a field error or a message in the user's language."""

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from accounts import members, selectors, services
from accounts.errors import DomainError, PermissionDeniedError
from accounts.forms import (
    ApiTokenForm,
    InvitationAcceptForm,
    InvitationForm,
    LoginForm,
    MemberRoleForm,
    OrganizationProfileForm,
    PasswordChangeForm,
    RegistrationForm,
    SetPasswordForm,
)
from accounts.models import MembershipRole

MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"
# Service error keys that name a form field differently.
FIELD_FOR_ERROR = {"organization.name": "organization_name", "organization.roles": "roles"}


def _add_errors(form, exc: DomainError) -> None:
    """Put a service's field errors on the form's fields (others above the form)."""
    details = exc.details or {}
    if not details:
        form.add_error(None, exc.message)
    for key, errors in details.items():
        field = FIELD_FOR_ERROR.get(key, key)
        for error in errors:
            form.add_error(field if field in form.fields else None, error)


# --- Sign-up, login, passwords --------------------------------------------------------------
def register(request):
    if request.user.is_authenticated:
        return redirect("home")
    form = RegistrationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            user, organization, _key = services.user_register(
                username=data["username"],
                password=data["password"],
                email=data["email"],
                organization_name=data["organization_name"],
                roles=data["roles"],
            )
        except services.RegistrationError as exc:
            _add_errors(form, exc)
        else:
            login(request, user, backend=MODEL_BACKEND)
            messages.success(
                request,
                _("Welcome, %(username)s. %(organization)s is set up.")
                % {"username": user.username, "organization": organization.name},
            )
            if organization.is_provider:
                messages.info(
                    request,
                    _(
                        "A platform admin verifies new providers before customers can see "
                        "their clusters. Fill in your organisation's legal profile to speed "
                        "this up."
                    ),
                )
            return redirect("home")
    return render(request, "accounts/register.html", {"form": form})


class LoginView(auth_views.LoginView):
    form_class = LoginForm
    template_name = "accounts/login.html"
    redirect_authenticated_user = True


class LogoutView(auth_views.LogoutView):
    def post(self, request, *args, **kwargs):
        response = super().post(request, *args, **kwargs)
        messages.info(request, _("You have logged out."))
        return response


class PasswordChangeView(auth_views.PasswordChangeView):
    form_class = PasswordChangeForm
    template_name = "accounts/password_change.html"
    success_url = reverse_lazy("home")

    def form_valid(self, form):
        response = super().form_valid(form)
        messages.success(self.request, _("Your password was changed."))
        return response


class PasswordResetView(auth_views.PasswordResetView):
    template_name = "accounts/password_reset.html"
    email_template_name = "accounts/email/password_reset.txt"
    subject_template_name = "accounts/email/password_reset_subject.txt"
    success_url = reverse_lazy("accounts:password-reset-sent")


class PasswordResetDoneView(auth_views.PasswordResetDoneView):
    template_name = "accounts/password_reset_sent.html"


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    form_class = SetPasswordForm
    template_name = "accounts/password_reset_confirm.html"
    success_url = reverse_lazy("accounts:password-reset-complete")


class PasswordResetCompleteView(auth_views.PasswordResetCompleteView):
    template_name = "accounts/password_reset_complete.html"


# --- Organisation profile -------------------------------------------------------------------
def _organization_or_404(request, pk: int | None):
    organization = selectors.visible_organization(user=request.user, pk=pk)
    if organization is None:
        raise Http404(_("No such organisation."))
    return organization


@login_required
def organization_profile(request, pk: int | None = None):
    if pk is None and selectors.organization_of(request.user) is None and request.user.is_staff:
        return redirect("admin:accounts_organization_changelist")
    organization = _organization_or_404(request, pk)
    can_edit = services.organization_can_edit(organization=organization, user=request.user)
    form = None
    if can_edit:
        form = OrganizationProfileForm(
            request.POST or None,
            initial={
                name: getattr(organization, name) for name in OrganizationProfileForm.base_fields
            },
        )
        if request.method == "POST" and form.is_valid():
            try:
                services.organization_profile_update(
                    organization=organization, by=request.user, changes=form.changes(organization)
                )
            except services.ProfileInvalid as exc:
                _add_errors(form, exc)
            else:
                messages.success(request, _("The organisation's profile was saved."))
                return redirect(request.path)
    elif request.method == "POST":
        raise PermissionDenied(_("Only the organisation's owner may change it."))
    return render(
        request,
        "accounts/organization.html",
        {
            "organization": organization,
            "form": form,
            "can_edit": can_edit,
            "membership": getattr(request.user, "membership", None),
        },
    )


# --- Members and invitations ----------------------------------------------------------------
def _members_url(organization, user) -> str:
    own = selectors.organization_of(user)
    if own is not None and own.pk == organization.pk:
        return reverse("accounts:members")
    return reverse("accounts:organization-members", args=[organization.pk])


@login_required
def member_list(request, pk: int | None = None):
    if pk is None and selectors.organization_of(request.user) is None and request.user.is_staff:
        return redirect("admin:accounts_membership_changelist")
    organization = _organization_or_404(request, pk)
    can_manage = services.organization_can_edit(organization=organization, user=request.user)
    form = InvitationForm(request.POST or None)
    if request.method == "POST":
        if not can_manage:
            raise PermissionDenied(_("Only the organisation's owner may manage its members."))
        if form.is_valid():
            try:
                invitation, _token = members.invitation_create(
                    organization=organization,
                    by=request.user,
                    email=form.cleaned_data["email"],
                    role=form.cleaned_data["role"],
                    site_url=request.build_absolute_uri("/"),
                )
            except DomainError as exc:
                _add_errors(form, exc)
            else:
                messages.success(
                    request,
                    _("An invitation was sent to %(email)s.") % {"email": invitation.email},
                )
                return redirect(request.path)
    memberships = list(selectors.organization_members(organization=organization))
    return render(
        request,
        "accounts/members.html",
        {
            "organization": organization,
            "memberships": memberships,
            "owner_count": sum(m.role == MembershipRole.OWNER for m in memberships),
            "invitations": list(selectors.organization_open_invitations(organization=organization)),
            "form": form,
            "can_manage": can_manage,
            "role_choices": MembershipRole.choices,
        },
    )


def _membership_or_404(request, pk: int):
    membership = selectors.visible_membership(user=request.user, pk=pk)
    if membership is None:
        raise Http404(_("No such member."))
    return membership


@login_required
@require_POST
def member_role(request, pk: int):
    membership = _membership_or_404(request, pk)
    back = _members_url(membership.organization, request.user)
    form = MemberRoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose owner, member or billing."))
        return redirect(back)
    try:
        membership = members.membership_change_role(
            membership=membership, by=request.user, role=form.cleaned_data["role"]
        )
    except PermissionDeniedError as exc:
        raise PermissionDenied(exc.message) from exc
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request,
            _("%(username)s is now %(role)s.")
            % {"username": membership.user.username, "role": membership.get_role_display()},
        )
    return redirect(back)


@login_required
@require_POST
def member_remove(request, pk: int):
    membership = _membership_or_404(request, pk)
    organization = membership.organization
    try:
        user = members.membership_remove(membership=membership, by=request.user)
    except PermissionDeniedError as exc:
        raise PermissionDenied(exc.message) from exc
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect(_members_url(organization, request.user))
    messages.success(
        request,
        _("%(username)s was removed from %(organization)s.")
        % {"username": user.username, "organization": organization.name},
    )
    if user.pk == request.user.pk:
        return redirect("home")
    return redirect(_members_url(organization, request.user))


@login_required
@require_POST
def invitation_revoke(request, pk: int):
    invitation = selectors.visible_invitation(user=request.user, pk=pk)
    if invitation is None:
        raise Http404(_("No such invitation."))
    try:
        members.invitation_revoke(invitation=invitation, by=request.user)
    except PermissionDeniedError as exc:
        raise PermissionDenied(exc.message) from exc
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request,
            _("The invitation to %(email)s was withdrawn.") % {"email": invitation.email},
        )
    return redirect(_members_url(invitation.organization, request.user))


def invitation_accept(request, token: str):
    """Anyone with the link: pick a username and password and join (a new account)."""
    try:
        invitation = members.invitation_for_token(token)
    except members.InvitationInvalid as exc:
        return render(
            request, "accounts/invitation_invalid.html", {"reason": exc.message}, status=410
        )
    if request.user.is_authenticated:
        return render(request, "accounts/invitation_accept.html", {"invitation": invitation})
    form = InvitationAcceptForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user = members.invitation_accept(
                token=token,
                username=form.cleaned_data["username"],
                password=form.cleaned_data["password"],
            )
        except members.InvitationInvalid as exc:
            return render(
                request, "accounts/invitation_invalid.html", {"reason": exc.message}, status=410
            )
        except DomainError as exc:
            _add_errors(form, exc)
        else:
            login(request, user, backend=MODEL_BACKEND)
            messages.success(
                request,
                _("Welcome, %(username)s. You have joined %(organization)s.")
                % {"username": user.username, "organization": invitation.organization.name},
            )
            return redirect("home")
    return render(
        request, "accounts/invitation_accept.html", {"invitation": invitation, "form": form}
    )


# --- API tokens -----------------------------------------------------------------------------
TOKEN_CREATED = gettext_lazy("Copy the key now: it is shown only this once.")


@login_required
def token_list(request):
    form = ApiTokenForm(request.POST or None)
    new_key = None
    new_token = None
    if request.method == "POST" and form.is_valid():
        try:
            new_token, new_key = services.api_token_create(
                user=request.user, name=form.cleaned_data["name"]
            )
        except DomainError as exc:
            _add_errors(form, exc)
        else:
            form = ApiTokenForm()
    # A new key is answered on this very response and never stored in a session or cookie.
    response = render(
        request,
        "accounts/tokens.html",
        {
            "form": form,
            "tokens": list(selectors.api_token_list(user=request.user)),
            "new_key": new_key,
            "new_token": new_token,
            "token_created": TOKEN_CREATED,
        },
    )
    if new_key:
        response["Cache-Control"] = "no-store"
    return response


@login_required
@require_POST
def token_revoke(request, pk: int):
    token = selectors.api_token_list(user=request.user).filter(pk=pk).first()
    if token is None:
        raise Http404(_("No such token."))
    services.api_token_revoke(token=token, by=request.user)
    messages.success(
        request,
        _("The token “%(name)s” was revoked; its key no longer works.") % {"name": token.name},
    )
    return redirect("accounts:tokens")
