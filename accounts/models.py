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
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.validators import validate_unified_social_credit_code


class User(AbstractUser):
    """A person. Platform admins are users with ``is_staff``."""

    email = models.EmailField("email address", blank=True)

    class Meta:
        ordering = ["username"]


class OrganizationRole(models.TextChoices):
    PROVIDER = "provider", _("Provider")  # lists clusters and rents them out
    CUSTOMER = "customer", _("Customer")  # books capacity


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

    # The legal profile: what a statement names and a 增值税专用发票 (special VAT fapiao) needs.
    legal_name = models.CharField(_("legal name"), max_length=200, blank=True)
    unified_social_credit_code = models.CharField(
        _("unified social credit code"),
        max_length=18,
        blank=True,
        validators=[validate_unified_social_credit_code],
        help_text=_("统一社会信用代码: 18 characters, the last a check character."),
    )
    registered_address = models.CharField(_("registered address"), max_length=300, blank=True)
    phone = models.CharField(_("phone"), max_length=40, blank=True)
    bank_name = models.CharField(_("bank"), max_length=200, blank=True)
    bank_account = models.CharField(_("bank account number"), max_length=64, blank=True)
    contact_name = models.CharField(_("contact person"), max_length=100, blank=True)
    contact_email = models.EmailField(_("contact email"), blank=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(is_provider=True) | Q(is_customer=True),
                name="organization_has_a_role",
            ),
            models.UniqueConstraint(
                fields=["unified_social_credit_code"],
                condition=~Q(unified_social_credit_code=""),
                name="organization_unique_credit_code",
            ),
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

    @property
    def missing_legal_fields(self) -> list[str]:
        """Legal-profile fields still empty (a special VAT fapiao needs them all)."""
        return [name for name in LEGAL_PROFILE_FIELDS if not getattr(self, name)]


# What a 增值税专用发票 needs of the buyer, and what our statements print for each party.
LEGAL_PROFILE_FIELDS = (
    "legal_name",
    "unified_social_credit_code",
    "registered_address",
    "phone",
    "bank_name",
    "bank_account",
)
# Everything an owner may edit on the organisation's profile page or through the API.
PROFILE_FIELDS = ("name", *LEGAL_PROFILE_FIELDS, "contact_name", "contact_email")


class MembershipRole(models.TextChoices):
    OWNER = "owner", _("Owner")  # manages the organisation and its members
    MEMBER = "member", _("Member")  # acts for the organisation
    BILLING = "billing", _("Billing")  # sees and pays invoices


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


class InvitationState(models.TextChoices):
    PENDING = "pending", _("Pending")  # sent, not yet accepted
    ACCEPTED = "accepted", _("Accepted")  # the invitee joined
    REVOKED = "revoked", _("Revoked")  # withdrawn by an owner
    EXPIRED = "expired", _("Expired")  # not accepted in time


class InvitationQuerySet(models.QuerySet):
    def pending(self, now=None):
        """Neither accepted nor revoked, and not yet expired."""
        return self.filter(
            accepted_at__isnull=True,
            revoked_at__isnull=True,
            expires_at__gt=now or timezone.now(),
        )


class Invitation(models.Model):
    """An owner's invitation to join their organisation with a role.

    The link in the invitation email carries a random token; only its sha256 is stored, so the
    table alone cannot be used to join. A token is good once, until ``expires_at``; accepting
    creates a new user (a user belongs to one organisation) and sets ``accepted_at``.
    """

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="invitations"
    )
    email = models.EmailField(_("email address"))
    role = models.CharField(
        _("role"), max_length=16, choices=MembershipRole.choices, default=MembershipRole.MEMBER
    )
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    token_hash = models.CharField(max_length=64, unique=True)  # sha256 hex of the link's token
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = InvitationQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # One open invitation per address and organisation: inviting again replaces it.
            models.UniqueConstraint(
                "organization",
                Lower("email"),
                condition=Q(accepted_at__isnull=True, revoked_at__isnull=True),
                name="invitation_one_open_per_email",
            ),
            models.CheckConstraint(
                condition=Q(accepted_at__isnull=True) | Q(revoked_at__isnull=True),
                name="invitation_accepted_or_revoked_not_both",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.email} → {self.organization} ({self.role})"

    @property
    def state(self) -> str:
        if self.accepted_at is not None:
            return InvitationState.ACCEPTED
        if self.revoked_at is not None:
            return InvitationState.REVOKED
        if self.expires_at <= timezone.now():
            return InvitationState.EXPIRED
        return InvitationState.PENDING

    def get_state_display(self) -> str:
        return InvitationState(self.state).label


class ApiToken(models.Model):
    """A named API key of one user: ``Authorization: Token <key>``.

    The key is shown once, when it is made; only its sha256 is stored (``key_hash``, unique, so
    authentication is one indexed lookup) with its first characters (``prefix``) to tell keys
    apart. ``last_used_at`` is refreshed at most once a minute per key.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(_("name"), max_length=100)
    key_hash = models.CharField(max_length=64, unique=True)
    prefix = models.CharField(_("key starts with"), max_length=16)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"


class OutboxTask(models.Model):
    """A Celery task the broker could not take when it was enqueued (Redis down, say).

    ``config.celery.ResilientTask`` writes the row instead of failing the request; the
    ``accounts.flush_task_outbox`` task (every minute from the beat, and when a worker starts)
    hands it to the broker with the same task id once it answers, then deletes the row.
    """

    task_id = models.CharField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    args = models.JSONField(default=list)
    kwargs = models.JSONField(default=dict)
    options = models.JSONField(default=dict)  # queue, eta, expires, priority, time limits
    attempts = models.PositiveIntegerField(default=0)  # failed hand-overs since it was stored
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.name} {self.task_id}"
