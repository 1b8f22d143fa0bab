from django.contrib.auth import authenticate
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.authentication import TokenAuthentication
from rest_framework.decorators import action
from rest_framework.exceptions import AuthenticationFailed, Throttled
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from accounts import ratelimit, services
from accounts.api.input import ParseBodyFirstMixin
from accounts.api.permissions import IsPlatformAdmin
from accounts.api.scoping import OrganizationScopedMixin
from accounts.api.serializers import (
    MeSerializer,
    OrganizationSerializer,
    OrganizationUpdateSerializer,
    RegistrationResultSerializer,
    RegistrationSerializer,
    TokenRequestSerializer,
    TokenSerializer,
)
from accounts.errors import PermissionDeniedError
from accounts.models import Organization
from accounts.selectors import organization_of


class RegisterView(ParseBodyFirstMixin, APIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "login"

    @extend_schema(request=RegistrationSerializer, responses={201: RegistrationResultSerializer})
    def post(self, request):
        serializer = RegistrationSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        user, organization, token = services.user_register(
            username=data["username"],
            password=data["password"],
            email=data["email"],
            organization_name=data["organization"]["name"],
            roles=data["organization"]["roles"],
        )
        result = {"user": user, "organization": organization, "token": token.key}
        return Response(RegistrationResultSerializer(result).data, status=status.HTTP_201_CREATED)


class TokenView(ParseBodyFirstMixin, APIView):
    """Exchange a username and password for an API token. Failed attempts are rate-limited."""

    permission_classes = [AllowAny]
    # Token auth only: DELETE revokes the caller's token; POST needs no credentials.
    authentication_classes = [TokenAuthentication]
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "login"

    @extend_schema(request=TokenRequestSerializer, responses={200: TokenSerializer})
    def post(self, request):
        serializer = TokenRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        username = serializer.validated_data["username"]
        address = ratelimit.client_address(request.META)
        if ratelimit.login_is_blocked(address=address, username=username):
            raise Throttled(detail="Too many failed login attempts. Try again later.")
        user = authenticate(
            request, username=username, password=serializer.validated_data["password"]
        )
        if user is None:
            ratelimit.login_failed(address=address, username=username)
            raise AuthenticationFailed("Unable to log in with the credentials provided.")
        ratelimit.login_succeeded(address=address, username=username)
        return Response({"token": services.token_for(user=user).key})

    @extend_schema(request=None, responses={204: None})
    def delete(self, request):
        """Revoke the caller's token (log out of the API)."""
        if not request.user.is_authenticated:
            raise AuthenticationFailed()
        services.token_revoke(user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeView(ParseBodyFirstMixin, APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses=MeSerializer)
    def get(self, request):
        user = request.user
        organization = organization_of(user)
        membership = getattr(user, "membership", None)
        return Response(
            MeSerializer(
                {
                    "user": user,
                    "organization": organization,
                    "roles": organization.roles if organization else [],
                    "membership_role": membership.role if membership else None,
                    "is_staff": user.is_staff,
                }
            ).data
        )


class OrganizationViewSet(
    ParseBodyFirstMixin,
    OrganizationScopedMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """Organisations: your own; admins see and verify all."""

    queryset = Organization.objects.all()
    serializer_class = OrganizationSerializer
    org_field = "pk"
    filterset_fields = ["is_provider", "is_customer"]
    ordering_fields = ["name", "created_at"]

    @extend_schema(request=OrganizationUpdateSerializer, responses=OrganizationSerializer)
    def partial_update(self, request, pk=None):
        organization = self.get_object()
        if not services.organization_can_edit(organization=organization, user=request.user):
            raise PermissionDeniedError("Only the organisation's owner may change it.")
        serializer = OrganizationUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        organization = services.organization_profile_update(
            organization=organization, by=request.user, changes=dict(serializer.validated_data)
        )
        return Response(OrganizationSerializer(organization).data)

    @extend_schema(request=None, responses=OrganizationSerializer)
    @action(detail=True, methods=["post"], permission_classes=[IsPlatformAdmin])
    def verify(self, request, pk=None):
        organization = services.organization_verify(organization=self.get_object(), by=request.user)
        return Response(OrganizationSerializer(organization).data)
