"""Counts that MongoDB answers from an index, and a paginator that uses them.

The ORM's ``count()`` on django-mongodb-backend is an aggregate with ``$facet``/``$group`` over
the matching documents; an unfiltered one walks the whole collection. ``fast_count`` sends the
queryset's own ``$match`` as a ``countDocuments`` (an index-only count when an index covers the
filter) and answers an unfiltered count from the collection's metadata (``estimatedDocumentCount``:
exact after a clean shutdown; after a crash it may be off until MongoDB has validated the
collection). Querysets with joins, grouping or slicing fall back to the ORM.
"""

from __future__ import annotations

import time

from django.core.exceptions import EmptyResultSet
from django.core.paginator import Paginator
from django.db import connections
from django.utils.functional import cached_property

from cloudassist.internals import django as django_internals
from cloudassist.internals import django_mongodb_backend as mongo_internals


def fast_count(queryset) -> int:
    rows = django_internals.cached_rows(queryset)
    if rows is not None:
        return len(rows)
    query = queryset.query
    if query.distinct or query.combinator or query.annotations or query.low_mark or query.high_mark is not None:
        return queryset.count()
    compiler = query.get_compiler(using=queryset.db)
    compiler.pre_sql_setup()
    try:
        mongo_query = mongo_internals.build_query(compiler)
    except EmptyResultSet:
        return 0
    if mongo_internals.joins_or_groups(mongo_query):
        return queryset.count()
    connection = connections[queryset.db]
    collection = connection.database[mongo_internals.collection_name(compiler)]
    match = mongo_internals.match(mongo_query) or {}
    if not match and connection.session is None:
        return _logged(connection, f"{collection.name}.estimated_document_count()", collection.estimated_document_count)
    return _logged(
        connection,
        f"{collection.name}.count_documents({match!r})",
        lambda: collection.count_documents(match, session=connection.session),
    )


def _logged(connection, operation: str, call):
    """Run ``call``; like the backend's own commands, it shows in ``connection.queries`` (DEBUG,
    and the tests' query counts)."""
    start = time.monotonic()
    value = call()
    if connection.queries_logged:
        connection.queries_log.append({"sql": f"db.{operation}", "time": f"{time.monotonic() - start:.3f}"})
    return value


class IndexedCountPaginator(Paginator):
    """Django's paginator, counting with ``fast_count`` (the API's and the admin's lists)."""

    @cached_property
    def count(self) -> int:
        if hasattr(self.object_list, "query"):
            return fast_count(self.object_list)
        return super().count
