from datetime import timedelta

import pytest
from django.utils import timezone

from inventory.models import Allocation
from inventory.selectors import cluster_free_servers
from marketplace import services
from marketplace.models import Contract, ContractStatus
from marketplace.services import ALLOWED_TRANSITIONS, InvalidTransition
from marketplace.tasks import advance_contracts
from tests.conftest import client_for
from tests.factories import ClusterFactory, ProviderFactory, capacity_request, member_of

pytestmark = pytest.mark.django_db

ALL_STATES = list(ContractStatus.values)


@pytest.fixture
def contract(customer_org, customer_user, market):
    request = capacity_request(customer_org, servers=2, single_cluster=True)
    result = services.quotes_generate(capacity_request=request, by=customer_user)
    return services.quote_accept(quote=result.quotes[0], by=customer_user)


def force_status(contract: Contract, status: str) -> Contract:
    Contract.objects.filter(pk=contract.pk).update(status=status)
    contract.refresh_from_db()
    return contract


@pytest.mark.parametrize("source", ALL_STATES)
@pytest.mark.parametrize("target", ALL_STATES)
def test_every_transition_is_allowed_or_refused_by_the_table(contract, staff_user, source, target):
    force_status(contract, source)
    if target in ALLOWED_TRANSITIONS[source]:
        moved = services.contract_transition(contract=contract, to=target, by=staff_user)
        assert moved.status == target
        last = moved.history.last()
        assert (last.from_status, last.to_status, last.actor) == (source, target, staff_user)
    else:
        with pytest.raises(InvalidTransition):
            services.contract_transition(contract=contract, to=target, by=staff_user)
        assert Contract.objects.get(pk=contract.pk).status == source


def test_terminal_states_allow_nothing():
    for state in ("completed", "cancelled", "terminated"):
        assert ALLOWED_TRANSITIONS[state] == frozenset()


def test_admin_approves_through_the_api(contract, staff_client, customer_client):
    assert customer_client.post(f"/api/v1/contracts/{contract.pk}/approve/").status_code == 403
    response = staff_client.post(f"/api/v1/contracts/{contract.pk}/approve/")
    assert response.status_code == 200
    assert response.json()["status"] == "approved"
    again = staff_client.post(f"/api/v1/contracts/{contract.pk}/approve/")
    assert again.status_code == 409 and again.json()["code"] == "invalid_transition"


def test_customer_cancels_before_start_and_capacity_is_released(contract, customer_client, market):
    cheap = market["cheap"]
    assert cluster_free_servers(cheap, start=contract.start_date, end=contract.end_date) == 0
    response = customer_client.post(
        f"/api/v1/contracts/{contract.pk}/cancel/", {"reason": "budget cut"}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    assert response.json()["history"][-1]["reason"] == "budget cut"
    assert cluster_free_servers(cheap, start=contract.start_date, end=contract.end_date) == 2


def test_customer_cannot_cancel_after_start(contract, customer_user):
    with pytest.raises(InvalidTransition):
        services.contract_cancel(
            contract=contract, by=customer_user, today=contract.start_date + timedelta(days=1)
        )


def test_admin_terminates_with_reason_and_capacity_frees_after_the_date(
    contract, staff_client, market
):
    force_status(contract, "active")
    effective = contract.start_date + timedelta(days=60)
    url = f"/api/v1/contracts/{contract.pk}/terminate/"
    missing = staff_client.post(url, {"effective_date": effective.isoformat()}, format="json")
    assert missing.status_code == 400 and "reason" in missing.json()["errors"]
    outside = staff_client.post(
        url, {"reason": "x", "effective_date": contract.end_date.isoformat()}, format="json"
    )
    assert outside.status_code == 400 and "effective_date" in outside.json()["errors"]
    response = staff_client.post(
        url,
        {"reason": "Customer breached AUP", "effective_date": effective.isoformat()},
        format="json",
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["status"] == "terminated"
    assert body["termination_date"] == effective.isoformat()
    assert body["total_price"] == str(contract.total_price)  # signed price never changes
    cheap = market["cheap"]
    assert cluster_free_servers(cheap, start=contract.start_date, end=effective) == 0
    assert cluster_free_servers(cheap, start=effective, end=contract.end_date) == 2


def test_provider_termination_needs_the_notice_period(contract, market, settings):
    force_status(contract, "active")
    provider_client = client_for(member_of(market["provider"]))
    url = f"/api/v1/contracts/{contract.pk}/terminate/"
    today = timezone.localdate()
    too_soon = max(contract.start_date, today) + timedelta(days=1)
    response = provider_client.post(
        url, {"reason": "selling the site", "effective_date": too_soon.isoformat()}, format="json"
    )
    assert response.status_code == 400
    assert (
        f"{settings.PROVIDER_TERMINATION_NOTICE_DAYS} days"
        in (response.json()["errors"]["effective_date"][0])
    )
    with_notice = today + timedelta(days=settings.PROVIDER_TERMINATION_NOTICE_DAYS + 1)
    if with_notice < contract.end_date:
        ok = provider_client.post(
            url,
            {"reason": "selling the site", "effective_date": with_notice.isoformat()},
            format="json",
        )
        assert ok.status_code == 200


def test_customers_cannot_terminate(contract, customer_client):
    force_status(contract, "active")
    response = customer_client.post(
        f"/api/v1/contracts/{contract.pk}/terminate/",
        {"reason": "x", "effective_date": (contract.start_date + timedelta(days=5)).isoformat()},
        format="json",
    )
    assert response.status_code == 403


def test_beat_task_activates_and_completes_on_dates_idempotently(contract, staff_user):
    services.contract_approve(contract=contract, by=staff_user)
    assert services.contracts_advance(today=contract.start_date - timedelta(days=1)) == {
        "activated": 0,
        "completed": 0,
    }
    assert services.contracts_advance(today=contract.start_date) == {"activated": 1, "completed": 0}
    assert services.contracts_advance(today=contract.start_date) == {"activated": 0, "completed": 0}
    assert services.contracts_advance(today=contract.end_date) == {"activated": 0, "completed": 1}
    contract.refresh_from_db()
    assert contract.status == "completed"
    labels = [event.actor_label for event in contract.history.all()]
    assert labels.count("task:contracts") == 2
    assert advance_contracts.delay().get() == {"activated": 0, "completed": 0}


def test_scoping_customer_provider_staff(
    contract, customer_client, other_customer_user, staff_client, market
):
    assert customer_client.get("/api/v1/contracts/").json()["count"] == 1
    assert client_for(other_customer_user).get("/api/v1/contracts/").json()["count"] == 0
    assert (
        client_for(other_customer_user).get(f"/api/v1/contracts/{contract.pk}/").status_code == 404
    )
    provider_view = client_for(member_of(market["provider"])).get(
        f"/api/v1/contracts/{contract.pk}/"
    )
    assert provider_view.status_code == 200
    stranger = client_for(member_of(ProviderFactory()))
    assert stranger.get(f"/api/v1/contracts/{contract.pk}/").status_code == 404
    assert staff_client.get("/api/v1/contracts/").json()["count"] == 1


def test_a_provider_sees_only_its_own_lines_and_no_totals(customer_org, customer_user, market):
    other = ProviderFactory(name="Other DC")
    ClusterFactory(
        provider=other,
        name="other",
        server_count=3,
        price_per_p_year=90_000,
        available_from=market["cheap"].available_from,
    )
    request = capacity_request(customer_org, servers=4, single_cluster=False)
    result = services.quotes_generate(capacity_request=request, by=customer_user)
    contract = services.quote_accept(quote=result.quotes[0], by=customer_user)
    assert {line.provider_id for line in contract.lines.all()} == {other.pk, market["provider"].pk}
    view = client_for(member_of(other)).get(f"/api/v1/contracts/{contract.pk}/").json()
    assert [line["cluster_name"] for line in view["allocations"]] == ["other"]
    assert view["total_price"] is None
    customer_view = client_for(customer_user).get(f"/api/v1/contracts/{contract.pk}/").json()
    assert len(customer_view["allocations"]) == 2


def test_contract_list_query_count(contract, staff_client, django_assert_max_num_queries):
    with django_assert_max_num_queries(8):
        response = staff_client.get("/api/v1/contracts/")
    assert response.status_code == 200
    assert Allocation.objects.filter(kind="booking").exists()
