"""django-mongodb-backend's compilers, with a select compiler whose sort can use an index."""

from django_mongodb_backend import compiler as _mongo
from django_mongodb_backend.compiler import (  # noqa: F401 -- Django looks the compilers up by name here
    SQLAggregateCompiler,
    SQLDeleteCompiler,
    SQLInsertCompiler,
    SQLUpdateCompiler,
)

from cloudassist.internals import django_mongodb_backend as mongo_internals

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
        if mongo_internals.match(query):
            mongo_internals.set_match(query, simplify(mongo_internals.match(query)))
        added = mongo_internals.added_fields(query)
        if added:
            # {"created_at": "$created_at"} copies a field onto itself: no-op for the result, but
            # it keeps $sort out of the query layer (a blocking sort over every matching document).
            kept = {name: value for name, value in added.items() if value != f"${name}"}
            mongo_internals.set_extra_fields(query, kept or None)
        return query
