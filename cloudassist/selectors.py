"""Reads for users, roles and API tokens."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from bson import ObjectId
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet

from cloudassist import roles
from cloudassist.exceptions import NotFound
from cloudassist.models import ApiToken

User = get_user_model()


def users_for(viewer) -> QuerySet:
    """Admins see every user; everyone else only themself."""
    queryset = User.objects.order_by("username")
    if roles.is_admin(viewer):
        return queryset
    return queryset.filter(pk=viewer.pk)


def tokens_of(user) -> QuerySet:
    """``user``'s API tokens, newest first (expired ones too, until MongoDB's TTL index drops them)."""
    return ApiToken.objects.filter(user=user).order_by("-created_at", "-id")


def attach_role_names(users: Iterable) -> list:
    """Load the role names of many users in two queries, whatever their number (no joins on MongoDB)."""
    users = list(users)
    names = roles.names_by_user([user.pk for user in users]) if users else {}
    for user in users:
        user._role_names = names[user.pk]
    return users


def find_user(value: str):
    """A user by id or username; NotFound naming it when there is none."""
    lookup = Q(username=value)
    if ObjectId.is_valid(value):
        lookup |= Q(pk=ObjectId(value))
    found = User.objects.filter(lookup).first()
    if found is None:
        raise NotFound(f"Unknown user '{value}'.")
    return found


def subject_user(viewer, wanted: str | None):
    """Whose figures a viewer asks for: DevOps and admins may name anyone (``None`` when they
    name nobody: everyone); everyone else gets themself, and naming anyone else is refused
    (PermissionDenied), never answered with their own figures."""
    if not roles.is_reviewer(viewer):
        if wanted and wanted not in (viewer.get_username(), str(viewer.pk)):
            raise PermissionDenied("Only DevOps and admins may see other users' figures; leave out ?user=.")
        return viewer
    return find_user(wanted) if wanted else None


def attach_related(objects: Iterable, *fields: str, known: Iterable = (), only: Iterable[str] = ()) -> list:
    """Load the named foreign keys of a page of rows by primary key: one ``__in`` query per
    related model, never a ``$lookup`` (django-mongodb-backend runs ``select_related()`` as a
    join over the whole collection before ``$match``/``$limit``). ``a__b`` loads ``b`` of each
    loaded ``a``. ``known`` are instances already at hand (the request's user), which need no
    query; ``only`` limits the columns loaded. Returns the rows as a list; a missing target
    (SET_NULL, deleted) stays None."""
    rows = list(objects)
    if not rows:
        return rows
    nested: dict[str, list[str]] = defaultdict(list)
    by_model: dict = defaultdict(list)
    for path in fields:
        name, _, rest = path.partition("__")
        if rest:
            nested[name].append(rest)
        descriptor = rows[0]._meta.get_field(name)
        if name not in [field.name for field in by_model[descriptor.related_model]]:
            by_model[descriptor.related_model].append(descriptor)
    for model, model_fields in by_model.items():
        loaded = {item.pk: item for item in known if isinstance(item, model) and item.pk is not None}
        ids = {getattr(row, field.attname) for row in rows for field in model_fields} - {None} - set(loaded)
        if ids:
            related = model._default_manager.filter(pk__in=list(ids)).order_by()
            loaded.update((item.pk, item) for item in (related.only(*only) if only else related))
        for row in rows:
            for field in model_fields:
                value = getattr(row, field.attname)
                field.set_cached_value(row, loaded.get(value) if value is not None else None)
    for name, rests in nested.items():
        targets = [row for row in (getattr(row, name) for row in rows) if row is not None]
        attach_related(targets, *rests)
    return rows
