"""The invoice page: what the customer and admins see of one invoice, and who may see it."""

# Fixtures are shared by importing them from test_payments (pytest finds them by name).

from decimal import Decimal

import pytest

from billing.credits.credit_notes import credit_note_issue
from billing.payments import transfers
from tests.billing.test_payments import make_contract, make_invoice
from tests.factories import OrganizationFactory, ProviderFactory, UserFactory, member_of
from tests.translations import data_words, untranslated_words

pytestmark = pytest.mark.django_db
ZH = {"HTTP_ACCEPT_LANGUAGE": "zh-hans"}


@pytest.fixture
def customer():
    return OrganizationFactory(name="Moonshot Training")


@pytest.fixture
def member(customer):
    return member_of(customer)


@pytest.fixture
def staff(db):
    return UserFactory(username="finance-admin", is_staff=True)


@pytest.fixture
def invoice(customer, member):
    return make_invoice(make_contract(customer), total="1060.00")


def url(invoice) -> str:
    return f"/billing/invoices/{invoice.pk}/"


def test_the_customer_sees_lines_amounts_status_and_how_to_pay(client, member, invoice):
    client.force_login(member)
    html = client.get(url(invoice)).content.decode()
    assert invoice.number in html
    assert "GPU rental" in html and "¥1,060.00" in html and "¥60.00" in html  # total, VAT
    assert "Open" in html and "Due date" in html
    assert f"/billing/{invoice.pk}.pdf" in html
    # Bank transfer: our account and the reference to quote; cards unavailable offline.
    assert "招商银行上海张江支行" in html and "1219 0000 0000 0001" in html
    assert "Reference to quote" in html
    assert "Card payments are not available" in html


def test_payments_credit_notes_and_the_audit_trail_show(client, member, staff, invoice):
    transfers.bank_transfer_record(
        invoice=invoice, amount=Decimal("500.00"), reference="BOC-778", actor=staff
    )
    credit_note_issue(invoice=invoice, amount=Decimal("100.00"), reason="Goodwill", by=staff)
    client.force_login(member)
    html = client.get(url(invoice)).content.decode()
    assert "BOC-778" in html and "¥500.00" in html and "Succeeded" in html
    assert "Goodwill" in html and "¥100.00" in html
    assert "Audit trail" in html and "finance-admin" in html
    assert "¥460.00" in html  # amount due: 1060 - 500 - 100


def test_the_list_links_each_invoice_to_its_page(client, member, invoice):
    client.force_login(member)
    assert url(invoice) in client.get("/billing/").content.decode()


def test_staff_see_any_invoice_but_other_organisations_get_404(client, staff, invoice):
    client.force_login(staff)
    assert client.get(url(invoice)).status_code == 200
    client.force_login(member_of(OrganizationFactory(name="Other customer")))
    assert client.get(url(invoice)).status_code == 404
    client.force_login(member_of(ProviderFactory(name="Some provider")))
    assert client.get(url(invoice)).status_code == 404
    client.logout()
    assert client.get(url(invoice)).status_code == 302  # to the login page


def test_the_page_reads_in_chinese_with_bounded_queries(
    client, member, staff, invoice, django_assert_max_num_queries
):
    transfers.bank_transfer_record(
        invoice=invoice, amount=Decimal("500.00"), reference="BOC-778", actor=staff
    )
    client.force_login(member)
    with django_assert_max_num_queries(20):
        response = client.get(url(invoice), **ZH)
    assert response.status_code == 200
    assert "银行转账" in response.content.decode()
    words = untranslated_words(response.content.decode(), data_words())
    assert words == []
