"""Reads for users and roles."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from django.contrib.auth import get_user_model
from django.db.models import QuerySet

from cloudassist import roles

User = get_user_model()


def users_for(viewer) -> QuerySet:
    """Admins see every user; everyone else only themself."""
    queryset = User.objects.order_by("username")
    if roles.is_admin(viewer):
        return queryset
    return queryset.filter(pk=viewer.pk)


def attach_role_names(users: Iterable) -> list:
    """Load the role names of many users in one query (prefetch_related is not available on MongoDB)."""
    users = list(users)
    names: dict = defaultdict(set)
    memberships = User.groups.through.objects.filter(user_id__in=[user.pk for user in users])
    for user_id, name in memberships.values_list("user_id", "group__name"):
        names[user_id].add(name)
    for user in users:
        user._role_names = names[user.pk]
    return users


def find_user(value: str):
    """A user by id or username; a DRF 404 naming it when there is none."""
    from bson import ObjectId
    from django.db.models import Q
    from rest_framework.exceptions import NotFound

    lookup = Q(username=value)
    if ObjectId.is_valid(value):
        lookup |= Q(pk=ObjectId(value))
    found = User.objects.filter(lookup).first()
    if found is None:
        raise NotFound(f"Unknown user '{value}'.")
    return found


def subject_user(viewer, wanted: str | None):
    """Whose figures a viewer asks for: DevOps and admins may name anyone (``None`` when they
    name nobody: everyone); everyone else always gets themself, whatever they ask."""
    if not roles.is_reviewer(viewer):
        return viewer
    return find_user(wanted) if wanted else None
