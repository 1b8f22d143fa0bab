"""The admins' work queue: who may see it, what it lists, and every action through it, with and
without htmx, its effects checked in the database and the services' refusals shown as form
errors. Through the test client, against PostgreSQL."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from accounts.models import Organization
from billing.invoicing.issue import invoices_issue_chunk
from billing.invoicing.overdue import contracts_flag_overdue, invoices_mark_overdue
from billing.models import (
    BillingEvent,
    ContractOverdueFlag,
    CreditNote,
    Gateway,
    Invoice,
    InvoiceStatus,
    Payment,
    PaymentStatus,
)
from billing.payments.gateways import ChargeOutcome, ChargeResult
from billing.payments.outcomes import payment_apply_outcome
from marketplace.models import ContractEvent, ContractStatus
from tests.billing.conftest import make_contract, new_customer
from tests.factories import TEST_PASSWORD, ClusterFactory, OrganizationFactory, member_of
from tests.translations import data_words, untranslated_words

pytestmark = pytest.mark.django_db

TODAY = timezone.localdate()
HTMX = {"HTTP_HX_REQUEST": "true"}


def html_of(response) -> str:
    return response.content.decode()


def months_back(months: int):
    start = TODAY.replace(day=1)
    for _ in range(months):
        start = (start - timedelta(days=1)).replace(day=1)
    return start


@pytest.fixture
def admin(django_user_model):
    return django_user_model.objects.create_user("ops", password=TEST_PASSWORD, is_staff=True)


@pytest.fixture
def queue(cluster):
    """One item of each kind: an unverified provider, a contract awaiting approval, an invoice
    unpaid for months (overdue, its contract flagged), a card payment of unknown outcome."""
    unverified = OrganizationFactory(name="Wuhu Cloud", is_provider=True, is_customer=False)
    customer = new_customer("Zhipu Lab")
    pending = make_contract(customer, start=TODAY + timedelta(days=40), status="pending_approval")
    ContractEvent.objects.create(contract=pending, to_status="pending_approval", reason="Signed")
    running = make_contract(customer, start=months_back(3), stakes=[(cluster, 2)])
    invoices_issue_chunk(contract_ids=[running.pk], today=running.start_date)
    invoices_mark_overdue(today=TODAY)
    contracts_flag_overdue(today=TODAY)
    overdue = Invoice.objects.get(contract=running, period_index=0)
    invoices_issue_chunk(contract_ids=[running.pk], today=TODAY)
    latest = Invoice.objects.filter(contract=running, status="open").order_by("-pk").first()
    payment = Payment.objects.create(
        invoice=latest,
        gateway=Gateway.STRIPE,
        amount=latest.total,
        idempotency_key="test-unknown-1",
    )
    payment_apply_outcome(
        payment_id=payment.pk,
        result=ChargeResult(ChargeOutcome.UNKNOWN, failure_message="Timed out"),
        actor_label="test",
    )
    return {
        "provider": unverified,
        "pending": pending,
        "running": running,
        "overdue": overdue,
        "flag": ContractOverdueFlag.objects.get(invoice=overdue),
        "payment": payment,
    }


def post(client, kind, pk, action, data=None, *, htmx=False):
    prefix = f"{kind}-{pk}-{action}"
    body = {f"{prefix}-{name}": value for name, value in (data or {}).items()}
    return client.post(f"/dashboard/queue/{kind}/{pk}/{action}/", body, **(HTMX if htmx else {}))


# --- Access ---------------------------------------------------------------------------------
def test_anonymous_visitors_are_sent_to_log_in(client, queue):
    response = client.get("/dashboard/queue/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    response = post(client, "provider", queue["provider"].pk, "verify")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    assert Organization.objects.get(pk=queue["provider"].pk).verified_at is None


def test_providers_and_customers_are_refused(client, queue, provider):
    for organization in (provider, queue["running"].customer):
        client.force_login(member_of(organization))
        assert client.get("/dashboard/queue/").status_code == 403
        assert post(client, "provider", queue["provider"].pk, "verify").status_code == 403
        assert post(client, "contract", queue["pending"].pk, "approve").status_code == 403
    assert Organization.objects.get(pk=queue["provider"].pk).verified_at is None
    queue["pending"].refresh_from_db()
    assert queue["pending"].status == ContractStatus.PENDING_APPROVAL


def test_unknown_kinds_and_actions_are_not_found(client, admin, queue):
    client.force_login(admin)
    assert post(client, "invoice", queue["overdue"].pk, "delete").status_code == 404
    assert post(client, "cluster", 1, "verify").status_code == 404
    assert (
        client.get(f"/dashboard/queue/provider/{queue['provider'].pk}/verify/").status_code == 405
    )


# --- The page -------------------------------------------------------------------------------
def test_the_queue_lists_one_item_of_each_kind_with_its_audit_trail(client, admin, queue):
    client.force_login(admin)
    response = client.get("/dashboard/queue/")
    assert response.status_code == 200
    html = html_of(response)
    for dom_id in (
        f"queue-provider-{queue['provider'].pk}",
        f"queue-contract-{queue['pending'].pk}",
        f"queue-invoice-{queue['overdue'].pk}",
        f"queue-flag-{queue['flag'].pk}",
        f"queue-payment-{queue['payment'].pk}",
    ):
        assert f'id="{dom_id}"' in html
    assert "Unpaid after its due date" in html  # the invoice's trail
    assert "Timed out" in html  # the payment's
    assert html.count('hx-post="/dashboard/queue/') >= 7  # every action enhanced by htmx
    assert html.count('<form method="post" action="/dashboard/queue/') >= 7  # and plain


def test_the_queue_reads_in_chinese(client, admin, queue):
    client.force_login(admin)
    response = client.get("/dashboard/queue/", HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert "工作队列" in html_of(response)
    assert untranslated_words(html_of(response), data_words()) == []


def test_the_queue_queries_stay_bounded(client, admin, cluster, django_assert_max_num_queries):
    customer = new_customer()
    contracts = [make_contract(customer, start=months_back(3)) for _ in range(12)]
    invoices_issue_chunk(contract_ids=[c.pk for c in contracts], today=months_back(3))
    invoices_mark_overdue(today=TODAY)
    contracts_flag_overdue(today=TODAY)
    for number in range(12):
        OrganizationFactory(name=f"New provider {number}", is_provider=True, is_customer=False)
        make_contract(customer, start=TODAY + timedelta(days=40), status="pending_approval")
    client.force_login(admin)
    with django_assert_max_num_queries(20):
        response = client.get("/dashboard/queue/")
    assert response.status_code == 200
    assert html_of(response).count('class="card card-body mb-3 queue-item"') >= 48


# --- Actions --------------------------------------------------------------------------------
def test_verify_a_provider_without_javascript(client, admin, queue):
    client.force_login(admin)
    response = post(client, "provider", queue["provider"].pk, "verify")
    assert response.status_code == 302 and response["Location"] == "/dashboard/queue/"
    organization = Organization.objects.get(pk=queue["provider"].pk)
    assert organization.verified_at is not None and organization.verified_by == admin
    assert "is verified" in html_of(client.get("/dashboard/queue/"))
    again = post(client, "provider", queue["provider"].pk, "verify")  # left the queue
    assert again.status_code == 302


def test_approve_a_contract_with_htmx(client, admin, queue):
    client.force_login(admin)
    response = post(client, "contract", queue["pending"].pk, "approve", htmx=True)
    assert response.status_code == 200
    assert "approved" in html_of(response) and "left the queue" in html_of(response)
    queue["pending"].refresh_from_db()
    assert queue["pending"].status == ContractStatus.APPROVED
    assert queue["pending"].history.filter(to_status="approved", actor=admin).exists()


def test_terminate_a_flagged_contract_with_reason_and_effective_date(client, admin, queue):
    client.force_login(admin)
    running = queue["running"]
    effective = TODAY + timedelta(days=10)
    response = post(
        client,
        "flag",
        queue["flag"].pk,
        "terminate",
        {"reason": "Unpaid for three months", "effective_date": effective.isoformat()},
    )
    assert response.status_code == 302
    running.refresh_from_db()
    assert running.status == ContractStatus.TERMINATED
    assert running.termination_date == effective
    assert running.termination_reason == "Unpaid for three months"


def test_a_refused_termination_is_a_form_error(client, admin, queue):
    client.force_login(admin)
    running = queue["running"]
    late = running.end_date + timedelta(days=5)
    data = {"reason": "Unpaid", "effective_date": late.isoformat()}
    plain = post(client, "flag", queue["flag"].pk, "terminate", data)
    assert plain.status_code == 400
    assert "Must fall after the start" in html_of(plain) and 'id="queue-flag-' in html_of(plain)
    partial = post(client, "flag", queue["flag"].pk, "terminate", data, htmx=True)
    assert partial.status_code == 200
    assert "Must fall after the start" in html_of(partial)
    assert "<html" not in html_of(partial)  # the item only
    missing = post(client, "flag", queue["flag"].pk, "terminate", {"reason": ""}, htmx=True)
    assert "invalid-feedback" in html_of(missing)
    running.refresh_from_db()
    assert running.status == ContractStatus.ACTIVE


def test_record_a_partial_then_the_rest_of_a_bank_transfer(client, admin, queue):
    client.force_login(admin)
    invoice = queue["overdue"]
    part = Decimal("50000.00")
    response = post(
        client,
        "invoice",
        invoice.pk,
        "transfer",
        {"amount": str(part), "reference": "ICBC-0001"},
        htmx=True,
    )
    assert response.status_code == 200
    assert "ICBC-0001" in html_of(response) and f'id="queue-invoice-{invoice.pk}"' in html_of(
        response
    )
    invoice.refresh_from_db()
    assert invoice.amount_paid == part and invoice.status == InvoiceStatus.OVERDUE
    payment = invoice.payments.get(reference="ICBC-0001")
    assert f"Payment {payment.pk}: " in html_of(response)  # in the invoice's audit trail
    duplicate = post(
        client,
        "invoice",
        invoice.pk,
        "transfer",
        {"amount": "5.00", "reference": "ICBC-0001"},
        htmx=True,
    )
    assert "already recorded" in html_of(duplicate)
    assert invoice.payments.filter(gateway=Gateway.BANK_TRANSFER).count() == 1
    rest = invoice.total - part
    done = post(
        client,
        "invoice",
        invoice.pk,
        "transfer",
        {"amount": str(rest), "reference": "ICBC-0002"},
        htmx=True,
    )
    assert "left the queue" in html_of(done)
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.PAID
    assert ContractOverdueFlag.objects.get(pk=queue["flag"].pk).resolved_at is not None
    recorded = BillingEvent.objects.filter(subject="payment", actor=admin).count()
    assert recorded == 2


def test_bad_transfer_input_is_a_form_error_not_a_500(client, admin, queue):
    client.force_login(admin)
    invoice = queue["overdue"]
    for data in ({"amount": "-3", "reference": "X"}, {"amount": "1.234", "reference": "X"}, {}):
        response = post(client, "invoice", invoice.pk, "transfer", data)
        assert response.status_code == 400
        assert "invalid-feedback" in html_of(response)
    assert not invoice.payments.filter(gateway=Gateway.BANK_TRANSFER).exists()


def test_issue_a_credit_note_within_what_is_creditable(client, admin, queue):
    client.force_login(admin)
    invoice = queue["overdue"]
    too_much = post(
        client,
        "invoice",
        invoice.pk,
        "credit",
        {"amount": str(invoice.total + 1), "reason": "Goodwill"},
        htmx=True,
    )
    assert "can be credited" in html_of(too_much)
    assert not CreditNote.objects.filter(invoice=invoice).exists()
    response = post(
        client, "invoice", invoice.pk, "credit", {"amount": "1000.00", "reason": "Outage credit"}
    )
    assert response.status_code == 302
    note = CreditNote.objects.get(invoice=invoice)
    assert note.amount == Decimal("1000.00") and note.created_by == admin
    assert f"Credit note {note.number}: " in html_of(client.get("/dashboard/queue/"))
    invoice.refresh_from_db()
    assert invoice.amount_paid == Decimal("1000.00")


def test_a_credit_note_form_submitted_twice_credits_once(client, admin, queue):
    client.force_login(admin)
    invoice = queue["overdue"]
    page = html_of(client.get("/dashboard/queue/"))
    field = f"invoice-{invoice.pk}-credit-submission_key"
    key = page.split(f'name="{field}" value="')[1].split('"')[0]
    data = {"amount": "250.00", "reason": "Goodwill", "submission_key": key}
    first = post(client, "invoice", invoice.pk, "credit", data, htmx=True)
    second = post(client, "invoice", invoice.pk, "credit", data, htmx=True)
    assert "CN-" in html_of(first)
    assert "not done twice" in html_of(second)
    assert CreditNote.objects.filter(invoice=invoice).count() == 1
    refused = post(client, "invoice", invoice.pk, "credit", {**data, "amount": "0"}, htmx=True)
    assert "invalid-feedback" in html_of(refused)


def test_void_an_unpaid_invoice(client, admin, queue):
    client.force_login(admin)
    invoice = queue["overdue"]
    response = post(client, "invoice", invoice.pk, "void", {"reason": "Billed in error"})
    assert response.status_code == 302
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.VOID
    note = CreditNote.objects.get(invoice=invoice)
    assert note.amount == invoice.total and note.reason == "Billed in error"


def test_void_is_refused_once_money_was_received(client, admin, queue):
    client.force_login(admin)
    invoice = queue["overdue"]
    post(client, "invoice", invoice.pk, "transfer", {"amount": "10.00", "reference": "R-1"})
    page = html_of(client.get("/dashboard/queue/"))
    assert f'action="/dashboard/queue/invoice/{invoice.pk}/void/"' not in page
    response = post(client, "invoice", invoice.pk, "void", {"reason": "No"}, htmx=True)
    assert "issue a credit note" in html_of(response)
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.OVERDUE


def test_asking_the_gateway_without_card_payments_is_a_form_error(client, admin, queue, settings):
    settings.STRIPE_API_KEY = ""
    client.force_login(admin)
    payment = queue["payment"]
    response = post(client, "payment", payment.pk, "reconcile", htmx=True)
    assert response.status_code == 200
    assert "not configured" in html_of(response)
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.UNKNOWN


def test_chinese_form_errors_on_the_queue(client, admin, queue):
    client.force_login(admin)
    invoice = queue["overdue"]
    post(client, "invoice", invoice.pk, "transfer", {"amount": "10.00", "reference": "R-1"})
    response = client.post(
        f"/dashboard/queue/invoice/{invoice.pk}/transfer/",
        {
            f"invoice-{invoice.pk}-transfer-amount": "5",
            f"invoice-{invoice.pk}-transfer-reference": "R-1",
        },
        HTTP_ACCEPT_LANGUAGE="zh-hans",
        **HTMX,
    )
    assert "该账单已记录过此银行流水号。" in html_of(response)


def test_a_cluster_of_the_verified_provider_appears_on_its_item(client, admin, queue):
    ClusterFactory(provider=queue["provider"], name="Wuhu A800 IB-09")
    client.force_login(admin)
    assert "Wuhu A800 IB-09" in html_of(client.get("/dashboard/queue/"))
