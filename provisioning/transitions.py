"""Every allowed status move, who may make it, and the one helper that makes it.

A move is a compare-and-set on the subject's status (``filter(pk, status=seen).update``)
plus its audit Event, written together in one MongoDB transaction; work that must follow
the move (enqueueing a job) runs only after that transaction has committed. A move from a
status the table does not allow is a 409 naming the current status.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import DatabaseError
from django.utils import timezone
from django_mongodb_backend.transaction import on_commit

from cloudassist import exceptions, roles
from cloudassist.db import is_transient, is_unavailable, run_atomic
from cloudassist.exceptions import Conflict
from provisioning.choices import LIVE, ExtensionStatus, RequestStatus
from provisioning.models import Event, ExtensionRequest, ProvisionRequest
from provisioning.policies import Policy

SYSTEM = "system"


class Who(enum.Enum):
    REQUESTER = "the requester"
    REVIEWER = "DevOps or admins (never on their own request)"
    SYSTEM = "the system (workers and sweeps)"
    RETRYING_REQUESTER = "the requester, if the template lets them retry (requester_can_retry)"


@dataclass(frozen=True)
class Move:
    action: str
    sources: frozenset[str]
    target: str
    by: frozenset[Who]


def _table(*moves: Move) -> dict[str, Move]:
    return {move.action: move for move in moves}


R, E = RequestStatus, ExtensionStatus
REQUESTER, REVIEWER, BY_SYSTEM = Who.REQUESTER, Who.REVIEWER, Who.SYSTEM
RETRYING_REQUESTER = Who.RETRYING_REQUESTER

# Creating a row is not a compare-and-set, but it is a move from nothing and is audited too.
SUBMIT = Move("submit", frozenset(), R.REQUESTED, frozenset({REQUESTER}))
REQUEST_EXTENSION = Move("submit", frozenset(), E.REQUESTED, frozenset({REQUESTER}))

REQUEST_MOVES: dict[str, Move] = _table(
    Move("approve", frozenset({R.REQUESTED}), R.APPROVED, frozenset({REVIEWER, BY_SYSTEM})),
    Move("reject", frozenset({R.REQUESTED}), R.REJECTED, frozenset({REVIEWER})),
    Move("revoke", frozenset({R.REQUESTED, R.APPROVED}), R.REVOKED, frozenset({REQUESTER})),
    # Policies (provisioning/policies.py): not reviewed in time; DevOps extend during the purge grace.
    Move("time_out", frozenset({R.REQUESTED}), R.TIMED_OUT, frozenset({BY_SYSTEM})),
    Move("extend_expired", frozenset({R.EXPIRED}), R.DEPLOYED, frozenset({REVIEWER})),
    Move("start_provisioning", frozenset({R.APPROVED}), R.INITIATED, frozenset({BY_SYSTEM})),
    Move("mark_deployed", frozenset({R.INITIATED}), R.DEPLOYED, frozenset({BY_SYSTEM})),
    Move("mark_failed", frozenset({R.INITIATED}), R.FAILED, frozenset({BY_SYSTEM})),
    Move("expire", LIVE, R.EXPIRED, frozenset({BY_SYSTEM})),
    Move(
        "start_purge",
        frozenset({R.DEPLOYED, R.FAILED, R.EXPIRED, R.PURGE_FAILED}),
        R.PURGE_INITIATED,
        frozenset({REQUESTER, REVIEWER, BY_SYSTEM}),  # the requester may end their environment early
    ),
    Move("mark_purged", frozenset({R.PURGE_INITIATED}), R.PURGED, frozenset({BY_SYSTEM})),
    Move("mark_purge_failed", frozenset({R.PURGE_INITIATED}), R.PURGE_FAILED, frozenset({BY_SYSTEM})),
    # No dead ends: a failed provisioning is retried (the provider carries on where it stopped),
    # a failed purge is retried (start_purge above) or, once cleaned up by hand, closed with a note.
    Move("retry", frozenset({R.FAILED}), R.APPROVED, frozenset({REVIEWER, RETRYING_REQUESTER})),
    Move("mark_cleaned_up", frozenset({R.PURGE_FAILED}), R.PURGED, frozenset({REVIEWER})),
)

EXTENSION_MOVES: dict[str, Move] = _table(
    Move("approve", frozenset({E.REQUESTED}), E.APPROVED, frozenset({REVIEWER})),
    Move("reject", frozenset({E.REQUESTED}), E.REJECTED, frozenset({REVIEWER})),
    Move("revoke", frozenset({E.REQUESTED}), E.REVOKED, frozenset({REQUESTER})),
)

NOUNS = {ProvisionRequest: "provision request", ExtensionRequest: "extension request"}


class InvalidTransition(exceptions.InvalidTransition):
    """The move is not allowed from the subject's current status (which the error names)."""

    def __init__(self, *, subject, action: str, current: str):
        noun = NOUNS[type(subject)]
        super().__init__(f"Cannot {action.replace('_', ' ')} this {noun}: it is {current}.", current_status=current)


def moves_for(subject) -> dict[str, Move]:
    return EXTENSION_MOVES if isinstance(subject, ExtensionRequest) else REQUEST_MOVES


def allowed_actions(subject) -> list[str]:
    """The moves the table allows from the subject's current status (ignoring who)."""
    return [action for action, move in moves_for(subject).items() if subject.status in move.sources]


def requester_may_retry(subject) -> bool:
    """The template's ``requester_can_retry``, as it was at submission (its policy), else as it is."""
    return isinstance(subject, ProvisionRequest) and Policy.of_request(subject).requester_can_retry


def authorize(move: Move, *, actor, owner_id, noun: str, subject=None) -> None:
    """Raise PermissionDenied unless ``actor`` (None = the system) may make ``move`` (on ``subject``,
    which the moves that depend on its template's policy need)."""
    if actor is None:
        if BY_SYSTEM in move.by:
            return
        raise PermissionDenied(f"Only a person may {move.action} a {noun}.")
    if REQUESTER in move.by and actor.pk == owner_id:
        return
    if RETRYING_REQUESTER in move.by and actor.pk == owner_id and subject is not None and requester_may_retry(subject):
        return
    if REVIEWER in move.by and roles.is_reviewer(actor):
        if actor.pk == owner_id:
            raise PermissionDenied(f"Nobody reviews their own {noun}; another DevOps engineer or admin must.")
        return
    who = " or ".join(sorted(w.value for w in move.by if w is not BY_SYSTEM)) or "the system"
    raise PermissionDenied(f"Only {who} may {move.action} this {noun}.")


def permitted_actions(subject, *, user) -> list[str]:
    """The moves ``user`` may make on ``subject`` right now: allowed from its status (the table)
    and by who they are (``authorize``). The API's ``actions`` field and the portal's buttons."""
    if user is None or not user.is_authenticated:
        return []
    moves = moves_for(subject)
    permitted = []
    for action in allowed_actions(subject):
        try:
            authorize(
                moves[action], actor=user, owner_id=subject.requested_by_id, noun=NOUNS[type(subject)], subject=subject
            )
        except PermissionDenied:
            continue
        permitted.append(action)
    return permitted


def record(*, subject, actor, action: str, from_status: str = "", to_status: str = "", note: str = "", data=None):
    """Write one audit Event about ``subject`` (a provision or extension request)."""
    if isinstance(subject, ExtensionRequest):
        request_id, extension_id = subject.provision_request_id, subject.pk
    else:
        request_id, extension_id = subject.pk, None
    return Event.objects.create(
        provision_request_id=request_id,
        extension_request_id=extension_id,
        actor=actor,
        actor_name=actor.get_username() if actor is not None else SYSTEM,
        action=action,
        from_status=from_status,
        to_status=to_status,
        note=note,
        data=data or {},
    )


def record_same_status(*, subject, actor, action: str, status: str | None = None, note: str = "", data=None) -> Event:
    """Write an audit Event that moves nothing (an edit, a download, a provider step): from and
    to are ``status``, by default the subject's current one."""
    status = status or subject.status
    return record(
        subject=subject, actor=actor, action=action, from_status=status, to_status=status, note=note, data=data
    )


def transition(
    subject,
    action: str,
    *,
    actor,
    note: str = "",
    data: dict[str, Any] | None = None,
    fields: dict[str, Any] | None = None,
    also: Callable[[datetime], None] | None = None,
    after_commit: Callable[[], None] | None = None,
):
    """Make the move ``action`` on ``subject`` for ``actor`` (None = the system); return the subject.

    ``fields`` are written together with the status; ``also(now)`` runs inside the same
    transaction after the compare-and-set and its Event (raising there undoes everything);
    ``after_commit`` runs once the transaction has committed. Raises PermissionDenied
    (403) or InvalidTransition (409 with the current status).
    """
    move = moves_for(subject)[action]
    model = type(subject)
    owner_id = subject.requested_by_id
    authorize(move, actor=actor, owner_id=owner_id, noun=NOUNS[model], subject=subject)
    seen = subject.status

    def unit() -> int:
        now = timezone.now()
        updates = {"status": move.target, "updated_at": now, **(fields or {})}
        if model.objects.filter(pk=subject.pk, status=seen).update(**updates) != 1:
            return 0
        record(
            subject=subject, actor=actor, action=action, from_status=seen, to_status=move.target, note=note, data=data
        )
        # The move's own follow-up first: on-commit callbacks run in order, and the notifications
        # ``also`` may register would otherwise put their delivery jobs ahead of (say) provisioning.
        if after_commit is not None:
            on_commit(after_commit, robust=True)
        if also is not None:
            also(now)
        for name, value in updates.items():
            setattr(subject, name, value)
        return 1

    for _ in range(len(move.sources) + 2):
        if seen not in move.sources:
            break
        try:
            if run_atomic(unit):
                return subject
        except DatabaseError as exc:
            if not is_transient(exc) or is_unavailable(exc):  # an election that outlasted the retries: 503
                raise
            raise Conflict(f"The {NOUNS[model]} is being changed by someone else; try again.") from exc
        # Someone else moved it first: look again, and try again only if the move is still allowed.
        seen = model.objects.filter(pk=subject.pk).values_list("status", flat=True).first() or seen
        subject.status = seen
    raise InvalidTransition(subject=subject, action=action, current=seen)
