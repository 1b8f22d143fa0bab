"""Members and invitations: services (single-use links, expiry, the last owner) and pages."""

import hashlib
import re
import threading
from datetime import timedelta

import pytest
from django.core import mail
from django.db import connection, connections
from django.utils import timezone

from accounts import members, services
from accounts.errors import InvalidInput, PermissionDeniedError
from accounts.models import ApiToken, Invitation, Membership, MembershipRole, User
from tests.factories import OrganizationFactory, member_of
from tests.translations import data_words, untranslated_words

pytestmark = pytest.mark.django_db

SITE = "https://market.example"
PASSWORD = "a-long-unusual-passphrase-7"


@pytest.fixture
def organization():
    return OrganizationFactory(name="Zhipu Lab")


@pytest.fixture
def owner(organization):
    return member_of(organization, role=MembershipRole.OWNER)


def invite(organization, owner, email="new.hire@example.cn", role=MembershipRole.MEMBER):
    return members.invitation_create(
        organization=organization, by=owner, email=email, role=role, site_url=SITE
    )


# --- Invitations ----------------------------------------------------------------------------
def test_an_invitation_stores_only_the_tokens_digest_and_mails_the_link(
    organization, owner, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        invitation, token = invite(organization, owner)
    assert invitation.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in invitation.token_hash
    assert invitation.expires_at > timezone.now() + timedelta(days=6)
    [message] = mail.outbox
    assert message.to == ["new.hire@example.cn"]
    assert "Zhipu Lab" in message.subject
    assert f"{SITE}/accounts/invitations/accept/{token}/" in message.body


def test_the_invitation_email_is_in_the_inviters_language(
    organization, owner, django_capture_on_commit_callbacks
):
    from django.utils import translation

    with translation.override("zh-hans"), django_capture_on_commit_callbacks(execute=True):
        invite(organization, owner)
    assert "邀请" in mail.outbox[0].body


def test_accepting_creates_a_user_in_the_organisation_with_the_role(organization, owner):
    invitation, token = invite(organization, owner, role=MembershipRole.BILLING)
    user = members.invitation_accept(token=token, username="li.na", password=PASSWORD)
    assert user.email == "new.hire@example.cn" and user.check_password(PASSWORD)
    assert user.membership.organization == organization
    assert user.membership.role == MembershipRole.BILLING
    invitation.refresh_from_db()
    assert invitation.accepted_by == user and invitation.accepted_at is not None


def test_a_link_works_only_once(organization, owner):
    _, token = invite(organization, owner)
    members.invitation_accept(token=token, username="first", password=PASSWORD)
    with pytest.raises(members.InvitationInvalid, match="already been used"):
        members.invitation_accept(token=token, username="second", password=PASSWORD)
    assert not User.objects.filter(username="second").exists()


def test_an_expired_link_is_refused(organization, owner):
    invitation, token = invite(organization, owner)
    later = invitation.expires_at + timedelta(seconds=1)
    with pytest.raises(members.InvitationInvalid, match="expired"):
        members.invitation_accept(token=token, username="late", password=PASSWORD, now=later)
    assert not User.objects.filter(username="late").exists()


def test_a_revoked_link_is_refused(organization, owner):
    invitation, token = invite(organization, owner)
    members.invitation_revoke(invitation=invitation, by=owner)
    with pytest.raises(members.InvitationInvalid, match="withdrawn"):
        members.invitation_for_token(token)


def test_an_unknown_link_is_refused(db):
    with pytest.raises(members.InvitationInvalid):
        members.invitation_for_token("not-a-token")


def test_inviting_the_same_address_again_replaces_the_old_link(organization, owner):
    first, old_token = invite(organization, owner, email="Dup@Example.cn")
    second, new_token = invite(organization, owner, email="dup@example.cn")
    first.refresh_from_db()
    assert first.revoked_at is not None and second.revoked_at is None
    with pytest.raises(members.InvitationInvalid):
        members.invitation_for_token(old_token)
    assert members.invitation_for_token(new_token) == second


def test_only_owners_invite(organization, owner):
    plain = member_of(organization, role=MembershipRole.MEMBER)
    with pytest.raises(PermissionDeniedError):
        invite(organization, plain)
    assert not Invitation.objects.exists()


def test_a_current_member_cannot_be_invited_again(organization, owner):
    with pytest.raises(InvalidInput) as exc:
        invite(organization, owner, email=owner.email.upper())
    assert exc.value.field == "email"


def test_a_taken_username_or_weak_password_writes_nothing(organization, owner):
    invitation, token = invite(organization, owner)
    with pytest.raises(members.MemberInputInvalid) as exc:
        members.invitation_accept(token=token, username=owner.username.upper(), password="123")
    assert {"username", "password"} <= set(exc.value.details)
    invitation.refresh_from_db()
    assert invitation.accepted_at is None
    assert Membership.objects.filter(organization=organization).count() == 1


# --- Roles and removal ----------------------------------------------------------------------
def test_the_last_owner_cannot_be_demoted_or_removed(organization, owner):
    membership = owner.membership
    with pytest.raises(members.LastOwner):
        members.membership_change_role(membership=membership, by=owner, role=MembershipRole.MEMBER)
    with pytest.raises(members.LastOwner):
        members.membership_remove(membership=membership, by=owner)
    membership.refresh_from_db()
    assert membership.role == MembershipRole.OWNER


def test_with_two_owners_one_may_step_down(organization, owner):
    second = member_of(organization, role=MembershipRole.OWNER)
    members.membership_change_role(
        membership=owner.membership, by=second, role=MembershipRole.BILLING
    )
    assert Membership.objects.get(user=owner).role == MembershipRole.BILLING
    with pytest.raises(members.LastOwner):
        members.membership_change_role(
            membership=second.membership, by=second, role=MembershipRole.MEMBER
        )


def test_a_removed_member_can_no_longer_act(client, api_client, organization, owner):
    leaver = member_of(organization, role=MembershipRole.MEMBER)
    _, key = services.api_token_create(user=leaver, name="laptop")
    client.force_login(leaver)
    assert client.get("/accounts/organization/").status_code == 200
    members.membership_remove(membership=leaver.membership, by=owner)
    leaver.refresh_from_db()
    assert not leaver.is_active
    assert not Membership.objects.filter(user=leaver).exists()
    assert not ApiToken.objects.filter(user=leaver).exists()
    assert api_client.get("/api/v1/me/", HTTP_AUTHORIZATION=f"Token {key}").status_code == 401
    # The session is over too: the page sends them to log in.
    assert client.get("/accounts/organization/").status_code == 302


def test_members_cannot_manage_other_members(organization, owner):
    plain = member_of(organization, role=MembershipRole.MEMBER)
    with pytest.raises(PermissionDeniedError):
        members.membership_change_role(
            membership=owner.membership, by=plain, role=MembershipRole.MEMBER
        )
    with pytest.raises(PermissionDeniedError):
        members.membership_remove(membership=owner.membership, by=plain)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_owners_demoting_each_other_at_once_leave_one_owner():
    if connection.vendor != "postgresql":
        pytest.skip("row locks are only proven on PostgreSQL")
    organization = OrganizationFactory(name="Race Ltd")
    a = member_of(organization, role=MembershipRole.OWNER)
    b = member_of(organization, role=MembershipRole.OWNER)
    barrier = threading.Barrier(2)
    outcomes = []

    def demote(target, by):
        try:
            barrier.wait(timeout=30)
            members.membership_change_role(
                membership=Membership.objects.get(user=target), by=by, role=MembershipRole.MEMBER
            )
            outcomes.append("demoted")
        except members.LastOwner:
            outcomes.append("refused")
        finally:
            connections.close_all()

    threads = [
        threading.Thread(target=demote, args=(a, b)),
        threading.Thread(target=demote, args=(b, a)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(outcomes) == ["demoted", "refused"]
    owners = Membership.objects.filter(organization=organization, role=MembershipRole.OWNER)
    assert owners.count() == 1


# --- Pages ----------------------------------------------------------------------------------
def test_owner_invites_from_the_members_page(
    client, organization, owner, django_capture_on_commit_callbacks
):
    client.force_login(owner)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/accounts/members/", {"email": "ops@example.cn", "role": "billing"}, follow=True
        )
    html = response.content.decode()
    assert "An invitation was sent to ops@example.cn" in html
    assert "ops@example.cn" in html.split("Invitations", 1)[1]
    token = re.search(r"/accounts/invitations/accept/([^/]+)/", mail.outbox[0].body).group(1)
    assert members.invitation_for_token(token).role == MembershipRole.BILLING


def test_bad_invitation_input_is_shown_inline_and_keeps_what_was_typed(client, owner):
    client.force_login(owner)
    response = client.post("/accounts/members/", {"email": "not-an-address", "role": "member"})
    html = response.content.decode()
    assert response.status_code == 200
    assert "invalid-feedback" in html and 'value="not-an-address"' in html
    assert not Invitation.objects.exists()


def test_members_see_the_list_but_cannot_invite(client, organization, owner):
    plain = member_of(organization, role=MembershipRole.MEMBER)
    client.force_login(plain)
    page = client.get("/accounts/members/")
    assert page.status_code == 200 and owner.username in page.content.decode()
    assert "Send invitation" not in page.content.decode()
    response = client.post("/accounts/members/", {"email": "x@example.cn", "role": "owner"})
    assert response.status_code == 403
    assert not Invitation.objects.exists()


def test_accept_page_joins_and_logs_in(client, organization, owner):
    _, token = invite(organization, owner)
    url = f"/accounts/invitations/accept/{token}/"
    page = client.get(url)
    assert page.status_code == 200 and "Zhipu Lab" in page.content.decode()
    response = client.post(
        url, {"username": "li.na", "password": PASSWORD, "password_confirm": PASSWORD}
    )
    assert response.status_code == 302
    home = client.get("/")
    assert "li.na" in home.content.decode()
    assert client.get(url).status_code == 410  # used


def test_accept_page_reports_an_expired_link(client, organization, owner):
    invitation, token = invite(organization, owner)
    Invitation.objects.filter(pk=invitation.pk).update(
        expires_at=timezone.now() - timedelta(minutes=1)
    )
    response = client.get(f"/accounts/invitations/accept/{token}/")
    assert response.status_code == 410
    assert "expired" in response.content.decode()


def test_accept_page_shows_field_errors_inline(client, organization, owner):
    _, token = invite(organization, owner)
    response = client.post(
        f"/accounts/invitations/accept/{token}/",
        {"username": owner.username, "password": PASSWORD, "password_confirm": PASSWORD},
    )
    assert response.status_code == 200
    assert "A user with that username already exists." in response.content.decode()


def test_role_change_and_removal_through_the_page(client, organization, owner):
    plain = member_of(organization, role=MembershipRole.MEMBER)
    client.force_login(owner)
    response = client.post(
        f"/accounts/members/{plain.membership.pk}/role/", {"role": "billing"}, follow=True
    )
    assert Membership.objects.get(user=plain).role == MembershipRole.BILLING
    assert "is now Billing" in response.content.decode()
    response = client.post(f"/accounts/members/{owner.membership.pk}/role/", {"role": "member"})
    assert Membership.objects.get(user=owner).role == MembershipRole.OWNER
    assert "needs at least one owner" in client.get("/accounts/members/").content.decode()
    client.post(f"/accounts/members/{plain.membership.pk}/remove/")
    assert not Membership.objects.filter(user=plain).exists()


def test_another_organisations_members_and_invitations_answer_404(client, organization, owner):
    other_org = OrganizationFactory(name="Other")
    other_owner = member_of(other_org)
    invitation, _ = invite(other_org, other_owner)
    client.force_login(owner)
    assert client.post(f"/accounts/members/{other_owner.membership.pk}/remove/").status_code == 404
    assert client.post(f"/accounts/invitations/{invitation.pk}/revoke/").status_code == 404
    assert client.get(f"/accounts/organization/{other_org.pk}/members/").status_code == 404
    assert Membership.objects.filter(user=other_owner).exists()


def test_staff_see_any_organisations_members(client, organization, owner, staff_user):
    client.force_login(staff_user)
    response = client.get(f"/accounts/organization/{organization.pk}/members/")
    assert response.status_code == 200 and owner.username in response.content.decode()


def test_members_page_queries_are_bounded(
    client, organization, owner, django_assert_max_num_queries
):
    for n in range(12):
        member_of(organization, role=MembershipRole.MEMBER)
        invite(organization, owner, email=f"person{n}@example.cn")
    client.force_login(owner)
    with django_assert_max_num_queries(10):
        assert client.get("/accounts/members/").status_code == 200


def test_members_pages_in_chinese_have_no_english_left(client, organization, owner):
    member_of(organization, role=MembershipRole.BILLING)
    invitation, token = invite(organization, owner)
    client.force_login(owner)
    page = client.get("/accounts/members/", HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert untranslated_words(page.content.decode(), data_words()) == []
    client.logout()
    accept = client.get(f"/accounts/invitations/accept/{token}/", HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert untranslated_words(accept.content.decode(), data_words()) == []
    members.invitation_revoke(invitation=invitation, by=owner)
    gone = client.get(f"/accounts/invitations/accept/{token}/", HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert untranslated_words(gone.content.decode(), data_words()) == []
