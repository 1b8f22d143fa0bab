"""Demo users and organisations for `manage.py seed_demo` (idempotent)."""

from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone
from rest_framework.authtoken.models import Token

from accounts.models import Membership, MembershipRole, Organization, User


@dataclass(frozen=True)
class DemoLogin:
    username: str
    password: str
    what: str


DEMO_ADMIN = DemoLogin("admin", "demo-admin-2027", "platform admin (Django staff)")
DEMO_PROVIDER = DemoLogin("provider", "demo-provider-2027", "provider: Hefei Compute Co.")
DEMO_CUSTOMER = DemoLogin("customer", "demo-customer-2027", "customer: Zhipu Start-up Lab")
DEMO_NEW_PROVIDER = DemoLogin(
    "newprovider", "demo-newprovider-2027", "provider awaiting verification: Wuhu Cloud"
)
DEMO_LOGINS = [DEMO_ADMIN, DEMO_PROVIDER, DEMO_CUSTOMER, DEMO_NEW_PROVIDER]


@dataclass(frozen=True)
class DemoAccounts:
    admin: User
    provider: Organization
    customer: Organization
    unverified_provider: Organization


def _user(login: DemoLogin, *, staff: bool = False) -> User:
    user, created = User.objects.get_or_create(
        username=login.username,
        defaults={
            "email": f"{login.username}@demo.compute-market.local",
            "is_staff": staff,
            "is_superuser": staff,
        },
    )
    if created:
        user.set_password(login.password)
        user.save(update_fields=["password"])
    Token.objects.get_or_create(user=user)
    return user


def _organization(name: str, *, owner: User, provider: bool, customer: bool) -> Organization:
    organization, _ = Organization.objects.get_or_create(
        name=name, defaults={"is_provider": provider, "is_customer": customer}
    )
    Membership.objects.get_or_create(
        user=owner, defaults={"organization": organization, "role": MembershipRole.OWNER}
    )
    return organization


@transaction.atomic
def seed_accounts() -> DemoAccounts:
    admin = _user(DEMO_ADMIN, staff=True)
    provider = _organization(
        "Hefei Compute Co.", owner=_user(DEMO_PROVIDER), provider=True, customer=False
    )
    if provider.verified_at is None:
        provider.verified_at = timezone.now()
        provider.verified_by = admin
        provider.save(update_fields=["verified_at", "verified_by"])
    customer = _organization(
        "Zhipu Start-up Lab", owner=_user(DEMO_CUSTOMER), provider=False, customer=True
    )
    unverified = _organization(
        "Wuhu Cloud", owner=_user(DEMO_NEW_PROVIDER), provider=True, customer=False
    )
    return DemoAccounts(
        admin=admin, provider=provider, customer=customer, unverified_provider=unverified
    )
