"""Users, roles and tokens API."""

from django.contrib.auth import authenticate, get_user_model
from django.contrib.auth.models import Group
from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from cloudassist import selectors, services
from cloudassist.api.permissions import IsAdminOrReadOnly, IsAdminRole
from cloudassist.api.serializers import (
    ApiTokenSerializer,
    ErrorSerializer,
    MeSerializer,
    RoleSerializer,
    TokenRequestSerializer,
    TokenSerializer,
    UserSerializer,
)
from cloudassist.api.throttling import SharedScopedRateThrottle
from cloudassist.models import ApiToken

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
        self.tokens_revoked = getattr(serializer.instance, "tokens_revoked", None)

    def update(self, request, *args, **kwargs):
        """A new password revokes the user's API tokens: ``X-Tokens-Revoked`` says how many."""
        self.tokens_revoked = None
        response = super().update(request, *args, **kwargs)
        if self.tokens_revoked is not None:
            response["X-Tokens-Revoked"] = str(self.tokens_revoked)
        return response

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
    """Exchange a username and password for a new API token (`Authorization: Token <token>`).

    Each call issues another token, valid for API_TOKEN_TTL_HOURS; its value is shown only here
    (the server keeps a SHA-256 digest of it). List yours at `/api/v1/auth/tokens/`."""

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
        token, raw = services.issue_token(user=user)
        body = {"token": raw, "id": str(token.pk), "created_at": token.created_at, "expires_at": token.expires_at}
        return Response(TokenSerializer(body).data, status=status.HTTP_200_OK)


class LogoutView(APIView):
    """Revoke the token this request is authenticated with (log out)."""

    @extend_schema(request=None, responses={204: None, 400: ErrorSerializer, 401: ErrorSerializer})
    def post(self, request):
        if not isinstance(request.auth, ApiToken):
            raise ValidationError(
                {"non_field_errors": ["This request was not made with a token (Authorization: Token <token>)."]},
                code="no_token",
            )
        services.revoke_token(user=request.user, token_id=request.auth.pk)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ApiTokenViewSet(mixins.ListModelMixin, mixins.DestroyModelMixin, viewsets.GenericViewSet):
    """Your API tokens: when each was issued, when it expires and was last used (never its value).
    DELETE one to revoke it."""

    serializer_class = ApiTokenSerializer
    queryset = ApiToken.objects.none()  # for the schema; get_queryset is the caller's own
    schema_noun = ("API token", "API tokens")
    filter_backends = []  # newest first, always

    def get_queryset(self):
        return selectors.tokens_of(self.request.user)

    @extend_schema(responses={204: None, 401: ErrorSerializer, 404: ErrorSerializer})
    def destroy(self, request, *args, **kwargs):
        """Revoke one of your tokens (it is refused from then on)."""
        return super().destroy(request, *args, **kwargs)

    def perform_destroy(self, instance):
        services.revoke_token(user=self.request.user, token_id=instance.pk)
