"""The API docs, fully offline: Swagger UI and Redoc from drf-spectacular-sidecar's bundles.

Redoc's stock page loads Google Fonts, and its bundle shows the Redocly logo from cdn.redoc.ly:
the page here is drf-spectacular's without the font links (the theme uses system fonts,
SPECTACULAR_SETTINGS["REDOC_UI_SETTINGS"]), and the bundle is served with that one image URL
removed (the logo then hides itself; the "API docs by Redocly" link stays).
"""

from __future__ import annotations

import functools
from pathlib import Path

from django.contrib.staticfiles import finders
from django.http import HttpResponse
from django.urls import reverse
from django.views.decorators.cache import cache_control
from drf_spectacular.views import SpectacularRedocView

REDOC_BUNDLE = "drf_spectacular_sidecar/redoc/bundles/redoc.standalone.js"
EXTERNAL_ASSETS = ("https://cdn.redoc.ly/redoc/logo-mini.svg",)


@functools.cache
def offline_redoc_bundle() -> bytes:
    text = Path(finders.find(REDOC_BUNDLE)).read_text(encoding="utf-8")
    for url in EXTERNAL_ASSETS:
        text = text.replace(url, "")
    return text.encode("utf-8")


@cache_control(public=True, max_age=24 * 3600)
def redoc_bundle(request):
    return HttpResponse(offline_redoc_bundle(), content_type="application/javascript; charset=utf-8")


class OfflineRedocView(SpectacularRedocView):
    template_name = "cloudassist/redoc.html"

    @staticmethod
    def _redoc_standalone() -> str:
        return reverse("redoc-bundle")
