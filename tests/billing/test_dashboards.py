"""The dashboard: a provider's bookings, utilisation, revenue, payout and payback; a customer's
contracts, invoices and requests; both for an organisation with both roles. Through the test
client, against PostgreSQL."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from billing.dashboards import payback, provider_dashboard
from billing.invoicing.issue import invoices_issue_chunk
from billing.invoicing.overdue import invoices_mark_overdue
from billing.models import Invoice
from billing.payments.transfers import bank_transfer_record
from billing.payouts.statements import payouts_build
from inventory import services as inventory
from inventory.models import Cluster
from tests.billing.conftest import make_contract, new_customer
from tests.factories import (
    TEST_PASSWORD,
    ClusterFactory,
    OrganizationFactory,
    capacity_request,
    gpu,
    member_of,
)
from tests.translations import data_words, untranslated_words

pytestmark = pytest.mark.django_db

TODAY = timezone.localdate()
MONTH_START = TODAY.replace(day=1)


def html_of(response) -> str:
    return response.content.decode()


def running_contract(customer, cluster, servers, *, months_ago=0, **kwargs):
    """A contract started ``months_ago`` months before this month's 1st, running a year."""
    start = MONTH_START
    for _ in range(months_ago):
        start = (start - timedelta(days=1)).replace(day=1)
    return make_contract(customer, start=start, stakes=[(cluster, servers)], **kwargs)


# --- Payback arithmetic ---------------------------------------------------------------------
def test_payback_of_an_a800_cluster_is_about_two_years_fully_booked():
    """DOMAIN.md: a CNY 1.2 million A800 server renting for 599,040 a year pays back in about
    two years at full utilisation; half booked, in twice that."""
    cluster = Cluster(
        gpu_model=gpu("A800-80G"),
        gpus_per_server=8,
        server_count=10,
        price_per_p_year=Decimal("120000"),
        server_cost_per_server=Decimal("1200000"),
        depreciation_years=5,
    )
    view = payback(cluster, booked_servers=5, booked_annual=Decimal("2995200"))
    assert view.investment == Decimal("12000000.00")
    assert view.depreciation_yearly == Decimal("2400000.00")
    assert view.depreciation_monthly == Decimal("200000.00")
    assert view.booked_p == Decimal("24.960")
    assert view.booked_monthly == Decimal("249600.00")
    assert view.margin_monthly == Decimal("49600.00")
    assert view.full_annual == Decimal("5990400.00")
    assert view.full_payback_months == Decimal("24.0")
    assert view.payback_months == Decimal("48.1")


def test_payback_without_a_cost_or_bookings_has_no_months():
    cluster = Cluster(
        gpu_model=gpu("H800-80G"),
        gpus_per_server=8,
        server_count=4,
        price_per_p_year=Decimal("135000"),
        depreciation_years=6,
    )
    view = payback(cluster, booked_servers=0, booked_annual=Decimal(0))
    assert view.investment is None and view.payback_months is None
    cluster.server_cost_per_server = Decimal("2300000")
    view = payback(cluster, booked_servers=0, booked_annual=Decimal(0))
    assert view.depreciation_yearly == Decimal("1533333.33")
    assert view.payback_months is None  # nothing booked today
    assert view.margin_monthly == -view.depreciation_monthly


# --- Provider -------------------------------------------------------------------------------
@pytest.fixture
def provider_setup(provider, cluster):
    """Hefei's 10-server A800 cluster at CNY 1.35 million a server over 5 years: 4 servers
    booked this month by a contract whose first month is invoiced and paid."""
    inventory.cluster_update(
        cluster=cluster,
        changes={"server_cost_per_server": Decimal("1350000"), "depreciation_years": 5},
    )
    customer = new_customer()
    contract = running_contract(customer, cluster, 4)
    invoices_issue_chunk(contract_ids=[contract.pk], today=TODAY)
    invoice = Invoice.objects.get(contract=contract)
    bank_transfer_record(invoice=invoice, amount=invoice.total, reference="ICBC-1")
    payouts_build(month=TODAY)
    return {"provider": provider, "cluster": cluster, "contract": contract, "invoice": invoice}


def test_the_provider_sees_bookings_utilisation_revenue_payout_and_payback(client, provider_setup):
    client.force_login(member_of(provider_setup["provider"]))
    response = client.get("/dashboard/")
    assert response.status_code == 200
    html = html_of(response)
    invoice = provider_setup["invoice"]
    # 4 of 10 servers of 4.992 P: 19.968 P booked of 49.920 listed.
    assert "49.920" in html and "19.968" in html
    assert "<svg" in html and "chart-utilisation" in html
    assert f"¥{invoice.total:,}" in html  # invoiced this month, all the provider's
    board = provider_dashboard(organization=provider_setup["provider"], today=TODAY)
    assert board.next_payout is not None
    assert f"¥{board.next_payout.payable:,}" in html
    assert board.months[0].utilisation == Decimal("40.0")
    [row] = board.paybacks
    # 13.5 million over the rent of 4 servers a month (4 x 4.992 x 120,000 / 12).
    assert row.investment == Decimal("13500000.00")
    assert row.booked_monthly == Decimal("199680.00")
    assert row.payback_months == Decimal("67.6")
    assert "67.6" in html and "27.0" in html  # at today's bookings / fully booked


def test_a_split_contracts_invoice_counts_each_providers_share(provider, cluster):
    """Two identical lines of one provider and one of another: the invoice splits 2:1."""
    other = ClusterFactory(name="Other provider's", server_count=4, available_from=MONTH_START)
    twin = ClusterFactory(
        provider=provider, name="Twin", server_count=4, available_from=MONTH_START
    )
    contract = make_contract(
        new_customer(), start=MONTH_START, stakes=[(cluster, 1), (twin, 1), (other, 1)]
    )
    invoices_issue_chunk(contract_ids=[contract.pk], today=TODAY)
    total = Invoice.objects.get(contract=contract).total
    mine = provider_dashboard(organization=provider, today=TODAY)
    theirs = provider_dashboard(organization=other.provider, today=TODAY)
    assert mine.invoiced_this_month == (total * 2 / 3).quantize(Decimal("0.01"))
    assert theirs.invoiced_this_month == (total / 3).quantize(Decimal("0.01"))
    assert mine.invoiced_count == theirs.invoiced_count == 1


def test_a_cluster_without_a_cost_links_to_its_form(client, provider, cluster):
    client.force_login(member_of(provider))
    html = html_of(client.get("/dashboard/"))
    assert f"/clusters/{cluster.pk}/edit/" in html
    assert "Enter the server cost" in html


def test_the_provider_enters_the_server_cost_on_the_cluster_form(client, provider, cluster):
    client.force_login(member_of(provider))
    form = client.get(f"/clusters/{cluster.pk}/edit/")
    assert b'name="server_cost_per_server"' in form.content
    data = {
        "name": cluster.name,
        "region": cluster.region.code,
        "gpu_model": cluster.gpu_model.code,
        "gpus_per_server": "8",
        "server_count": str(cluster.server_count),
        "price_per_p_year": "120000",
        "interconnect": cluster.interconnect,
        "interconnect_gbps": str(cluster.interconnect_gbps),
        "min_term_months": str(cluster.min_term_months),
        "available_from": cluster.available_from.isoformat(),
        "available_until": "",
        "sla_uptime_percent": "99.9",
        "description": "",
        "server_cost_per_server": "1280000",
        "depreciation_years": "7",
    }
    response = client.post(f"/clusters/{cluster.pk}/edit/", data)
    assert response.status_code == 302
    cluster.refresh_from_db()
    assert cluster.server_cost_per_server == Decimal("1280000.00")
    assert cluster.depreciation_years == 7
    refused = client.post(f"/clusters/{cluster.pk}/edit/", {**data, "depreciation_years": "9"})
    assert refused.status_code == 200
    assert b"invalid-feedback" in refused.content
    cluster.refresh_from_db()
    assert cluster.depreciation_years == 7


def test_the_service_keeps_the_depreciation_life_within_five_to_seven_years(cluster):
    from accounts.errors import InvalidInput

    with pytest.raises(InvalidInput) as refused:
        inventory.cluster_update(cluster=cluster, changes={"depreciation_years": 4})
    assert refused.value.field == "depreciation_years"
    with pytest.raises(InvalidInput):
        inventory.cluster_update(cluster=cluster, changes={"server_cost_per_server": Decimal(0)})


def test_provider_dashboard_queries_stay_bounded(client, provider, django_assert_max_num_queries):
    customer = new_customer()
    for number in range(30):
        cluster = ClusterFactory(
            provider=provider,
            name=f"Cluster {number:02}",
            server_count=4,
            available_from=MONTH_START - timedelta(days=400),
            server_cost_per_server=Decimal("1300000"),
        )
        running_contract(customer, cluster, 1 + number % 3, months_ago=number % 2)
    client.force_login(member_of(provider))
    with django_assert_max_num_queries(14):
        response = client.get("/dashboard/")
    assert response.status_code == 200
    assert response.content.count(b"/clusters/") >= 30


# --- Customer -------------------------------------------------------------------------------
@pytest.fixture
def customer_setup(cluster):
    customer = new_customer("Zhipu Lab")
    started = running_contract(customer, cluster, 2, months_ago=2)
    invoices_issue_chunk(contract_ids=[started.pk], today=started.start_date)
    invoices_mark_overdue(today=TODAY)
    invoices_issue_chunk(contract_ids=[started.pk], today=TODAY)
    ClusterFactory(name="Spare", server_count=8, available_from=MONTH_START)
    request = capacity_request(customer, servers=2)
    return {"customer": customer, "contract": started, "request": request}


def test_the_customer_sees_contracts_booked_p_invoices_due_and_open_requests(
    client, customer_setup
):
    customer = customer_setup["customer"]
    client.force_login(member_of(customer))
    response = client.get("/dashboard/")
    html = html_of(response)
    assert response.status_code == 200
    contract = customer_setup["contract"]
    assert f"/market/contracts/{contract.pk}/" in html
    assert "9.984" in html  # 2 A800 servers booked today
    unpaid = Invoice.objects.filter(customer=customer, status__in=["open", "overdue"])
    total = sum((i.amount_due for i in unpaid), Decimal(0))
    assert unpaid.count() == 3 and f"¥{total:,}" in html
    first = unpaid.order_by("due_date", "id").first()
    assert first.status == "overdue" and first.number in html
    assert f"/market/requests/{customer_setup['request'].pk}/" in html
    assert "As a provider" not in html


def test_customer_dashboard_queries_stay_bounded(client, cluster, django_assert_max_num_queries):
    customer = new_customer()
    contracts = [running_contract(customer, cluster, 1, months_ago=1) for _ in range(10)]
    invoices_issue_chunk(contract_ids=[c.pk for c in contracts], today=TODAY)
    for _ in range(12):
        capacity_request(customer, servers=1)
    client.force_login(member_of(customer))
    with django_assert_max_num_queries(14):
        response = client.get("/dashboard/")
    assert response.status_code == 200


def test_an_organisation_with_both_roles_sees_both(client, cluster):
    both = OrganizationFactory(name="Both Ways", is_provider=True, is_customer=True)
    ClusterFactory(provider=both, name="Own cluster", available_from=MONTH_START)
    running_contract(both, cluster, 1)
    client.force_login(member_of(both))
    html = html_of(client.get("/dashboard/"))
    assert "As a provider" in html and "As a customer" in html and "Own cluster" in html


def test_the_dashboard_reads_in_chinese(client, provider_setup, customer_setup):
    for organization in (provider_setup["provider"], customer_setup["customer"]):
        client.force_login(member_of(organization))
        response = client.get("/dashboard/", HTTP_ACCEPT_LANGUAGE="zh-hans")
        assert response.status_code == 200
        assert "仪表板" in html_of(response)
        assert untranslated_words(html_of(response), data_words()) == []


# --- Access ---------------------------------------------------------------------------------
def test_anonymous_visitors_are_sent_to_log_in(client):
    response = client.get("/dashboard/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_logging_in_lands_on_the_dashboard(client, provider):
    user = member_of(provider)
    response = client.post(
        "/accounts/login/", {"username": user.username, "password": TEST_PASSWORD}
    )
    assert response.status_code == 302
    assert response["Location"] == "/dashboard/"
    assert b'href="/dashboard/"' in client.get("/dashboard/").content  # the nav link


def test_admins_see_the_work_queue_counts(client, django_user_model):
    admin = django_user_model.objects.create_user("ops", password=TEST_PASSWORD, is_staff=True)
    OrganizationFactory(name="Unverified", is_provider=True, is_customer=False)
    client.force_login(admin)
    html = html_of(client.get("/dashboard/"))
    assert 'href="/dashboard/queue/"' in html
    assert "Providers to verify" in html
