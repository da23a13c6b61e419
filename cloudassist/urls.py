from django.contrib import admin
from django.urls import include, path, re_path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from cloudassist.api import docs, health, metrics
from cloudassist.api.routers import api_root_view

# Each app owns its API routes in <app>/api/urls.py; the project mounts them by dotted path (as
# INSTALLED_APPS names apps), so the core imports no app. Their collections make the API root.
API_URLCONFS = (
    "cloudassist.api.urls",
    "templates.api.urls",
    "provisioning.api.urls",
    "quotas.api.urls",
    "notifications.api.urls",
)
CONFIGS_URLCONF = "configs.api.urls"  # the config server, mounted twice (see that module)

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="portal:home", permanent=False)),
    path("", include("portal.urls")),  # /login/, /logout/, /password/, /portal/...
    path("health", health.health, name="health"),
    path("ready", health.ready, name="ready"),
    path("metrics", metrics.metrics_view, name="metrics"),
    path("api/v1/", include(CONFIGS_URLCONF)),
    path("api/v1/", api_root_view(API_URLCONFS), name="api-root"),
    *(path("api/v1/", include(urlconf)) for urlconf in API_URLCONFS),
    path("", include(CONFIGS_URLCONF)),  # /configs: the seed's paths, for existing clients
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    re_path(r"^api-docs/?$", SpectacularAPIView.as_view(), name="schema-seed"),
    # Swagger UI's init script is its own request (/docs?script=): no inline script under the CSP.
    path("docs", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="swagger-ui"),
    path("redoc", docs.OfflineRedocView.as_view(url_name="schema"), name="redoc"),
    path("redoc/redoc.standalone.js", docs.redoc_bundle, name="redoc-bundle"),
    path("admin/rq/", include("django_rq.urls")),
    path("admin/", admin.site.urls),
    path("api-auth/", include("rest_framework.urls")),
]

handler400 = "cloudassist.api.errors.handler400"
handler403 = "cloudassist.api.errors.handler403"
handler404 = "cloudassist.api.errors.handler404"
handler500 = "cloudassist.api.errors.handler500"
