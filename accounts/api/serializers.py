from rest_framework import serializers

from accounts.models import Membership, MembershipRole, Organization, OrganizationRole, User


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
        ]
        read_only_fields = ["id", "is_provider", "is_customer", "verified_at", "created_at"]


class OrganizationUpdateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)


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
