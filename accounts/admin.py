"""The Django admin for accounts: every change goes through a service, nothing around it.

Organisations' profiles are edited on their profile page (the service checks the unified
social credit code and names), members change through the member services (never the last
owner), and invitations and API tokens are only revoked. Verification is an action.
"""

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from accounts import members, services
from accounts.errors import DomainError
from accounts.forms import AdminLoginForm
from accounts.models import (
    ApiToken,
    IdempotencyRecord,
    Invitation,
    Membership,
    MembershipRole,
    Organization,
    User,
)

# The admin's login counts failures like the login page (django-axes) and says so.
admin.site.login_form = AdminLoginForm


class ReadOnlyAdmin(admin.ModelAdmin):
    """Shows rows; changes only through the admin actions (services)."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


def run_service(model_admin, request, queryset, service, done_message) -> None:
    """Call ``service(obj)`` for each selected row; report how many worked and each refusal."""
    done = 0
    for obj in queryset:
        try:
            service(obj)
        except DomainError as exc:
            model_admin.message_user(request, f"{obj}: {exc.message}", level=messages.ERROR)
        else:
            done += 1
    if done:
        model_admin.message_user(request, done_message(done), level=messages.SUCCESS)


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    fields = ["user", "role", "created_at"]
    readonly_fields = fields
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    """Django's user admin. Users are not deleted here: removing a member (an action on
    memberships) closes their account and keeps the organisation's last owner."""

    list_display = ["username", "email", "organization_name", "is_staff", "is_active", "last_login"]
    list_select_related = ["membership__organization"]
    list_filter = ["is_staff", "is_active", "membership__role"]
    search_fields = ["username", "email", "membership__organization__name"]

    @admin.display(description=_("Organisation"), ordering="membership__organization__name")
    def organization_name(self, obj: User) -> str:
        membership = getattr(obj, "membership", None)
        return membership.organization.name if membership else "-"

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    list_display = ["name", "legal_name", "is_provider", "is_customer", "verified", "created_at"]
    list_filter = ["is_provider", "is_customer", ("verified_at", admin.EmptyFieldListFilter)]
    search_fields = ["name", "legal_name", "unified_social_credit_code", "contact_email"]
    readonly_fields = [
        "name",
        "profile_page",
        "is_provider",
        "is_customer",
        "verified_at",
        "verified_by",
        "created_at",
        "legal_name",
        "unified_social_credit_code",
        "registered_address",
        "phone",
        "bank_name",
        "bank_account",
        "contact_name",
        "contact_email",
    ]
    fields = readonly_fields
    inlines = [MembershipInline]
    actions = ["verify_providers", "unverify_providers"]

    @admin.display(description=_("verified"), boolean=True, ordering="verified_at")
    def verified(self, obj: Organization) -> bool:
        return obj.is_verified

    @admin.display(description=_("Profile page"))
    def profile_page(self, obj: Organization) -> str:
        return format_html(
            '<a href="{}">{}</a>',
            reverse("accounts:organization-detail", args=[obj.pk]),
            _("Edit the profile and members on the organisation's pages"),
        )

    def has_add_permission(self, request):
        return False  # organisations are created by signing up

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description=_("Verify selected provider organisations"))
    def verify_providers(self, request, queryset):
        run_service(
            self,
            request,
            queryset,
            lambda org: services.organization_verify(organization=org, by=request.user),
            lambda n: (
                ngettext(
                    "Verified %(count)d provider organisation.",
                    "Verified %(count)d provider organisations.",
                    n,
                )
                % {"count": n}
            ),
        )

    @admin.action(description=_("Withdraw the verification of selected providers"))
    def unverify_providers(self, request, queryset):
        run_service(
            self,
            request,
            queryset,
            lambda org: services.organization_unverify(organization=org, by=request.user),
            lambda n: (
                ngettext(
                    "Withdrew the verification of %(count)d organisation.",
                    "Withdrew the verification of %(count)d organisations.",
                    n,
                )
                % {"count": n}
            ),
        )


def _role_action(role: str, description):
    def action(model_admin, request, queryset):
        run_service(
            model_admin,
            request,
            queryset.select_related("organization", "user"),
            lambda m: members.membership_change_role(membership=m, by=request.user, role=role),
            lambda n: (
                ngettext(
                    "Changed the role of %(count)d member.",
                    "Changed the role of %(count)d members.",
                    n,
                )
                % {"count": n}
            ),
        )

    action.__name__ = f"make_{role}"
    return admin.action(description=description)(action)


@admin.register(Membership)
class MembershipAdmin(ReadOnlyAdmin):
    list_display = ["user", "organization", "role", "created_at"]
    list_select_related = ["user", "organization"]
    list_filter = ["role", "organization__is_provider", "organization__is_customer"]
    search_fields = ["user__username", "user__email", "organization__name"]
    actions = [
        _role_action(MembershipRole.OWNER, _("Make selected members owners")),
        _role_action(MembershipRole.MEMBER, _("Make selected members plain members")),
        _role_action(MembershipRole.BILLING, _("Give selected members the billing role")),
        "remove_members",
    ]

    @admin.action(description=_("Remove selected members (closes their accounts)"))
    def remove_members(self, request, queryset):
        run_service(
            self,
            request,
            queryset.select_related("organization", "user"),
            lambda m: members.membership_remove(membership=m, by=request.user),
            lambda n: (
                ngettext("Removed %(count)d member.", "Removed %(count)d members.", n)
                % {"count": n}
            ),
        )


@admin.register(Invitation)
class InvitationAdmin(ReadOnlyAdmin):
    list_display = ["email", "organization", "role", "invited_by", "expires_at", "state_label"]
    list_select_related = ["organization", "invited_by"]
    list_filter = [
        "role",
        ("accepted_at", admin.EmptyFieldListFilter),
        ("revoked_at", admin.EmptyFieldListFilter),
    ]
    search_fields = ["email", "organization__name", "invited_by__username"]
    exclude = ["token_hash"]
    actions = ["revoke"]

    @admin.display(description=_("State"))
    def state_label(self, obj: Invitation) -> str:
        return obj.get_state_display()

    @admin.action(description=_("Withdraw selected invitations"))
    def revoke(self, request, queryset):
        run_service(
            self,
            request,
            queryset.select_related("organization"),
            lambda inv: members.invitation_revoke(invitation=inv, by=request.user),
            lambda n: (
                ngettext("Withdrew %(count)d invitation.", "Withdrew %(count)d invitations.", n)
                % {"count": n}
            ),
        )


@admin.register(ApiToken)
class ApiTokenAdmin(ReadOnlyAdmin):
    list_display = ["name", "user", "prefix", "created_at", "last_used_at"]
    list_select_related = ["user"]
    list_filter = [("last_used_at", admin.EmptyFieldListFilter)]
    search_fields = ["name", "prefix", "user__username"]
    exclude = ["key_hash"]
    actions = ["revoke"]

    @admin.action(description=_("Revoke selected API tokens"))
    def revoke(self, request, queryset):
        run_service(
            self,
            request,
            queryset,
            lambda token: services.api_token_revoke(token=token, by=request.user),
            lambda n: (
                ngettext("Revoked %(count)d token.", "Revoked %(count)d tokens.", n) % {"count": n}
            ),
        )


@admin.register(IdempotencyRecord)
class IdempotencyRecordAdmin(ReadOnlyAdmin):
    """Replays of POSTs: deleting one would let a retried request act twice."""

    list_display = ["key", "user", "scope", "response_status", "created_at"]
    list_select_related = ["user"]
    list_filter = ["response_status"]
    search_fields = ["key", "scope", "user__username"]
    date_hierarchy = "created_at"
