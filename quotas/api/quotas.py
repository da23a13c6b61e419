"""/api/v1/quotas/ (admins allocate, update and end; everyone reads the quotas that apply to
them, DevOps and admins read all) and /api/v1/quotas/usage/."""

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db.models import Q
from django.utils import timezone
from django_filters import rest_framework as filters
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from cloudassist import roles, selectors
from cloudassist.api.fields import IdOrHyperlinkField, LinkField
from cloudassist.api.filters import ObjectIdFilter
from cloudassist.api.permissions import IsAdminOrReadOnly
from cloudassist.api.serializers import BaseModelSerializer, ErrorSerializer, StrictFieldsMixin
from quotas import services
from quotas.choices import QuotaType
from quotas.models import Quota

User = get_user_model()


class QuotaSerializer(StrictFieldsMixin, BaseModelSerializer):
    user = IdOrHyperlinkField(
        noun="user",
        view_name="user-detail",
        queryset=User.objects.all(),
        required=False,
        allow_null=True,
        help_text="The user's id (or URL); give a user or a role.",
    )
    role = serializers.SlugRelatedField(
        slug_field="name", queryset=Group.objects.all(), required=False, allow_null=True, help_text="A role name."
    )
    created_by = LinkField(view_name="user-detail", read_only=True)
    active = serializers.SerializerMethodField(help_text="In force now.")

    class Meta:
        model = Quota
        fields = ["url", "id", *services.QUOTA_FIELDS, "active", "ended_at", "created_by", "created_at", "updated_at"]
        read_only_fields = ["ended_at", "created_by", "created_at", "updated_at"]

    def get_active(self, quota: Quota) -> bool:
        if quota.ended_at is not None:
            return False
        if quota.quota_type == QuotaType.PERMANENT:
            return True
        now = timezone.now()
        return bool(quota.valid_from and quota.valid_until and quota.valid_from <= now < quota.valid_until)


class QuotaFilterSet(filters.FilterSet):
    user = ObjectIdFilter(field_name="user_id")
    role = filters.CharFilter(field_name="role__name")
    ended = filters.BooleanFilter(field_name="ended_at", lookup_expr="isnull", exclude=True)

    class Meta:
        model = Quota
        fields = ["user", "role", "quota_type", "ended"]


class UsageSerializer(serializers.Serializer):
    user = serializers.CharField()
    source = serializers.CharField(help_text="`user`, `role:<names>` or `none` (unlimited).")
    quotas = serializers.ListField(child=serializers.CharField())
    dimensions = serializers.DictField(help_text="Per dimension: limit (null = unlimited), reserved, available.")
    consumed_to_date = serializers.DictField(help_text="Estimated spend of the live time so far.")


class QuotaViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """Quotas for a user or a role. Each limit is optional (unset = unlimited). A user's own
    active quotas apply if there are any, else the most generous of their roles'; temporary
    quotas add to permanent ones while valid. Quotas are ended (`POST .../end/`), not deleted."""

    serializer_class = QuotaSerializer
    permission_classes = [IsAdminOrReadOnly]
    filterset_class = QuotaFilterSet
    ordering_fields = ["created_at", "valid_until", "quota_type"]
    ordering = ["-created_at"]
    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_queryset(self):
        queryset = Quota.objects.select_related("user", "role")
        user = self.request.user
        if getattr(self, "swagger_fake_view", False):
            return queryset.none()
        if roles.is_reviewer(user):
            return queryset
        return queryset.filter(Q(user=user) | Q(role__in=user.groups.all()))

    def perform_create(self, serializer):
        serializer.instance = services.create_quota(actor=self.request.user, **serializer.validated_data)

    def perform_update(self, serializer):
        serializer.instance = services.update_quota(quota=serializer.instance, **serializer.validated_data)

    @extend_schema(request=None, responses={200: QuotaSerializer, 403: ErrorSerializer, 404: ErrorSerializer})
    @action(detail=True, methods=["post"])
    def end(self, request, pk=None):
        """End the quota now (admins); it stays listed with `ended_at`."""
        quota = services.end_quota(quota=self.get_object())
        return Response(self.get_serializer(quota).data)

    @extend_schema(
        parameters=[OpenApiParameter("user", str, description="DevOps and admins: a user id or username.")],
        responses={200: UsageSerializer, 404: ErrorSerializer},
        filters=False,
    )
    @action(detail=False, methods=["get"], filterset_class=None)
    def usage(self, request):
        """Your limits, what your outstanding requests reserve, and what they consumed so far."""
        user = selectors.subject_user(request.user, request.query_params.get("user")) or request.user
        return Response(services.usage_report(user=user))
