"""The router every app's ``api/urls.py`` registers its collections on, and the API root that
lists them all (built by the project's URLconf from the apps' routers)."""

from __future__ import annotations

from importlib import import_module

from rest_framework.routers import APIRootView, SimpleRouter


class Router(SimpleRouter):
    """DRF's router without format suffixes; the project adds one API root for all apps."""


def api_root_view(urlconfs):
    """``GET /api/v1/``: links to every collection registered on the ``router`` of the given
    URLconf modules (named by dotted path, as ``include()`` takes them), in that order."""
    root: dict[str, str] = {}
    for name in urlconfs:
        router = getattr(import_module(name), "router", None)
        if router is None:
            continue
        list_name = router.routes[0].name
        for prefix, _viewset, basename in router.registry:
            root[prefix] = list_name.format(basename=basename)
    return APIRootView.as_view(api_root_dict=root)
