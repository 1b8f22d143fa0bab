"""Billing's admin: searchable and filterable, money formatted, money documents read-only and
never deleted, and what admins do goes through the services."""

from datetime import date

import pytest
from django.contrib import admin
from django.test import RequestFactory
from django.urls import reverse

from billing.models import (
    BillingAccount,
    ContractOverdueFlag,
    CreditNote,
    Invoice,
    InvoiceStatus,
    PaymentMethod,
)
from tests.billing.conftest import make_contract
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

MONEY_DOCUMENTS = [
    "Invoice",
    "InvoiceLine",
    "CreditNote",
    "Payment",
    "BalanceEntry",
    "SlaCredit",
    "PayoutStatement",
    "PayoutLine",
    "BillingEvent",
    "BillingRunStep",
    "WebhookEvent",
    "DocumentSequence",
    "ContractOverdueFlag",
    "Refund",
    "InvoiceDispute",
]


@pytest.fixture
def superuser(db):
    return UserFactory(username="root", is_staff=True, is_superuser=True)


@pytest.fixture
def admin_client(client, superuser):
    client.force_login(superuser)
    return client


@pytest.fixture
def invoice(customer, cluster, run_day):
    contract = make_contract(customer, start=date(2027, 3, 17), stakes=[(cluster, 1)])
    run_day(date(2027, 3, 17))
    return Invoice.objects.get(contract=contract)


def billing_admins():
    return {
        model.__name__: model_admin
        for model, model_admin in admin.site._registry.items()
        if model._meta.app_label == "billing"
    }


def test_every_billing_model_is_searchable_and_filterable():
    admins = billing_admins()
    assert set(MONEY_DOCUMENTS) | {"BillingAccount"} == set(admins)
    for name, model_admin in admins.items():
        assert model_admin.search_fields, name
        assert model_admin.list_filter, name


def test_money_documents_cannot_be_added_changed_or_deleted_by_hand(superuser):
    request = RequestFactory().get("/")
    request.user = superuser
    admins = billing_admins()
    for name in MONEY_DOCUMENTS:
        model_admin = admins[name]
        assert not model_admin.has_add_permission(request), name
        assert not model_admin.has_change_permission(request), name
        assert not model_admin.has_delete_permission(request), name
        for inline in model_admin.get_inline_instances(request):
            assert not inline.has_add_permission(request, None), name
            assert not inline.has_delete_permission(request, None), name
    account_admin = admins["BillingAccount"]
    assert not account_admin.has_add_permission(request)
    assert not account_admin.has_delete_permission(request)


def test_an_invoice_reads_in_money_and_refuses_a_delete(admin_client, invoice):
    changelist = admin_client.get(reverse("admin:billing_invoice_changelist"), {"q": "INV"})
    assert changelist.status_code == 200
    assert "¥49,920.00" in changelist.content.decode()
    detail = admin_client.get(reverse("admin:billing_invoice_change", args=[invoice.pk]))
    assert detail.status_code == 200
    assert (
        admin_client.post(reverse("admin:billing_invoice_delete", args=[invoice.pk])).status_code
        == 403
    )
    assert Invoice.objects.filter(pk=invoice.pk).exists()


def test_crediting_an_invoice_in_full_goes_through_the_credit_note_service(admin_client, invoice):
    response = admin_client.post(
        reverse("admin:billing_invoice_changelist"),
        {"action": "credit_in_full", "_selected_action": [invoice.pk]},
        follow=True,
    )
    assert response.status_code == 200
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.VOID  # unpaid: the full credit voids it
    [note] = CreditNote.objects.all()
    assert note.amount == invoice.total
    assert note.number.startswith("CN-")
    assert "root" in note.reason


def test_resolving_overdue_flags_goes_through_the_service(admin_client, invoice):
    flag = ContractOverdueFlag.objects.create(contract=invoice.contract, invoice=invoice)
    admin_client.post(
        reverse("admin:billing_contractoverdueflag_changelist"),
        {"action": "resolve", "_selected_action": [flag.pk]},
    )
    flag.refresh_from_db()
    assert flag.resolved_at is not None


def test_only_the_billing_address_of_an_account_is_edited(admin_client, customer):
    account = BillingAccount.objects.create(organization=customer)
    url = reverse("admin:billing_billingaccount_change", args=[account.pk])
    response = admin_client.post(
        url,
        {
            "billing_email": "finance@example.com",
            "payment_method": PaymentMethod.STRIPE_CARD,
            "stripe_payment_method_id": "pm_forged",
        },
    )
    assert response.status_code == 302
    account.refresh_from_db()
    assert account.billing_email == "finance@example.com"
    assert account.payment_method == PaymentMethod.BANK_TRANSFER  # not editable by hand
    assert account.stripe_payment_method_id == ""
