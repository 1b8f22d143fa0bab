import importlib

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from accounts.models import User
from tests.factories import OrganizationFactory, ProviderFactory, UserFactory, member_of


@pytest.fixture(autouse=True)
def _clear_cache():
    """Rate-limit counters live in the cache; every test starts from zero."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def _default_language(settings):
    """Requests through the test client activate their language in the test's thread and
    leave it there; every test starts (and ends) in the default language."""
    from django.utils import translation

    translation.activate(settings.LANGUAGE_CODE)
    yield
    translation.activate(settings.LANGUAGE_CODE)


@pytest.fixture(autouse=True)
def _eager_celery(settings):
    """Tasks run in-process unless a test starts a real worker (marker ``celery_worker``)."""
    from config.celery import app

    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    settings.CELERY_TASK_ALWAYS_EAGER = True
    yield
    app.conf.task_always_eager = previous


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


def client_for(user: User) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def customer_org(db):
    return OrganizationFactory(name="Customer A")


@pytest.fixture
def other_customer_org(db):
    return OrganizationFactory(name="Customer B")


@pytest.fixture
def provider_org(db):
    return ProviderFactory(name="Provider P")


@pytest.fixture
def customer_user(customer_org):
    return member_of(customer_org)


@pytest.fixture
def other_customer_user(other_customer_org):
    return member_of(other_customer_org)


@pytest.fixture
def provider_user(provider_org):
    return member_of(provider_org)


@pytest.fixture
def staff_user(db):
    return UserFactory(username="staff", is_staff=True)


@pytest.fixture
def customer_client(customer_user) -> APIClient:
    return client_for(customer_user)


@pytest.fixture
def provider_client(provider_user) -> APIClient:
    return client_for(provider_user)


@pytest.fixture
def staff_client(staff_user) -> APIClient:
    return client_for(staff_user)


@pytest.fixture(autouse=True)
def _reference_data_for_transactional_tests(request):
    """Transactional tests flush every table when they end, data migrations' rows included
    (GPU catalog, regions); put those rows back before each such test."""
    marker = request.node.get_closest_marker("django_db")
    if marker is None or not marker.kwargs.get("transaction"):
        yield
        return
    request.getfixturevalue("transactional_db")
    from django.apps import apps as django_apps

    catalog = importlib.import_module("inventory.migrations.0002_catalog_and_regions")
    catalog.load(django_apps, None)
    yield
