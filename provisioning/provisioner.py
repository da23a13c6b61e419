"""The workers' use cases: analyse, provision, purge, and the sweeps that expire environments
and reconcile anything a crash or an outage left half-way. The jobs in provisioning/jobs.py
only call these. Every status change goes through provisioning.services (compare-and-set +
audit event); each function re-reads the row and does nothing when it has moved on, so every
job is safe to run twice.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone

import providers
from cloudassist.db import run_atomic
from cloudassist.exceptions import Conflict
from cloudassist.selectors import attach_related
from providers.base import Outcome, ProviderError, State, Target, TransientProviderError
from provisioning import announcements, metrics, plans, policies, services, transitions
from provisioning.choices import LIVE, RequestStatus
from provisioning.models import Event, ProvisionRequest
from provisioning.services import reservations
from quotas.services import QuotaExceeded

logger = logging.getLogger(__name__)

SWEEP_BATCH = 500


def _load(request_id) -> ProvisionRequest | None:
    found = ProvisionRequest.objects.filter(pk=request_id).first()
    return attach_related([found], "requested_by", "template")[0] if found is not None else None


def target_for(request: ProvisionRequest) -> Target:
    """The request's stored plan, for its plugin to apply."""
    return Target(
        request_id=str(request.pk),
        owner=request.requested_by.get_username(),
        plan=plans.plan_of(request),
        expires_at=request.expires_at,
    )


def _prepare(request: ProvisionRequest):
    """The plugin and its target; a plan that cannot be made (an old snapshot) is a permanent failure."""
    try:
        target = target_for(request)
        return providers.get(target.plan.provider), target
    except ValidationError as exc:
        raise ProviderError(" ".join(exc.messages)) from exc


def _record_steps(request: ProvisionRequest, outcome: Outcome) -> None:
    for step in outcome.steps:
        transitions.record_same_status(
            subject=request,
            actor=None,
            action="provider_step",
            note=step.detail,
            data={"step": step.action, **step.data},
        )


# --- analyse ----------------------------------------------------------------------------------


def analyse(request_id) -> str:
    """Record the analysis and auto-approve when the template's policy allows it (default: never)."""
    request = _load(request_id)
    if request is None or request.status != RequestStatus.REQUESTED:
        return f"skipped: {getattr(request, 'status', 'missing')}"
    usd = policies.estimate_usd(request)
    reasons = policies.Policy.of_request(request).auto_approval_refusals(
        usd=usd, request_type=request.request_type, required_approvals=request.required_approvals
    )
    if not reasons:
        try:
            reservations.check_still_within(request=request)
        except QuotaExceeded as exc:
            reasons.append(exc.message)
    if reasons:
        _needs_review(request, "; ".join(reasons))
        return "needs review"
    try:
        services.approve_request(actor=None, request=request, note=f"Auto-approved: ${usd:.2f} within policy.")
    except transitions.InvalidTransition:
        return "skipped: reviewed meanwhile"
    except Conflict as exc:  # e.g. too little lifetime left: a person decides (or it times out)
        _needs_review(request, exc.message)
        return "needs review"
    return "auto-approved"


def _needs_review(request: ProvisionRequest, reasons: str) -> None:
    """Record why the request needs a reviewer and tell DevOps, once: the remark and the
    notification are written together, and a second run of the job (or a concurrent one,
    whose write conflicts and is retried) finds the remark and pages nobody again."""
    remark = {"level": "info", "code": "manual_review", "message": f"Needs review: {reasons}."}

    def unit() -> None:
        current = ProvisionRequest.objects.filter(pk=request.pk).values_list("analysis_remarks", flat=True).first()
        kept = [r for r in current or [] if r.get("code") != "manual_review"]
        first_time = len(kept) == len(current or [])
        if (
            ProvisionRequest.objects.filter(pk=request.pk, status=RequestStatus.REQUESTED).update(
                analysis_remarks=[*kept, remark]
            )
            and first_time
        ):
            announcements.review_request(request)

    run_atomic(unit)


# --- provision --------------------------------------------------------------------------------


def provision(request_id) -> str:
    """APPROVED -> INITIATED -> DEPLOYED or FAILED. Transient provider errors propagate so that
    rq retries the job with backoff; the provider carries on from where it is."""
    return _drive(
        request_id,
        sources=(RequestStatus.APPROVED,),
        start=lambda request: services.start_provisioning(request=request),
        working=RequestStatus.INITIATED,
        operation="create",
        until=State.READY,
        finish=lambda request, outcome: services.mark_deployed(
            request=request, outputs=outcome.outputs, secret=outcome.secret, secret_kind=outcome.secret_kind
        ),
        fail=lambda request, note: services.mark_failed(request=request, note=note),
        done="deployed",
        failed="failed",
    )


# --- purge ------------------------------------------------------------------------------------

PURGEABLE = (RequestStatus.DEPLOYED, RequestStatus.FAILED, RequestStatus.EXPIRED, RequestStatus.PURGE_FAILED)


def purge(request_id) -> str:
    """-> PURGE_INITIATED -> PURGED or PURGE_FAILED. Deleting what is already gone succeeds."""
    return _drive(
        request_id,
        sources=PURGEABLE,
        start=lambda request: services.start_purge(actor=None, request=request),
        working=RequestStatus.PURGE_INITIATED,
        operation="delete",
        until=State.ABSENT,
        finish=lambda request, outcome: services.mark_purged(request=request),
        fail=lambda request, note: services.mark_purge_failed(request=request, note=note),
        done="purged",
        failed="purge failed",
    )


def _drive(request_id, *, sources, start, working, operation, until, finish, fail, done, failed) -> str:
    """One provider operation for a job: move into the working status (unless a previous run
    already did), call the provider, record its steps, and finish or fail. A transient error,
    or a resource not yet in the wanted state, raises for rq to retry; re-running is safe."""
    request = _load(request_id)
    if request is None:
        return "skipped: missing"
    if request.status in sources:
        try:
            start(request)
        except transitions.InvalidTransition:
            return f"skipped: {request.status}"
    elif request.status != working:
        return f"skipped: {request.status}"
    try:
        provider, target = _prepare(request)
        with metrics.provider_call(operation=operation, provider=provider.name):
            outcome = getattr(provider, operation)(target)
    except TransientProviderError:
        logger.warning("%s(%s): transient provider error; rq retries", operation, request_id, exc_info=True)
        raise
    except ProviderError as exc:
        fail(request, str(exc) or type(exc).__name__)
        return failed
    _record_steps(request, outcome)
    if outcome.state != until:
        raise TransientProviderError(f"{provider.name} is {outcome.state}, not {until} yet")
    try:
        finish(request, outcome)
    except transitions.InvalidTransition:
        return f"skipped: {request.status}"
    logger.info("%s(%s): %s by %s", operation, request_id, done, provider.name)
    return done


# --- sweeps -----------------------------------------------------------------------------------


def expire_due(*, now: datetime | None = None) -> int:
    """Every live environment past its expires_at becomes EXPIRED and is purged.

    Uses the (status, expires_at) index: the cost follows the number of live requests that are
    due, not the number of finished ones.
    """
    now = now or timezone.now()
    due = ProvisionRequest.objects.filter(status__in=LIVE, expires_at__lte=now).order_by("expires_at")
    expired = 0
    for request in attach_related(due[:SWEEP_BATCH], "requested_by"):
        try:
            services.expire(request=request)
            expired += 1
        except transitions.InvalidTransition:
            continue
    return expired


def time_out_due(*, now: datetime | None = None) -> int:
    """Every REQUESTED request past its review deadline (its review window or its expiry, see
    provisioning/policies.py) becomes TIMED_OUT, on the (status, review_deadline) index."""
    now = now or timezone.now()
    due = ProvisionRequest.objects.filter(status=RequestStatus.REQUESTED, review_deadline__lte=now)
    timed_out = 0
    for request in attach_related(due.order_by("review_deadline")[:SWEEP_BATCH], "requested_by", "template"):
        reason = policies.Policy.of_request(request).timeout_reason(
            created_at=request.created_at, expires_at=request.expires_at, now=now
        )
        try:
            services.time_out(request=request, reason=reason or "Not reviewed before its review deadline.")
            timed_out += 1
        except transitions.InvalidTransition:
            continue
    return timed_out


def purge_due(*, now: datetime | None = None) -> int:
    """Every EXPIRED environment whose grace is over (purge_after) is purged, on the
    (status, purge_after) index; with no grace the expiry enqueued it already (enqueueing is idempotent)."""
    now = now or timezone.now()
    due = ProvisionRequest.objects.filter(status=RequestStatus.EXPIRED, purge_after__lte=now).order_by("purge_after")
    started = 0
    for pk in due.values_list("pk", flat=True)[:SWEEP_BATCH]:
        services.enqueue("purge", pk)
        started += 1
    return started


def _count(request: ProvisionRequest, action: str) -> int:
    return Event.objects.filter(provision_request=request, action=action).count()


# The statuses whose job must exist while the request is in them: (job, rq queue).
JOB_OF_STATUS = {
    RequestStatus.REQUESTED: ("analyse", services.DEFAULT_QUEUE),
    RequestStatus.APPROVED: ("provision", services.PROVISIONING_QUEUE),
    RequestStatus.INITIATED: ("provision", services.PROVISIONING_QUEUE),
    RequestStatus.PURGE_INITIATED: ("purge", services.PROVISIONING_QUEUE),
}


def _analysed(request: ProvisionRequest) -> bool:
    return any(remark.get("code") == "manual_review" for remark in request.analysis_remarks or [])


def requeue_lost(*, now: datetime | None = None) -> dict[str, int]:
    """Enqueue again the job of every request that waits for one that rq lost: Redis was down when
    it was submitted, approved or started (the job was never enqueued), Redis lost its data, or the
    worker running it was killed (its heartbeat stopped: ``services.job_abandoned``). Only requests
    untouched for REQUEUE_AFTER_SECONDS, so that a job enqueued just now is not raced. Safe to repeat:
    job ids are deterministic and every job re-reads its request (a provider carries on from where it is)."""
    now = now or timezone.now()
    quiet = now - timedelta(seconds=settings.REQUEUE_AFTER_SECONDS)
    counts = {"requeued": 0, "resumed_abandoned": 0}
    waiting = ProvisionRequest.objects.filter(status__in=list(JOB_OF_STATUS), updated_at__lte=quiet)
    for request in waiting.order_by("updated_at").only("pk", "status", "analysis_remarks")[:SWEEP_BATCH]:
        if request.status == RequestStatus.REQUESTED and _analysed(request):
            continue  # analysed, waiting for a reviewer: no job to wait for
        job, queue = JOB_OF_STATUS[request.status]
        if not services.job_abandoned(job, request.pk, queue=queue):
            continue  # waiting, running, retried later; or finished/failed (the stuck rules below); or Redis down
        services.enqueue(job, request.pk, queue=queue, abandoned=True)
        working = request.status in (RequestStatus.INITIATED, RequestStatus.PURGE_INITIATED)
        counts["resumed_abandoned" if working else "requeued"] += 1
        logger.warning("%s(%s): its job was lost (%s); enqueued again", job, request.pk, request.status)
    return counts


def reconcile(*, now: datetime | None = None) -> dict[str, int]:
    """Nothing is left half-way: re-enqueue what an outage lost, resume or fail what is stuck,
    and retry failed purges with backoff."""
    now = now or timezone.now()
    timeout = timedelta(minutes=settings.PROVISION_TIMEOUT_MINUTES)
    counts = {"resumed": 0, "failed": 0, "purge_retried": 0, "failed_purged": 0}

    counts.update(requeue_lost(now=now))

    # Failed provisioning not retried within FAILED_PURGE_DELAY_MINUTES: purge what it left.
    delay = timedelta(minutes=settings.FAILED_PURGE_DELAY_MINUTES)
    for request in ProvisionRequest.objects.filter(status=RequestStatus.FAILED, updated_at__lte=now - delay)[
        :SWEEP_BATCH
    ]:
        try:
            services.start_purge(actor=None, request=request, note="Not retried in time: purging what it left.")
            counts["failed_purged"] += 1
        except transitions.InvalidTransition:
            pass

    # Stuck provisioning (a worker died): resume twice, then fail (which purges what exists).
    stuck = ProvisionRequest.objects.filter(status=RequestStatus.INITIATED, updated_at__lte=now - timeout)
    for request in attach_related(stuck[:SWEEP_BATCH], "requested_by"):
        if _count(request, "resume") >= 2:
            try:
                services.mark_failed(
                    request=request, note=f"Still provisioning after {_count(request, 'resume')} resumes."
                )
                counts["failed"] += 1
            except transitions.InvalidTransition:
                pass
            continue
        claimed = ProvisionRequest.objects.filter(
            pk=request.pk, status=RequestStatus.INITIATED, updated_at=request.updated_at
        ).update(updated_at=now)
        if claimed:
            transitions.record_same_status(
                subject=request,
                actor=None,
                action="resume",
                status=RequestStatus.INITIATED,
                note=f"No progress for {settings.PROVISION_TIMEOUT_MINUTES} minutes; provisioning resumed.",
            )
            services.enqueue("provision", request.pk)
            counts["resumed"] += 1

    # Purges that failed or stalled: retry with exponential backoff, visible to DevOps meanwhile.
    retry_base = timedelta(minutes=settings.PURGE_RETRY_MINUTES)
    purging = ProvisionRequest.objects.filter(
        status__in=[RequestStatus.PURGE_FAILED, RequestStatus.PURGE_INITIATED], updated_at__lte=now - retry_base
    )
    for request in attach_related(purging[:SWEEP_BATCH], "requested_by"):
        failures = _count(request, "mark_purge_failed")
        wait = min(retry_base * 2 ** max(failures - 1, 0), timedelta(hours=24))
        if request.status == RequestStatus.PURGE_INITIATED and request.updated_at > now - timeout:
            continue
        if request.updated_at <= now - wait:
            services.enqueue("purge", request.pk)
            counts["purge_retried"] += 1
    return counts


def sweep(*, now: datetime | None = None) -> dict[str, int]:
    """Expire what is due, time out what waited too long for review, purge what is past its grace,
    reconcile what is stuck, warn the requesters of what expires soon, and set back any usage
    ledger that drifted from the requests holding a reservation."""
    return {
        "expired": expire_due(now=now),
        "timed_out": time_out_due(now=now),
        "purged_after_grace": purge_due(now=now),
        **reconcile(now=now),
        "warned": announcements.warn_expiring(now=now),
        **reservations.reconcile_ledgers(),
    }
