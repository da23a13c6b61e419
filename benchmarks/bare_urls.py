"""One plain Django view returning a small JsonResponse (see bare_settings.py)."""

from django.http import JsonResponse
from django.urls import path

BARE_PATH = "/bare/"


def bare(request):
    return JsonResponse({"status": "ok", "items": [1, 2, 3]})


urlpatterns = [path(BARE_PATH.strip("/") + "/", bare)]
