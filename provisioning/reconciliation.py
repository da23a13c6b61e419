"""Reconcile what exists with what was planned (the reconcile job and ``manage.py reconcile``).

Two checks, provider by provider (every registered plugin that is configured now):

- **Orphans.** ``plugin.inventory()`` lists what exists tagged ``managed-by: cloudassist``. A resource
  whose ``cloudassist-request`` tag names no request that may own resources now (``OWNING``: every
  status but the four closed ones, PURGED, REJECTED, REVOKED and TIMED_OUT; a tag naming no request at
  all, or no tag, counts as closed) is an orphan: an ``Orphan`` row, one per (provider, kind, region,
  name), kept across runs (``first_seen`` is when it was first found orphaned). Once it has been
  orphaned ``ORPHAN_PURGE_AFTER_HOURS`` (0: never automatically) it is removed with
  ``plugin.remove(found)`` and marked PURGED; an orphan no longer listed is marked GONE. The request
  its tag names is read again right before removing: nothing tagged for a request that may own
  resources is ever removed. A PURGED orphan still listed an hour after its removal (a removal that
  did not finish) is removed again.
- **Drift.** Every DEPLOYED request is asked ``plugin.missing(target)`` (its stored plan). When
  something is missing the request's ``drift`` becomes ``{"missing": [...], "found_at": iso}`` (a
  compare-and-set on its status and its previous drift), an audit event ``drift`` is recorded and the
  requester and DevOps are told, in one transaction; the same missing list again changes nothing
  and tells nobody again. When nothing is missing any more the drift is cleared (event
  ``drift_cleared``).

A plugin that raises (ProviderError, an unreachable cloud) is logged and counted under ``errors``;
the other plugins carry on, and an inventory that failed marks nothing GONE.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bson import ObjectId
from bson.errors import InvalidId
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError
from django.utils import timezone

import providers
from cloudassist.db import run_atomic
from cloudassist.selectors import attach_related
from providers.base import Found, Provider
from provisioning import announcements, transitions
from provisioning.choices import RequestStatus
from provisioning.models import Orphan, OrphanState, ProvisionRequest
from provisioning.provisioner import target_for

logger = logging.getLogger(__name__)

SWEEP_BATCH = 500
# Requests in these statuses may own resources now (or are about to, or are deleting them): what
# carries their tag is never an orphan. REQUESTED is included although nothing is created before the
# approval: a request is approved and provisioned between two looks, never removed by mistake.
CLOSED = frozenset({RequestStatus.PURGED, RequestStatus.REJECTED, RequestStatus.REVOKED, RequestStatus.TIMED_OUT})
OWNING = frozenset(RequestStatus) - CLOSED
# A PURGED orphan still listed this long after its removal is removed again (the removal did not finish).
REMOVE_AGAIN_AFTER = timedelta(hours=1)


@dataclass(frozen=True)
class Removal:
    """What ``purge_orphan`` did: ``removed``, or why not (``refused`` / ``failed``)."""

    orphan: Orphan
    removed: bool
    reason: str = ""


def _plugins(only: Iterable[str] | None) -> list[Provider]:
    names = providers.names() if only is None else list(only)
    found = []
    for name in names:
        reason = providers.unavailable_reason(name)
        if reason:
            logger.info("reconcile: %s skipped: %s", name, reason)
            continue
        found.append(providers.get(name))
    return found


def _object_id(value: str | None) -> ObjectId | None:
    try:
        return ObjectId(value) if value else None
    except (InvalidId, TypeError):
        return None


def _owning_ids(tags: Iterable[str | None]) -> set[str]:
    """The tags, among ``tags``, that name a request which may own resources now (one query)."""
    ids = {oid for oid in (_object_id(tag) for tag in tags) if oid is not None}
    if not ids:
        return set()
    owning = ProvisionRequest.objects.filter(pk__in=list(ids), status__in=list(OWNING)).values_list("pk", flat=True)
    return {str(pk) for pk in owning}


def _is_owned(tag: str | None) -> bool:
    return bool(tag) and bool(_owning_ids([tag]))


def found_of(orphan: Orphan) -> Found:
    """The orphan as its plugin's inventory listed it, for ``remove``."""
    return Found(
        kind=orphan.kind,
        name=orphan.name,
        request_id=orphan.request_tag or None,
        region=orphan.region,
        created_at=orphan.created_at,
        usd_per_hour=orphan.usd_per_hour,
        detail=dict(orphan.detail or {}),
    )


def _record(provider: str, found: Found, now: datetime) -> Orphan:
    """Insert or refresh the orphan's row; ``first_seen`` is kept while it stays orphaned (a GONE one
    listed again is a new resource under the same name: found anew)."""
    key = {"provider": provider, "kind": found.kind, "region": found.region or "", "name": found.name}
    seen = {
        "request_tag": found.request_id or "",
        "created_at": found.created_at,
        "usd_per_hour": found.usd_per_hour,
        "detail": dict(found.detail or {}),
        "last_seen": now,
    }
    Orphan.objects.filter(**key, state__in=[OrphanState.FOUND, OrphanState.PURGED]).update(**seen)
    Orphan.objects.filter(**key, state=OrphanState.GONE).update(
        **seen, state=OrphanState.FOUND, first_seen=now, purged_at=None, purged_by="", last_error=""
    )
    try:
        return Orphan.objects.get_or_create(**key, defaults={**seen, "first_seen": now})[0]
    except IntegrityError:  # a concurrent run inserted it first
        return Orphan.objects.get(**key)


def _due(orphan: Orphan, now: datetime) -> bool:
    hours = settings.ORPHAN_PURGE_AFTER_HOURS
    if not hours or hours <= 0:
        return False
    if orphan.state == OrphanState.FOUND:
        return orphan.first_seen <= now - timedelta(hours=hours)
    if orphan.state == OrphanState.PURGED:
        return orphan.purged_at is not None and orphan.purged_at <= now - REMOVE_AGAIN_AFTER
    return False


def purge_orphan(orphan: Orphan, *, actor=None, now: datetime | None = None) -> Removal:
    """Remove one orphan with its plugin, now: claim it (FOUND, or PURGED and still there, -> PURGED,
    a compare-and-set so that two runs never both remove it), check once more that no request that
    may own resources carries its tag, remove it, and log the removal (and record it on the request
    its tag names, if there is one). A refused or failed removal leaves it FOUND, saying why."""
    now = now or timezone.now()
    who = actor.get_username() if actor is not None else transitions.SYSTEM
    if orphan.state == OrphanState.GONE:
        return Removal(orphan, False, "it no longer exists")
    if _is_owned(orphan.request_tag):
        Orphan.objects.filter(pk=orphan.pk).update(state=OrphanState.GONE, last_error="")
        return Removal(orphan, False, f"request {orphan.request_tag} owns it now: not an orphan")
    claimed = Orphan.objects.filter(pk=orphan.pk, state=orphan.state, purged_at=orphan.purged_at).update(
        state=OrphanState.PURGED, purged_at=now, purged_by=who, last_error=""
    )
    if not claimed:
        return Removal(orphan, False, "someone else is removing it")
    try:
        plugin = providers.get(orphan.provider)
        steps = plugin.remove(found_of(orphan))
    except Exception as exc:  # a plugin's error (or an unreachable cloud) is the orphan's, not the run's
        reason = str(exc) or type(exc).__name__
        Orphan.objects.filter(pk=orphan.pk).update(
            state=OrphanState.FOUND, purged_at=None, purged_by="", last_error=reason
        )
        logger.warning("reconcile: removing orphan %s failed: %s", orphan, reason, exc_info=True)
        return Removal(orphan, False, reason)
    orphan.refresh_from_db()
    logger.warning(
        "reconcile: orphan removed by %s: %s %s (region %s, tag %s, orphaned since %s, $%s/h): %s",
        who,
        orphan.kind,
        orphan.name,
        orphan.region or "-",
        orphan.request_tag or "-",
        orphan.first_seen.isoformat(),
        orphan.usd_per_hour if orphan.usd_per_hour is not None else "?",
        "; ".join(step.detail for step in steps) or "nothing left to delete",
    )
    request = ProvisionRequest.objects.filter(pk=_object_id(orphan.request_tag)).first() if orphan.request_tag else None
    if request is not None:
        transitions.record_same_status(
            subject=request,
            actor=actor,
            action="orphan_removed",
            note=f"Removed {orphan.kind} {orphan.name}, left over after the request closed.",
            data={"provider": orphan.provider, "kind": orphan.kind, "name": orphan.name, "region": orphan.region},
        )
    return Removal(orphan, True)


def _orphans(plugin: Provider, now: datetime, counts: dict[str, int]) -> None:
    try:
        inventory = plugin.inventory()
    except Exception:
        counts["errors"] += 1
        logger.exception("reconcile: %s inventory failed; its orphans are left as they are", plugin.name)
        return
    counts["inventoried"] += len(inventory)
    owning = _owning_ids(found.request_id for found in inventory)
    seen: set = set()
    for found in inventory:
        if found.request_id and found.request_id in owning:
            continue
        existed = Orphan.objects.filter(
            provider=plugin.name, kind=found.kind, region=found.region or "", name=found.name, state=OrphanState.FOUND
        ).exists()
        orphan = _record(plugin.name, found, now)
        seen.add(orphan.pk)
        counts["orphans"] += 1
        counts["new_orphans"] += 0 if existed else 1
        if _due(orphan, now):
            removal = purge_orphan(orphan, now=now)
            counts["purged" if removal.removed else "remove_failed"] += 1
    listed = Orphan.objects.filter(provider=plugin.name, state__in=[OrphanState.FOUND, OrphanState.PURGED])
    gone = [pk for pk in listed.values_list("pk", flat=True) if pk not in seen]
    if gone:
        counts["gone"] += Orphan.objects.filter(pk__in=gone, state__in=[OrphanState.FOUND, OrphanState.PURGED]).update(
            state=OrphanState.GONE
        )


def _set_drift(request: ProvisionRequest, drift: dict[str, Any] | None) -> bool:
    """Compare-and-set the request's drift (status DEPLOYED and the drift as read), with its audit
    event and, when resources went missing, the notifications; False when the request moved on."""
    seen = {"drift__isnull": True} if request.drift is None else {"drift": request.drift}

    def unit() -> bool:
        if not ProvisionRequest.objects.filter(pk=request.pk, status=RequestStatus.DEPLOYED, **seen).update(
            drift=drift
        ):
            return False
        if drift is None:
            transitions.record_same_status(
                subject=request, actor=None, action="drift_cleared", note="Every planned resource exists again."
            )
        else:
            transitions.record_same_status(
                subject=request,
                actor=None,
                action="drift",
                note="Missing: " + "; ".join(drift["missing"]),
                data=drift,
            )
            announcements.drifted(request, missing=drift["missing"])
        return True

    changed = run_atomic(unit)
    if changed:
        request.drift = drift
    return changed


def _drift(plugins: dict[str, Provider], now: datetime, counts: dict[str, int]) -> None:
    failed: set[str] = set()
    last = None
    while True:
        page = ProvisionRequest.objects.filter(status=RequestStatus.DEPLOYED)
        if last is not None:
            page = page.filter(pk__gt=last)
        batch = list(page.order_by("pk")[:SWEEP_BATCH])
        if not batch:
            return
        last = batch[-1].pk
        for request in attach_related(batch, "requested_by"):
            _check_drift(request, plugins, failed, now, counts)


def _check_drift(request, plugins: dict[str, Provider], failed: set[str], now: datetime, counts) -> None:
    try:
        target = target_for(request)
    except (ValidationError, KeyError, TypeError) as exc:
        logger.warning("reconcile: the plan of %s cannot be read: %s", request.pk, exc)
        return
    plugin = plugins.get(target.plan.provider)
    if plugin is None or plugin.name in failed:
        return
    try:
        missing = sorted(str(item) for item in plugin.missing(target))
    except Exception:
        failed.add(plugin.name)  # unreachable, most likely: not asked again this run
        counts["errors"] += 1
        logger.exception("reconcile: %s could not tell what %s is missing", plugin.name, request.pk)
        return
    counts["checked"] += 1
    if missing:
        if (request.drift or {}).get("missing") == missing:
            counts["drifted"] += 1
            return  # nothing changed: nobody is told again
        if _set_drift(request, {"missing": missing, "found_at": now.isoformat()}):
            counts["drifted"] += 1
            counts["newly_drifted"] += 1
    elif request.drift is not None and _set_drift(request, None):
        counts["drift_cleared"] += 1


def reconcile_resources(*, now: datetime | None = None, only: Iterable[str] | None = None) -> dict[str, int]:
    """Find orphans (and remove those orphaned long enough) and mark drifted requests, for every
    configured plugin (or the ``only`` ones). Returns the counts; safe to run twice and concurrently."""
    now = now or timezone.now()
    counts = dict.fromkeys(
        (
            "inventoried",
            "orphans",
            "new_orphans",
            "purged",
            "remove_failed",
            "gone",
            "checked",
            "drifted",
            "newly_drifted",
            "drift_cleared",
            "errors",
        ),
        0,
    )
    plugins = _plugins(only)
    for plugin in plugins:
        _orphans(plugin, now, counts)
    _drift({plugin.name: plugin for plugin in plugins}, now, counts)
    return counts


def current_orphans(*, only: Iterable[str] | None = None) -> list[Orphan]:
    """The orphans found and not removed yet (of the ``only`` providers), oldest first."""
    found = Orphan.objects.filter(state=OrphanState.FOUND)
    if only is not None:
        found = found.filter(provider__in=list(only))
    return list(found.order_by("first_seen", "pk"))


def drifted_requests() -> list[ProvisionRequest]:
    """DEPLOYED requests whose resources are missing, as the last run found them."""
    return list(ProvisionRequest.objects.filter(status=RequestStatus.DEPLOYED, drift__isnull=False).order_by("pk"))


def age(since: datetime | None, now: datetime) -> str:
    """``3d 4h``, ``5h 12m``, ``7m``: how long ago ``since`` was."""
    if since is None:
        return "-"
    minutes = max(int((now - since).total_seconds() // 60), 0)
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    if days:
        return f"{days}d {hours}h"
    return f"{hours}h {minutes}m" if hours else f"{minutes}m"
