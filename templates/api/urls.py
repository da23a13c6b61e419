"""The templates app's API routes (under /api/v1/)."""

from cloudassist.api.routers import Router
from templates.api.views import TemplateViewSet

router = Router()
router.register("templates", TemplateViewSet, basename="template")

urlpatterns = router.urls
