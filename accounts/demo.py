"""Demo users and organisations for `manage.py seed_demo` (idempotent)."""

from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from accounts.members import invitation_create
from accounts.models import Invitation, Membership, MembershipRole, Organization, User


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
DEMO_CUSTOMER_FINANCE = DemoLogin(
    "finance", "demo-finance-2027", "billing member of Zhipu Start-up Lab"
)
DEMO_LOGINS = [DEMO_ADMIN, DEMO_PROVIDER, DEMO_CUSTOMER, DEMO_NEW_PROVIDER, DEMO_CUSTOMER_FINANCE]
# The customer's owner has invited one more colleague, who has not joined yet.
DEMO_INVITEE = "new.engineer@zhipu-lab.example"
DEMO_SITE_URL = "http://127.0.0.1:8000"


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
    return user


def _organization(name: str, *, owner: User, provider: bool, customer: bool) -> Organization:
    organization, _ = Organization.objects.get_or_create(
        name=name, defaults={"is_provider": provider, "is_customer": customer}
    )
    Membership.objects.get_or_create(
        user=owner, defaults={"organization": organization, "role": MembershipRole.OWNER}
    )
    return organization


def _member(organization: Organization, user: User, *, role: str) -> None:
    Membership.objects.get_or_create(
        user=user, defaults={"organization": organization, "role": role}
    )


def _pending_invitation(organization: Organization, *, by: User) -> None:
    """One open invitation (made again once the last one has expired; its mail goes nowhere
    under seed_demo)."""
    if (
        not Invitation.objects.pending()
        .filter(organization=organization, email=DEMO_INVITEE)
        .exists()
    ):
        invitation_create(
            organization=organization,
            by=by,
            email=DEMO_INVITEE,
            role=MembershipRole.MEMBER,
            site_url=DEMO_SITE_URL,
        )


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
    _member(customer, _user(DEMO_CUSTOMER_FINANCE), role=MembershipRole.BILLING)
    _pending_invitation(customer, by=User.objects.get(username=DEMO_CUSTOMER.username))
    for organization, profile in (
        (provider, PROVIDER_PROFILE),
        (customer, CUSTOMER_PROFILE),
        (unverified, NEW_PROVIDER_PROFILE),
    ):
        Organization.objects.filter(pk=organization.pk, legal_name="").update(**profile)
        organization.refresh_from_db()
    return DemoAccounts(
        admin=admin, provider=provider, customer=customer, unverified_provider=unverified
    )


# Legal profiles (fictional companies; the credit codes carry valid GB 32100-2015 checks).
PROVIDER_PROFILE = {
    "legal_name": "合肥算力科技有限公司",
    "unified_social_credit_code": "91340100MA2T000013",
    "registered_address": "安徽省合肥市高新区望江西路 800 号",
    "phone": "0551-6500 0000",
    "bank_name": "中国工商银行合肥高新支行",
    "bank_account": "1302 0100 0900 0000 001",
    "contact_name": "王经理",
    "contact_email": "ops@hefei-compute.example",
}
CUSTOMER_PROFILE = {
    "legal_name": "北京智谱创新实验室有限公司",
    "unified_social_credit_code": "91110108MA01A2B3CF",
    "registered_address": "北京市海淀区中关村大街 1 号",
    "phone": "010-6200 0000",
    "bank_name": "招商银行北京中关村支行",
    "bank_account": "1109 0000 0000 0002",
    "contact_name": "李博士",
    "contact_email": "finance@zhipu-lab.example",
}
NEW_PROVIDER_PROFILE = {
    "legal_name": "芜湖云算有限公司",
    "contact_name": "陈工",
    "contact_email": "hello@wuhu-cloud.example",
}
