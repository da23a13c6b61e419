"""Token authentication in one indexed MongoDB command.

DRF's ``TokenAuthentication`` runs ``Token.objects.select_related("user").get(key=...)``, which
django-mongodb-backend sends as a ``$lookup`` over every token before the ``$match``; the
user's roles then cost another join. Here one aggregate on the token collection matches the key
first (a plain index on ``key``: see cloudassist/migrations), then looks up that one token's
user, memberships and role names by primary key. The roles are cached on the user for the
request (cloudassist.roles.role_names).
"""

from __future__ import annotations

from datetime import UTC, datetime

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import connection
from django.utils import timezone
from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication
from rest_framework.authtoken.models import Token


def _pipeline(key: str) -> list[dict]:
    user_model = get_user_model()
    return [
        {"$match": {"key": key}},
        {"$limit": 1},
        {"$lookup": {"from": user_model._meta.db_table, "localField": "user_id", "foreignField": "_id", "as": "user"}},
        {
            "$lookup": {
                "from": user_model.groups.through._meta.db_table,
                "localField": "user_id",
                "foreignField": "user_id",
                "as": "memberships",
            }
        },
        {
            "$lookup": {
                "from": Group._meta.db_table,
                "localField": "memberships.group_id",
                "foreignField": "_id",
                "as": "roles",
            }
        },
        {"$project": {"user": 1, "roles.name": 1}},
    ]


def _user_from_document(document: dict):
    user_model = get_user_model()
    names, values = [], []
    for field in user_model._meta.concrete_fields:
        value = document.get(field.column)
        if isinstance(value, datetime) and timezone.is_naive(value):
            value = value.replace(tzinfo=UTC)
        names.append(field.attname)
        values.append(value)
    return user_model.from_db(connection.alias, names, values)


def user_for_token(key: str):
    """The active user a token belongs to, with their role names loaded, or None."""
    found = next(connection.get_collection(Token._meta.db_table).aggregate(_pipeline(key)), None)
    if found is None or not found["user"]:
        return None
    user = _user_from_document(found["user"][0])
    user._role_names = {role["name"] for role in found["roles"]}
    return user


class IndexedTokenAuthentication(TokenAuthentication):
    """``Authorization: Token <key>``, as DRF's, answered by one indexed aggregate."""

    def authenticate_credentials(self, key):
        user = user_for_token(key)
        if user is None:
            raise exceptions.AuthenticationFailed("Invalid token.")
        if not user.is_active:
            raise exceptions.AuthenticationFailed("User inactive or deleted.")
        return (user, Token(key=key, user=user))
