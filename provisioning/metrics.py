"""Provisioning's Prometheus metrics (conventions in cloudassist/metrics.py): review decisions,
provider calls, how long a provision or purge took, and requests per status (scrape-time).
Imported by ProvisioningConfig.ready(), which registers the scrape-time collector."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager

from django.db.models import Count
from prometheus_client.core import GaugeMetricFamily

from cloudassist.metrics import SLOW_BUCKETS, Counter, Histogram, up
from providers.base import TransientProviderError
from provisioning.choices import RequestStatus
from provisioning.models import Event, ProvisionRequest

logger = logging.getLogger(__name__)

REVIEWS = Counter(
    "cloudassist_reviews_total",
    "Committed review decisions: kind provision|extension, decision approved|rejected, actor human|system.",
    ["kind", "decision", "actor"],
)
PROVIDER_CALL_DURATION = Histogram(
    "cloudassist_provider_call_duration_seconds",
    "One provider call by a provision or purge job attempt: operation create|delete, outcome ok|transient_error|error.",
    ["operation", "provider", "outcome"],
    buckets=SLOW_BUCKETS,
)
PROVISIONING_DURATION = Histogram(
    "cloudassist_provisioning_duration_seconds",
    "From entering INITIATED (provision) or PURGE_INITIATED (purge) to the committed end state, "
    "retries included: outcome succeeded|failed.",
    ["operation", "provider", "outcome"],
    buckets=SLOW_BUCKETS,
)

LEDGER_CORRECTIONS = Counter(
    "cloudassist_quota_ledger_corrections_total",
    "Usage ledger fields the quota reconcile set back to what the requests holding a reservation add up to: "
    "field live_environments|usd_micros|machine_hours_micros|disk_gb_hours_micros.",
    ["field"],
)


def ledger_corrected(*, fields: list[str]) -> None:
    for field in fields:
        LEDGER_CORRECTIONS.labels(field=field).inc()


def actor_kind(actor) -> str:
    return "system" if actor is None else "human"


def reviewed(*, kind: str, decision: str, actor) -> None:
    """A review decision has committed (call after transitions.transition returned)."""
    REVIEWS.labels(kind=kind, decision=decision, actor=actor_kind(actor)).inc()


@contextmanager
def provider_call(*, operation: str, provider: str) -> Iterator[None]:
    """Time one provider call; the outcome is taken from the exception it raises, if any."""
    started = time.perf_counter()
    outcome = "error"
    try:
        yield
        outcome = "ok"
    except TransientProviderError:
        outcome = "transient_error"
        raise
    finally:
        PROVIDER_CALL_DURATION.labels(operation=operation, provider=provider, outcome=outcome).observe(
            time.perf_counter() - started
        )


_STARTS = {"provision": "start_provisioning", "purge": "start_purge"}


def provisioning_finished(request, *, operation: str, outcome: str) -> None:
    """A provision or purge reached its end state (committed): observe how long it took since the
    request entered its working status (its latest start event)."""
    started = (
        Event.objects.filter(provision_request_id=request.pk, action=_STARTS[operation])
        .order_by("-created_at")
        .values_list("created_at", flat=True)
        .first()
    )
    provider = (request.template_snapshot or {}).get("provider", "") or "unknown"
    seconds = max((request.updated_at - started).total_seconds(), 0.0) if started and request.updated_at else 0.0
    PROVISIONING_DURATION.labels(operation=operation, provider=provider, outcome=outcome).observe(seconds)


class ProvisionRequestCollector:
    """``cloudassist_provision_requests{status}``: one aggregate ($group by status) per scrape."""

    name = "provision_requests"

    def collect(self):
        family = GaugeMetricFamily(
            "cloudassist_provision_requests", "Provision requests by current status.", labels=["status"]
        )
        try:
            rows = ProvisionRequest.objects.order_by().values("status").annotate(n=Count("pk"))
            counts = {row["status"]: row["n"] for row in rows}
        except Exception:
            logger.warning("metrics: cannot count provision requests", exc_info=True)
            yield up(self.name, False)
            return
        for status in RequestStatus.values:
            family.add_metric([status], float(counts.get(status, 0)))
        yield family
        yield up(self.name, True)
