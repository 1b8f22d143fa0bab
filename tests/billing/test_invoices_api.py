"""Invoices for people: list, detail, PDF, CSV export, credit notes; scoping and query counts."""

import csv
import io
from datetime import date
from decimal import Decimal

import pytest
import yaml
from django.core.management import call_command

from billing.models import CreditNote, Invoice
from tests.billing.conftest import make_contract, new_customer
from tests.conftest import client_for

pytestmark = pytest.mark.django_db

MARCH = date(2027, 3, 1)


@pytest.fixture
def invoice(customer, cluster, run_day):
    contract = make_contract(customer, start=MARCH, stakes=[(cluster, 1)])
    run_day(MARCH)
    return Invoice.objects.get(contract=contract)


@pytest.fixture
def customer_api(customer):
    return client_for(customer.memberships.first().user)


def test_customers_list_their_invoices_with_lines_and_totals(invoice, customer_api):
    response = customer_api.get("/api/v1/invoices/")
    assert response.status_code == 200
    [row] = response.json()["results"]
    assert row["id"] == invoice.pk
    assert row["number"] == "INV-2027-000001"
    assert row["contract"] == invoice.contract_id
    assert (row["period_start"], row["period_end"]) == ("2027-03-01", "2027-04-01")
    assert (row["subtotal"], row["tax"], row["total"]) == ("47094.34", "2825.66", "49920.00")
    assert (row["amount_paid"], row["amount_due"]) == ("0.00", "49920.00")
    assert (row["status"], row["issue_date"], row["due_date"]) == (
        "open",
        "2027-03-01",
        "2027-03-16",
    )
    [line] = row["lines"]
    assert (line["period_start"], line["period_end"]) == ("2027-03-01", "2027-04-01")
    assert {k: line[k] for k in ("kind", "amount", "tax_rate", "net", "tax")} == {
        "kind": "rental",
        "amount": "49920.00",
        "tax_rate": "0.0600",
        "net": "47094.34",
        "tax": "2825.66",
    }
    assert row["credit_notes"] == []
    detail = customer_api.get(f"/api/v1/invoices/{invoice.pk}/")
    assert detail.status_code == 200 and detail.json() == row


def test_other_organisations_invoices_are_not_found(invoice, cluster, run_day, provider):
    stranger = new_customer()
    make_contract(stranger, start=MARCH, stakes=[(cluster, 1)])
    run_day(MARCH)
    theirs = client_for(stranger.memberships.first().user)
    assert [r["id"] for r in theirs.get("/api/v1/invoices/").json()["results"]] != [invoice.pk]
    assert theirs.get(f"/api/v1/invoices/{invoice.pk}/").status_code == 404
    assert theirs.get(f"/api/v1/invoices/{invoice.pk}/pdf/").status_code == 404
    # Providers see payouts, not their customers' invoices.
    from tests.factories import member_of

    provider_api = client_for(member_of(provider))
    assert provider_api.get("/api/v1/invoices/").json()["results"] == []
    assert provider_api.get(f"/api/v1/invoices/{invoice.pk}/").status_code == 404


def test_anonymous_callers_are_refused(invoice, api_client):
    assert api_client.get("/api/v1/invoices/").status_code in (401, 403)


def test_staff_see_every_invoice_including_drafts(invoice, staff_client, customer_api):
    draft = Invoice.objects.create(
        customer=invoice.customer,
        contract=invoice.contract,
        period_index=7,
        period_start=date(2027, 10, 1),
        period_end=date(2027, 11, 1),
    )
    staff_ids = {r["id"] for r in staff_client.get("/api/v1/invoices/").json()["results"]}
    assert staff_ids == {invoice.pk, draft.pk}
    customer_ids = {r["id"] for r in customer_api.get("/api/v1/invoices/").json()["results"]}
    assert customer_ids == {invoice.pk}


def test_invoices_filter_by_status(invoice, customer_api):
    assert customer_api.get("/api/v1/invoices/?status=paid").json()["results"] == []
    assert len(customer_api.get("/api/v1/invoices/?status=open").json()["results"]) == 1


def test_the_invoice_list_takes_a_constant_number_of_queries(
    customer, cluster, run_day, customer_api, django_assert_max_num_queries
):
    for start in (MARCH, date(2027, 4, 1)):
        make_contract(customer, start=start, term_months=12, stakes=[(cluster, 1)])
    run_day(date(2027, 4, 1))
    with django_assert_max_num_queries(6) as few:
        assert customer_api.get("/api/v1/invoices/").json()["count"] == 3
    for _ in range(5):
        make_contract(customer, start=MARCH, term_months=12, stakes=[(cluster, 1)])
    run_day(date(2027, 12, 1))
    with django_assert_max_num_queries(6) as many:
        assert customer_api.get("/api/v1/invoices/?page_size=200").json()["count"] > 60
    assert len(many.captured_queries) == len(few.captured_queries)


def test_the_pdf_endpoint_serves_the_invoice(invoice, customer_api):
    response = customer_api.get(f"/api/v1/invoices/{invoice.pk}/pdf/")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF-")
    assert f"({invoice.number})".encode() in response.content
    assert f"{invoice.number}.pdf" in response["Content-Disposition"]


def test_admins_export_invoices_as_streamed_csv(invoice, staff_client, customer_api):
    response = staff_client.get("/api/v1/invoices/export.csv?status=open&issued_from=2027-03-01")
    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"].startswith("text/csv")
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [r["number"] for r in rows] == [invoice.number]
    assert rows[0]["total"] == "49920.00"
    empty = staff_client.get("/api/v1/invoices/export.csv?issued_from=2027-03-02")
    assert len(b"".join(empty.streaming_content).decode("utf-8-sig").splitlines()) == 1
    bad = staff_client.get("/api/v1/invoices/export.csv?issued_from=yesterday")
    assert bad.status_code == 400 and "issued_from" in bad.json()["errors"]
    assert customer_api.get("/api/v1/invoices/export.csv").status_code == 403


def test_admins_issue_credit_notes_through_the_api(invoice, staff_client, customer_api):
    url = f"/api/v1/invoices/{invoice.pk}/credit-notes/"
    body = {"amount": "920.00", "reason": "Network degraded on 3 March"}
    assert customer_api.post(url, body, format="json").status_code == 403
    response = staff_client.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY="cn-1")
    assert response.status_code == 201, response.json()
    note = response.json()
    assert (note["number"], note["amount"]) == ("CN-" + note["number"][3:], "920.00")
    assert Decimal(note["net"]) + Decimal(note["tax"]) == Decimal("920.00")
    replay = staff_client.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY="cn-1")
    assert replay.status_code == 201 and replay["Idempotent-Replayed"] == "true"
    assert CreditNote.objects.count() == 1
    detail = customer_api.get(f"/api/v1/invoices/{invoice.pk}/").json()
    assert [c["amount"] for c in detail["credit_notes"]] == ["920.00"]
    assert detail["amount_due"] == "49000.00"

    too_much = staff_client.post(url, {"amount": "49000.01", "reason": "x"}, format="json")
    assert too_much.status_code == 400
    assert set(too_much.json()) == {"errors", "code", "detail"}
    assert "amount" in too_much.json()["errors"]
    missing = staff_client.post(url, {"amount": "1.00"}, format="json")
    assert missing.status_code == 400 and "reason" in missing.json()["errors"]


def test_the_billing_api_schema_generates_and_validates(tmp_path):
    out = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))
    paths = yaml.safe_load(out.read_text())["paths"]
    for path in (
        "/api/v1/invoices/",
        "/api/v1/invoices/{id}/",
        "/api/v1/invoices/{id}/pdf/",
        "/api/v1/invoices/{id}/credit-notes/",
        "/api/v1/invoices/export.csv",
        "/api/v1/payouts/",
        "/api/v1/payouts/{id}/",
    ):
        assert path in paths, path


def test_the_admin_covers_every_billing_model_and_keeps_finalised_invoices_read_only(
    invoice, client, django_user_model
):
    from django.apps import apps
    from django.contrib import admin
    from django.urls import reverse

    root = django_user_model.objects.create_superuser("root", "root@example.com", "pw-123456")
    client.force_login(root)
    for model in apps.get_app_config("billing").get_models():
        assert model in admin.site._registry, model
        changelist = reverse(f"admin:billing_{model._meta.model_name}_changelist")
        assert client.get(changelist).status_code == 200, changelist
    page = client.get(reverse("admin:billing_invoice_change", args=[invoice.pk]))
    assert page.status_code == 200
    assert invoice.number.encode() in page.content
    assert b'name="total"' not in page.content  # shown, not editable
    assert client.get(f"/admin/billing/invoice/?q={invoice.number}").status_code == 200
