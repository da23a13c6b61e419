"""django-mongodb-backend's compilers, with a select compiler whose sort can use an index."""

from django_mongodb_backend import compiler as _mongo
from django_mongodb_backend.compiler import (  # noqa: F401 -- Django looks the compilers up by name here
    SQLAggregateCompiler,
    SQLDeleteCompiler,
    SQLInsertCompiler,
    SQLUpdateCompiler,
)

_ISNULL = sorted(map(repr, ({"$exists": False}, None)))


def simplify(mql):
    """``{"$or": [{f: {"$exists": False}}, {f: None}]}`` (the backend's ``isnull=True``) is
    ``{f: None}`` in MongoDB (null matches a missing field too), which an index answers with one
    bounded scan instead of two branches that also defeat an index-backed sort."""
    if isinstance(mql, list):
        return [simplify(item) for item in mql]
    if not isinstance(mql, dict):
        return mql
    branches = mql.get("$or")
    if len(mql) == 1 and isinstance(branches, list) and len(branches) == 2:
        names = {next(iter(branch)) for branch in branches if isinstance(branch, dict) and len(branch) == 1}
        if len(names) == 1:
            (name,) = names
            if not name.startswith("$") and sorted(repr(branch[name]) for branch in branches) == _ISNULL:
                return {name: None}
    return {key: simplify(value) for key, value in mql.items()}


class SQLCompiler(_mongo.SQLCompiler):
    def build_query(self, columns=None):
        query = super().build_query(columns)
        if query.match_mql:
            query.match_mql = simplify(query.match_mql)
        if query.extra_fields:
            # {"created_at": "$created_at"} copies a field onto itself: no-op for the result, but
            # it keeps $sort out of the query layer (a blocking sort over every matching document).
            kept = {name: value for name, value in query.extra_fields.items() if value != f"${name}"}
            query.extra_fields = kept or None
        return query
