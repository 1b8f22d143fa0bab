"""Account pages in a real browser: a provider signs up, fills its legal profile, creates and
revokes an API token; every account page in both languages, on a desktop and a phone, with no
serious axe violations, no sideways scrolling and no script errors."""

import re

import pytest

from accounts import members
from accounts.models import ApiToken, MembershipRole, Organization
from tests.e2e.conftest import log_in, scrolls_sideways, serious_axe_violations, snap
from tests.factories import TEST_PASSWORD, OrganizationFactory, ProviderFactory, member_of

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "a-long-unusual-passphrase-7"


def field(page, label: str):
    """The input labelled exactly ``label`` (required fields' labels end with " *")."""
    return page.get_by_label(re.compile(rf"^{re.escape(label)}( \*)?$"))


def check(page, name: str) -> None:
    snap(page, name)
    assert serious_axe_violations(page) == [], name
    assert not scrolls_sideways(page), name
    assert page.errors == [], (name, page.errors)


def test_a_provider_signs_up_fills_its_profile_and_manages_a_token(new_page):
    page = new_page(lang="en")
    page.goto("/accounts/login/")
    page.get_by_role("link", name="Sign up as a provider or customer").click()
    field(page, "Username").fill("hefei.ops")
    field(page, "Email address").fill("ops@hefei-compute.example")
    field(page, "Password").fill(PASSWORD)
    field(page, "Password again").fill(PASSWORD)
    field(page, "Organisation name").fill("Hefei Compute Co.")
    page.get_by_label("Provider").check()
    page.get_by_role("button", name="Sign up").click()
    page.wait_for_url("**/")
    assert "Welcome, hefei.ops. Hefei Compute Co. is set up." in page.content()

    # The legal profile, through the account menu.
    page.locator("summary", has_text="hefei.ops").click()
    page.get_by_role("link", name="Organisation", exact=True).click()
    page.wait_for_url("**/accounts/organization/")
    assert "Awaiting verification" in page.content()
    field(page, "Legal name").fill("合肥算力科技有限公司")
    field(page, "Unified social credit code").fill("91350100M000100Y44")  # a typo
    page.get_by_role("button", name="Save profile").click()
    assert "check character is wrong" in page.content()
    assert field(page, "Legal name").input_value() == "合肥算力科技有限公司"  # kept
    field(page, "Unified social credit code").fill("91350100M000100Y43")
    field(page, "Registered address").fill("安徽省合肥市高新区望江西路 800 号")
    field(page, "Phone").fill("0551-6500 0000")
    field(page, "Bank").fill("中国工商银行合肥高新支行")
    field(page, "Bank account number").fill("1302 0100 0900 0000 001")
    field(page, "Contact person").fill("王经理")
    field(page, "Contact email").fill("ops@hefei-compute.example")
    page.get_by_role("button", name="Save profile").click()
    assert "The organisation's profile was saved." in page.content()
    organization = Organization.objects.get(name="Hefei Compute Co.")
    assert organization.missing_legal_fields == []
    check(page, "account-organization-filled")

    # An API token: created, its key shown once, then revoked.
    page.goto("/accounts/tokens/")
    field(page, "Token name").fill("scheduler")
    page.get_by_role("button", name="Create token").click()
    key = field(page, "Key").input_value()
    assert key.startswith("cm_")
    token = ApiToken.objects.get(user__username="hefei.ops")
    assert token.prefix in key and key not in token.key_hash
    check(page, "account-token-created")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Revoke the token scheduler").click()
    page.wait_for_load_state()
    assert "was revoked" in page.content()
    assert not ApiToken.objects.filter(user__username="hefei.ops").exists()

    page.locator("summary", has_text="hefei.ops").click()
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url("**/")
    assert "You have logged out." in page.content()


@pytest.mark.parametrize("phone", [False, True], ids=["desktop", "phone"])
@pytest.mark.parametrize("lang", ["en", "zh-hans"])
def test_account_pages_in_both_languages(new_page, lang, phone):
    provider = ProviderFactory(name="Wuhu Cloud", verified_at=None)
    owner = member_of(provider)
    member_of(provider, role=MembershipRole.BILLING)
    _invitation, token = members.invitation_create(
        organization=provider,
        by=owner,
        email="new.engineer@wuhu-cloud.example",
        role=MembershipRole.MEMBER,
        site_url="http://localhost",
    )

    anonymous = new_page(lang=lang, phone=phone)
    for url, name in (
        ("/accounts/login/", "account-login"),
        ("/accounts/register/", "account-register"),
        ("/accounts/password/reset/", "account-password-reset"),
        (f"/accounts/invitations/accept/{token}/", "account-invitation-accept"),
    ):
        anonymous.goto(url)
        check(anonymous, name)

    page = new_page(lang=lang, phone=phone)
    log_in(page, owner.username, TEST_PASSWORD)
    page.wait_for_url("**/")
    for url, name in (
        ("/accounts/organization/", "account-organization"),
        ("/accounts/members/", "account-members"),
        ("/accounts/tokens/", "account-tokens"),
        ("/accounts/password/change/", "account-password-change"),
    ):
        page.goto(url)
        check(page, name)
    # The header still says who is logged in at a phone's width.
    assert page.locator("header").get_by_text(owner.username).is_visible()


def test_a_plain_member_sees_the_profile_read_only(new_page):
    organization = OrganizationFactory(name="Zhipu Lab")
    member_of(organization)
    plain = member_of(organization, role=MembershipRole.MEMBER)
    page = new_page(lang="zh-hans", phone=True)
    log_in(page, plain.username, TEST_PASSWORD)
    page.wait_for_url("**/")
    page.goto("/accounts/organization/")
    assert page.get_by_role("button", name="保存资料").count() == 0
    check(page, "account-organization-member")
    page.goto("/accounts/members/")
    assert page.get_by_role("button", name="发送邀请").count() == 0
    check(page, "account-members-member")
