"""/api/v1/: one router for every app's collections; its root lists them."""

from django.urls import include, path
from rest_framework.routers import DefaultRouter

from cloudassist.api.views import RoleViewSet, TokenView, UserViewSet
from notifications.api.views import NotificationSettingsView, NotificationViewSet
from provisioning.api.costs import BillsView, EstimateView
from provisioning.api.views import ExtensionRequestViewSet, ProvisionRequestViewSet
from quotas.api.pricing import DiskPriceViewSet, InstancePriceViewSet, ServicePriceViewSet
from quotas.api.quotas import QuotaViewSet
from templates.api.views import TemplateViewSet


class Router(DefaultRouter):
    include_format_suffixes = False


router = Router()
router.register("users", UserViewSet, basename="user")
router.register("roles", RoleViewSet, basename="role")
router.register("templates", TemplateViewSet, basename="template")
router.register("provision-requests", ProvisionRequestViewSet, basename="provisionrequest")
router.register("extension-requests", ExtensionRequestViewSet, basename="extensionrequest")
router.register("quotas", QuotaViewSet, basename="quota")
router.register("notifications", NotificationViewSet, basename="notification")
router.register("pricing/instances", InstancePriceViewSet, basename="instanceprice")
router.register("pricing/disks", DiskPriceViewSet, basename="diskprice")
router.register("pricing/services", ServicePriceViewSet, basename="serviceprice")

urlpatterns = [
    path("auth/token/", TokenView.as_view(), name="auth-token"),
    path("users/me/notification-settings/", NotificationSettingsView.as_view(), name="notification-settings"),
    path("estimates/", EstimateView.as_view(), name="estimates"),
    path("bills/", BillsView.as_view(), name="bills"),
    path("", include(router.urls)),
]
