"""django-mongodb-backend's compilers, with a select compiler whose sort can use an index."""

from django_mongodb_backend import compiler as _mongo
from django_mongodb_backend.compiler import (  # noqa: F401 -- Django looks the compilers up by name here
    SQLAggregateCompiler,
    SQLDeleteCompiler,
    SQLInsertCompiler,
    SQLUpdateCompiler,
)


class SQLCompiler(_mongo.SQLCompiler):
    def build_query(self, columns=None):
        query = super().build_query(columns)
        if query.extra_fields:
            # {"created_at": "$created_at"} copies a field onto itself: no-op for the result, but
            # it keeps $sort out of the query layer (a blocking sort over every matching document).
            kept = {name: value for name, value in query.extra_fields.items() if value != f"${name}"}
            query.extra_fields = kept or None
        return query
