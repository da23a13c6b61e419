"""The provisioning app's API routes (under /api/v1/)."""

from django.urls import path

from cloudassist.api.routers import Router
from provisioning.api.costs import BillsView, EstimateView
from provisioning.api.views import ExtensionRequestViewSet, ProvisionRequestViewSet

router = Router()
router.register("provision-requests", ProvisionRequestViewSet, basename="provisionrequest")
router.register("extension-requests", ExtensionRequestViewSet, basename="extensionrequest")

urlpatterns = [
    path("estimates/", EstimateView.as_view(), name="estimates"),
    path("bills/", BillsView.as_view(), name="bills"),
    *router.urls,
]
