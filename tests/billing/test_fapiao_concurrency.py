"""Two requests for one invoice's fapiao at once, and two admins recording at once: one wins,
the other is refused with a conflict (row lock on the invoice, the request's row lock)."""

import importlib

import pytest
from django.apps import apps as django_apps
from django.db import connection
from django.utils import timezone

from billing.fapiao import requests as fapiao
from billing.ledger import invoices as ledger
from billing.models import FapiaoRequest
from tests.billing.conftest import BUYER_CODE
from tests.billing.test_payments_concurrency import race

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _postgres_only():
    if connection.vendor != "postgresql":
        pytest.skip("row locks are only proven on PostgreSQL")
    seed = importlib.import_module("inventory.migrations.0002_catalog_and_regions")
    seed.load(django_apps, None)


@pytest.fixture
def paid(buyer_invoice):
    ledger.invoice_apply_payment(
        invoice=buyer_invoice, amount=buyer_invoice.total, actor_label="test"
    )
    return buyer_invoice


def test_two_requests_at_once_make_one(paid):
    def ask(kind):
        return lambda: fapiao.fapiao_request_create(
            invoice=paid, kind=kind, title="深圳智算科技有限公司", tax_id=BUYER_CODE
        )

    results = race(ask("special"), ask("ordinary"), ask("ordinary"))
    made = [r for r in results if isinstance(r, FapiaoRequest)]
    refused = [r for r in results if isinstance(r, fapiao.FapiaoRequestOpen)]
    assert (len(made), len(refused)) == (1, 2), results
    assert FapiaoRequest.objects.count() == 1


def test_two_admins_recording_at_once_record_one_number(paid):
    request = fapiao.fapiao_request_create(
        invoice=paid, kind="ordinary", title="深圳智算科技有限公司", tax_id=BUYER_CODE
    )
    today = timezone.localdate()

    def record(number):
        return lambda: fapiao.fapiao_mark_issued(
            request=request, fapiao_number=number, issued_on=today
        )

    results = race(record("A1"), record("B2"))
    assert sum(isinstance(r, FapiaoRequest) for r in results) == 1, results
    assert sum(isinstance(r, fapiao.FapiaoRequestDecided) for r in results) == 1, results
    request.refresh_from_db()
    assert request.status == "issued" and request.fapiao_number in {"A1", "B2"}
