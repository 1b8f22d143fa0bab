from django.contrib.auth import authenticate
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import AuthenticationFailed, Throttled
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import services, throttling
from accounts.api.authentication import ApiTokenAuthentication
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
from accounts.api.throttling import ClientAddressScopedRateThrottle
from accounts.errors import PermissionDeniedError
from accounts.models import Organization
from accounts.selectors import organization_of


class RegisterView(ParseBodyFirstMixin, APIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []
    throttle_classes = [ClientAddressScopedRateThrottle]
    throttle_scope = "login"

    @extend_schema(request=RegistrationSerializer, responses={201: RegistrationResultSerializer})
    def post(self, request):
        serializer = RegistrationSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        user, organization, key = services.user_register(
            username=data["username"],
            password=data["password"],
            email=data["email"],
            organization_name=data["organization"]["name"],
            roles=data["organization"]["roles"],
            api_token_name=_("Signed up through the API"),
        )
        result = {"user": user, "organization": organization, "token": key}
        return Response(RegistrationResultSerializer(result).data, status=status.HTTP_201_CREATED)


class TokenView(ParseBodyFirstMixin, APIView):
    """Exchange a username and password for a new API token; revoke the token in use.

    Failed attempts count towards the login throttle (django-axes, ``accounts.throttling``):
    once it holds, every attempt answers 429, right password or not.
    """

    permission_classes = [AllowAny]
    # Token auth only: DELETE revokes the caller's token; POST needs no credentials.
    authentication_classes = [ApiTokenAuthentication]
    throttle_classes = [ClientAddressScopedRateThrottle]
    throttle_scope = "login"

    @extend_schema(request=TokenRequestSerializer, responses={200: TokenSerializer})
    def post(self, request):
        serializer = TokenRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        # Axes counts and refuses on the Django request (the one its middleware sees).
        django_request = request._request
        user = authenticate(
            django_request,
            username=serializer.validated_data["username"],
            password=serializer.validated_data["password"],
        )
        if throttling.is_locked_out(django_request):
            raise Throttled(detail=throttling.lockout_message())
        if user is None:
            raise AuthenticationFailed(_("Unable to log in with the credentials provided."))
        throttling.api_login_succeeded(django_request, user)
        _token, key = services.api_token_create(user=user, name=_("Logged in through the API"))
        return Response({"token": key})

    @extend_schema(request=None, responses={204: None})
    def delete(self, request):
        """Revoke the token this request was made with (log out of the API)."""
        if not request.user.is_authenticated or request.auth is None:
            raise AuthenticationFailed()
        services.api_token_revoke(token=request.auth, by=request.user)
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
            raise PermissionDeniedError(_("Only the organisation's owner may change it."))
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
