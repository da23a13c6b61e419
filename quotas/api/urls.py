"""The quotas app's API routes (under /api/v1/): quotas and the price tables."""

from cloudassist.api.routers import Router
from quotas.api.pricing import DiskPriceViewSet, InstancePriceViewSet, ServicePriceViewSet
from quotas.api.quotas import QuotaViewSet

router = Router()
router.register("quotas", QuotaViewSet, basename="quota")
router.register("pricing/instances", InstancePriceViewSet, basename="instanceprice")
router.register("pricing/disks", DiskPriceViewSet, basename="diskprice")
router.register("pricing/services", ServicePriceViewSet, basename="serviceprice")

urlpatterns = router.urls
