"""Pages MongoDB cuts straight from an index: ``$match``, ``$sort``, ``$skip``, ``$limit`` and nothing else.

django-mongodb-backend puts an ``$addFields`` (or ``$project``) of the ordering fields between
``$match`` and ``$sort``; MongoDB then cannot push the sort into the query layer, so a page of 50
fetches and sorts every matching document, whatever the indexes. :class:`IndexedPages` wraps an
ordered queryset for a paginator (Django's or DRF's): ``count()`` is the queryset's own (index-backed)
count of the same filter, and a slice runs the queryset's ``$match`` followed directly by the sort on
its columns, so an index that ends with the ordering (tiebreaker included) gives the order and
only the page's documents are read. Related rows are then loaded for that page only
(:func:`attach`), one ``__in`` query per related model.

Querysets it cannot express that way (joins, annotations, ordering through relations) are sliced
by the ORM as before.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.core.exceptions import EmptyResultSet, FieldDoesNotExist
from django.db.models import QuerySet
from django_mongodb_backend.queryset import RawQuerySet


def simplify(mql: Any) -> Any:
    """``{"$or": [{f: {"$exists": False}}, {f: None}]}`` (the backend's ``isnull``) is ``{f: None}``
    in MongoDB, which an index answers with one bounded scan instead of two."""
    if isinstance(mql, list):
        return [simplify(item) for item in mql]
    if not isinstance(mql, dict):
        return mql
    branches = mql.get("$or")
    if len(mql) == 1 and isinstance(branches, list) and len(branches) == 2:
        fields = {next(iter(branch)) for branch in branches if isinstance(branch, dict) and len(branch) == 1}
        if len(fields) == 1:
            (name,) = fields
            if not name.startswith("$") and sorted(map(repr, (b[name] for b in branches))) == sorted(
                [repr({"$exists": False}), repr(None)]
            ):
                return {name: None}
    return {key: simplify(value) for key, value in mql.items()}


def _sort_of(queryset: QuerySet) -> dict[str, int] | None:
    """The ``$sort`` document of the queryset's ordering, or None if it orders through a relation
    or by an expression."""
    query = queryset.query
    ordering = query.order_by or (query.default_ordering and queryset.model._meta.ordering) or ()
    opts = queryset.model._meta
    sort: dict[str, int] = {}
    for term in ordering:
        if not isinstance(term, str) or "__" in term or term in ("?", ""):
            return None
        name = term.lstrip("-")
        try:
            field = opts.pk if name == "pk" else opts.get_field(name)
        except FieldDoesNotExist:
            return None
        if not getattr(field, "column", None) or (field.is_relation and not field.many_to_one):
            return None
        sort.setdefault(field.column, -1 if term.startswith("-") else 1)
    return sort


def match_of(queryset: QuerySet) -> dict | None:
    """The ``$match`` filter of ``queryset`` if the backend sends nothing but a ``$match`` for it
    (no join, no annotation); ``None`` otherwise. Raises EmptyResultSet for a query that matches nothing."""
    unordered = queryset.order_by()
    if unordered.query.annotations or unordered.query.distinct or unordered.query.combinator:
        return None
    compiler = unordered.query.get_compiler(using=unordered.db)
    compiler.pre_sql_setup()
    pipeline = compiler.build_query(None).get_pipeline()
    if any(next(iter(stage)) != "$match" for stage in pipeline) or len(pipeline) > 1:
        return None
    return simplify(pipeline[0]["$match"]) if pipeline else {}


class IndexedPages:
    """A paginator's object list over ``queryset``: counted by the queryset, sliced with
    ``[$match, $sort, $skip, $limit]``."""

    ordered = True  # Django's Paginator warns about unordered object lists

    def __init__(self, queryset: QuerySet):
        self.queryset = queryset
        self._count: int | None = None

    def count(self) -> int:
        """The queryset's own count: ``$match`` then a count, which an index on the filter answers."""
        if self._count is None:
            self._count = self.queryset.count()
        return self._count

    def __len__(self) -> int:
        return self.count()

    def __getitem__(self, key):
        if not isinstance(key, slice) or key.step is not None:
            return self.queryset[key]
        return page(self.queryset, key.start or 0, key.stop)


def page(queryset: QuerySet, start: int = 0, stop: int | None = None) -> list:
    """``list(queryset[start:stop])`` as ``[$match, $sort, $skip, $limit]`` when the backend
    would put other stages before the sort; the ORM's own query otherwise."""
    sort = _sort_of(queryset)
    try:
        match = match_of(queryset) if sort else None
    except EmptyResultSet:
        return []
    if match is None:
        return list(queryset[start:stop])
    pipeline: list[dict] = [{"$match": match}] if match else []
    pipeline.append({"$sort": sort})
    if start:
        pipeline.append({"$skip": start})
    if stop is not None:
        if stop <= start:
            return []
        pipeline.append({"$limit": stop - start})
    return list(RawQuerySet(pipeline, model=queryset.model, using=queryset.db))


def attach(rows: Iterable, field: str, *, only: Iterable[str] = (), known: Iterable = ()) -> None:
    """Set the many-to-one ``field`` of every row from one ``pk__in`` query (instead of
    ``select_related``, a ``$lookup`` over the whole collection). ``known`` are instances already
    at hand (e.g. the request's user), which need no query; ``only`` limits the columns loaded."""
    rows = list(rows)
    descriptor = rows[0].__class__._meta.get_field(field) if rows else None
    if descriptor is None:
        return
    attname = descriptor.attname
    found = {instance.pk: instance for instance in known if instance is not None and instance.pk is not None}
    wanted = {getattr(row, attname) for row in rows} - {None} - set(found)
    if wanted:
        related = descriptor.related_model._base_manager.filter(pk__in=list(wanted)).order_by()
        if only:
            related = related.only(*only)
        found.update((instance.pk, instance) for instance in related)
    for row in rows:
        value = getattr(row, attname)
        if value is not None and value in found:
            descriptor.set_cached_value(row, found[value])
