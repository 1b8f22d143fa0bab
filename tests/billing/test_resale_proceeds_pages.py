"""The payouts page: an organisation's owners and billing members choose how it receives its
resale proceeds; other members see the choice; bad input changes nothing."""

import re

import pytest
from django.utils.translation import override

from accounts.models import MembershipRole
from billing.models import BillingAccount, ResaleProceeds
from billing.payouts.proceeds import resale_proceeds_choice
from tests.billing.conftest import new_customer
from tests.factories import member_of
from tests.translations import data_words, untranslated_words

pytestmark = pytest.mark.django_db

ZH = {"HTTP_ACCEPT_LANGUAGE": "zh-hans"}
URL = "/billing/payouts/proceeds/"


@pytest.fixture
def reseller():
    return new_customer("Reseller Ltd")


@pytest.mark.parametrize("role", [MembershipRole.OWNER, MembershipRole.BILLING])
def test_an_owner_or_billing_member_chooses_balance_then_payout(client, reseller, role):
    client.force_login(member_of(reseller, role=role))
    page = client.get("/billing/payouts/")
    assert page.status_code == 200
    assert 'name="resale_proceeds"' in page.content.decode()

    response = client.post(URL, {"resale_proceeds": "balance"})
    assert response.status_code == 302
    assert resale_proceeds_choice(organization=reseller) == ResaleProceeds.BALANCE
    assert re.search(r'value="balance"[^>]*checked', client.get("/billing/payouts/").text)

    client.post(URL, {"resale_proceeds": "payout"})
    assert resale_proceeds_choice(organization=reseller) == ResaleProceeds.PAYOUT


def test_bad_input_answers_400_and_changes_nothing(client, reseller):
    client.force_login(member_of(reseller))
    for data in ({"resale_proceeds": "cash"}, {}):
        response = client.post(URL, data)
        assert response.status_code == 400
        assert "resale_proceeds" in response.context["proceeds_form"].errors
    assert not BillingAccount.objects.filter(organization=reseller).exists()


def test_a_plain_member_sees_the_choice_but_may_not_change_it(client, reseller):
    client.force_login(member_of(reseller, role=MembershipRole.MEMBER))
    page = client.get("/billing/payouts/").content.decode()
    assert 'name="resale_proceeds"' not in page
    with override("en"):
        assert "Paid out to us" in page
    assert client.post(URL, {"resale_proceeds": "balance"}).status_code == 403
    assert resale_proceeds_choice(organization=reseller) == ResaleProceeds.PAYOUT


def test_anonymous_and_staff_cannot_choose(client, staff_user, reseller):
    response = client.post(URL, {"resale_proceeds": "balance"})
    assert response.status_code == 302 and "/login" in response["Location"]
    client.force_login(staff_user)
    assert client.post(URL, {"resale_proceeds": "balance"}).status_code == 403
    assert 'name="resale_proceeds"' not in client.get("/billing/payouts/").content.decode()


def test_the_choice_in_chinese_has_no_english_left(client, reseller):
    client.force_login(member_of(reseller))
    page = client.get("/billing/payouts/", **ZH).content.decode()
    assert "转售收入" in page
    assert untranslated_words(page, data_words()) == []
