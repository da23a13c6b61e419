"""Token authentication in one indexed MongoDB command.

``Authorization: Token <token>``, as DRF's ``TokenAuthentication`` parses it, but the token is
looked up by its SHA-256 digest (cloudassist/models.py: only digests are stored, so no raw token
ever appears in a query filter, nor in MongoDB's slow-query log). DRF's own lookup,
``select_related("user").get(...)``, is a ``$lookup`` over every token before the ``$match`` on
django-mongodb-backend; here one aggregate on the token collection matches the digest first (a
plain index, ``apitoken_digest``), then looks up that one token's user, memberships and role
names by primary key. The roles are cached on the user for the request
(cloudassist.roles.role_names). An expired token is a 401 saying so. What the aggregate found is
kept in this process's memory until the token, its user or any role changes
(cloudassist/api/token_cache.py): a known token costs no MongoDB command.
"""

from __future__ import annotations

from datetime import UTC, datetime

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import connection
from django.utils import timezone
from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication

from cloudassist import services
from cloudassist.api import token_cache
from cloudassist.models import ApiToken, token_digest


def _pipeline(digest: str) -> list[dict]:
    user_model = get_user_model()
    return [
        {"$match": {"digest": digest}},
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
        {"$project": {"user": 1, "roles.name": 1, **{field.column: 1 for field in ApiToken._meta.concrete_fields}}},
    ]


def _from_document(model, document: dict):
    names, values = [], []
    for field in model._meta.concrete_fields:
        value = document.get(field.column)
        if isinstance(value, datetime) and timezone.is_naive(value):
            value = value.replace(tzinfo=UTC)
        names.append(field.attname)
        values.append(value)
    return model.from_db(connection.alias, names, values)


def token_and_user(key: str) -> tuple[ApiToken, object] | None:
    """The stored token for a raw ``key`` and its user, with their role names loaded, or None:
    from this process's cache (cloudassist/api/token_cache.py) or one aggregate."""
    digest = token_digest(key)
    cached = token_cache.CACHE.get(digest)
    if cached is not None:
        return cached
    generation = token_cache.CACHE.fill_generation()
    found = _stored(digest)
    if found is not None:
        token_cache.CACHE.put(digest, *found, generation)
    return found


def _stored(digest: str) -> tuple[ApiToken, object] | None:
    found = next(connection.get_collection(ApiToken._meta.db_table).aggregate(_pipeline(digest)), None)
    if found is None or not found["user"]:
        return None
    token = _from_document(ApiToken, found)
    user = _from_document(get_user_model(), found["user"][0])
    user._role_names = {role["name"] for role in found["roles"]}
    token.user = user  # the user the aggregate brought: no query for token.user
    return token, user


class IndexedTokenAuthentication(TokenAuthentication):
    """``Authorization: Token <token>``, as DRF's, answered by one indexed aggregate on the digest.
    ``request.auth`` is the stored ``ApiToken`` (logout revokes it)."""

    model = ApiToken  # never DRF's authtoken model (not installed)

    def authenticate_credentials(self, key):
        found = token_and_user(key)
        if found is None:
            raise exceptions.AuthenticationFailed("Invalid token.")
        token, user = found
        if token.is_expired:
            raise exceptions.AuthenticationFailed(
                f"Token expired at {token.expires_at:%Y-%m-%dT%H:%M:%SZ}; get a new one from POST /api/v1/auth/token/.",
                code="token_expired",
            )
        if not user.is_active:
            raise exceptions.AuthenticationFailed("User inactive or deleted.")
        services.note_token_used(token=token)
        return (user, token)
