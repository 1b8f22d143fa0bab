from rest_framework import serializers

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


class OrganizationUpdateSerializer(serializers.Serializer):
    """Any subset of the profile; the service checks each field (GB 32100-2015 for the code)."""

    name = serializers.CharField(max_length=200, required=False)
    legal_name = serializers.CharField(max_length=200, required=False, allow_blank=True)
    unified_social_credit_code = serializers.CharField(
        max_length=18, required=False, allow_blank=True
    )
    registered_address = serializers.CharField(max_length=300, required=False, allow_blank=True)
    phone = serializers.CharField(max_length=40, required=False, allow_blank=True)
    bank_name = serializers.CharField(max_length=200, required=False, allow_blank=True)
    bank_account = serializers.CharField(max_length=64, required=False, allow_blank=True)
    contact_name = serializers.CharField(max_length=100, required=False, allow_blank=True)
    contact_email = serializers.EmailField(required=False, allow_blank=True)


class UserSerializer(serializers.ModelSerializer):
    class Meta:
        model = User
        fields = ["id", "username", "email", "is_staff"]


class RegistrationOrganizationSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    roles = serializers.ListField(
        child=serializers.CharField(),
        allow_empty=False,
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
    username = serializers.RegexField(r"^[\w.@+-]+\Z", max_length=150)
    password = serializers.CharField(write_only=True, style={"input_type": "password"})
    email = serializers.EmailField(required=False, allow_blank=True, default="")
    organization = RegistrationOrganizationSerializer()


class RegistrationResultSerializer(serializers.Serializer):
    user = UserSerializer()
    organization = OrganizationSerializer()
    token = serializers.CharField()


class TokenRequestSerializer(serializers.Serializer):
    username = serializers.CharField()
    password = serializers.CharField(write_only=True, style={"input_type": "password"})


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
