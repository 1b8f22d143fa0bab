"""Fapiao requests: a customer asks for a paid invoice, admins export the pending ones for bulk
issue in the tax-control software and record each fapiao's number and date, or reject."""

import csv
import io
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from billing.credits import credit_notes
from billing.fapiao import export
from billing.fapiao import requests as fapiao
from billing.ledger import invoices as ledger
from billing.models import BillingEvent, FapiaoRequest, FapiaoStatus, Invoice
from tests.billing.conftest import BUYER_CODE, make_contract
from tests.conftest import client_for
from tests.factories import member_of

pytestmark = pytest.mark.django_db

MARCH = date(2027, 3, 1)


@pytest.fixture
def invoice(buyer_invoice):
    return buyer_invoice


@pytest.fixture
def paid(invoice):
    ledger.invoice_apply_payment(invoice=invoice, amount=invoice.total, actor_label="test")
    return Invoice.objects.get(pk=invoice.pk)


@pytest.fixture
def buyer_client(buyer):
    return client_for(member_of(buyer))


def url(invoice) -> str:
    return f"/api/v1/invoices/{invoice.pk}/fapiao-requests/"


BODY = {"kind": "special", "title": "深圳智算科技有限公司", "tax_id": BUYER_CODE}


def test_a_customer_requests_a_special_fapiao_for_a_paid_invoice(buyer_client, paid):
    response = buyer_client.post(url(paid), BODY, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["kind"], body["status"], body["tax_id"]) == ("special", "requested", BUYER_CODE)
    assert body["address_phone"] == "深圳市南山区科技园 8 号 0755-8600 0000"
    assert body["bank_account"] == "中国银行深圳南山支行 7788 9900 1122"
    assert BillingEvent.objects.filter(subject="fapiao_request", subject_id=body["id"]).exists()
    listed = buyer_client.get("/api/v1/fapiao-requests/").json()["results"]
    assert [r["id"] for r in listed] == [body["id"]]
    assert {"invoice", "fapiao_number", "issued_on"} <= set(listed[0])


def test_an_unpaid_invoice_gets_no_fapiao(buyer_client, invoice):
    response = buyer_client.post(url(invoice), BODY, format="json")
    assert response.status_code == 409
    assert response.json()["code"] == "invoice_not_paid"
    assert not FapiaoRequest.objects.exists()


def test_one_open_request_per_invoice(buyer_client, paid):
    assert buyer_client.post(url(paid), BODY, format="json").status_code == 201
    again = buyer_client.post(url(paid), {**BODY, "kind": "ordinary"}, format="json")
    assert again.status_code == 409 and again.json()["code"] == "fapiao_request_open"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**BODY, "tax_id": BUYER_CODE[:-1] + ("0" if BUYER_CODE[-1] != "0" else "1")}, "tax_id"),
        ({**BODY, "tax_id": "123"}, "tax_id"),
        ({**BODY, "kind": "electronic"}, "kind"),
        ({**BODY, "title": "   "}, "title"),
        ({"kind": "ordinary"}, "title"),
    ],
)
def test_bad_input_is_a_400_on_its_field(buyer_client, paid, body, field):
    response = buyer_client.post(url(paid), body, format="json")
    assert response.status_code == 400, response.json()
    assert field in response.json()["errors"]
    assert not FapiaoRequest.objects.exists()


def test_a_special_fapiao_needs_a_complete_profile_an_ordinary_one_does_not(
    buyer, buyer_client, paid
):
    buyer.bank_account = ""
    buyer.save()
    special = buyer_client.post(url(paid), BODY, format="json")
    assert special.status_code == 400 and "kind" in special.json()["errors"]
    ordinary = buyer_client.post(url(paid), {**BODY, "kind": "ordinary"}, format="json")
    assert ordinary.status_code == 201


def test_other_organisations_see_nothing_and_providers_may_not_request(
    paid, other_customer_user, provider_user, buyer_client
):
    assert client_for(other_customer_user).post(url(paid), BODY, format="json").status_code == 404
    assert client_for(provider_user).post(url(paid), BODY, format="json").status_code == 403
    buyer_client.post(url(paid), BODY, format="json")
    assert client_for(other_customer_user).get("/api/v1/fapiao-requests/").json()["results"] == []


def test_staff_record_the_fapiao_and_the_customer_sees_it(buyer_client, staff_client, paid):
    created = buyer_client.post(url(paid), BODY, format="json").json()
    issued_url = f"/api/v1/fapiao-requests/{created['id']}/issued/"
    today = timezone.localdate()
    assert buyer_client.post(issued_url, {"fapiao_number": "1"}, format="json").status_code == 403
    future = staff_client.post(
        issued_url,
        {"fapiao_number": "24312000000012345678", "issued_on": today + timedelta(days=1)},
        format="json",
    )
    assert future.status_code == 400 and "issued_on" in future.json()["errors"]
    done = staff_client.post(
        issued_url, {"fapiao_number": "24312000000012345678", "issued_on": today}, format="json"
    )
    assert done.status_code == 200
    mine = buyer_client.get("/api/v1/fapiao-requests/").json()["results"][0]
    assert (mine["status"], mine["fapiao_number"], mine["issued_on"]) == (
        "issued",
        "24312000000012345678",
        today.isoformat(),
    )
    twice = staff_client.post(issued_url, {"fapiao_number": "2", "issued_on": today}, format="json")
    assert twice.status_code == 409
    after = buyer_client.post(url(paid), BODY, format="json")
    assert after.status_code == 409 and after.json()["code"] == "fapiao_already_issued"


def test_a_rejected_request_may_be_made_again(buyer_client, staff_client, paid):
    created = buyer_client.post(url(paid), BODY, format="json").json()
    reject_url = f"/api/v1/fapiao-requests/{created['id']}/reject/"
    assert staff_client.post(reject_url, {}, format="json").status_code == 400
    rejected = staff_client.post(reject_url, {"reason": "抬头与税号不符"}, format="json")
    assert rejected.status_code == 200 and rejected.json()["status"] == "rejected"
    assert buyer_client.post(url(paid), BODY, format="json").status_code == 201


def test_a_fapiao_number_is_recorded_once(
    buyer_client, staff_client, paid, buyer, cluster, run_day
):
    first = buyer_client.post(url(paid), BODY, format="json").json()
    today = timezone.localdate()
    fapiao.fapiao_mark_issued(
        request=FapiaoRequest.objects.get(pk=first["id"]), fapiao_number="N1", issued_on=today
    )
    other = make_contract(buyer, start=MARCH, stakes=[(cluster, 1)])
    run_day(MARCH)
    second_invoice = Invoice.objects.get(contract=other)
    ledger.invoice_apply_payment(
        invoice=second_invoice, amount=second_invoice.total, actor_label="test"
    )
    second = buyer_client.post(url(second_invoice), BODY, format="json").json()
    clash = staff_client.post(
        f"/api/v1/fapiao-requests/{second['id']}/issued/",
        {"fapiao_number": "N1", "issued_on": today},
        format="json",
    )
    assert clash.status_code == 400 and "fapiao_number" in clash.json()["errors"]


def test_the_export_lays_pending_requests_out_for_bulk_issue(buyer_client, staff_client, paid):
    credit_notes.credit_note_issue(invoice=paid, amount=Decimal("1060.00"), reason="Goodwill")
    buyer_client.post(url(paid), BODY, format="json")
    assert buyer_client.get("/api/v1/fapiao-requests/export.csv").status_code == 403
    response = staff_client.get("/api/v1/fapiao-requests/export.csv")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    raw = b"".join(response.streaming_content).decode("utf-8")
    assert raw.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(raw.lstrip("\ufeff"))))
    assert rows[0] == export.CSV_HEADER
    row = dict(zip(rows[0], rows[1], strict=True))
    assert row["发票种类"] == "专票"
    assert row["账单编号"] == paid.number
    assert (row["购买方名称"], row["纳税人识别号"]) == ("深圳智算科技有限公司", BUYER_CODE)
    assert row["地址电话"] == "深圳市南山区科技园 8 号 0755-8600 0000"
    assert row["开户行及账号"] == "中国银行深圳南山支行 7788 9900 1122"
    assert row["项目名称"] == "*信息技术服务*算力服务费"
    # 49,920.00 less the 1,060.00 credit note: 48,860.00 = 46,094.34 + 2,765.66 at 6 %.
    assert (row["金额（不含税）"], row["税率"], row["税额"], row["价税合计"]) == (
        "46094.34",
        "6%",
        "2765.66",
        "48860.00",
    )
    assert Decimal(row["金额（不含税）"]) + Decimal(row["税额"]) == Decimal(row["价税合计"])


def test_issued_and_rejected_requests_leave_the_export(buyer_client, staff_client, paid):
    created = buyer_client.post(url(paid), BODY, format="json").json()
    fapiao.fapiao_reject(request=FapiaoRequest.objects.get(pk=created["id"]), reason="no")
    raw = b"".join(staff_client.get("/api/v1/fapiao-requests/export.csv").streaming_content)
    assert len(raw.decode("utf-8").strip().splitlines()) == 1  # the header only


def test_staff_see_every_request(buyer_client, staff_client, paid):
    buyer_client.post(url(paid), BODY, format="json")
    listed = staff_client.get("/api/v1/fapiao-requests/?status=requested").json()["results"]
    assert len(listed) == 1 and listed[0]["status"] == FapiaoStatus.REQUESTED


def test_a_repeated_request_with_the_same_idempotency_key_replays(buyer_client, paid):
    first = buyer_client.post(url(paid), BODY, format="json", HTTP_IDEMPOTENCY_KEY="fp-1")
    again = buyer_client.post(url(paid), BODY, format="json", HTTP_IDEMPOTENCY_KEY="fp-1")
    assert first.status_code == again.status_code == 201
    assert first.json()["id"] == again.json()["id"]
    assert FapiaoRequest.objects.count() == 1


def test_the_database_refuses_an_issued_fapiao_without_number_or_a_second_open_request(paid):
    from django.db import IntegrityError, transaction

    request = fapiao.fapiao_request_create(
        invoice=paid, kind="ordinary", title="深圳智算科技有限公司", tax_id=BUYER_CODE
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        FapiaoRequest.objects.filter(pk=request.pk).update(status="issued")
    with pytest.raises(IntegrityError), transaction.atomic():
        FapiaoRequest.objects.create(
            invoice=paid, kind="ordinary", title="x", tax_id=BUYER_CODE, status="requested"
        )
