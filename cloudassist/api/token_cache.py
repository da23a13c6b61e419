"""API tokens authenticated from memory: a per-process cache of token -> stored token, user and
role names, dropped by the change feed (cloudassist/changes.py) the moment any of them changes.

- Keyed by the token's SHA-256 digest (never the raw token); every hit builds new ``ApiToken`` and
  user instances from the cached field values, so nothing one request does to them reaches another.
- Bounded: API_TOKEN_CACHE_SIZE entries (least recently used go first), each trusted for at most
  API_TOKEN_CACHE_SECONDS; 0 for either turns the cache off.
- Invalidation: a change to a token drops that token; a change to a user (deactivation, a new
  password, a deletion) drops that user's tokens; a change to any role or role membership drops
  everything (rare). Expiry needs nothing: the expiry time is cached and checked on every request.
- Never a stale fill: a miss notes the cache's generation before it reads MongoDB and stores its
  result only if no invalidation happened meanwhile, and only while the feed runs
  (``changes.ensure_started``). Unknown tokens are never cached.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import connection

from cloudassist import changes
from cloudassist.models import ApiToken


@dataclass(frozen=True)
class Entry:
    token_fields: tuple[tuple[str, ...], tuple]  # (attnames, values) for Model.from_db
    user_fields: tuple[tuple[str, ...], tuple]
    role_names: frozenset[str]
    token_pk: object
    user_pk: object
    stored_at: float


def _fields(instance) -> tuple[tuple[str, ...], tuple]:
    names = tuple(field.attname for field in instance._meta.concrete_fields)
    return names, tuple(getattr(instance, name) for name in names)


class TokenCache:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.entries: OrderedDict[str, Entry] = OrderedDict()
        self.by_token: dict[object, str] = {}
        self.by_user: dict[object, set[str]] = {}
        self.generation = 0

    @staticmethod
    def enabled() -> bool:
        return settings.API_TOKEN_CACHE_SIZE > 0 and settings.API_TOKEN_CACHE_SECONDS > 0

    def get(self, digest: str) -> tuple[ApiToken, object] | None:
        """New token and user instances for ``digest`` from memory, or None (ask MongoDB)."""
        if not self.entries or not self.enabled() or not changes.ensure_started():
            return None
        with self.lock:
            entry = self.entries.get(digest)
            if entry is None:
                return None
            if time.monotonic() - entry.stored_at >= settings.API_TOKEN_CACHE_SECONDS:
                self._drop(digest)
                return None
            self.entries.move_to_end(digest)
        token = ApiToken.from_db(connection.alias, *entry.token_fields)
        user = get_user_model().from_db(connection.alias, *entry.user_fields)
        user._role_names = set(entry.role_names)
        token.user = user
        return token, user

    def fill_generation(self) -> int | None:
        """Call before reading MongoDB on a miss; None when the result must not be cached."""
        if not self.enabled() or not changes.ensure_started():
            return None
        return self.generation

    def put(self, digest: str, token: ApiToken, user, generation: int | None) -> None:
        if generation is None:
            return
        entry = Entry(
            token_fields=_fields(token),
            user_fields=_fields(user),
            role_names=frozenset(user._role_names),
            token_pk=token.pk,
            user_pk=user.pk,
            stored_at=time.monotonic(),
        )
        with self.lock:
            if generation != self.generation:
                return  # something changed while MongoDB was read: the result may be stale
            self._drop(digest)
            self.entries[digest] = entry
            self.by_token[entry.token_pk] = digest
            self.by_user.setdefault(entry.user_pk, set()).add(digest)
            while len(self.entries) > settings.API_TOKEN_CACHE_SIZE:
                self._drop(next(iter(self.entries)))

    def _drop(self, digest: str) -> None:
        entry = self.entries.pop(digest, None)
        if entry is None:
            return
        self.by_token.pop(entry.token_pk, None)
        digests = self.by_user.get(entry.user_pk)
        if digests is not None:
            digests.discard(digest)
            if not digests:
                del self.by_user[entry.user_pk]

    # --- invalidation (the change feed's callbacks; publish_local for this process's writes) -------

    def clear(self) -> None:
        with self.lock:
            self.generation += 1
            self.entries.clear()
            self.by_token.clear()
            self.by_user.clear()

    def token_changed(self, change: changes.Change) -> None:
        if change.operation == "reset":
            return self.clear()
        with self.lock:
            self.generation += 1
            digest = self.by_token.get(change.key)
            if digest is not None:
                self._drop(digest)

    def user_changed(self, change: changes.Change) -> None:
        if change.operation == "reset":
            return self.clear()
        with self.lock:
            self.generation += 1
            for digest in list(self.by_user.get(change.key, ())):
                self._drop(digest)

    def roles_changed(self, change: changes.Change) -> None:
        self.clear()


CACHE = TokenCache()


def collections() -> dict[str, object]:
    """The collections whose changes reach the cache, and the callback each one calls."""
    user_model = get_user_model()
    return {
        ApiToken._meta.db_table: CACHE.token_changed,
        user_model._meta.db_table: CACHE.user_changed,
        user_model.groups.through._meta.db_table: CACHE.roles_changed,
        Group._meta.db_table: CACHE.roles_changed,
    }


for _collection, _callback in collections().items():
    changes.subscribe(_collection, _callback)
