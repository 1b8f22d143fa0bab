"""The Django admin cannot go around a service's guard: no hardware edits on clusters, no
deletes of contracts, quotes, ledger rows or invoiced outages, state changes only through the
services' actions, and money and P formatted."""

from datetime import date, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import Membership, MembershipRole, Organization
from inventory import services as inventory_services
from inventory.models import Allocation, Cluster, GpuModel, Outage
from marketplace import services as market_services
from marketplace.models import Contract, ContractEvent, ContractStatus, MarketSettings, Quote
from tests.factories import (
    ClusterFactory,
    OrganizationFactory,
    ProviderFactory,
    UserFactory,
    capacity_request,
    member_of,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    root = UserFactory(username="root", is_staff=True, is_superuser=True)
    client.force_login(root)
    client.root = root
    return client


@pytest.fixture
def cluster():
    return ClusterFactory(name="Hefei A800", server_count=4, available_from=date(2020, 1, 1))


@pytest.fixture
def contract(cluster):
    customer = OrganizationFactory(name="Buyer")
    buyer = member_of(customer)
    request = capacity_request(customer, servers=2)
    market_services.quotes_generate(capacity_request=request, by=buyer)
    quote = request.quotes.order_by("rank").first()
    return market_services.quote_accept(quote=quote, by=buyer)


def change_url(obj) -> str:
    meta = obj._meta
    return reverse(f"admin:{meta.app_label}_{meta.model_name}_change", args=[obj.pk])


def delete_url(obj) -> str:
    meta = obj._meta
    return reverse(f"admin:{meta.app_label}_{meta.model_name}_delete", args=[obj.pk])


def changelist_url(model) -> str:
    meta = model._meta
    return reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist")


# --- Clusters and the ledger ----------------------------------------------------------------
def test_cluster_hardware_cannot_be_changed_through_the_admin(admin_client, cluster, contract):
    page = admin_client.get(change_url(cluster))
    html = page.content.decode()
    assert page.status_code == 200
    assert 'name="server_count"' not in html and 'name="gpu_model"' not in html
    assert reverse("inventory:cluster-detail", args=[cluster.pk]) in html
    h800 = GpuModel.objects.get(code="H800-80G")
    response = admin_client.post(
        change_url(cluster),
        {"server_count": "1", "gpu_model": str(h800.pk), "gpus_per_server": "4"},
    )
    assert response.status_code == 403
    cluster.refresh_from_db()
    assert (cluster.server_count, cluster.gpu_model.code, cluster.gpus_per_server) == (
        4,
        "A800-80G",
        8,
    )


def test_clusters_and_the_ledger_cannot_be_deleted_or_added(admin_client, cluster, contract):
    booking = Allocation.objects.filter(cluster=cluster).first()
    for obj in (cluster, booking):
        assert admin_client.post(delete_url(obj), {"post": "yes"}).status_code == 403
    assert Cluster.objects.filter(pk=cluster.pk).exists()
    assert Allocation.objects.filter(pk=booking.pk).exists()
    assert admin_client.get(reverse("admin:inventory_cluster_add")).status_code == 403


def test_delisting_goes_through_the_service(admin_client, cluster):
    response = admin_client.post(
        changelist_url(Cluster),
        {"action": "delist_clusters", "_selected_action": [cluster.pk]},
        follow=True,
    )
    assert "Delisted 1 cluster." in response.content.decode()
    cluster.refresh_from_db()
    assert cluster.status == "delisted"


def test_cluster_list_shows_rated_p_and_price_formatted(admin_client, cluster):
    html = admin_client.get(changelist_url(Cluster)).content.decode()
    assert "19.968" in html  # 4 servers x 4.992 P
    assert "¥120,000.00" in html


def test_a_gpu_in_use_keeps_its_rating(admin_client, cluster):
    a800 = cluster.gpu_model
    admin_client.post(
        change_url(a800),
        {
            "code": "A800-80G",
            "name": a800.name,
            "fp16_dense_tflops": "999",
            "fp16_sparse_tflops": "1998",
            "memory_gb": "80",
            "memory_type": a800.memory_type,
            "form_factor": a800.form_factor,
            "notes": "changed",
        },
    )
    a800.refresh_from_db()
    assert a800.fp16_sparse_tflops == 624 and a800.notes == "changed"
    assert admin_client.post(delete_url(a800), {"post": "yes"}).status_code == 403


# --- Outages --------------------------------------------------------------------------------
def _outage(cluster, user):
    start = timezone.now() - timedelta(days=3)
    return inventory_services.outage_record(
        cluster=cluster,
        start=start,
        end=start + timedelta(hours=2),
        servers_affected=1,
        description="PSU failure",
        by=user,
    )


def test_an_invoiced_outage_cannot_be_deleted_but_a_fresh_one_can(admin_client, cluster):
    invoiced = _outage(cluster, admin_client.root)
    inventory_services.outages_mark_invoiced(outage_ids=[invoiced.pk])
    fresh = _outage(cluster, admin_client.root)
    assert admin_client.post(delete_url(invoiced), {"post": "yes"}).status_code == 403
    assert Outage.objects.filter(pk=invoiced.pk).exists()
    assert admin_client.post(delete_url(fresh), {"post": "yes"}).status_code == 302
    assert not Outage.objects.filter(pk=fresh.pk).exists()


def test_outages_have_no_bulk_delete(admin_client, cluster):
    invoiced = _outage(cluster, admin_client.root)
    inventory_services.outages_mark_invoiced(outage_ids=[invoiced.pk])
    admin_client.post(
        changelist_url(Outage),
        {"action": "delete_selected", "_selected_action": [invoiced.pk], "post": "yes"},
    )
    assert Outage.objects.filter(pk=invoiced.pk).exists()


def test_outages_are_not_edited_in_the_admin(admin_client, cluster):
    outage = _outage(cluster, admin_client.root)
    response = admin_client.post(change_url(outage), {"servers_affected": "99"})
    assert response.status_code == 403
    outage.refresh_from_db()
    assert outage.servers_affected == 1


# --- Contracts, quotes, requests ------------------------------------------------------------
def test_contracts_and_quotes_cannot_be_deleted(admin_client, contract):
    quote = Quote.objects.get(pk=contract.quote_id)
    for obj in (contract, quote, contract.request):
        assert admin_client.post(delete_url(obj), {"post": "yes"}).status_code == 403
    response = admin_client.post(
        changelist_url(Contract),
        {"action": "delete_selected", "_selected_action": [contract.pk], "post": "yes"},
    )
    assert response.status_code in (200, 302)
    assert Contract.objects.filter(pk=contract.pk).exists()
    assert (
        "Delete"
        not in admin_client.get(change_url(contract))
        .content.decode()
        .split("submit-row", 1)[-1][:400]
    )


def test_contract_status_changes_only_through_the_state_machine(admin_client, contract):
    response = admin_client.post(change_url(contract), {"status": ContractStatus.ACTIVE})
    assert response.status_code == 403
    contract.refresh_from_db()
    assert contract.status == ContractStatus.PENDING_APPROVAL
    response = admin_client.post(
        changelist_url(Contract),
        {"action": "approve", "_selected_action": [contract.pk]},
        follow=True,
    )
    assert "Approved 1 contract." in response.content.decode()
    contract.refresh_from_db()
    assert contract.status == ContractStatus.APPROVED
    event = ContractEvent.objects.filter(contract=contract).last()
    assert (event.from_status, event.to_status, event.actor) == (
        ContractStatus.PENDING_APPROVAL,
        ContractStatus.APPROVED,
        admin_client.root,
    )
    # Approving again is refused by the state machine, in words.
    again = admin_client.post(
        changelist_url(Contract),
        {"action": "approve", "_selected_action": [contract.pk]},
        follow=True,
    )
    assert "cannot become" in again.content.decode()


def test_contract_list_shows_money_and_p_formatted(admin_client, contract):
    html = admin_client.get(changelist_url(Contract)).content.decode()
    assert "9.984" in html  # 2 A800 servers
    assert "¥1,198,080.00" in html  # 9.984 P x ¥120,000 for 12 months


def test_market_settings_are_saved_through_the_service(admin_client):
    settings_row = MarketSettings.load()
    response = admin_client.post(change_url(settings_row), {"auto_approve_contracts": "on"})
    assert response.status_code == 302
    assert MarketSettings.load().auto_approve_contracts is True
    assert admin_client.post(delete_url(settings_row), {"post": "yes"}).status_code == 403


# --- Accounts -------------------------------------------------------------------------------
def test_organisations_are_verified_by_action_and_not_edited_in_the_admin(admin_client):
    provider = ProviderFactory(name="Wuhu Cloud", verified_at=None)
    response = admin_client.post(change_url(provider), {"legal_name": "x", "is_customer": "on"})
    assert response.status_code in (200, 403)
    provider.refresh_from_db()
    assert provider.legal_name == "" and not provider.is_customer
    admin_client.post(
        changelist_url(Organization),
        {"action": "verify_providers", "_selected_action": [provider.pk]},
    )
    provider.refresh_from_db()
    assert provider.verified_by == admin_client.root
    assert admin_client.post(delete_url(provider), {"post": "yes"}).status_code == 403


def test_the_last_owner_cannot_be_removed_or_demoted_in_the_admin(admin_client):
    organization = OrganizationFactory(name="Solo")
    owner = member_of(organization)
    membership = owner.membership
    for action in ("remove_members", "make_member"):
        response = admin_client.post(
            changelist_url(Membership),
            {"action": action, "_selected_action": [membership.pk]},
            follow=True,
        )
        assert "needs at least one owner" in response.content.decode()
    membership.refresh_from_db()
    assert membership.role == MembershipRole.OWNER
    assert admin_client.post(delete_url(membership), {"post": "yes"}).status_code == 403
    assert admin_client.post(delete_url(owner), {"post": "yes"}).status_code == 403


def test_removing_a_member_in_the_admin_closes_their_account(admin_client):
    organization = OrganizationFactory(name="Pair")
    member_of(organization)
    leaver = member_of(organization, role=MembershipRole.MEMBER)
    admin_client.post(
        changelist_url(Membership),
        {"action": "remove_members", "_selected_action": [leaver.membership.pk]},
    )
    leaver.refresh_from_db()
    assert not leaver.is_active
    assert not Membership.objects.filter(user=leaver).exists()
