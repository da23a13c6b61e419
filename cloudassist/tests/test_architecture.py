"""The rules of the layout that import-linter's contracts (pyproject.toml, `make lint`) do not
express: the HTTP layer (DRF, drf-spectacular, django-filter) stays in the ``api`` packages."""

import grimp
import pytest

APPS = ("cloudassist", "templates", "quotas", "notifications", "provisioning", "configs", "portal")
HTTP_LAYER = {"rest_framework", "drf_spectacular", "drf_spectacular_sidecar", "django_filters"}
# The project's composition: settings name DRF's classes, the root URLconf mounts its views.
COMPOSITION = {"cloudassist.settings", "cloudassist.urls"}
# cloudassist/internals/<library>.py: the one place a library's private attributes are reached
# (guarded by test_internals); such a module imports its library, HTTP layer or not.
INTERNALS = "cloudassist.internals."


@pytest.fixture(scope="module")
def graph():
    return grimp.build_graph(*APPS, include_external_packages=True)


def _in_api(module: str) -> bool:
    """An ``<app>.api`` package or a module in one."""
    return ".api." in f"{module}."


def _product_modules(graph):
    for module in sorted(graph.modules):
        if module.split(".")[0] not in APPS or ".tests" in module or ".testing" in module:
            continue
        yield module


def test_only_api_packages_import_the_http_layer(graph):
    offenders = {
        module: sorted(graph.find_modules_directly_imported_by(module) & HTTP_LAYER)
        for module in _product_modules(graph)
        if not _in_api(module) and module not in COMPOSITION and not module.startswith(INTERNALS)
    }
    assert {module: found for module, found in offenders.items() if found} == {}


def test_services_selectors_jobs_and_admin_never_import_an_api_package(graph):
    offenders = {}
    for module in _product_modules(graph):
        if _in_api(module) or module in COMPOSITION:
            continue
        api = sorted(imported for imported in graph.find_modules_directly_imported_by(module) if _in_api(imported))
        if api:
            offenders[module] = api
    assert offenders == {}


def test_the_checks_see_the_code(graph):
    # Guards the two tests above against passing on an empty or misread graph.
    assert "provisioning.api.views" in graph.modules
    assert _in_api("provisioning.api.views")
    assert _in_api("cloudassist.api")
    assert not _in_api("provisioning.services")
    assert "rest_framework" in graph.find_modules_directly_imported_by("provisioning.api.views")
