"""Users, organisations and memberships.

A user acts for exactly one organisation (their membership). An organisation has the role
*provider* (lists GPU clusters), *customer* (books capacity) or both. Provider organisations start
unverified; a platform admin (Django staff) verifies them before their clusters are visible to
customers.
"""

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models import Q


class User(AbstractUser):
    """A person. Platform admins are users with ``is_staff``."""

    email = models.EmailField("email address", blank=True)

    class Meta:
        ordering = ["username"]


class OrganizationRole(models.TextChoices):
    PROVIDER = "provider", "Provider"  # lists clusters and rents them out
    CUSTOMER = "customer", "Customer"  # books capacity


class Organization(models.Model):
    name = models.CharField(max_length=200, unique=True)
    is_provider = models.BooleanField(default=False)
    is_customer = models.BooleanField(default=False)
    # Set by an admin; a provider's clusters are visible to customers only once verified.
    verified_at = models.DateTimeField(null=True, blank=True)
    verified_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(is_provider=True) | Q(is_customer=True),
                name="organization_has_a_role",
            )
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def roles(self) -> list[str]:
        roles = []
        if self.is_provider:
            roles.append(OrganizationRole.PROVIDER.value)
        if self.is_customer:
            roles.append(OrganizationRole.CUSTOMER.value)
        return roles

    @property
    def is_verified(self) -> bool:
        return self.verified_at is not None


class MembershipRole(models.TextChoices):
    OWNER = "owner", "Owner"  # manages the organisation and its members
    MEMBER = "member", "Member"  # acts for the organisation
    BILLING = "billing", "Billing"  # sees and pays invoices


class Membership(models.Model):
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="membership"
    )
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(
        max_length=16, choices=MembershipRole.choices, default=MembershipRole.MEMBER
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["organization__name", "user__username"]

    def __str__(self) -> str:
        return f"{self.user} @ {self.organization} ({self.role})"


class IdempotencyRecord(models.Model):
    """The first response to a POST sent with an ``Idempotency-Key`` header.

    A repeat with the same key (same user, same endpoint) returns this response and has no
    second effect; a repeat with a different body is refused. The unique constraint makes two
    concurrent first requests with one key impossible: the loser waits and then replays.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    scope = models.CharField(max_length=255)  # method and path
    request_fingerprint = models.CharField(max_length=64)  # sha256 of the body
    response_status = models.PositiveSmallIntegerField(null=True)
    response_body = models.JSONField(null=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "scope", "key"], name="idempotency_unique_key")
        ]

    def __str__(self) -> str:
        return f"{self.scope} {self.key}"
