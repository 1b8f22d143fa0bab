"""Invoice disputes: the customer opens one (POST /api/v1/invoices/{id}/disputes/ or the
invoice page), dunning pauses while it is open, staff resolve it with a credit note or a
rejection (POST /api/v1/disputes/{id}/resolve/ or the page), and chasing resumes."""

# Fixtures are shared by importing them from test_payments (pytest finds them by name).
# ruff: noqa: F401, F811

from datetime import timedelta
from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from billing.credits.disputes import dispute_open, dispute_resolve
from billing.invoicing.overdue import contracts_flag_overdue
from billing.models import (
    BillingEvent,
    ContractOverdueFlag,
    InvoiceDispute,
    InvoiceStatus,
    Payment,
)
from billing.payments import charges, collection
from tests.billing.test_payments import (
    DUE,
    ISSUED,
    card_account,
    committed,
    contract,
    fake,
    invoice,
    make_invoice,
    sent_emails,
    stripe_off,
    stripe_on,
)
from tests.conftest import client_for
from tests.factories import OrganizationFactory, UserFactory, member_of
from tests.translations import data_words, untranslated_words

pytestmark = pytest.mark.django_db
ZH = {"HTTP_ACCEPT_LANGUAGE": "zh-hans"}


@pytest.fixture
def staff(db):
    return UserFactory(username="finance-admin", is_staff=True)


def open_api(user, invoice, reason="Billed for servers we never received"):
    return client_for(user).post(
        f"/api/v1/invoices/{invoice.pk}/disputes/", {"reason": reason}, format="json"
    )


def resolve_api(user, dispute_id, **body):
    return client_for(user).post(f"/api/v1/disputes/{dispute_id}/resolve/", body, format="json")


# --- the API --------------------------------------------------------------------------------


def test_the_customer_opens_a_dispute_and_it_is_audited(customer_user, invoice):
    response = open_api(customer_user, invoice)
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["status"] == "open" and body["invoice_number"] == invoice.number
    assert BillingEvent.objects.filter(
        subject="dispute", subject_id=body["id"], to_status="open", actor=customer_user
    ).exists()
    again = open_api(customer_user, invoice)
    assert again.status_code == 409 and again.json()["code"] == "dispute_already_open"


def test_who_may_open_a_dispute(customer_user, staff, invoice):
    assert open_api(staff, invoice).status_code == 403
    stranger = member_of(OrganizationFactory(name="Someone else"))
    assert open_api(stranger, invoice).status_code == 404
    assert (
        APIClient()
        .post(f"/api/v1/invoices/{invoice.pk}/disputes/", {"reason": "x"}, format="json")
        .status_code
        == 401
    )
    blank = open_api(customer_user, invoice, reason="   ")
    assert blank.status_code == 400 and "reason" in blank.json()["errors"]
    assert not InvoiceDispute.objects.exists()


def test_void_invoices_cannot_be_disputed(customer_user, contract):
    void = make_invoice(contract, status=InvoiceStatus.VOID)
    assert open_api(customer_user, void).status_code == 409


def test_the_list_shows_customers_their_own_and_staff_all(customer_user, staff, invoice):
    open_api(customer_user, invoice)
    other = OrganizationFactory(name="Other customer")
    other_user = member_of(other)
    from tests.billing.test_payments import make_contract

    open_api(other_user, make_invoice(make_contract(other)))
    assert client_for(customer_user).get("/api/v1/disputes/").json()["count"] == 1
    assert client_for(staff).get("/api/v1/disputes/").json()["count"] == 2
    theirs = InvoiceDispute.objects.get(invoice__customer=other)
    assert client_for(customer_user).get(f"/api/v1/disputes/{theirs.pk}/").status_code == 404


def test_staff_credit_a_dispute_with_a_credit_note(customer_user, staff, invoice):
    dispute_id = open_api(customer_user, invoice).json()["id"]
    response = resolve_api(
        staff, dispute_id, outcome="credited", amount="160.00", reason="Two days lost"
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["status"] == "credited" and body["credit_note"].startswith("CN-")
    assert body["credited_amount"] == "160.00" and body["resolution"] == "Two days lost"
    invoice.refresh_from_db()
    assert invoice.amount_due == Decimal("900.00")
    again = resolve_api(staff, dispute_id, outcome="rejected", reason="Changed my mind")
    assert again.status_code == 409 and again.json()["code"] == "dispute_not_open"
    events = BillingEvent.objects.filter(subject="dispute", subject_id=dispute_id)
    assert list(events.values_list("to_status", flat=True)) == ["open", "credited"]


def test_resolving_checks_its_input_and_who_asks(customer_user, staff, invoice):
    dispute_id = open_api(customer_user, invoice).json()["id"]
    assert resolve_api(customer_user, dispute_id, outcome="rejected", reason="x").status_code == 403
    missing = resolve_api(staff, dispute_id, outcome="credited", reason="x")
    assert missing.status_code == 400 and "amount" in missing.json()["errors"]
    too_much = resolve_api(staff, dispute_id, outcome="credited", amount="5000.00", reason="x")
    assert too_much.status_code == 400 and "amount" in too_much.json()["errors"]
    odd = resolve_api(staff, dispute_id, outcome="maybe", reason="x")
    assert odd.status_code == 400 and "outcome" in odd.json()["errors"]
    assert InvoiceDispute.objects.get(pk=dispute_id).status == "open"
    assert not invoice.credit_notes.exists()


# --- dunning pauses -------------------------------------------------------------------------


def test_reminders_pause_while_disputed_and_resume_once_rejected(
    customer_user, staff, invoice, stripe_off, sent_emails, committed
):
    dispute = dispute_open(invoice=invoice, reason="Wrong period", by=customer_user)
    late = DUE + timedelta(days=1)
    assert committed(collection.dunning_run, today=late)["reminders_sent"] == 0
    assert sent_emails == []
    dispute_resolve(dispute=dispute, outcome="rejected", reason="Period is right", by=staff)
    assert committed(collection.dunning_run, today=late + timedelta(days=1))["reminders_sent"] == 1
    assert [pk for pk, _ in sent_emails] == [invoice.pk]


def test_card_collection_skips_a_disputed_invoice(
    customer_org, customer_user, invoice, stripe_on, committed
):
    card_account(customer_org, stripe_on)
    dispute_open(invoice=invoice, reason="Not ours", by=customer_user)
    assert committed(collection.collect_due, today=ISSUED)["charges_enqueued"] == 0
    assert charges.invoice_collect(invoice_id=invoice.pk, today=ISSUED) is None
    assert not Payment.objects.filter(invoice=invoice).exists()
    assert stripe_on.charges_count() == 0


def test_no_suspension_flag_while_disputed(customer_user, contract, settings):
    overdue = make_invoice(contract, status=InvoiceStatus.OVERDUE)
    dispute_open(invoice=overdue, reason="Outage all month", by=customer_user)
    later = DUE + timedelta(days=settings.OVERDUE_GRACE_DAYS + 5)
    assert contracts_flag_overdue(today=later) == 0
    assert not ContractOverdueFlag.objects.exists()


# --- the invoice page -----------------------------------------------------------------------


def test_the_customer_disputes_from_the_page_and_sees_its_status(client, customer_user, invoice):
    client.force_login(customer_user)
    page = f"/billing/invoices/{invoice.pk}/"
    assert "Dispute this invoice" in client.get(page).content.decode()
    blank = client.post(f"{page}disputes/", {"reason": ""})
    assert blank.status_code == 400
    response = client.post(f"{page}disputes/", {"reason": "Servers were down"}, follow=True)
    html = response.content.decode()
    assert "Your dispute is open" in html and "Servers were down" in html
    assert "Awaiting our answer" in html and "Dispute this invoice" not in html


def test_staff_resolve_from_the_page(client, customer_user, staff, invoice):
    dispute = dispute_open(invoice=invoice, reason="Servers were down", by=customer_user)
    client.force_login(staff)
    page = f"/billing/invoices/{invoice.pk}/"
    assert "Resolve the dispute" in client.get(page).content.decode()
    url = f"{page}disputes/{dispute.pk}/resolve/"
    invalid = client.post(url, {"outcome": "credited", "reason": "Fair"})
    assert invalid.status_code == 400 and "Give the amount to credit." in invalid.content.decode()
    done = client.post(
        url, {"outcome": "credited", "amount": "100.00", "reason": "Fair"}, follow=True
    )
    assert "credit note CN-" in done.content.decode()
    dispute.refresh_from_db()
    assert dispute.status == "credited" and dispute.credit_note.amount == Decimal("100.00")
    client.force_login(customer_user)
    html = client.get(page).content.decode()
    assert "Resolved with a credit note" in html and "Fair" in html
    assert client.post(url, {"outcome": "rejected", "reason": "x"}).status_code == 403


def test_the_disputed_page_reads_in_chinese(client, customer_user, staff, invoice):
    dispute = dispute_open(invoice=invoice, reason="Servers were down", by=customer_user)
    client.force_login(staff)
    html = client.get(f"/billing/invoices/{invoice.pk}/", **ZH).content.decode()
    assert "解决争议" in html
    assert untranslated_words(html, data_words()) == []
    dispute_resolve(dispute=dispute, outcome="rejected", reason="No outage logged", by=staff)
    client.force_login(customer_user)
    html = client.get(f"/billing/invoices/{invoice.pk}/", **ZH).content.decode()
    assert untranslated_words(html, data_words()) == []
