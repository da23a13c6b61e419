"""The approval and lifecycle policy of a request: one place that answers, from the template as
it was at submission, how long a request may wait for review, how long its lease may last in
all, how long an expired environment is kept before it is purged, and how many approvals it
needs (and whether the system may give the one approval itself).

A request carries its policy in ``template_snapshot["policy"]`` (taken at submission, so a later
change to the template does not change the rules of requests already made); requests made before
policies existed fall back to their template's current values. The services ask this module and
raise its answers as domain errors; nothing here writes.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError

from cloudassist.exceptions import Conflict
from provisioning.choices import RequestType

SNAPSHOT_KEY = "policy"
HOUR = timedelta(hours=1)


@dataclass(frozen=True)
class Policy:
    review_timeout_hours: int = 72
    max_lifetime_hours: int = 168
    max_total_lifetime_hours: int | None = None
    purge_grace_hours: int = 0
    required_approvals: int = 1
    required_approvals_above_usd: Decimal | None = None
    auto_approve: bool = False
    auto_approve_max_usd: Decimal | None = None
    requester_can_retry: bool = False

    # --- where a policy comes from ------------------------------------------------------------

    @classmethod
    def of_template(cls, template) -> Policy:
        return cls(**{field.name: getattr(template, field.name) for field in fields(cls)})

    @classmethod
    def of_request(cls, request) -> Policy:
        """The policy the request was submitted under (its snapshot), else its template's now."""
        if "snapshot_policy" in request.__dict__:  # a list page's row (selectors.request_list_for)
            stored = request.snapshot_policy
        else:
            stored = (request.template_snapshot or {}).get(SNAPSHOT_KEY)
        if not isinstance(stored, dict):
            return cls.of_template(request.template)
        known = {field.name for field in fields(cls)}
        values: dict[str, Any] = {name: value for name, value in stored.items() if name in known}
        for name in ("required_approvals_above_usd", "auto_approve_max_usd"):
            if values.get(name) is not None:
                values[name] = Decimal(str(values[name]))
        return cls(**values)

    def as_snapshot(self) -> dict[str, Any]:
        """JSON for ``template_snapshot["policy"]`` (amounts as strings, exact)."""
        return {name: (str(value) if isinstance(value, Decimal) else value) for name, value in asdict(self).items()}

    # --- review deadline ----------------------------------------------------------------------

    def review_deadline(self, *, created_at: datetime, expires_at: datetime | None) -> datetime:
        """A request still REQUESTED times out at the earlier of its review window's end and its expiry."""
        deadline = created_at + timedelta(hours=self.review_timeout_hours)
        return min(deadline, expires_at) if expires_at is not None else deadline

    def timeout_reason(self, *, created_at: datetime, expires_at: datetime | None, now: datetime) -> str | None:
        """Why a REQUESTED request must time out now, or None while it may still be reviewed."""
        if expires_at is not None and expires_at <= now:
            return f"Not reviewed before its expiry ({expires_at:%Y-%m-%d %H:%M} UTC)."
        if created_at + timedelta(hours=self.review_timeout_hours) <= now:
            return (
                f"Not reviewed within the template's review window of {self.review_timeout_hours} hours "
                "(review_timeout_hours)."
            )
        return None

    # --- lease cap ----------------------------------------------------------------------------

    @property
    def lease_cap_hours(self) -> int:
        """The longest whole lease, submission to expiry, extensions included."""
        return self.max_total_lifetime_hours or self.max_lifetime_hours

    @property
    def lease_cap_field(self) -> str:
        return "max_total_lifetime_hours" if self.max_total_lifetime_hours else "max_lifetime_hours"

    def lease_ends_by(self, created_at: datetime) -> datetime:
        return created_at + timedelta(hours=self.lease_cap_hours)

    def largest_extension_hours(self, *, created_at: datetime, expires_at: datetime) -> int:
        """The most whole hours ``expires_at`` may still move without passing the cap (>= 0)."""
        return max(math.floor((self.lease_ends_by(created_at) - expires_at) / HOUR), 0)

    # --- grace before purge -------------------------------------------------------------------

    def purge_after(self, *, expired_at: datetime) -> datetime:
        return expired_at + timedelta(hours=self.purge_grace_hours)

    # --- approvals ----------------------------------------------------------------------------

    def approvals_needed(self, *, usd: Decimal) -> int:
        """How many different reviewers must approve a request estimated at ``usd``."""
        threshold = self.required_approvals_above_usd
        if threshold is not None and usd <= threshold:
            return 1
        return max(self.required_approvals, 1)

    def auto_approval_refusals(self, *, usd: Decimal, request_type: str, required_approvals: int) -> list[str]:
        """Why the system may not give the approval itself (empty: it may). The system's approval
        is the policy's rule for cheap requests, and counts as the one approval only."""
        reasons = []
        if not self.auto_approve or self.auto_approve_max_usd is None:
            reasons.append("the template's policy is manual review")
        elif request_type == RequestType.PERMANENT:
            reasons.append("permanent requests are always reviewed")
        elif usd > self.auto_approve_max_usd:
            reasons.append(f"the estimate ${usd:.2f} is above the template's threshold ${self.auto_approve_max_usd}")
        if required_approvals > 1:
            reasons.append(f"the policy needs {required_approvals} approvals from different reviewers")
        return reasons


def estimate_usd(request) -> Decimal:
    return Decimal(str((request.cost_estimate or {}).get("usd_exact") or "0"))


def min_useful_lifetime() -> timedelta:
    return timedelta(minutes=settings.MIN_USEFUL_LIFETIME_MINUTES)


def check_approvable(request, *, now: datetime) -> None:
    """Refuse (409) approving a request that has waited past its review window, or that would have
    less than MIN_USEFUL_LIFETIME_MINUTES left: it would be provisioned only to be purged."""
    policy = Policy.of_request(request)
    reason = policy.timeout_reason(created_at=request.created_at, expires_at=None, now=now)
    if reason:
        raise Conflict(
            f"Too late to approve: {reason[0].lower()}{reason[1:]} It times out.",
            code="review_window_passed",
            review_timeout_hours=policy.review_timeout_hours,
        )
    if request.expires_at is None:
        return
    left = request.expires_at - now
    if left < min_useful_lifetime():
        minutes = max(math.floor(left.total_seconds() / 60), 0)
        raise Conflict(
            f"Too late to approve: only {minutes} minutes would be left before it expires, less than the "
            f"minimum useful lifetime of {settings.MIN_USEFUL_LIFETIME_MINUTES} minutes "
            "(MIN_USEFUL_LIFETIME_MINUTES). The requester may ask again with a later expiry.",
            code="too_little_lifetime_left",
            min_useful_lifetime_minutes=settings.MIN_USEFUL_LIFETIME_MINUTES,
            minutes_left=minutes,
        )


def check_extension(
    request, *, extend_by_hours: int, start: datetime | None = None, field: str = "extend_by_hours"
) -> None:
    """Refuse (400 naming ``field``) an extension that would take the lease past its cap: the
    new expiry is ``start`` (default: the current expires_at) + ``extend_by_hours``."""
    start = start or request.expires_at
    if start is None:
        return
    policy = Policy.of_request(request)
    largest = policy.largest_extension_hours(created_at=request.created_at, expires_at=start)
    if extend_by_hours > largest:
        allowed = f"at most {largest} hour{'' if largest == 1 else 's'}" if largest else "no extension is possible"
        raise ValidationError(
            {
                field: [
                    f"Would take the lease past the template's cap of {policy.lease_cap_hours} hours from "
                    f"submission ({policy.lease_cap_field}): {allowed} "
                    f"(the lease ends by {policy.lease_ends_by(request.created_at):%Y-%m-%d %H:%M} UTC)."
                ]
            }
        )
