from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from accounts import services
from accounts.models import IdempotencyRecord, Membership, Organization, User


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    list_display = ["username", "email", "organization_name", "is_staff", "is_active", "last_login"]
    list_select_related = ["membership__organization"]
    list_filter = ["is_staff", "is_active", "membership__role"]
    search_fields = ["username", "email", "membership__organization__name"]

    @admin.display(description="Organisation", ordering="membership__organization__name")
    def organization_name(self, obj: User) -> str:
        membership = getattr(obj, "membership", None)
        return membership.organization.name if membership else "-"


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    list_display = ["name", "is_provider", "is_customer", "verified_at", "created_at"]
    list_filter = ["is_provider", "is_customer", ("verified_at", admin.EmptyFieldListFilter)]
    search_fields = ["name"]
    readonly_fields = ["verified_at", "verified_by", "created_at"]
    inlines = [MembershipInline]
    actions = ["verify_providers"]

    @admin.action(description="Verify selected provider organisations")
    def verify_providers(self, request, queryset):
        verified = 0
        for organization in queryset:
            if organization.is_provider:
                services.organization_verify(organization=organization, by=request.user)
                verified += 1
        skipped = queryset.count() - verified
        self.message_user(request, f"Verified {verified} provider organisation(s).")
        if skipped:
            self.message_user(
                request,
                f"Skipped {skipped} organisation(s) that are not providers.",
                level=messages.WARNING,
            )


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "organization", "role", "created_at"]
    list_select_related = ["user", "organization"]
    list_filter = ["role"]
    search_fields = ["user__username", "organization__name"]
    autocomplete_fields = ["user", "organization"]


@admin.register(IdempotencyRecord)
class IdempotencyRecordAdmin(admin.ModelAdmin):
    list_display = ["key", "user", "scope", "response_status", "created_at"]
    list_select_related = ["user"]
    search_fields = ["key", "scope", "user__username"]
    readonly_fields = [
        "user",
        "key",
        "scope",
        "request_fingerprint",
        "response_status",
        "response_body",
        "created_at",
    ]
