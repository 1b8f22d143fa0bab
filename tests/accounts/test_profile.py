"""The organisation's legal profile: who may change it and how each field is checked."""

import pytest

from accounts import uscc
from accounts.errors import PermissionDeniedError
from accounts.models import MembershipRole
from accounts.services import ProfileInvalid, organization_profile_update
from tests.conftest import client_for
from tests.factories import OrganizationFactory, member_of

VALID_CODE = "91350100M000100Y43"  # DOMAIN.md's example


@pytest.mark.parametrize(
    ("code", "problem"),
    [
        (VALID_CODE, None),
        ("91340100MA2T000013", None),
        ("91350100M000100Y4", "length"),
        ("91350100M000100Y433", "length"),
        ("91350100M000100I43", "characters"),  # I is never used
        ("91350100m000100Y43", "characters"),  # lower case is not in the alphabet
        ("91350100M000100Y44", "check"),
    ],
)
def test_unified_social_credit_code_check(code, problem):
    assert uscc.problem(code) == problem


def test_check_character_of_every_single_typo_is_detected():
    """Changing any one of the first 17 characters changes the check character."""
    for position in range(17):
        for replacement in uscc.ALPHABET:
            if replacement == VALID_CODE[position]:
                continue
            typo = VALID_CODE[:position] + replacement + VALID_CODE[position + 1 :]
            assert not uscc.is_valid(typo), typo


@pytest.mark.django_db
def test_owner_fills_the_legal_profile_through_the_api():
    organization = OrganizationFactory()
    owner = member_of(organization, role=MembershipRole.OWNER)
    response = client_for(owner).patch(
        f"/api/v1/organizations/{organization.pk}/",
        {
            "legal_name": "示例科技有限公司",
            "unified_social_credit_code": " 91350100m000100y43 ".upper(),
            "registered_address": "福建省福州市鼓楼区 1 号",
            "phone": "0591-1234 5678",
            "bank_name": "中国银行福州分行",
            "bank_account": "6217 0000 0000 0000",
        },
        format="json",
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["unified_social_credit_code"] == VALID_CODE
    assert body["legal_name"] == "示例科技有限公司"
    organization.refresh_from_db()
    assert organization.missing_legal_fields == []


@pytest.mark.django_db
def test_a_wrong_check_character_is_a_field_error_and_writes_nothing():
    organization = OrganizationFactory()
    owner = member_of(organization)
    response = client_for(owner).patch(
        f"/api/v1/organizations/{organization.pk}/",
        {"legal_name": "Should not be stored", "unified_social_credit_code": VALID_CODE[:-1] + "4"},
        format="json",
    )
    assert response.status_code == 400
    assert "unified_social_credit_code" in response.json()["errors"]
    organization.refresh_from_db()
    assert organization.legal_name == ""


@pytest.mark.django_db
def test_two_organisations_cannot_share_a_credit_code():
    first = OrganizationFactory(unified_social_credit_code=VALID_CODE)
    second = OrganizationFactory()
    owner = member_of(second)
    with pytest.raises(ProfileInvalid) as caught:
        organization_profile_update(
            organization=second, by=owner, changes={"unified_social_credit_code": VALID_CODE}
        )
    assert "unified_social_credit_code" in caught.value.details
    assert first.unified_social_credit_code == VALID_CODE


@pytest.mark.django_db
@pytest.mark.parametrize("role", [MembershipRole.MEMBER, MembershipRole.BILLING])
def test_only_the_owner_changes_the_profile(role):
    organization = OrganizationFactory()
    user = member_of(organization, role=role)
    with pytest.raises(PermissionDeniedError):
        organization_profile_update(organization=organization, by=user, changes={"legal_name": "X"})
    response = client_for(user).patch(
        f"/api/v1/organizations/{organization.pk}/", {"legal_name": "X"}, format="json"
    )
    assert response.status_code == 403


@pytest.mark.django_db
def test_another_organisations_profile_is_not_found():
    mine, theirs = OrganizationFactory(), OrganizationFactory()
    owner = member_of(mine)
    response = client_for(owner).patch(
        f"/api/v1/organizations/{theirs.pk}/", {"legal_name": "X"}, format="json"
    )
    assert response.status_code == 404
