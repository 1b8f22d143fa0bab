"""factory-boy factories shared by every app's tests."""

from datetime import date
from decimal import Decimal

import factory
from django.utils import timezone

from accounts.models import Membership, MembershipRole, Organization, User

TEST_PASSWORD = "correct-horse-battery-staple-42"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda o: f"{o.username}@example.com")
    password = factory.django.Password(TEST_PASSWORD)


class OrganizationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Organization

    name = factory.Sequence(lambda n: f"Organisation {n}")
    is_customer = True
    is_provider = False


class ProviderFactory(OrganizationFactory):
    is_customer = False
    is_provider = True
    verified_at = factory.LazyFunction(timezone.now)


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    organization = factory.SubFactory(OrganizationFactory)
    role = MembershipRole.OWNER


def member_of(organization: Organization, *, role: str = MembershipRole.OWNER) -> User:
    """A new user acting for ``organization``."""
    return MembershipFactory(organization=organization, role=role).user


def token_of(user: User, name: str = "tests") -> str:
    """The key of a new API token of ``user`` (``Authorization: Token <key>``)."""
    from accounts.services import api_token_create

    return api_token_create(user=user, name=name)[1]


# --- inventory ------------------------------------------------------------------------------
def gpu(code: str = "A800-80G"):
    from inventory.models import GpuModel

    return GpuModel.objects.get(code=code)


def region(code: str = "hefei"):
    from inventory.models import Region

    return Region.objects.get(code=code)


class ClusterFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "inventory.Cluster"

    provider = factory.SubFactory(ProviderFactory)
    name = factory.Sequence(lambda n: f"Cluster {n}")
    region = factory.LazyFunction(region)
    gpu_model = factory.LazyFunction(gpu)
    gpus_per_server = 8
    server_count = 4
    interconnect = "infiniband"
    interconnect_gbps = 400
    price_per_p_year = Decimal("120000")
    min_term_months = 1
    available_from = date(2027, 1, 1)
    available_until = None
    status = "listed"


# --- marketplace ----------------------------------------------------------------------------
def future_start(months_ahead: int = 2) -> date:
    """The first day of a month at least a month ahead: a valid contract start on any day the
    tests run."""
    today = timezone.localdate()
    month = today.month - 1 + months_ahead
    return date(today.year + month // 12, month % 12 + 1, 1)


def capacity_request(customer, **overrides):
    """A capacity request through the service (validated like the API)."""
    from inventory.models import GpuModel
    from marketplace import services

    codes = overrides.pop("gpu_models", ["A800-80G"])
    fields = {
        "start_date": future_start(),
        "term_months": 12,
        "servers": 1,
        "single_cluster": True,
    }
    fields.update(overrides)
    if "min_p" in overrides and "servers" not in overrides:
        fields["servers"] = None
    user = customer.memberships.first().user if customer.memberships.exists() else None
    return services.request_create(
        customer=customer,
        by=user,
        gpu_models=list(GpuModel.objects.filter(code__in=codes)),
        **fields,
    )
