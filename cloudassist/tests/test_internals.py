"""Every third-party internal CloudAssist relies on (cloudassist/internals/) is still there, in
the installed version of its library; and the code reaches them only through those modules."""

from __future__ import annotations

import importlib
import pkgutil
import re
from pathlib import Path

import pytest

import cloudassist.internals

MODULES = [
    importlib.import_module(f"cloudassist.internals.{info.name}")
    for info in pkgutil.iter_modules(cloudassist.internals.__path__)
]
GUARDED = [entry for module in MODULES for entry in module.GUARDED]
ROOT = Path(__file__).resolve().parents[2]
APPS = ("cloudassist", "templates", "providers", "provisioning", "notifications", "configs", "portal", "quotas")

# Where an attribute may appear outside cloudassist/internals/: a subclass's override of a private
# hook (its definition, and its call to the library's own through super()).
OVERRIDES = {
    "_get_response_bodies": {"cloudassist/api/schema.py"},
    "_redoc_standalone": {"cloudassist/api/docs.py"},
}


def test_one_module_per_library():
    assert len(MODULES) == len({module.DISTRIBUTION for module in MODULES})
    assert {module.__name__.rsplit(".", 1)[1] for module in MODULES} >= {
        "django",
        "django_mongodb_backend",
        "drf_spectacular",
        "opentelemetry",
        "rq",
    }


@pytest.mark.django_db
@pytest.mark.parametrize("entry", GUARDED, ids=lambda entry: f"{entry.distribution}:{entry.attribute}")
def test_guarded_internal_is_still_there(entry):
    problem = entry.problem()
    assert problem is None, problem


def test_a_missing_internal_is_reported_by_library_version_and_name():
    from importlib import metadata

    from cloudassist.internals import Internal

    gone = Internal("rq", lambda: object, "_no_such_attribute", "an example")
    assert gone.problem() == (
        f"rq {metadata.version('rq')}: object._no_such_attribute is gone (CloudAssist relies on it: an example)"
    )
    moved = Internal("rq", lambda: dict, "get", "an example", ("self", "name"))
    assert "dict.get takes" in moved.problem()


def _sources():
    for app in APPS:
        for path in (ROOT / app).rglob("*.py"):
            relative = path.relative_to(ROOT).as_posix()
            if "/tests/" in relative or relative.startswith("cloudassist/internals/"):
                continue
            yield relative, path.read_text(encoding="utf-8")


def test_the_code_reaches_internals_only_through_cloudassist_internals():
    # Attribute names generic enough to be our own (session, database, teardown, ...) are left out:
    # private names, and the backend's query internals.
    names = {
        entry.attribute
        for entry in GUARDED
        if entry.attribute.startswith("_") or entry.distribution == "django-mongodb-backend"
    } - {"session", "database", "build_query", "collection_name"}
    pattern = re.compile(r"\b(" + "|".join(sorted(map(re.escape, names))) + r")\b")
    found = sorted(
        f"{relative}: {name}"
        for relative, text in _sources()
        for name in set(pattern.findall(text))
        if relative not in OVERRIDES.get(name, ())
    )
    assert not found, "use the accessors in cloudassist/internals/ instead:\n" + "\n".join(found)
