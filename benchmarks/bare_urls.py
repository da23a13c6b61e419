"""The baselines of `benchmarks/bench_http.py`: a plain Django view returning a small JsonResponse,
and a bare in-memory config GET (a dict lookup returning the entry as JSON, what the seed's Flask
config server did). Served without middleware, by the product's own server (bare_wsgi.py) or by
bare Django (bare_settings.py)."""

from django.http import JsonResponse
from django.urls import path

BARE_PATH = "/bare/"
BARE_CONFIG_PATH = "/bare/configs/"


def bare(request):
    return JsonResponse({"status": "ok", "items": [1, 2, 3]})


_ENTRIES: dict[str, dict] = {}


def entries() -> dict[str, dict]:
    """The bench's configs (BENCH_CONFIGS of them, the same names and data), built once per process."""
    if not _ENTRIES:
        import os

        from benchmarks.bench_http import config_data, config_name

        for index in range(int(os.environ.get("BENCH_CONFIGS", "1000"))):
            name = config_name(index)
            _ENTRIES[name] = {"name": name, "data": config_data(index), "version": 1, "labels": {"env": "bench"}}
    return _ENTRIES


def bare_config(request, name: str):
    found = entries().get(name)
    if found is None:
        return JsonResponse({"detail": "Not found."}, status=404)
    response = JsonResponse(found)
    response["ETag"] = f'"{found["version"]}"'
    return response


urlpatterns = [
    path(BARE_PATH.strip("/") + "/", bare),
    path(BARE_CONFIG_PATH.strip("/") + "/<str:name>", bare_config),
]
