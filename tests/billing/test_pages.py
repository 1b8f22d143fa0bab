import pytest
from django.core.management import call_command

from accounts.models import User
from billing.models import Invoice

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo():
    call_command("seed_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115


def test_customer_sees_its_invoices_and_downloads_the_pdf(client, demo):
    client.force_login(User.objects.get(username="customer"))
    invoice = Invoice.objects.exclude(number=None).first()
    page = client.get("/billing/")
    assert page.status_code == 200
    assert invoice.number.encode() in page.content
    pdf = client.get(f"/billing/{invoice.pk}.pdf")
    assert pdf.status_code == 200
    assert pdf.content.startswith(b"%PDF-")


def test_other_organisations_see_neither_the_invoice_nor_its_pdf(client, demo):
    client.force_login(User.objects.get(username="newprovider"))
    invoice = Invoice.objects.exclude(number=None).first()
    assert invoice.number.encode() not in client.get("/billing/").content
    assert client.get(f"/billing/{invoice.pk}.pdf").status_code == 404
