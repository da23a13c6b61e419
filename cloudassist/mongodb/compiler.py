"""django-mongodb-backend's compilers, with a select compiler whose sort can use an index."""

from django.db.models import JSONField
from django.db.models.expressions import Col
from django_mongodb_backend import compiler as _mongo
from django_mongodb_backend.compiler import (  # noqa: F401 -- Django looks the compilers up by name here
    SQLAggregateCompiler,
    SQLDeleteCompiler,
    SQLInsertCompiler,
    SQLUpdateCompiler,
)

from cloudassist.internals import django as django_internals
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
        some_fields = columns is None and django_internals.loads_some_fields(self.query)
        if some_fields:
            # defer()/only(): the backend loads whole documents unless it is given the columns
            # (then it projects them in MongoDB); a list page leaves out the bulk of a request.
            columns = self.columns
        query = super().build_query(columns)
        if some_fields:
            mongo_internals.project_after_the_page(query)
        if mongo_internals.match(query):
            mongo_internals.set_match(query, simplify(mongo_internals.match(query)))
        added = mongo_internals.added_fields(query)
        if added:
            # {"created_at": "$created_at"} copies a field onto itself: no-op for the result, but
            # it keeps $sort out of the query layer (a blocking sort over every matching document).
            kept = {name: value for name, value in added.items() if value != f"${name}"}
            mongo_internals.set_extra_fields(query, kept or None)
        return query

    def get_converters(self, expressions):
        """Without the backend's JSON round trip on plain JSON columns: it turns the dict that BSON
        decoding made into a JSON string (the backend's converter) for ``JSONField.from_db_value``
        to parse back, the same value. A list page spent ~30% of its time there. Fields with a custom
        decoder or ``from_db_value``, and key transforms, keep it."""
        converters = super().get_converters(expressions)
        for position, (functions, expression) in list(converters.items()):
            field = expression.output_field if isinstance(expression, Col) else None
            if not _plain_json(field) or expression.target is not field:
                continue
            skipped = mongo_internals.json_round_trip(self.connection, field)
            kept = [function for function in functions if function not in skipped]
            if kept:
                converters[position] = (kept, expression)
            else:
                del converters[position]
        return converters


def _plain_json(field) -> bool:
    return (
        isinstance(field, JSONField) and field.decoder is None and type(field).from_db_value is JSONField.from_db_value
    )
