"""The demo shows the statements work: a fapiao issued and one pending, and a payout statement
with its VAT figures, each on its page for the demo logins."""

import pytest
from django.core.management import call_command

from accounts.models import User
from billing.demo import DEMO_FAPIAO_NUMBER
from billing.models import FapiaoRequest, PayoutStatement

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo():
    call_command("seed_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115


def test_the_demo_has_an_issued_and_a_pending_fapiao_and_a_payout_with_vat(client, demo):
    call_command("seed_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115 (idempotent)
    assert sorted(FapiaoRequest.objects.values_list("status", flat=True)) == [
        "issued",
        "requested",
    ]
    # The provider's; the demo customer's own statement as a reseller is paid as balance
    # (tests/marketplace/test_demo.py).
    [statement] = PayoutStatement.objects.filter(provider__name="Hefei Compute Co.")
    assert PayoutStatement.objects.exclude(pk=statement.pk).get().status == "paid"
    assert (
        statement.vat > 0 and statement.collected == statement.collected_net_of_vat + statement.vat
    )
    client.force_login(User.objects.get(username="customer"))
    page = client.get("/billing/fapiao/").content.decode()
    assert DEMO_FAPIAO_NUMBER in page and "Waiting to be issued" in page
    client.force_login(User.objects.get(username="admin"))
    assert "Record the fapiao" in client.get("/billing/fapiao/").content.decode()
    client.force_login(User.objects.get(username="provider"))
    payout = client.get(f"/billing/payouts/{statement.pk}/").content.decode()
    assert "Collected, excluding VAT" in payout and "of which VAT" in payout
