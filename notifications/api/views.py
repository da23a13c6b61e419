from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.views import APIView

from cloudassist.api.serializers import ErrorSerializer
from notifications import selectors, services
from notifications.api.serializers import NotificationSerializer, NotificationSettingsSerializer
from notifications.choices import Kind
from notifications.models import Notification, NotificationSettings


class NotificationFilterSet(filters.FilterSet):
    unread = filters.BooleanFilter(field_name="read_at", lookup_expr="isnull", help_text="`true`: only unread.")
    # distinct=False: a `$in` on one field repeats no row, and distinct() is a $group on every field.
    kind = filters.MultipleChoiceFilter(choices=Kind.choices, distinct=False)

    class Meta:
        model = Notification
        fields = ["unread", "kind"]


class NotificationViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Your notifications (the in-app channel), newest first, with each delivery's status."""

    serializer_class = NotificationSerializer
    filterset_class = NotificationFilterSet
    ordering_fields = ["created_at"]
    ordering = ["-created_at"]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Notification.objects.none()
        return Notification.objects.filter(recipient=self.request.user)

    def paginate_queryset(self, queryset):
        # [$match, $sort, $limit] on the recipient's index (ordering and pk tiebreak included), then
        # the page's deliveries in one query.
        page = super().paginate_queryset(queryset)
        selectors.attach_deliveries(page)
        return page

    def get_object(self):
        notification = super().get_object()
        selectors.attach_deliveries([notification])
        return notification

    @extend_schema(request=None, responses={200: NotificationSerializer, 404: ErrorSerializer})
    @action(detail=True, methods=["post"])
    def read(self, request, pk=None):
        """Mark this notification read."""
        notification = self.get_object()
        services.mark_read(user=request.user, notification=notification)
        notification.refresh_from_db(fields=["read_at"])
        return Response(self.get_serializer(notification).data)

    @extend_schema(request=None, responses={200: {"type": "object", "properties": {"marked": {"type": "integer"}}}})
    @action(detail=False, methods=["post"], url_path="read-all")
    def read_all(self, request):
        """Mark all your notifications read."""
        return Response({"marked": services.mark_read(user=request.user)})


class NotificationSettingsView(APIView):
    """Your channels per kind of notification, and your webhook URL (Slack-compatible)."""

    @extend_schema(responses={200: NotificationSettingsSerializer})
    def get(self, request):
        row = NotificationSettings.objects.filter(user=request.user).first() or NotificationSettings(user=request.user)
        return Response(NotificationSettingsSerializer(row).data)

    @extend_schema(
        request=NotificationSettingsSerializer, responses={200: NotificationSettingsSerializer, 400: ErrorSerializer}
    )
    def patch(self, request):
        row = NotificationSettings.objects.filter(user=request.user).first() or NotificationSettings(user=request.user)
        payload = NotificationSettingsSerializer(row, data=request.data, partial=True)
        payload.is_valid(raise_exception=True)
        row = services.update_settings(user=request.user, **payload.validated_data)
        return Response(NotificationSettingsSerializer(row).data)
