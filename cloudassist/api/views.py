"""Users, roles and tokens API."""

from django.contrib.auth import authenticate, get_user_model
from django.contrib.auth.models import Group
from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema
from rest_framework import status, viewsets
from rest_framework.authtoken.models import Token
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from cloudassist import selectors, services
from cloudassist.api.permissions import IsAdminOrReadOnly, IsAdminRole
from cloudassist.api.serializers import (
    ErrorSerializer,
    MeSerializer,
    RoleSerializer,
    TokenRequestSerializer,
    TokenSerializer,
    UserSerializer,
)
from cloudassist.api.throttling import SharedScopedRateThrottle

User = get_user_model()


class UserFilterSet(filters.FilterSet):
    role = filters.CharFilter(field_name="groups__name", label="Role name")
    username = filters.CharFilter(lookup_expr="icontains")

    class Meta:
        model = User
        fields = ["role", "username", "is_active"]


class UserViewSet(viewsets.ModelViewSet):
    """Users. Admins manage everyone; other users see only themselves (and `me`)."""

    serializer_class = UserSerializer
    filterset_class = UserFilterSet
    ordering_fields = ["username", "date_joined", "last_login"]
    ordering = ["username"]

    def get_queryset(self):
        return selectors.users_for(self.request.user)

    def paginate_queryset(self, queryset):
        page = super().paginate_queryset(queryset)
        return None if page is None else selectors.attach_role_names(page)

    def get_permissions(self):
        if self.action in ("list", "retrieve", "me", None):  # None: a method the route lacks (405)
            return [IsAuthenticated()]
        return [IsAdminRole()]

    def perform_create(self, serializer):
        data = dict(serializer.validated_data)
        serializer.instance = services.create_user(groups=data.pop("groups", ()), **data)

    def perform_update(self, serializer):
        data = dict(serializer.validated_data)
        serializer.instance = services.update_user(
            user=serializer.instance, actor=self.request.user, groups=data.pop("groups", None), **data
        )

    def perform_destroy(self, instance):
        services.delete_user(user=instance, actor=self.request.user)

    @extend_schema(request=MeSerializer, responses=MeSerializer)
    @action(detail=False, methods=["get", "patch"], serializer_class=MeSerializer)
    def me(self, request):
        """The signed-in user; PATCH changes their own name and email."""
        if request.method == "GET":
            return Response(self.get_serializer(request.user).data)
        serializer = self.get_serializer(request.user, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        user = services.update_user(user=request.user, actor=request.user, **serializer.validated_data)
        return Response(self.get_serializer(user).data)


class RoleViewSet(viewsets.ModelViewSet):
    """Roles (Django groups). Everyone reads; admins add custom roles. Built-in roles are fixed."""

    serializer_class = RoleSerializer
    schema_noun = ("role", "roles")  # the OpenAPI summaries' word, not "group"
    permission_classes = [IsAdminOrReadOnly]
    lookup_field = "name"
    lookup_value_regex = r"[^/]+"
    filterset_fields = ["name"]
    ordering_fields = ["name"]
    ordering = ["name"]
    queryset = Group.objects.order_by("name")

    def perform_update(self, serializer):
        # A PATCH may leave the name out (`{}`): nothing changes.
        name = serializer.validated_data.get("name", serializer.instance.name)
        serializer.instance = services.rename_role(group=serializer.instance, name=name)

    def perform_destroy(self, instance):
        services.delete_role(group=instance)


class TokenView(APIView):
    """Exchange a username and password for an API token (`Authorization: Token <token>`)."""

    permission_classes = [AllowAny]
    authentication_classes = []
    throttle_classes = [SharedScopedRateThrottle]
    throttle_scope = "auth-token"

    @extend_schema(
        request=TokenRequestSerializer,
        responses={200: TokenSerializer, 400: ErrorSerializer, 429: ErrorSerializer},
        auth=[],
    )
    def post(self, request):
        serializer = TokenRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = authenticate(request=request, **serializer.validated_data)
        if user is None or not user.is_active:
            raise ValidationError(
                {"non_field_errors": ["Unable to log in with the given username and password."]},
                code="authorization",
            )
        token, _ = Token.objects.get_or_create(user=user)
        return Response({"token": token.key}, status=status.HTTP_200_OK)
