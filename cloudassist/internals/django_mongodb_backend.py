"""django-mongodb-backend's undocumented internals that CloudAssist reads or changes.

- ``cloudassist/db.py``: ``run_atomic`` drives the connection's transaction itself, as the
  backend's ``atomic()`` does (``start_transaction_mongo``, ``in_atomic_block_mongo``,
  ``nested_atomics``, ``session``, ``_end_session``, ``run_and_clear_commit_hooks``), because
  ``atomic()`` cannot retry a commit alone.
- ``cloudassist/worker.py``: the per-process client cache (``_connection_pools``,
  ``database``), dropped in a freshly forked work horse.
- ``cloudassist/changes.py``: the same two (``database``, the client) in the feed's thread, after
  another thread closed the client (``close_pool``) under it.
- ``cloudassist/mongodb/compiler.py``: ``DatabaseOperations.convert_jsonfield_value`` (a JSON
  column's value encoded to a string for ``JSONField.from_db_value`` to parse back), left out.
- ``cloudassist/mongodb/``: the compiled query (``MongoQuery``: ``match_mql``,
  ``lookup_pipeline``, ``subqueries``, ``aggregation_pipeline``, ``extra_fields``), read for
  index-only counts and rewritten so that an index can answer the sort.
"""

from __future__ import annotations

import contextlib

from cloudassist.internals import Internal

DISTRIBUTION = "django-mongodb-backend"


def _wrapper():
    from django_mongodb_backend.base import DatabaseWrapper

    return DatabaseWrapper


def _connection():
    from django.db import DEFAULT_DB_ALIAS, connections

    return connections[DEFAULT_DB_ALIAS]


def _compiler():
    from django_mongodb_backend.compiler import SQLCompiler

    return SQLCompiler


def _operations():
    from django_mongodb_backend.operations import DatabaseOperations

    return DatabaseOperations


def _mongo_query():
    from django.contrib.auth.models import Group

    compiler = Group.objects.filter(name="x").query.get_compiler(using="default")
    compiler.pre_sql_setup()
    return compiler.build_query()


GUARDED = (
    Internal(
        DISTRIBUTION, _connection, "in_atomic_block_mongo", "db.run_atomic refuses nesting; reset after a failure"
    ),
    Internal(DISTRIBUTION, _connection, "nested_atomics", "reset after a failed commit (db.py)"),
    Internal(DISTRIBUTION, _connection, "session", "the open transaction's session (db.py, counting.py)"),
    Internal(DISTRIBUTION, _wrapper, "_end_session", "ends the session after a commit or a failure (db.py)", ("self",)),
    Internal(DISTRIBUTION, _wrapper, "start_transaction_mongo", "run_atomic starts its transaction (db.py)", ("self",)),
    Internal(
        DISTRIBUTION, _wrapper, "run_and_clear_commit_hooks", "on-commit callbacks after run_atomic (db.py)", ("self",)
    ),
    Internal(DISTRIBUTION, _wrapper, "_connection_pools", "a forked work horse drops the parent's client (worker.py)"),
    Internal(DISTRIBUTION, _wrapper, "database", "a cached_property, deleted with the parent's client (worker.py)"),
    Internal(
        DISTRIBUTION,
        _compiler,
        "build_query",
        "overridden and called (mongodb/compiler.py, counting.py)",
        ("self", "columns"),
    ),
    Internal(DISTRIBUTION, _compiler, "collection_name", "the collection a count runs on (counting.py)"),
    Internal(
        DISTRIBUTION,
        _operations,
        "convert_jsonfield_value",
        "left out, with JSONField.from_db_value, of a plain JSON column's converters (mongodb/compiler.py)",
        ("self", "value", "expression", "connection"),
    ),
    Internal(DISTRIBUTION, _mongo_query, "project_fields", "a plain projection moved after the page's $limit"),
    Internal(DISTRIBUTION, _mongo_query, "get_pipeline", "overridden: the projection after the page"),
    Internal(DISTRIBUTION, _mongo_query, "combinator_pipeline", "no projection moved past a union"),
    Internal(DISTRIBUTION, _mongo_query, "subquery_lookup", "no projection moved past a subquery"),
    Internal(DISTRIBUTION, _mongo_query, "search_pipeline", "no projection moved past a search"),
    Internal(DISTRIBUTION, _mongo_query, "match_mql", "the $match of a count, simplified (mongodb/)"),
    Internal(DISTRIBUTION, _mongo_query, "lookup_pipeline", "joins: no index-only count (counting.py)"),
    Internal(DISTRIBUTION, _mongo_query, "subqueries", "subqueries: no index-only count (counting.py)"),
    Internal(DISTRIBUTION, _mongo_query, "aggregation_pipeline", "grouping: no index-only count (counting.py)"),
    Internal(DISTRIBUTION, _mongo_query, "extra_fields", "self-copies dropped so $sort can use an index (compiler.py)"),
)


# --- the connection's transaction state (cloudassist/db.py) -----------------------------------


def in_atomic_block(connection) -> bool:
    return connection.in_atomic_block_mongo


def transaction_session(connection):
    """The session of the open transaction (None outside one): a raw pymongo command passes it as
    ``session=`` to run in that transaction (quotas/services.py)."""
    return connection.session


def enter_atomic_block(connection) -> None:
    """Start a transaction as the backend's ``atomic()`` does: nested ``atomic()``s join it and
    ``on_commit()`` callbacks wait for its commit."""
    connection.start_transaction_mongo()
    connection.in_atomic_block_mongo = True


def run_commit_hooks(connection) -> None:
    connection.run_and_clear_commit_hooks()


def leave_atomic_block(connection) -> None:
    """Forget an atomic block a failed commit left open (its session is ended separately)."""
    connection.in_atomic_block_mongo = False
    connection.nested_atomics = 0


def end_session(connection) -> None:
    connection._end_session()


# --- the client a forked process inherited (cloudassist/worker.py) ----------------------------


def drop_inherited_client(connection) -> None:
    """Forget this connection's cached MongoClient (the parent's, after a fork) without closing
    it, so that the next use connects a new one."""
    pools = getattr(connection, "_connection_pools", None)
    if pools is not None and connection.alias in pools:
        pools.pop(connection.alias, None)  # the parent's client: never used after the fork
        forget_client(connection)


def forget_client(connection) -> None:
    """Forget the client this (thread's) connection holds, without closing it: the next use takes
    the process's current one (cloudassist/changes.py, after the pool was closed elsewhere)."""
    connection.connection = None
    with contextlib.suppress(AttributeError):
        del connection.database


# --- the compiled query (cloudassist/mongodb/) ------------------------------------------------


def json_round_trip(connection, field) -> tuple:
    """The converters that turn a JSON column's decoded BSON into a JSON string and parse it back."""
    return (connection.ops.convert_jsonfield_value, field.from_db_value)


def build_query(compiler):
    return compiler.build_query()


def collection_name(compiler) -> str:
    return compiler.collection_name


def match(mongo_query) -> dict | None:
    return mongo_query.match_mql


def set_match(mongo_query, mql) -> None:
    mongo_query.match_mql = mql


def added_fields(mongo_query) -> dict | None:
    return mongo_query.extra_fields


def set_extra_fields(mongo_query, fields: dict | None) -> None:
    mongo_query.extra_fields = fields


def joins_or_groups(mongo_query) -> bool:
    """True when the query needs more than a $match (joins, subqueries, grouping)."""
    return bool(mongo_query.lookup_pipeline or mongo_query.subqueries or mongo_query.aggregation_pipeline)


def project_after_the_page(mongo_query) -> None:
    """Move a projection of plain fields (``{"name": 1, ...}``, what ``defer()``/``only()`` load)
    from before ``$sort`` to after ``$limit``: the same documents come out, and MongoDB can still
    sort on an index and read only the page (a ``$project`` first keeps ``$sort`` out of the query
    layer: a blocking sort over every matching document). Anything else stays as it is."""
    fields = mongo_query.project_fields
    plain = fields and all(value == 1 for value in fields.values())
    simple = not (
        mongo_query.lookup_pipeline
        or mongo_query.aggregation_pipeline
        or mongo_query.subqueries
        or mongo_query.combinator_pipeline
        or mongo_query.subquery_lookup
        or mongo_query.search_pipeline
    )
    if plain and simple:
        mongo_query.__class__ = _projected_last(type(mongo_query))


_PROJECTED_LAST: dict[type, type] = {}


def _projected_last(cls: type) -> type:
    if cls not in _PROJECTED_LAST:

        def get_pipeline(self):
            fields, self.project_fields = self.project_fields, None
            try:
                pipeline = cls.get_pipeline(self)
            finally:
                self.project_fields = fields
            return [*pipeline, {"$project": fields}]

        _PROJECTED_LAST[cls] = type(f"{cls.__name__}ProjectedLast", (cls,), {"get_pipeline": get_pipeline})
    return _PROJECTED_LAST[cls]
