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


def fast_count(queryset) -> int:
    if getattr(queryset, "_result_cache", None) is not None:
        return len(queryset._result_cache)
    query = queryset.query
    if query.distinct or query.combinator or query.annotations or query.low_mark or query.high_mark is not None:
        return queryset.count()
    compiler = query.get_compiler(using=queryset.db)
    compiler.pre_sql_setup()
    try:
        mongo_query = compiler.build_query()
    except EmptyResultSet:
        return 0
    if mongo_query.lookup_pipeline or mongo_query.subqueries or mongo_query.aggregation_pipeline:
        return queryset.count()
    connection = connections[queryset.db]
    collection = connection.database[compiler.collection_name]
    if not mongo_query.match_mql and connection.session is None:
        return _logged(connection, f"{collection.name}.estimated_document_count()", collection.estimated_document_count)
    match = mongo_query.match_mql or {}
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
