from django.contrib import admin
from django.urls import include, path, re_path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from cloudassist import metrics
from cloudassist.api import health
from configs.api import urls as configs_urls

urlpatterns = [
    path("", RedirectView.as_view(url="/api/v1/", permanent=False)),
    path("health", health.health, name="health"),
    path("ready", health.ready, name="ready"),
    path("metrics", metrics.metrics_view, name="metrics"),
    *configs_urls.patterns("api/v1/configs"),
    path("api/v1/", include("cloudassist.api.urls")),
    *configs_urls.patterns("configs"),  # the seed's paths, for existing clients
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    re_path(r"^api-docs/?$", SpectacularAPIView.as_view(), name="schema-seed"),
    path("docs", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("redoc", SpectacularRedocView.as_view(url_name="schema"), name="redoc"),
    path("admin/rq/", include("django_rq.urls")),
    path("admin/", admin.site.urls),
    path("api-auth/", include("rest_framework.urls")),
]

handler400 = "cloudassist.api.errors.handler400"
handler403 = "cloudassist.api.errors.handler403"
handler404 = "cloudassist.api.errors.handler404"
handler500 = "cloudassist.api.errors.handler500"
