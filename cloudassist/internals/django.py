"""Django's private attributes that CloudAssist reads or calls.

- ``cloudassist/admin.py``: ``ModelAdmin._changeform_view`` (the add/change view without the
  ``transaction.atomic`` wrapper that would block the services' own MongoDB transactions) and
  ``AdminSite._registry`` (the models on the admin's index, for the pending reviews).
- ``templates/admin.py``, ``configs/admin/views.py``: ``ModelAdmin._get_obj_does_not_exist_redirect``
  (the admin's own "not found" redirect, from custom views).
- ``cloudassist/outages.py``: ``SessionBase._session_cache`` (a session is loaded once it exists:
  set to empty so that an outage does not load it again).
- ``cloudassist/mongodb/compiler.py``: ``Query.deferred_loading`` (whether ``defer()``/``only()``
  limit the columns, which the backend then projects) and ``SQLCompiler.get_converters`` (overridden: plain JSON
  columns skip the backend's JSON round trip).
- ``cloudassist/mongodb/counting.py``: ``QuerySet._result_cache`` (an evaluated queryset counts
  its rows).
"""

from __future__ import annotations

from cloudassist.internals import Internal

DISTRIBUTION = "django"


def _model_admin():
    from django.contrib.admin import ModelAdmin

    return ModelAdmin


def _admin_site():
    from django.contrib.admin import AdminSite

    return AdminSite()


def _loaded_session():
    from django.contrib.sessions.backends.base import SessionBase

    session = SessionBase()
    session.get("loaded")  # loads it: a session without a key is empty
    return session


def _queryset():
    from django.contrib.auth.models import Group

    return Group.objects.all()


def _sql_compiler():
    from django.db.models.sql.compiler import SQLCompiler

    return SQLCompiler


def _query():
    from django.contrib.auth.models import Group

    return Group.objects.defer("name").query


GUARDED = (
    Internal(DISTRIBUTION, _query, "deferred_loading", "defer()/only() project in MongoDB (mongodb/compiler.py)"),
    Internal(
        DISTRIBUTION,
        _sql_compiler,
        "get_converters",
        "overridden: plain JSON columns skip a JSON round trip (cloudassist/mongodb/compiler.py)",
        ("self", "expressions"),
    ),
    Internal(
        DISTRIBUTION,
        _model_admin,
        "_changeform_view",
        "the change form without its atomic() wrapper",
        ("self", "request", "object_id", "form_url", "extra_context"),
    ),
    Internal(
        DISTRIBUTION,
        _model_admin,
        "_get_obj_does_not_exist_redirect",
        "custom admin views' not-found redirect",
        ("self", "request", "opts", "object_id"),
    ),
    Internal(DISTRIBUTION, _admin_site, "_registry", "the admin index's pending reviews"),
    Internal(DISTRIBUTION, _loaded_session, "_session_cache", "a session marked loaded during an outage"),
    Internal(DISTRIBUTION, _queryset, "_result_cache", "an evaluated queryset counts its rows"),
)


def changeform_view(model_admin, request, object_id, form_url, extra_context):
    return model_admin._changeform_view(request, object_id, form_url, extra_context)


def not_found_redirect(model_admin, request, object_id):
    return model_admin._get_obj_does_not_exist_redirect(request, model_admin.opts, object_id)


def registered(admin_site) -> dict:
    """model -> ModelAdmin of everything registered with ``admin_site``."""
    return admin_site._registry


def mark_session_loaded_empty(session) -> None:
    """Make ``session`` look loaded, empty and unmodified (nothing to load or save), unless it
    was loaded already."""
    if not hasattr(session, "_session_cache"):
        session._session_cache = {}


def cached_rows(queryset) -> list | None:
    """The rows of an evaluated queryset; None when it has not run."""
    return getattr(queryset, "_result_cache", None)


def loads_some_fields(query) -> bool:
    """Whether ``defer()`` or ``only()`` limits the columns ``query`` loads."""
    fields, _ = query.deferred_loading
    return bool(fields)
