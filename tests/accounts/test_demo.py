"""The demo accounts: logins keep working, and the customer has a colleague and an invitation."""

import pytest

from accounts.demo import DEMO_CUSTOMER, DEMO_CUSTOMER_FINANCE, DEMO_LOGINS, seed_accounts
from accounts.models import Invitation, MembershipRole

pytestmark = pytest.mark.django_db


def test_seeding_twice_gives_the_customer_two_members_and_one_pending_invitation():
    seed_accounts()
    accounts = seed_accounts()
    customer = accounts.customer
    roles = dict(customer.memberships.values_list("user__username", "role"))
    assert roles == {
        DEMO_CUSTOMER.username: MembershipRole.OWNER,
        DEMO_CUSTOMER_FINANCE.username: MembershipRole.BILLING,
    }
    assert Invitation.objects.pending().filter(organization=customer).count() == 1


def test_every_demo_login_gets_an_api_token_with_its_password(api_client):
    seed_accounts()
    for login in DEMO_LOGINS:
        response = api_client.post(
            "/api/v1/auth/token/", {"username": login.username, "password": login.password}
        )
        assert response.status_code == 200, login.username
        me = api_client.get("/api/v1/me/", HTTP_AUTHORIZATION=f"Token {response.json()['token']}")
        assert me.json()["user"]["username"] == login.username
