"""Sign-up, login, logout, password change and reset, and the organisation profile page."""

import re

import pytest
from django.core import mail

from accounts.models import MembershipRole, Organization, User
from tests.factories import TEST_PASSWORD, OrganizationFactory, ProviderFactory, member_of
from tests.translations import data_words, untranslated_words

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-unusual-passphrase-7"
ZH = {"HTTP_ACCEPT_LANGUAGE": "zh-hans"}


def no_english(response) -> list[str]:
    return untranslated_words(response.content.decode(), data_words())


def sign_up(client, **overrides):
    data = {
        "username": "wang.fang",
        "email": "wang.fang@example.cn",
        "password": PASSWORD,
        "password_confirm": PASSWORD,
        "organization_name": "Wuhu Compute",
        "roles": ["provider"],
    }
    data.update(overrides)
    return client.post("/accounts/register/", data, follow=True)


# --- Sign-up --------------------------------------------------------------------------------
def test_sign_up_as_provider_and_customer_logs_in_on_the_home_page(client):
    response = sign_up(client, roles=["provider", "customer"])
    assert response.redirect_chain == [("/", 302)]
    html = response.content.decode()
    assert "Welcome, wang.fang. Wuhu Compute is set up." in html
    assert "verifies new providers" in html
    organization = Organization.objects.get(name="Wuhu Compute")
    assert organization.is_provider and organization.is_customer
    assert User.objects.get(username="wang.fang").membership.role == MembershipRole.OWNER
    assert not User.objects.get(username="wang.fang").api_tokens.exists()


def test_sign_up_errors_are_inline_and_keep_what_was_typed(client):
    OrganizationFactory(name="Taken Org")
    response = sign_up(client, organization_name="taken org", password_confirm="different")
    html = response.content.decode()
    assert response.status_code == 200
    assert "The two passwords differ." in html
    assert 'value="wang.fang@example.cn"' in html
    assert not User.objects.filter(username="wang.fang").exists()
    response = sign_up(client, organization_name="taken org")
    assert "An organisation with that name already exists." in response.content.decode()
    assert not User.objects.filter(username="wang.fang").exists()


def test_sign_up_page_in_chinese(client):
    assert no_english(client.get("/accounts/register/", **ZH)) == []
    response = client.post("/accounts/register/", {"username": "a b"}, **ZH)
    assert "invalid-feedback" in response.content.decode()
    assert no_english(response) == []


# --- Login and logout -----------------------------------------------------------------------
def test_login_page_links_to_sign_up_and_password_reset(client):
    html = client.get("/accounts/login/").content.decode()
    assert 'href="/accounts/register/"' in html and 'href="/accounts/password/reset/"' in html


def test_wrong_password_is_shown_on_the_form(client):
    user = member_of(OrganizationFactory())
    response = client.post("/accounts/login/", {"username": user.username, "password": "x"})
    assert response.status_code == 200
    assert "alert-danger" in response.content.decode()


def test_login_and_logout(client):
    user = member_of(OrganizationFactory())
    response = client.post(
        "/accounts/login/", {"username": user.username, "password": TEST_PASSWORD}
    )
    assert response.status_code == 302
    response = client.post("/accounts/logout/", follow=True)
    assert "You have logged out." in response.content.decode()
    assert client.get("/accounts/tokens/").status_code == 302


def test_login_pages_in_chinese(client):
    assert no_english(client.get("/accounts/login/", **ZH)) == []
    response = client.post("/accounts/login/", {"username": "nobody", "password": "x"}, **ZH)
    assert no_english(response) == []


# --- Passwords ------------------------------------------------------------------------------
def test_password_change(client):
    user = member_of(OrganizationFactory())
    client.force_login(user)
    assert client.get("/accounts/password/change/").status_code == 200
    response = client.post(
        "/accounts/password/change/",
        {"old_password": "wrong", "new_password1": PASSWORD, "new_password2": PASSWORD},
    )
    assert "invalid-feedback" in response.content.decode()
    response = client.post(
        "/accounts/password/change/",
        {"old_password": TEST_PASSWORD, "new_password1": PASSWORD, "new_password2": PASSWORD},
        follow=True,
    )
    assert "Your password was changed." in response.content.decode()
    user.refresh_from_db()
    assert user.check_password(PASSWORD)
    assert client.get("/accounts/tokens/").status_code == 200  # still logged in


def test_password_change_needs_login(client):
    assert client.get("/accounts/password/change/").status_code == 302


def test_password_reset_by_email(client):
    user = member_of(OrganizationFactory())
    response = client.post("/accounts/password/reset/", {"email": user.email.upper()}, follow=True)
    assert "Check your email" in response.content.decode()
    [message] = mail.outbox
    assert message.to == [user.email]
    link = re.search(r"http://testserver(/accounts/password/reset/\S+/)", message.body).group(1)
    form = client.get(link, follow=True)
    assert "Choose a new password" in form.content.decode()
    set_url = form.redirect_chain[-1][0]
    done = client.post(set_url, {"new_password1": PASSWORD, "new_password2": PASSWORD}, follow=True)
    assert "Your new password is set." in done.content.decode()
    user.refresh_from_db()
    assert user.check_password(PASSWORD)
    assert "does not work" in client.get(link, follow=True).content.decode()  # used


def test_password_reset_email_in_chinese(client):
    user = member_of(OrganizationFactory())
    client.post("/accounts/password/reset/", {"email": user.email}, **ZH)
    assert "重置" in mail.outbox[0].subject and "密码" in mail.outbox[0].body


def test_password_pages_in_chinese(client):
    user = member_of(OrganizationFactory())
    for url in ("/accounts/password/reset/", "/accounts/password/reset/sent/"):
        assert no_english(client.get(url, **ZH)) == [], url
    assert no_english(client.get("/accounts/password/reset/x/y/", **ZH)) == []
    assert no_english(client.get("/accounts/password/reset/complete/", **ZH)) == []
    client.force_login(user)
    assert no_english(client.get("/accounts/password/change/", **ZH)) == []


# --- Organisation profile -------------------------------------------------------------------
PROFILE = {
    "name": "Wuhu Compute",
    "legal_name": "芜湖算力有限公司",
    "unified_social_credit_code": "91350100m000100y43",
    "registered_address": "安徽省芜湖市",
    "phone": "0553-1234567",
    "bank_name": "中国银行芜湖分行",
    "bank_account": "6216 0000 0000",
    "contact_name": "陈工",
    "contact_email": "chen@example.cn",
}


@pytest.fixture
def provider():
    return ProviderFactory(name="Wuhu Compute", verified_at=None)


def test_owner_fills_the_legal_profile(client, provider):
    owner = member_of(provider)
    client.force_login(owner)
    response = client.post("/accounts/organization/", PROFILE, follow=True)
    assert "The organisation&#x27;s profile was saved." in response.content.decode()
    provider.refresh_from_db()
    assert provider.unified_social_credit_code == "91350100M000100Y43"
    assert provider.missing_legal_fields == []


def test_a_wrong_credit_code_is_refused_inline_and_nothing_is_saved(client, provider):
    owner = member_of(provider)
    client.force_login(owner)
    response = client.post(
        "/accounts/organization/", {**PROFILE, "unified_social_credit_code": "91350100M000100Y44"}
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert "check character is wrong" in html and 'value="91350100M000100Y44"' in html
    provider.refresh_from_db()
    assert provider.legal_name == ""


def test_credit_code_error_in_chinese(client, provider):
    owner = member_of(provider)
    client.force_login(owner)
    response = client.post(
        "/accounts/organization/",
        {**PROFILE, "unified_social_credit_code": "91350100M000100Y44"},
        **ZH,
    )
    assert "校验" in response.content.decode()
    assert no_english(response) == []


def test_members_see_the_profile_and_the_verification_state_but_cannot_edit(client, provider):
    member_of(provider)
    plain = member_of(provider, role=MembershipRole.MEMBER)
    client.force_login(plain)
    html = client.get("/accounts/organization/").content.decode()
    assert "Awaiting verification" in html and "checks every new provider" in html
    assert "Save profile" not in html
    response = client.post("/accounts/organization/", PROFILE)
    assert response.status_code == 403
    provider.refresh_from_db()
    assert provider.legal_name == ""


def test_another_organisations_profile_answers_404(client, provider):
    other = member_of(OrganizationFactory(name="Other"))
    client.force_login(other)
    assert client.get(f"/accounts/organization/{provider.pk}/").status_code == 404
    assert client.post(f"/accounts/organization/{provider.pk}/", PROFILE).status_code == 404


def test_admins_edit_any_profile(client, provider, staff_user):
    client.force_login(staff_user)
    response = client.post(f"/accounts/organization/{provider.pk}/", PROFILE)
    assert response.status_code == 302
    provider.refresh_from_db()
    assert provider.legal_name == PROFILE["legal_name"]
    # Without an organisation of their own, staff are pointed to the admin's list.
    assert client.get("/accounts/organization/")["Location"].startswith("/admin/")


def test_profile_page_queries_are_bounded(client, provider, django_assert_max_num_queries):
    owner = member_of(provider)
    client.force_login(owner)
    with django_assert_max_num_queries(8):
        assert client.get("/accounts/organization/").status_code == 200


def test_profile_pages_in_chinese(client, provider):
    owner = member_of(provider)
    plain = member_of(provider, role=MembershipRole.MEMBER)
    client.force_login(owner)
    assert no_english(client.get("/accounts/organization/", **ZH)) == []
    client.force_login(plain)
    assert no_english(client.get("/accounts/organization/", **ZH)) == []


def test_account_menu_links(client, provider):
    client.force_login(member_of(provider))
    html = client.get("/accounts/organization/").content.decode()
    for url in ("/accounts/organization/", "/accounts/members/", "/accounts/tokens/"):
        assert f'href="{url}"' in html
    assert 'href="/accounts/password/change/"' in html
