from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts import limits
from accounts.api.fields import TextField
from accounts.models import (
    LEGAL_PROFILE_FIELDS,
    Membership,
    MembershipRole,
    Organization,
    OrganizationRole,
    User,
)


class OrganizationSerializer(serializers.ModelSerializer):
    roles = serializers.ListField(child=serializers.CharField(), read_only=True)
    is_verified = serializers.BooleanField(read_only=True)

    class Meta:
        model = Organization
        fields = [
            "id",
            "name",
            "roles",
            "is_provider",
            "is_customer",
            "is_verified",
            "verified_at",
            "created_at",
            *LEGAL_PROFILE_FIELDS,
            "contact_name",
            "contact_email",
        ]
        read_only_fields = fields


def _max_length(name: str) -> int:
    """What the organisation's column holds."""
    return Organization._meta.get_field(name).max_length


class OrganizationUpdateSerializer(serializers.Serializer):
    """Any subset of the profile; the service checks each field (GB 32100-2015 for the code)."""

    name = TextField(max_length=_max_length("name"), required=False)
    legal_name = TextField(max_length=_max_length("legal_name"), required=False, allow_blank=True)
    unified_social_credit_code = TextField(
        max_length=_max_length("unified_social_credit_code"), required=False, allow_blank=True
    )
    registered_address = TextField(
        max_length=_max_length("registered_address"), required=False, allow_blank=True
    )
    phone = TextField(max_length=_max_length("phone"), required=False, allow_blank=True)
    bank_name = TextField(max_length=_max_length("bank_name"), required=False, allow_blank=True)
    bank_account = TextField(
        max_length=_max_length("bank_account"), required=False, allow_blank=True
    )
    contact_name = TextField(
        max_length=_max_length("contact_name"), required=False, allow_blank=True
    )
    contact_email = serializers.EmailField(
        max_length=_max_length("contact_email"), required=False, allow_blank=True
    )


class UserSerializer(serializers.ModelSerializer):
    class Meta:
        model = User
        fields = ["id", "username", "email", "is_staff"]


@extend_schema_field({"type": "string", "enum": list(OrganizationRole.values)})
class RoleField(serializers.CharField):
    """A role name; an unknown one is refused by ``validate_roles`` with the choices named."""


class RegistrationOrganizationSerializer(serializers.Serializer):
    name = TextField(max_length=_max_length("name"))
    roles = serializers.ListField(
        child=RoleField(max_length=limits.MAX_CODE_LENGTH),
        allow_empty=False,
        max_length=len(OrganizationRole.values),
        help_text='"provider", "customer" or both.',
    )

    def validate_roles(self, roles: list[str]) -> list[str]:
        unknown = sorted(set(roles) - set(OrganizationRole.values))
        if unknown:
            raise serializers.ValidationError(
                f"Unknown role(s): {', '.join(unknown)}. Choose provider and/or customer."
            )
        return sorted(set(roles))


class RegistrationSerializer(serializers.Serializer):
    username = serializers.RegexField(
        r"^[\w.@+-]+\Z", max_length=User._meta.get_field("username").max_length
    )
    password = TextField(
        write_only=True,
        max_length=limits.MAX_PASSWORD_LENGTH,
        trim_whitespace=False,  # as Django's password fields: spaces are part of it
        style={"input_type": "password"},
    )
    email = serializers.EmailField(
        max_length=User._meta.get_field("email").max_length,
        required=False,
        allow_blank=True,
        default="",
    )
    organization = RegistrationOrganizationSerializer()


class RegistrationResultSerializer(serializers.Serializer):
    user = UserSerializer()
    organization = OrganizationSerializer()
    token = serializers.CharField()


class TokenRequestSerializer(serializers.Serializer):
    username = TextField(max_length=User._meta.get_field("username").max_length)
    password = TextField(
        write_only=True,
        max_length=limits.MAX_PASSWORD_LENGTH,
        trim_whitespace=False,  # as Django's password fields: spaces are part of it
        style={"input_type": "password"},
    )


class TokenSerializer(serializers.Serializer):
    token = serializers.CharField()


class MeSerializer(serializers.Serializer):
    user = UserSerializer()
    organization = OrganizationSerializer(allow_null=True)
    roles = serializers.ListField(child=serializers.CharField())
    membership_role = serializers.ChoiceField(choices=MembershipRole.choices, allow_null=True)
    is_staff = serializers.BooleanField()


class MembershipSerializer(serializers.ModelSerializer):
    user = UserSerializer()

    class Meta:
        model = Membership
        fields = ["id", "user", "role", "created_at"]
