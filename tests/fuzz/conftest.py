"""A small marketplace for throwing bad input at, and a cheap way to see that nothing changed."""

from dataclasses import dataclass
from datetime import date

import pytest
from django.apps import apps
from django.db import connection
from rest_framework.test import APIClient

from accounts.models import Organization, User
from inventory.models import Cluster
from marketplace import services
from marketplace.models import CapacityRequest, Contract, Quote
from tests.conftest import client_for
from tests.factories import (
    ClusterFactory,
    OrganizationFactory,
    ProviderFactory,
    UserFactory,
    capacity_request,
    member_of,
)

OUR_APPS = ("accounts", "inventory", "marketplace", "billing")


def row_counts() -> dict[str, int]:
    """Rows in every table of our apps (and API tokens), in one query."""
    tables = sorted(
        model._meta.db_table
        for app in OUR_APPS
        for model in apps.get_app_config(app).get_models()
        if not model._meta.proxy and model._meta.managed
    )
    quote = connection.ops.quote_name
    sql = " UNION ALL ".join(f"SELECT '{table}', COUNT(*) FROM {quote(table)}" for table in tables)
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return dict(cursor.fetchall())


@dataclass
class World:
    provider_org: Organization
    customer_org: Organization
    provider: User
    customer: User
    staff: User
    cluster: Cluster
    request: CapacityRequest
    quote: Quote
    contract: Contract

    def client(self, role: str) -> APIClient:
        if role == "anonymous":
            return APIClient()
        return client_for(getattr(self, role))


@pytest.fixture
def world(db) -> World:
    provider_org = ProviderFactory(name="Fuzz Provider")
    customer_org = OrganizationFactory(name="Fuzz Customer")
    customer = member_of(customer_org)
    cluster = ClusterFactory(
        provider=provider_org, server_count=10, available_from=date(2020, 1, 1)
    )
    ClusterFactory(provider=provider_org, server_count=10, available_from=date(2020, 1, 1))
    signed = capacity_request(customer_org, servers=2)
    result = services.quotes_generate(capacity_request=signed, by=customer)
    contract = services.quote_accept(quote=result.quotes[0], by=customer)
    open_request = capacity_request(customer_org, servers=1)
    quote = services.quotes_generate(capacity_request=open_request, by=customer).quotes[0]
    return World(
        provider_org=provider_org,
        customer_org=customer_org,
        provider=member_of(provider_org),
        customer=customer,
        staff=UserFactory(username="fuzz-staff", is_staff=True),
        cluster=cluster,
        request=open_request,
        quote=quote,
        contract=contract,
    )
