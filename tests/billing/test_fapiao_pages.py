"""The fapiao pages: a customer requests from a paid invoice (pre-filled from its profile) and
follows the status; admins see pending requests, download the CSV and record number and date."""

from datetime import date

import pytest
from django.utils import timezone

from billing.fapiao import requests as fapiao
from billing.ledger import invoices as ledger
from billing.models import FapiaoRequest, FapiaoStatus, Invoice
from tests.billing.conftest import BUYER_CODE
from tests.factories import member_of
from tests.translations import data_words, untranslated_words

pytestmark = pytest.mark.django_db

ZH = {"HTTP_ACCEPT_LANGUAGE": "zh-hans"}
MARCH = date(2027, 3, 1)


@pytest.fixture
def invoice(buyer_invoice):
    return buyer_invoice


@pytest.fixture
def paid(invoice):
    ledger.invoice_apply_payment(invoice=invoice, amount=invoice.total, actor_label="test")
    return Invoice.objects.get(pk=invoice.pk)


@pytest.fixture
def buyer_user(buyer):
    return member_of(buyer)


def test_the_invoice_list_links_a_paid_invoice_to_its_fapiao_request(client, buyer_user, paid):
    client.force_login(buyer_user)
    page = client.get("/billing/").content.decode()
    assert f"/billing/invoices/{paid.pk}/fapiao/" in page


def test_the_request_form_is_prefilled_from_the_profile_and_files_the_request(
    client, buyer_user, paid
):
    client.force_login(buyer_user)
    url = f"/billing/invoices/{paid.pk}/fapiao/"
    form = client.get(url).content.decode()
    assert 'value="深圳智算科技有限公司"' in form and f'value="{BUYER_CODE}"' in form
    assert "¥49,920.00" in form
    bad = client.post(url, {"kind": "special", "title": "深圳智算科技有限公司", "tax_id": "1234"})
    assert bad.status_code == 400 and "is-invalid" in bad.content.decode()
    assert 'value="1234"' in bad.content.decode()  # what the user typed is kept
    done = client.post(
        url, {"kind": "special", "title": "深圳智算科技有限公司", "tax_id": BUYER_CODE}
    )
    assert done.status_code == 302 and done["Location"] == "/billing/fapiao/"
    request = FapiaoRequest.objects.get()
    assert (request.kind, request.status) == ("special", FapiaoStatus.REQUESTED)
    listing = client.get("/billing/fapiao/").content.decode()
    assert paid.number in listing and "Requested" in listing
    again = client.post(url, {"kind": "ordinary", "title": "x", "tax_id": BUYER_CODE})
    assert again.status_code == 400 and "already waiting" in again.content.decode()


def test_an_unpaid_invoice_says_so_and_others_see_nothing(
    client, buyer_user, invoice, other_customer_user
):
    client.force_login(buyer_user)
    page = client.get(f"/billing/invoices/{invoice.pk}/fapiao/").content.decode()
    assert "only for a paid invoice" in page and "<form" not in page.split("</header>")[-1]
    client.force_login(other_customer_user)
    assert client.get(f"/billing/invoices/{invoice.pk}/fapiao/").status_code == 404


def test_staff_download_pending_and_record_number_and_date_on_the_page(
    client, buyer_user, staff_user, paid
):
    request = fapiao.fapiao_request_create(
        invoice=paid, kind="ordinary", title="深圳智算科技有限公司", tax_id=BUYER_CODE
    )
    client.force_login(buyer_user)
    assert client.get("/billing/fapiao/export.csv").status_code == 403
    assert client.post(f"/billing/fapiao/{request.pk}/issued/").status_code == 403
    client.force_login(staff_user)
    page = client.get("/billing/fapiao/").content.decode()
    assert "/billing/fapiao/export.csv" in page and f"issued-{request.pk}-fapiao_number" in page
    csv_text = b"".join(client.get("/billing/fapiao/export.csv").streaming_content).decode()
    assert csv_text.startswith("\ufeff") and paid.number in csv_text
    today = timezone.localdate()
    missing = client.post(
        f"/billing/fapiao/{request.pk}/issued/", {f"issued-{request.pk}-issued_on": today}
    )
    assert missing.status_code == 400 and "is-invalid" in missing.content.decode()
    done = client.post(
        f"/billing/fapiao/{request.pk}/issued/",
        {
            f"issued-{request.pk}-fapiao_number": "24312000000099999999",
            f"issued-{request.pk}-issued_on": today.isoformat(),
        },
    )
    assert done.status_code == 302
    request.refresh_from_db()
    assert (request.status, request.fapiao_number, request.issued_on) == (
        "issued",
        "24312000000099999999",
        today,
    )
    client.force_login(buyer_user)
    assert "24312000000099999999" in client.get("/billing/fapiao/").content.decode()


def test_staff_reject_with_a_reason_the_customer_sees(client, buyer_user, staff_user, paid):
    request = fapiao.fapiao_request_create(
        invoice=paid, kind="ordinary", title="深圳智算科技有限公司", tax_id=BUYER_CODE
    )
    client.force_login(staff_user)
    response = client.post(
        f"/billing/fapiao/{request.pk}/reject/", {f"reject-{request.pk}-reason": "抬头有误"}
    )
    assert response.status_code == 302
    client.force_login(buyer_user)
    assert "抬头有误" in client.get("/billing/fapiao/").content.decode()


def test_the_fapiao_pages_in_chinese_have_no_english_left(client, buyer_user, staff_user, paid):
    fapiao.fapiao_request_create(
        invoice=paid, kind="special", title="深圳智算科技有限公司", tax_id=BUYER_CODE
    )
    client.force_login(buyer_user)
    allowed = data_words()
    for url in ("/billing/fapiao/", f"/billing/invoices/{paid.pk}/fapiao/"):
        assert untranslated_words(client.get(url, **ZH).content.decode(), allowed) == [], url
    client.force_login(staff_user)
    html = client.get("/billing/fapiao/", **ZH).content.decode()
    assert untranslated_words(html, allowed) == []


def test_the_list_page_runs_a_bounded_number_of_queries(
    client, staff_user, paid, django_assert_max_num_queries
):
    fapiao.fapiao_request_create(
        invoice=paid, kind="special", title="深圳智算科技有限公司", tax_id=BUYER_CODE
    )
    client.force_login(staff_user)
    with django_assert_max_num_queries(12):
        assert client.get("/billing/fapiao/").status_code == 200
