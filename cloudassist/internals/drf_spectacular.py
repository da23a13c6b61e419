"""drf-spectacular's private methods that CloudAssist calls or overrides.

- ``cloudassist/api/schema.py`` (``CloudAssistAutoSchema``): overrides ``_get_response_bodies``
  to add the error responses every operation can give, building them with
  ``_get_response_for_code``; decides 404s with ``_is_list_view``/``_get_paginator`` and the
  default tag with ``_tokenize_path``.
- ``cloudassist/api/docs.py`` (``OfflineRedocView``): overrides ``_redoc_standalone``, the URL
  of Redoc's bundle, to serve it without its CDN logo.
"""

from __future__ import annotations

from cloudassist.internals import Internal

DISTRIBUTION = "drf-spectacular"


def _auto_schema():
    from drf_spectacular.openapi import AutoSchema

    return AutoSchema


def _redoc_view():
    from drf_spectacular.views import SpectacularRedocView

    return SpectacularRedocView


GUARDED = (
    Internal(DISTRIBUTION, _auto_schema, "_get_response_bodies", "overridden: error responses", ("self", "direction")),
    Internal(
        DISTRIBUTION,
        _auto_schema,
        "_get_response_for_code",
        "builds the error responses",
        ("self", "serializer", "status_code", "media_types", "direction"),
    ),
    Internal(DISTRIBUTION, _auto_schema, "_is_list_view", "a paginated list documents a 404", ("self",)),
    Internal(DISTRIBUTION, _auto_schema, "_get_paginator", "a paginated list documents a 404", ("self",)),
    Internal(DISTRIBUTION, _auto_schema, "_tokenize_path", "the default tag, replaced by the app's", ("self",)),
    Internal(DISTRIBUTION, _redoc_view, "_redoc_standalone", "overridden: the offline Redoc bundle's URL"),
)


def response_for_code(schema, serializer, status_code: str, media_types, direction):
    return schema._get_response_for_code(serializer, status_code, media_types, direction)


def is_paginated_list(schema) -> bool:
    return bool(schema._is_list_view() and schema._get_paginator())


def default_tags(schema) -> list[str]:
    """drf-spectacular's own tag for an operation: the first segment of its path."""
    tokenized_path = schema._tokenize_path()
    return [tokenized_path[0]] if tokenized_path else []
