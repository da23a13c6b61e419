"""The notifications app's API routes (under /api/v1/)."""

from django.urls import path

from cloudassist.api.routers import Router
from notifications.api.views import NotificationSettingsView, NotificationViewSet

router = Router()
router.register("notifications", NotificationViewSet, basename="notification")

urlpatterns = [
    path("users/me/notification-settings/", NotificationSettingsView.as_view(), name="notification-settings"),
    *router.urls,
]
