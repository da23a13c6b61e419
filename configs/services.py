"""Config server use cases. Every write is a compare-and-set on the entry's version and
keeps the version it creates in the history; an If-Match that does not match is a 412. A write
without If-Match is last-write-wins: when another write got in between, it reads the entry
again, re-applies itself and tries again (up to MAX_WRITE_ATTEMPTS times)."""

from __future__ import annotations

import copy
import json
import random
import re
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, NoReturn

import jsonpatch
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError
from django.db.models import Q
from django.db.models.fields.json import KeyTransform, KeyTransformExact
from django.utils import timezone
from django_mongodb_backend.transaction import on_commit
from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from cloudassist import exceptions, roles, schemas
from cloudassist.content import check_storable, shown
from cloudassist.db import run_atomic
from cloudassist.exceptions import Conflict
from cloudassist.selectors import attach_related
from configs import cache as config_cache
from configs import metrics, watch
from configs.models import NAME_PATTERN, NAME_RULE, Config, ConfigVersion

MISSING = object()
LABEL_KEY = re.compile(r"[A-Za-z0-9_./-]{1,128}")
LABEL_KEY_RULE = "1 to 128 letters, digits, '_', '.', '/' or '-'"
MAX_TTL_SECONDS = 10 * 365 * 24 * 3600
#: Compare-and-sets a write without If-Match makes before it gives up (409) under contention.
MAX_WRITE_ATTEMPTS = 40
#: Exact size checks a JSON Patch makes near the limit before its estimate is trusted.
MAX_EXACT_SIZE_CHECKS = 16


class PreconditionFailed(exceptions.PreconditionFailed):
    """The entry changed: its version does not match If-Match."""

    def __init__(self, *, current: int):
        super().__init__(f"The entry is at version {current}, not the one in If-Match.", current_version=current)


TooLarge = exceptions.TooLarge


class SchemaViolation(exceptions.SchemaViolation):
    """Listing every failing path of the data against the entry's JSON Schema."""

    def __init__(self, errors: list[dict[str, str]]):
        paths = ", ".join(error["path"] for error in errors)
        super().__init__(f"The data does not match the entry's schema at: {paths}.", errors=errors)


# --- access ------------------------------------------------------------------------------------


def _role_names(user) -> set[str]:
    return roles.role_names(user)


def can_read(user, config: Config) -> bool:
    if config.owner_id == user.pk or roles.is_admin(user):  # the owner first: no role lookup
        return True
    return bool(_role_names(user) & (set(config.read_roles) | set(config.write_roles)))


def can_write(user, config: Config) -> bool:
    if config.owner_id == user.pk or roles.is_admin(user):
        return True
    return bool(_role_names(user) & set(config.write_roles))


def live(now: datetime | None = None):
    now = now or timezone.now()
    return Config.objects.filter(Q(expires_at=None) | Q(expires_at__gt=now))


def visible(user, queryset=None):
    """The entries of ``queryset`` (all, by default) that ``user`` may see: admins all, everyone
    else their own and those a role of theirs may read or write. The one rule of the API (through
    :func:`readable`) and the admin's lists and pages (configs/admin), as :func:`can_read` is for one."""
    queryset = Config.objects.all() if queryset is None else queryset
    if roles.is_admin(user):
        return queryset
    names = list(_role_names(user))
    return queryset.filter(
        Q(owner=user) | Q(read_roles__overlap=names) | Q(write_roles__overlap=names) if names else Q(owner=user)
    )


def readable(user):
    """The entries ``user`` may read (expired ones are gone)."""
    return visible(user, live())


def listing(*, actor, prefix: str | None = None, labels: list[str] = ()):
    """Entries ``actor`` may read, by name, optionally with a name prefix and `key:value` labels
    (all must match). No join: paginate it (the sort is on an index: cloudassist/mongodb) and load
    the page's owners with :func:`attach_owners`."""
    queryset = readable(actor)
    if prefix:
        queryset = queryset.filter(name__startswith=prefix)
    for label in labels:
        key, sep, value = label.partition(":")
        if not sep or not LABEL_KEY.fullmatch(key):
            raise ValidationError({"label": [f"“{label}” is not key:value (key: {LABEL_KEY_RULE})."]})
        # The key is a key, never a lookup: `a__range:x` matches the label "a__range" and nothing else.
        queryset = queryset.filter(KeyTransformExact(KeyTransform(key, "labels"), value))
    metrics.config_read("list")
    return queryset.order_by("name")


def attach_owners(configs, *, actor=None) -> None:
    """Load the owners of a page of entries in one query (the actor needs none)."""
    attach_related(configs, "owner", only=["username"], known=[actor])


def by_name(name: str, *, now: datetime | None = None) -> Config | None:
    """The live entry called ``name``: one ``{name: ...}`` lookup on the name index (names are
    unique; an expired entry is gone)."""
    config = next(iter(Config.objects.filter(name=name).order_by()[:1]), None)
    if config is None or (config.expires_at is not None and config.expires_at <= (now or timezone.now())):
        return None
    return config


def _readable(*, actor, name: str) -> Config:
    config = by_name(name)
    if config is None or not can_read(actor, config):
        raise exceptions.NotFound("Not found")
    if config.owner_id is not None and config.owner_id == getattr(actor, "pk", None):
        config.owner = actor  # rendering the owner needs no query
    return config


def get(*, actor, name: str) -> Config:
    config = _readable(actor=actor, name=name)
    metrics.config_read("get")
    return config


def read(*, actor, name: str, render: Callable[[Config], bytes]) -> config_cache.Entry:
    """GET by name, from this process's cache (configs/cache.py): the entry with its response body,
    which ``render`` makes from the entry when it is loaded. Access is checked on every read, as
    :func:`get` checks it; a miss is :func:`get` itself."""
    use_cache = config_cache.enabled()
    store = config_cache.cache()
    entry = store.get(name) if use_cache else None
    if entry is None:
        generation = store.generation()  # before the read: a change meanwhile keeps it out of the cache
        config = _readable(actor=actor, name=name)
        entry = config_cache.Entry(
            pk=config.pk,
            name=config.name,
            version=config.version,
            owner_id=config.owner_id,
            read_roles=tuple(config.read_roles),
            write_roles=tuple(config.write_roles),
            expires_at=config.expires_at,
            body=render(config),
        )
        if use_cache:
            store.put(entry, generation=generation)
    elif not can_read(actor, entry):
        raise exceptions.NotFound("Not found")
    metrics.config_read("get")
    return entry


def _changed(config: Config, version: int) -> None:
    """After a write of ``config`` has committed: this process's cache drops it now (the change
    feed tells the others), and the watches of every process hear of it."""
    config_cache.written(name=config.name, pk=config.pk)
    watch.changed(config.name, version)


def _writable(*, actor, name: str) -> Config:
    config = _readable(actor=actor, name=name)
    if not can_write(actor, config):
        raise PermissionDenied(f"You may read '{name}' but not change it.")
    return config


# --- validation ----------------------------------------------------------------------------------


def check_name(name: Any) -> str:
    if not isinstance(name, str) or not re.fullmatch(NAME_PATTERN, name):
        raise ValidationError({"name": [f"Names are {NAME_RULE}."]})
    return name


def check_size(data: Any) -> None:
    check_storable(data, root="data")
    size = len(json.dumps(data, separators=(",", ":")).encode())
    if size > settings.CONFIG_MAX_BYTES:
        raise TooLarge(f"The data is {size} bytes; the limit is {settings.CONFIG_MAX_BYTES} bytes.")


def check_schema(schema: Any) -> None:
    if schema is None:
        return
    if not isinstance(schema, dict):
        raise ValidationError({"schema": ["Must be a JSON Schema object (or null)."]})
    check_storable(schema, root="schema")  # also bounds its depth, before jsonschema recurses into it
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        raise ValidationError({"schema": [f"Not a valid JSON Schema: {exc.message}"]}) from exc
    problem = schemas.reference_problem(schema)
    if problem:
        raise ValidationError({"schema": [problem]})


def validate(data: Any, schema: dict | None) -> None:
    if not schema:
        return
    try:
        found = sorted(schemas.validator(schema).iter_errors(data), key=lambda e: list(e.absolute_path))
    except (*schemas.UNRESOLVABLE, RecursionError) as exc:
        if isinstance(exc, RecursionError) and schemas.reference_problem(schema) is None:
            # Data nested deeper than a recursive schema can follow.
            raise ValidationError({"data": ["Nested too deeply to check against the schema."]}) from exc
        # A schema saved before its references were checked (check_schema) is the only other way here.
        raise ValidationError({"schema": ["The entry's schema cannot be used: fix its $refs."]}) from exc
    errors = [
        {"path": "/" + "/".join(str(part) for part in error.absolute_path), "message": error.message} for error in found
    ]
    if errors:
        raise SchemaViolation(errors)


def _check_roles(value: Any, field: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ValidationError({field: ["Expected a list of role names."]})
    return list(dict.fromkeys(value))


def _check_labels(value: Any) -> dict[str, str]:
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise ValidationError({"labels": ['Expected an object of string labels, e.g. {"env": "prod"}.']})
    for key in value:
        if not LABEL_KEY.fullmatch(key):
            raise ValidationError({"labels": [f"The label key “{shown(key)}” is not {LABEL_KEY_RULE}."]})
    check_storable(value, root="labels")
    return value


def _expiry(ttl: Any, now: datetime) -> datetime | None:
    if ttl is None:
        return None
    if not isinstance(ttl, int) or isinstance(ttl, bool) or not 1 <= ttl <= MAX_TTL_SECONDS:
        raise ValidationError(
            {"ttl": [f"A whole number of seconds from 1 to {MAX_TTL_SECONDS} (or null for no expiry)."]}
        )
    return now + timedelta(seconds=ttl)


# --- writes --------------------------------------------------------------------------------------


def create(*, actor, name: Any, data: Any, schema=None, labels=None, read_roles=None, write_roles=None, ttl=None):
    check_name(name)
    check_size(data)
    check_schema(schema)
    validate(data, schema)
    now = timezone.now()
    config = Config(
        name=name,
        data=data,
        version=1,
        schema=schema,
        labels=_check_labels({} if labels is None else labels),
        owner=actor,
        updated_by=actor,
        read_roles=_check_roles([] if read_roles is None else read_roles, "read_roles"),
        write_roles=_check_roles([] if write_roles is None else write_roles, "write_roles"),
        expires_at=_expiry(ttl, now),
    )
    # An expired entry with the same name is gone: make room for the new one.
    Config.objects.filter(name=name, expires_at__lte=now).delete()

    def unit() -> Config:
        config.save(force_insert=True)
        ConfigVersion.objects.create(config=config, version=1, data=data, action="create", author=actor)
        return config

    try:
        run_atomic(unit)
    except IntegrityError as exc:
        raise Conflict("Already exists", code="already_exists") from exc
    metrics.config_written("create")
    on_commit(lambda: _changed(config, 1))
    return config


def _lost_race(config: Config) -> NoReturn:
    """A compare-and-set on ``config`` matched nothing: it was deleted (404) or written (412) meanwhile."""
    current = Config.objects.filter(pk=config.pk).values_list("version", flat=True).first()
    if current is None:
        raise exceptions.NotFound("Not found")
    raise PreconditionFailed(current=current)


def _write(*, actor, config: Config, data: Any, if_match: int | None, action: str, extra: dict | None = None):
    """Compare-and-set ``data`` as the next version of ``config``; PreconditionFailed on a version
    mismatch (the caller retries it when the client sent no If-Match)."""
    if if_match is not None and if_match != config.version:
        raise PreconditionFailed(current=config.version)
    check_size(data)
    schema = (extra or {}).get("schema", config.schema)
    validate(data, schema)
    now = timezone.now()
    seen = config.version
    fields = {"data": data, "version": seen + 1, "updated_at": now, "updated_by": actor, **(extra or {})}

    def unit() -> int:
        written = Config.objects.filter(pk=config.pk, version=seen).update(**fields)
        if written:
            ConfigVersion.objects.create(config=config, version=seen + 1, data=data, action=action, author=actor)
        return written

    if not run_atomic(unit):
        _lost_race(config)
    for key, value in fields.items():
        setattr(config, key, value)
    metrics.config_written(action)
    on_commit(lambda: _changed(config, config.version))
    return config


def _last_write_wins(*, actor, name: str, if_match: int | None, action: str, build: Callable) -> Config:
    """Read the entry, ``build(config)`` its new ``(data, extra)`` and compare-and-set it. With
    If-Match: once (412 when the entry moved on). Without: a lost race re-reads the entry and
    builds the write again from what is there now, so the last writer wins instead of a 412
    nobody asked for; after MAX_WRITE_ATTEMPTS lost races it is a 409."""
    for attempt in range(MAX_WRITE_ATTEMPTS):
        config = _writable(actor=actor, name=name)
        data, extra = build(config)
        try:
            return _write(actor=actor, config=config, data=data, if_match=if_match, action=action, extra=extra)
        except PreconditionFailed:
            if if_match is not None:
                raise
        time.sleep(random.uniform(0, 0.001 * min(2**attempt, 50)))  # noqa: S311 -- jitter, not crypto
    raise Conflict(f"'{name}' kept changing while it was written; try again.", code="write_conflict")


def replace(*, actor, name: str, data: Any, if_match: int | None = None, **metadata) -> Config:
    """PUT: new data (and optionally new schema, labels, roles, ttl); unchanged metadata stays."""

    def build(config: Config) -> tuple[Any, dict[str, Any]]:
        extra: dict[str, Any] = {}
        if metadata.get("schema", MISSING) is not MISSING:
            check_schema(metadata["schema"])
            extra["schema"] = metadata["schema"]
        if metadata.get("labels", MISSING) is not MISSING:
            extra["labels"] = _check_labels(metadata["labels"])
        for field in ("read_roles", "write_roles"):
            if metadata.get(field, MISSING) is not MISSING:
                if not (roles.is_admin(actor) or config.owner_id == actor.pk):
                    raise PermissionDenied("Only the owner or an admin changes who may read or write.")
                extra[field] = _check_roles(metadata[field], field)
        if metadata.get("ttl", MISSING) is not MISSING:
            extra["expires_at"] = _expiry(metadata["ttl"], timezone.now())
        return data, extra

    return _last_write_wins(actor=actor, name=name, if_match=if_match, action="replace", build=build)


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7396 JSON Merge Patch: objects merge recursively, null removes, anything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def _json_size(value: Any) -> int:
    return len(json.dumps(value, separators=(",", ":")).encode())


def _resolved(document: Any, pointer: Any) -> Any:
    try:
        return jsonpatch.JsonPointer(pointer).resolve(document)
    except (jsonpatch.JsonPointerException, TypeError, KeyError):
        return None  # the operation itself reports the bad pointer


def _growth(document: Any, operation: Any) -> int:
    """An upper bound of what ``operation`` adds to the document's JSON size (negative when it
    removes something); the key and separators are counted generously."""
    if not isinstance(operation, dict):
        return 0
    op, path = operation.get("op"), operation.get("path")
    overhead = len(str(path)) + 4
    if op == "add":
        return _json_size(operation.get("value")) + overhead
    if op == "copy":
        return _json_size(_resolved(document, operation.get("from"))) + overhead
    if op == "replace":
        return _json_size(operation.get("value")) - _json_size(_resolved(document, path))
    if op == "remove":
        return -_json_size(_resolved(document, path))
    return 0


def apply_json_patch(data: Any, operations: list) -> Any:
    """RFC 6902, one operation at a time, checking the document's size as it grows: a patch that
    copies the document into itself again and again is a 413 at the first copy past
    CONFIG_MAX_BYTES, not after it has built a document of gigabytes."""
    limit = settings.CONFIG_MAX_BYTES
    document = copy.deepcopy(data)
    estimate = _json_size(document)
    exact_checks = 0
    for index, operation in enumerate(operations):
        try:
            growth = _growth(document, operation)
            document = jsonpatch.JsonPatch([operation]).apply(document, in_place=True)
        except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException, TypeError, KeyError) as exc:
            raise ValidationError({"patch": [f"Cannot apply the JSON Patch: operation {index}: {exc}"]}) from exc
        estimate += growth
        if estimate > limit and exact_checks < MAX_EXACT_SIZE_CHECKS:
            exact_checks += 1
            estimate = _json_size(document)
        if estimate > limit:
            raise TooLarge(
                f"The JSON Patch makes the data larger than {limit} bytes (at operation {index}); "
                f"the limit is {limit} bytes."
            )
    return document


def check_envelope_name(given: Any, name: str) -> None:
    """A PUT carries the seed's envelope: its `name` is the entry the URL names (400 otherwise)."""
    if given is None:
        message = f'The body needs the entry\'s name, \'{name}\' as in the URL: send {{"name": "{name}", "data": ...}}.'
        raise ValidationError({"name": [message]})
    if given != name:
        message = f"The body names {given!r} but the URL names '{name}': a PUT replaces only the entry in its URL."
        raise ValidationError({"name": [message]})


def is_seed_envelope(document: Any, name: str) -> bool:
    """Is this PATCH body exactly the seed's envelope for this entry (`name` equal to the URL's,
    `data`, nothing else)? The seed's clients update that way and mean: replace the data."""
    return isinstance(document, dict) and document.keys() == {"name", "data"} and document["name"] == name


def patch(*, actor, name: str, document: Any, json_patch: bool, if_match: int | None = None) -> Config:
    """PATCH: an RFC 7396 merge patch, or an RFC 6902 JSON Patch (``json_patch=True``)."""
    if json_patch and not isinstance(document, list):
        raise ValidationError({"patch": ["A JSON Patch is a list of operations."]})

    def build(config: Config) -> tuple[Any, None]:
        if json_patch:
            return apply_json_patch(config.data, document), None
        return merge_patch(config.data, document), None

    return _last_write_wins(actor=actor, name=name, if_match=if_match, action="patch", build=build)


def rollback(*, actor, name: str, version: Any, if_match: int | None = None) -> Config:
    """Write an old version's data as a new version."""
    if not isinstance(version, int) or isinstance(version, bool):
        raise ValidationError({"version": ["A version number."]})

    def build(config: Config) -> tuple[Any, None]:
        old = ConfigVersion.objects.filter(config=config, version=version).first()
        if old is None:
            raise ValidationError({"version": [f"No version {version}; the entry has versions 1 to {config.version}."]})
        return old.data, None

    return _last_write_wins(actor=actor, name=name, if_match=if_match, action="rollback", build=build)


def delete(*, actor, name: str, if_match: int | None = None) -> None:
    """Delete the entry; without If-Match, whatever version it is at when the delete lands."""
    for _ in range(MAX_WRITE_ATTEMPTS):
        config = _writable(actor=actor, name=name)
        if if_match is not None and if_match != config.version:
            raise PreconditionFailed(current=config.version)
        if Config.objects.filter(pk=config.pk, version=config.version).delete()[0]:
            break
        if if_match is not None or not Config.objects.filter(pk=config.pk).exists():
            _lost_race(config)  # 412, or 404 when it was deleted meanwhile
    else:
        raise Conflict(f"'{name}' kept changing while it was deleted; try again.", code="write_conflict")
    metrics.config_written("delete")
    on_commit(lambda: _changed(config, 0))


def purge_expired(*, now: datetime | None = None) -> int:
    """Session data past its TTL is deleted (reads already treat it as gone)."""
    _, per_model = Config.objects.filter(expires_at__lte=now or timezone.now()).delete()
    return per_model.get(Config._meta.label, 0)
