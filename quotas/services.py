"""Quotas: the effective quota of a user, and reservations on their usage ledger.

Every change to the ledger is one conditional update (``filter(field <= limit - amount)
.update(field=F(field) + amount)``): of any number of concurrent reservations, exactly those
that fit are accepted, and the ledger never overshoots. What holds a reservation (a provision
request) records it and says what to give back; quotas knows the amounts, not the holder.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

from bson import Decimal128
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection
from django.db.models import F, Q
from django.utils import timezone
from pymongo import ReturnDocument

from cloudassist import exceptions
from cloudassist.db import run_atomic
from cloudassist.internals.django_mongodb_backend import in_atomic_block, transaction_session
from quotas.choices import QuotaType
from quotas.estimates import from_micros, to_micros
from quotas.models import Quota, UsageLedger


@dataclass(frozen=True)
class Dimension:
    name: str  # as shown in the API
    quota_field: str
    ledger_field: str
    label: str
    micros: bool


DIMENSIONS = (
    Dimension("live_environments", "max_live_environments", "live_environments", "live environments", False),
    Dimension("usd", "usd_budget", "usd_micros", "USD budget", True),
    Dimension("machine_hours", "machine_hours", "machine_hours_micros", "machine-hours", True),
    Dimension("disk_gb_hours", "disk_gb_hours", "disk_gb_hours_micros", "disk GB-hours", True),
)
LEDGER_FIELDS = tuple(dimension.ledger_field for dimension in DIMENSIONS)


@dataclass(frozen=True)
class EffectiveQuota:
    """Limits per dimension in ledger units (None = unlimited), and where they come from."""

    limits: dict[str, int | None]
    source: str  # "user", "role:<name>[,...]" or "none"
    quota_ids: tuple[str, ...] = ()

    def display(self, dimension: Dimension) -> str | None:
        limit = self.limits[dimension.ledger_field]
        return None if limit is None else _display(dimension, limit)


def _display(dimension: Dimension, value: int) -> str:
    return f"{from_micros(value).normalize():f}" if dimension.micros else str(value)


def _in_units(dimension: Dimension, value) -> int:
    return to_micros(Decimal(value)) if dimension.micros else int(value)


def active_quotas(queryset, *, now: datetime):
    return queryset.filter(ended_at=None).filter(
        Q(quota_type=QuotaType.PERMANENT) | Q(quota_type=QuotaType.TEMPORARY, valid_from__lte=now, valid_until__gt=now)
    )


def combine(quotas: list) -> dict[str, int | None]:
    """Permanent quotas set the base of each dimension (unset everywhere = unlimited); valid
    temporary quotas add to a limited base. Temporary quotas alone are the limit while valid."""
    permanent = [quota for quota in quotas if quota.quota_type == QuotaType.PERMANENT]
    temporary = [quota for quota in quotas if quota.quota_type == QuotaType.TEMPORARY]
    limits: dict[str, int | None] = {}
    for dimension in DIMENSIONS:
        base = [getattr(q, dimension.quota_field) for q in permanent if getattr(q, dimension.quota_field) is not None]
        extra = [getattr(q, dimension.quota_field) for q in temporary if getattr(q, dimension.quota_field) is not None]
        if permanent:
            limit = None if not base else sum(_in_units(dimension, v) for v in base + extra)
        else:
            limit = sum(_in_units(dimension, v) for v in extra) if extra else None
        limits[dimension.ledger_field] = limit
    return limits


def _active_quota_match(now: datetime) -> dict:
    """``active_quotas`` as a ``$match``: not ended, and PERMANENT or a TEMPORARY one valid now."""
    return {
        "ended_at": None,
        "$or": [
            {"quota_type": str(QuotaType.PERMANENT)},
            {"quota_type": str(QuotaType.TEMPORARY), "valid_from": {"$lte": now}, "valid_until": {"$gt": now}},
        ],
    }


def _quota_rows(user, now: datetime) -> list[SimpleNamespace]:
    """The user's own active quotas and those of their roles, in one command: the role quotas (few:
    at most a handful per role) each look up the user's membership of that role and its name by key."""
    memberships = user.groups.through._meta.db_table
    pipeline = [
        {"$match": {**_active_quota_match(now), "$and": [{"$or": [{"user_id": user.pk}, {"role_id": {"$ne": None}}]}]}},
        {
            "$lookup": {
                "from": memberships,
                "localField": "role_id",
                "foreignField": "group_id",
                "pipeline": [{"$match": {"user_id": user.pk}}, {"$project": {"_id": 1}}],
                "as": "member",
            }
        },
        {"$match": {"$or": [{"user_id": user.pk}, {"member": {"$ne": []}}]}},
        {
            "$lookup": {
                "from": Group._meta.db_table,
                "localField": "role_id",
                "foreignField": "_id",
                "pipeline": [{"$project": {"name": 1}}],
                "as": "role",
            }
        },
        {"$sort": {"created_at": -1}},
    ]
    rows = []
    for document in connection.get_collection(Quota._meta.db_table).aggregate(pipeline):
        fields = {dimension.quota_field: _decimal(document.get(dimension.quota_field)) for dimension in DIMENSIONS}
        own = document.get("user_id") == user.pk
        role = document["role"][0]["name"] if document.get("role") and not own else None
        rows.append(
            SimpleNamespace(pk=document["_id"], quota_type=document.get("quota_type"), own=own, role=role, **fields)
        )
    return rows


def _decimal(value):
    return value.to_decimal() if isinstance(value, Decimal128) else value


def effective_quota(user, *, now: datetime | None = None) -> EffectiveQuota:
    """The user's own active quotas if they have any, else the most generous of their roles' (one
    MongoDB command)."""
    now = now or timezone.now()
    rows = _quota_rows(user, now)
    own = [row for row in rows if row.own]
    if own:
        return EffectiveQuota(combine(own), "user", tuple(str(q.pk) for q in own))
    by_role: dict[str, list] = {}
    for quota in rows:
        if quota.role is not None:
            by_role.setdefault(quota.role, []).append(quota)
    return _of_roles(by_role)


def _of_roles(by_role: dict[str, list]) -> EffectiveQuota:
    """The most generous of the roles' quotas (a user without quotas of their own)."""
    if not by_role:
        return EffectiveQuota(dict.fromkeys(LEDGER_FIELDS), "none")
    per_role = [combine(quotas) for quotas in by_role.values()]
    limits = {}
    for field in LEDGER_FIELDS:
        values = [limits_[field] for limits_ in per_role]
        limits[field] = None if any(value is None for value in values) else max(values)
    quota_ids = tuple(str(q.pk) for quotas in by_role.values() for q in quotas)
    return EffectiveQuota(limits, "role:" + ",".join(sorted(by_role)), quota_ids)


def effective_quotas(user_ids, *, now: datetime | None = None) -> dict:
    """``effective_quota`` for many users (a list page) in five queries whatever their number:
    their own active quotas, their memberships, their roles' names and active quotas."""
    from django.contrib.auth import get_user_model

    now = now or timezone.now()
    user_ids = list(user_ids)
    own: dict = {}
    for quota in active_quotas(Quota.objects.filter(user_id__in=user_ids), now=now):
        own.setdefault(quota.user_id, []).append(quota)
    memberships = list(
        get_user_model().groups.through.objects.filter(user_id__in=user_ids).values_list("user_id", "group_id")
    )
    group_ids = {group for _, group in memberships}
    names = dict(Group.objects.filter(pk__in=group_ids).values_list("pk", "name")) if group_ids else {}
    role_quotas: dict = {}
    if group_ids:
        for quota in active_quotas(Quota.objects.filter(role_id__in=group_ids), now=now):
            role_quotas.setdefault(quota.role_id, []).append(quota)
    found = {}
    for user_id in user_ids:
        if own.get(user_id):
            quotas = own[user_id]
            found[user_id] = EffectiveQuota(combine(quotas), "user", tuple(str(q.pk) for q in quotas))
            continue
        by_role = {
            names[group]: role_quotas[group]
            for member, group in memberships
            if member == user_id and group in names and role_quotas.get(group)
        }
        found[user_id] = _of_roles(by_role)
    return found


def usage_of(users, *, now: datetime | None = None) -> dict:
    """Limit and reserved amount per dimension (ledger units) for each of ``users``, by pk, in
    six queries whatever their number (the users' list in the admin)."""
    users = list(users)
    ids = [user.pk for user in users]
    quotas = effective_quotas(ids, now=now)
    ledgers = {ledger.user_id: _reserved(ledger) for ledger in UsageLedger.objects.filter(user_id__in=ids)}
    nothing = dict.fromkeys(LEDGER_FIELDS, 0)
    return {
        user_id: {
            "source": quotas[user_id].source,
            "dimensions": {
                dimension.name: (
                    quotas[user_id].limits[dimension.ledger_field],
                    ledgers.get(user_id, nothing)[dimension.ledger_field],
                )
                for dimension in DIMENSIONS
            },
        }
        for user_id in ids
    }


def display(dimension_name: str, value: int | None) -> str | None:
    """An amount in ledger units as the quota states it (micros as a decimal number)."""
    dimension = next(d for d in DIMENSIONS if d.name == dimension_name)
    return None if value is None else _display(dimension, value)


def ledger_for(user) -> UsageLedger:
    ledger = UsageLedger.objects.filter(user=user).first()
    if ledger is not None:
        return ledger
    try:
        return UsageLedger.objects.create(user=user)
    except IntegrityError:  # created concurrently
        return UsageLedger.objects.get(user=user)


class QuotaExceeded(exceptions.QuotaExceeded):
    """With a breakdown per limited dimension: limit, reserved, this request."""

    def __init__(self, *, quota: EffectiveQuota, reserved: dict[str, int], amounts: dict[str, int], what: str):
        breakdown: dict[str, Any] = {}
        over = []
        for dimension in DIMENSIONS:
            limit = quota.limits[dimension.ledger_field]
            if limit is None:
                continue
            held, wanted = reserved.get(dimension.ledger_field, 0), amounts.get(dimension.ledger_field, 0)
            exceeded = held + wanted > limit
            breakdown[dimension.name] = {
                "limit": _display(dimension, limit),
                "reserved": _display(dimension, held),
                "this_request": _display(dimension, wanted),
                "exceeded": exceeded,
            }
            if exceeded:
                over.append(
                    f"{dimension.label} (limit {_display(dimension, limit)}, reserved {_display(dimension, held)}, "
                    f"{what} {_display(dimension, wanted)})"
                )
        super().__init__(
            f"This would exceed your quota: {'; '.join(over) or 'limits changed meanwhile'}.",
            quota=breakdown,
            quota_source=quota.source,
        )


def _reserved(ledger: UsageLedger) -> dict[str, int]:
    return {field: getattr(ledger, field) for field in LEDGER_FIELDS}


def reserved(*, user) -> dict[str, int]:
    """What the user's outstanding requests hold now, per ledger field."""
    return _reserved(ledger_for(user))


def _transactional(write: Callable[[], None]) -> None:
    """A ledger update is a counter (``F() + n``): a plain retry after an election could apply it
    twice, so outside its holder's transaction it runs in one of its own (run_atomic retries it
    whole, and a commit with an unknown result as a commit)."""
    if in_atomic_block(connection):
        write()
    else:
        run_atomic(write)


def reserve(*, user, amounts: dict[str, int], quota: EffectiveQuota | None = None, what: str = "this request"):
    """Add ``amounts`` to the user's ledger if every limited dimension still fits, atomically.
    Call it in the transaction that stores what holds the reservation, so that both commit together."""
    quota = quota or effective_quota(user)
    ledger = ledger_for(user)
    conditions = {
        f"{field}__lte": limit - amounts.get(field, 0)
        for field, limit in quota.limits.items()
        if limit is not None and amounts.get(field, 0) > 0
    }
    changes = {field: F(field) + amounts.get(field, 0) for field in LEDGER_FIELDS if amounts.get(field, 0)}
    if not changes:
        return

    def write() -> None:
        if UsageLedger.objects.filter(pk=ledger.pk, **conditions).update(**changes, updated_at=timezone.now()) != 1:
            ledger.refresh_from_db()
            raise QuotaExceeded(quota=quota, reserved=_reserved(ledger), amounts=amounts, what=what)

    _transactional(write)


class LedgerMissing(Exception):
    """The user has no ledger yet: create it (``ledger_for``) outside the transaction and run it again."""


def reserve_and_read(
    *, user, amounts: dict[str, int], quota: EffectiveQuota, what: str = "this request"
) -> dict[str, int]:
    """``reserve``, for a holder's transaction, in one command: a conditional update with every
    limit in its filter (``field <= limit - amount``) that answers the ledger as it is after the
    reservation. QuotaExceeded (with its breakdown) when a limited dimension does not fit;
    LedgerMissing when the user has no ledger yet."""
    assert in_atomic_block(connection), "reserve_and_read runs in the transaction that stores the holder"
    conditions = {
        field: {"$lte": limit - amounts.get(field, 0)}
        for field, limit in quota.limits.items()
        if limit is not None and amounts.get(field, 0) > 0
    }
    update: dict[str, Any] = {"$set": {"updated_at": timezone.now()}}
    increments = {field: amounts[field] for field in LEDGER_FIELDS if amounts.get(field, 0)}
    if increments:
        update["$inc"] = increments
    ledgers = connection.get_collection(UsageLedger._meta.db_table)
    session = transaction_session(connection)
    projection = dict.fromkeys(LEDGER_FIELDS, 1)
    after = ledgers.find_one_and_update(
        {"user_id": user.pk, **conditions},
        update,
        projection=projection,
        return_document=ReturnDocument.AFTER,
        session=session,
    )
    if after is None:
        current = ledgers.find_one({"user_id": user.pk}, projection=projection, session=session)
        if current is None:
            raise LedgerMissing
        raise QuotaExceeded(
            quota=quota, reserved={field: current.get(field, 0) for field in LEDGER_FIELDS}, amounts=amounts, what=what
        )
    return {field: after.get(field, 0) for field in LEDGER_FIELDS}


def preview(*, user, amounts: dict[str, int]) -> dict[str, Any]:
    """Would ``amounts`` fit the user's quota now? (Nothing is reserved.)"""
    quota = effective_quota(user)
    held = reserved(user=user)
    try:
        if any(
            limit is not None and held[field] + amounts.get(field, 0) > limit and amounts.get(field, 0) > 0
            for field, limit in quota.limits.items()
        ):
            raise QuotaExceeded(quota=quota, reserved=held, amounts=amounts, what="this request")
    except QuotaExceeded as exceeded:
        return {"fits": False, "message": exceeded.message, **exceeded.extra}
    return {"fits": True, "quota_source": quota.source, **usage(user=user)}


def release(*, user_id, amounts: dict[str, int]) -> None:
    """Give ``amounts`` back to the user's ledger (the holder makes sure it does so once: call it
    in the transaction that marks the reservation released)."""
    changes = {field: F(field) - amounts.get(field, 0) for field in LEDGER_FIELDS if amounts.get(field, 0)}
    if changes:
        _transactional(lambda: UsageLedger.objects.filter(user_id=user_id).update(**changes, updated_at=timezone.now()))


def check_still_within(*, user, held: dict[str, int]) -> None:
    """At approval: the user's ledger (which already holds ``held`` for the request being
    approved) must still fit their current quota, which may have shrunk since submission."""
    quota = effective_quota(user)
    reserved = _reserved(ledger_for(user))
    if any(limit is not None and reserved[field] > limit for field, limit in quota.limits.items()):
        others = {field: reserved[field] - held.get(field, 0) for field in LEDGER_FIELDS}
        raise QuotaExceeded(quota=quota, reserved=others, amounts=held, what="this request")


def adjust(*, user, held: dict[str, int] | None, wanted: dict[str, int], what: str) -> dict[str, int]:
    """Move a reservation from ``held`` (None: nothing held any more) to ``wanted``, atomically
    and only if it fits; answer the change. A held reservation keeps its live environment."""
    delta = {field: wanted.get(field, 0) - (held or {}).get(field, 0) for field in LEDGER_FIELDS}
    if held is not None:
        delta["live_environments"] = 0
    reserve(user=user, amounts=delta, what=what)
    return delta


# --- allocating, updating and ending quotas ----------------------------------------------------

QUOTA_FIELDS = (
    "user",
    "role",
    "quota_type",
    "valid_from",
    "valid_until",
    "max_live_environments",
    "usd_budget",
    "machine_hours",
    "disk_gb_hours",
    "note",
)


def check_quota(quota: Quota) -> None:
    """Exactly one holder; TEMPORARY has a window, PERMANENT none; limits are not negative."""
    errors: dict[str, list[str]] = {}
    if (quota.user_id is None) == (quota.role_id is None):
        errors["user"] = ["Give exactly one of user or role."]
    if quota.quota_type == QuotaType.TEMPORARY:
        if quota.valid_from is None:
            errors["valid_from"] = ["Required for a TEMPORARY quota."]
        if quota.valid_until is None:
            errors["valid_until"] = ["Required for a TEMPORARY quota."]
        elif quota.valid_from is not None and quota.valid_until <= quota.valid_from:
            errors["valid_until"] = ["Must be after valid_from."]
    else:
        for name in ("valid_from", "valid_until"):
            if getattr(quota, name) is not None:
                errors[name] = ["Only TEMPORARY quotas have a validity window."]
    for dimension in DIMENSIONS:
        value = getattr(quota, dimension.quota_field)
        if value is not None and value < 0:
            errors[dimension.quota_field] = ["Must not be negative (leave it out for unlimited)."]
    if errors:
        raise ValidationError(errors)


def create_quota(*, actor, **fields) -> Quota:
    quota = Quota(created_by=actor if actor is not None and actor.is_authenticated else None, **fields)
    check_quota(quota)
    quota.save(force_insert=True)
    return quota


def update_quota(*, quota: Quota, **fields) -> Quota:
    """Change limits or the window. Lowering a limit never touches what is already reserved;
    it applies to the next submission, approval or extension."""
    for name, value in fields.items():
        setattr(quota, name, value)
    check_quota(quota)
    quota.save()
    return quota


def end_quota(*, quota: Quota, now: datetime | None = None) -> Quota:
    """End a quota now (kept for the record)."""
    now = now or timezone.now()
    if quota.ended_at is None:
        Quota.objects.filter(pk=quota.pk, ended_at=None).update(ended_at=now, updated_at=now)
        quota.ended_at = now
    return quota


def usage(*, user, now: datetime | None = None) -> dict[str, Any]:
    """Limits, reserved and headroom per dimension for the user's effective quota."""
    quota = effective_quota(user, now=now)
    held = reserved(user=user)
    dimensions = {}
    for dimension in DIMENSIONS:
        limit = quota.limits[dimension.ledger_field]
        used = held[dimension.ledger_field]
        dimensions[dimension.name] = {
            "limit": None if limit is None else _display(dimension, limit),
            "reserved": _display(dimension, used),
            "available": None if limit is None else _display(dimension, max(limit - used, 0)),
        }
    return {"source": quota.source, "quotas": list(quota.quota_ids), "dimensions": dimensions}


NOTHING_CONSUMED = {"usd": "0.00", "machine_hours": "0", "live_requests": "0"}
_consumption: list[Callable[..., dict[str, str]]] = []  # at most one: set_consumption replaces it


def set_consumption(source: Callable[..., dict[str, str]]) -> None:
    """Who prices what a user's reservations have consumed so far: the app that holds them
    (provisioning, from its AppConfig.ready()). ``source(user=...)`` answers usd,
    machine_hours and live_requests as strings."""
    _consumption[:] = [source]


def usage_report(*, user) -> dict[str, Any]:
    """Limits, reserved and available per dimension, plus what the outstanding requests have
    consumed so far (GET /api/v1/quotas/usage/)."""
    consumed = _consumption[0](user=user) if _consumption else dict(NOTHING_CONSUMED)
    return {"user": user.get_username(), **usage(user=user), "consumed_to_date": consumed}
