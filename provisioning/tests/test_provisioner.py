"""The workers' use cases with in-process providers (the AWS and Kubernetes providers have
their own tests against moto and an API-server double)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.conf import settings
from django.core.management import call_command
from django.utils import timezone
from rq.utils import now as rq_now

from cloudassist import crypto
from providers import register
from providers.base import Outcome, Provider, ProviderError, State, Step, TransientProviderError
from provisioning import jobs, provisioner, services
from provisioning.choices import RequestStatus, RequestType
from provisioning.models import Credential, Event, ProvisionRequest
from provisioning.tests.conftest import use_provider
from quotas import services as quota_services
from templates.models import Template

CALLS: dict[str, int] = {}


@register("test-flaky")
class FlakyProvider(Provider):
    """Transient error on the first create, then READY; delete fails permanently once."""

    def create(self, target):
        CALLS["create"] = CALLS.get("create", 0) + 1
        if CALLS["create"] == 1:
            raise TransientProviderError("throttled")
        return Outcome(State.READY, {"endpoint": "https://x"}, "apiVersion: v1\nkind: Config\n", "kubeconfig")

    def status(self, target):
        return Outcome(State.READY)

    def delete(self, target):
        CALLS["delete"] = CALLS.get("delete", 0) + 1
        if CALLS["delete"] == 1:
            raise ProviderError("access denied")
        return Outcome(State.ABSENT, steps=[Step("delete", "deleted")])


@register("test-broken")
class BrokenProvider(Provider):
    def create(self, target):
        raise ProviderError("quota of the cloud account reached")

    def delete(self, target):
        return Outcome(State.ABSENT)


@pytest.fixture(autouse=True)
def _reset_calls():
    CALLS.clear()


def _actions(request) -> list[str]:
    return list(Event.objects.filter(provision_request=request).values_list("action", flat=True))


@pytest.fixture
def approved(make_request, devops_user, provisioning_queue):
    def make(provider: str = "noop", **fields) -> ProvisionRequest:
        request = use_provider(make_request(**fields), provider)
        services.approve_request(actor=devops_user, request=request)
        provisioning_queue.empty()
        return request

    return make


@pytest.mark.django_db
def test_provision_deploys_stores_an_encrypted_secret_and_is_safe_twice(approved):
    request = approved()
    assert jobs.provision(str(request.pk)) == "deployed"
    request.refresh_from_db()
    assert request.status == RequestStatus.DEPLOYED
    assert request.outputs == {"resource": f"noop-{str(request.pk)[-8:]}"}
    credential = Credential.objects.get(provision_request=request)
    assert "noop credentials" not in credential.ciphertext
    assert crypto.decrypt(credential.ciphertext) == f"noop credentials for {request.pk}\n"
    assert _actions(request)[-3:] == ["start_provisioning", "provider_step", "mark_deployed"]
    assert jobs.provision(str(request.pk)) == "skipped: DEPLOYED"


@pytest.mark.django_db
def test_transient_errors_propagate_for_rq_to_retry_and_the_retry_carries_on(approved):
    request = approved("test-flaky")
    with pytest.raises(TransientProviderError):
        jobs.provision(str(request.pk))
    assert ProvisionRequest.objects.get(pk=request.pk).status == RequestStatus.INITIATED
    assert jobs.provision(str(request.pk)) == "deployed"
    assert CALLS["create"] == 2


@pytest.mark.django_db
def test_a_permanent_failure_fails_keeps_what_exists_for_a_retry_then_the_sweep_purges_it(
    approved, provisioning_queue, settings
):
    settings.FAILED_PURGE_DELAY_MINUTES = 60
    request = approved("test-broken")
    assert jobs.provision(str(request.pk)) == "failed"
    stored = ProvisionRequest.objects.get(pk=request.pk)
    assert stored.status == RequestStatus.FAILED
    assert "quota of the cloud account" in stored.failure_reason
    assert "quota of the cloud account" in Event.objects.get(provision_request=request, action="mark_failed").note
    assert provisioning_queue.jobs == []  # kept for a retry to carry on from
    assert provisioner.reconcile(now=timezone.now() + timedelta(minutes=30))["failed_purged"] == 0
    assert provisioner.reconcile(now=timezone.now() + timedelta(minutes=61))["failed_purged"] == 1
    assert [job.id for job in provisioning_queue.jobs] == [f"purge-{request.pk}"]
    assert jobs.purge(str(request.pk)) == "purged"
    purged = ProvisionRequest.objects.get(pk=request.pk)
    assert (purged.status, purged.failure_reason) == (RequestStatus.PURGED, "")


@pytest.mark.django_db
def test_with_no_purge_delay_a_failure_is_purged_at_once(approved, provisioning_queue, settings):
    settings.FAILED_PURGE_DELAY_MINUTES = 0
    request = approved("test-broken")
    assert jobs.provision(str(request.pk)) == "failed"
    assert [job.id for job in provisioning_queue.jobs] == [f"purge-{request.pk}"]


@pytest.mark.django_db
def test_purge_releases_quota_drops_the_secret_and_retries_failures_with_backoff(approved, dev_user):
    request = approved("test-flaky")
    CALLS["create"] = 1  # no transient error this time
    jobs.provision(str(request.pk))
    assert jobs.purge(str(request.pk)) == "purge failed"
    assert ProvisionRequest.objects.get(pk=request.pk).status == RequestStatus.PURGE_FAILED

    now = timezone.now()
    assert provisioner.reconcile(now=now)["purge_retried"] == 0  # not yet: backoff
    assert provisioner.reconcile(now=now + timedelta(minutes=11))["purge_retried"] == 1
    assert jobs.purge(str(request.pk)) == "purged"
    assert not Credential.objects.filter(provision_request=request).exists()
    assert quota_services.reserved(user=dev_user)["live_environments"] == 0
    assert jobs.purge(str(request.pk)) == "skipped: PURGED"


@pytest.mark.django_db
def test_expiry_sweep_expires_only_what_is_due_and_purges_it(approved, provisioning_queue):
    due = approved(expires_at=timezone.now() + timedelta(minutes=90))
    later = approved(expires_at=timezone.now() + timedelta(hours=5))
    jobs.provision(str(due.pk))
    finished = approved(expires_at=timezone.now() + timedelta(minutes=90))
    ProvisionRequest.objects.filter(pk=finished.pk).update(status=RequestStatus.PURGED)
    provisioning_queue.empty()

    assert provisioner.expire_due(now=timezone.now() + timedelta(hours=2)) == 1
    assert ProvisionRequest.objects.get(pk=due.pk).status == RequestStatus.EXPIRED
    assert ProvisionRequest.objects.get(pk=later.pk).status == RequestStatus.APPROVED
    assert [job.id for job in provisioning_queue.jobs] == [f"purge-{due.pk}"]
    assert jobs.purge(str(due.pk)) == "purged"


@pytest.mark.django_db
def test_stuck_provisioning_is_resumed_then_failed(approved, provisioning_queue):
    request = approved()
    services.start_provisioning(request=request)  # a worker took it, then died
    later = timezone.now() + timedelta(minutes=31)
    assert provisioner.reconcile(now=later)["resumed"] == 1
    assert provisioning_queue.jobs[-1].id == f"provision-{request.pk}"
    assert provisioner.reconcile(now=later + timedelta(minutes=31))["resumed"] == 1
    assert provisioner.reconcile(now=later + timedelta(minutes=62))["failed"] == 1
    assert ProvisionRequest.objects.get(pk=request.pk).status == RequestStatus.FAILED
    assert _actions(request).count("resume") == 2


@pytest.mark.django_db
def test_approved_requests_whose_job_was_lost_are_requeued(approved, provisioning_queue):
    request = approved()
    assert provisioner.reconcile(now=timezone.now())["requeued"] == 0
    assert provisioner.reconcile(now=timezone.now() + timedelta(minutes=6))["requeued"] == 1
    assert provisioner.reconcile(now=timezone.now() + timedelta(minutes=7))["requeued"] == 0  # its job waits now
    assert [job.id for job in provisioning_queue.jobs] == [f"provision-{request.pk}"]  # queued once, not twice


@pytest.mark.django_db
def test_a_request_whose_analysis_job_was_lost_is_analysed(make_request, default_queue):
    request = make_request()
    assert [job.id for job in default_queue.jobs] == [f"analyse-{request.pk}"]
    later = timezone.now() + timedelta(seconds=settings.REQUEUE_AFTER_SECONDS + 1)
    assert provisioner.requeue_lost(now=later)["requeued"] == 0  # its job waits
    default_queue.empty()  # Redis was down at submission, or lost its data
    assert provisioner.requeue_lost(now=timezone.now())["requeued"] == 0  # not before REQUEUE_AFTER_SECONDS
    assert provisioner.requeue_lost(now=later)["requeued"] == 1
    assert [job.id for job in default_queue.jobs] == [f"analyse-{request.pk}"]
    assert jobs.analyse(str(request.pk)) == "needs review"
    default_queue.empty()
    assert provisioner.requeue_lost(now=later)["requeued"] == 0  # analysed: it waits for a reviewer, not a job


@pytest.mark.django_db
def test_provisioning_whose_worker_died_is_resumed_once_its_heartbeat_is_stale(approved, provisioning_queue):
    request = approved()
    services.start_provisioning(request=request)
    later = timezone.now() + timedelta(seconds=settings.REQUEUE_AFTER_SECONDS + 1)
    assert provisioner.requeue_lost(now=later)["resumed_abandoned"] == 1  # no job at all: enqueued again
    assert provisioner.requeue_lost(now=later)["resumed_abandoned"] == 0  # now it waits
    # A worker took it (rq's own bookkeeping, as Worker.prepare_job_execution does), then died.
    job = provisioning_queue.fetch_job(f"provision-{request.pk}")
    provisioning_queue.remove(job)
    job.set_status("started")
    job.heartbeat(rq_now(), 60)
    assert provisioner.requeue_lost(now=later)["resumed_abandoned"] == 0  # its heartbeat is fresh: it runs
    job.heartbeat(rq_now() - timedelta(seconds=settings.STALE_JOB_SECONDS + 1), 60)
    assert provisioner.requeue_lost(now=later)["resumed_abandoned"] == 1
    assert [job.id for job in provisioning_queue.jobs] == [f"provision-{request.pk}"]
    assert jobs.provision(str(request.pk)) == "deployed"
    assert provisioner.requeue_lost(now=later + timedelta(minutes=1))["resumed_abandoned"] == 0  # DEPLOYED


@pytest.mark.django_db
def test_a_retry_no_scheduler_enqueued_is_run_by_the_sweep(approved, provisioning_queue):
    request = approved()
    services.start_provisioning(request=request)
    services.enqueue("provision", request.pk)
    job = provisioning_queue.fetch_job(f"provision-{request.pk}")
    provisioning_queue.remove(job)
    provisioning_queue.schedule_job(job, rq_now() + timedelta(seconds=10))  # rq's retry, as after a killed horse
    later = timezone.now() + timedelta(seconds=settings.REQUEUE_AFTER_SECONDS + 1)
    assert provisioner.requeue_lost(now=later)["resumed_abandoned"] == 0  # due in 10 s: the scheduler will
    provisioning_queue.scheduled_job_registry.remove(job)
    provisioning_queue.schedule_job(job, rq_now() - timedelta(seconds=settings.STALE_JOB_SECONDS + 1))
    assert provisioner.requeue_lost(now=later)["resumed_abandoned"] == 1  # overdue: no scheduler runs
    assert provisioning_queue.scheduled_job_registry.get_job_ids() == []
    assert [job.id for job in provisioning_queue.jobs] == [f"provision-{request.pk}"]


@pytest.mark.django_db
def test_analysis_needs_review_by_default(make_request):
    request = make_request()
    assert jobs.analyse(str(request.pk)) == "needs review"
    request.refresh_from_db()
    assert request.status == RequestStatus.REQUESTED
    assert request.analysis_remarks[-1]["code"] == "manual_review"
    assert "manual review" in request.analysis_remarks[-1]["message"]


@pytest.mark.django_db
def test_auto_approval_within_policy_and_threshold_only(make_request, eks, provisioning_queue):
    Template.objects.filter(pk=eks.pk).update(auto_approve=True, auto_approve_max_usd=Decimal("100"))
    eks.refresh_from_db()  # a request lives by the policy of the template it was submitted from
    cheap = make_request()
    assert jobs.analyse(str(cheap.pk)) == "auto-approved"
    cheap.refresh_from_db()
    assert (cheap.status, cheap.reviewed_by) == (RequestStatus.APPROVED, None)
    assert Event.objects.get(provision_request=cheap, action="approve").actor_name == "system"
    assert f"provision-{cheap.pk}" in [job.id for job in provisioning_queue.jobs]

    permanent = make_request(request_type=RequestType.PERMANENT)
    assert jobs.analyse(str(permanent.pk)) == "needs review"
    Template.objects.filter(pk=eks.pk).update(auto_approve_max_usd=Decimal("0.01"))
    eks.refresh_from_db()
    dear = make_request()
    assert jobs.analyse(str(dear.pk)) == "needs review"
    assert "above the template's threshold" in ProvisionRequest.objects.get(pk=dear.pk).analysis_remarks[-1]["message"]


@pytest.mark.django_db
def test_submission_enqueues_the_analysis(make_request):
    import django_rq

    queue = django_rq.get_queue("default")
    queue.empty()
    request = make_request()
    assert [job.id for job in queue.jobs] == [f"analyse-{request.pk}"]
    queue.empty()


@pytest.mark.django_db
def test_rotate_secrets_reencrypts_with_the_first_key(approved, settings):
    request = approved()
    jobs.provision(str(request.pk))
    old_key = settings.SECRETS_KEYS[0]
    new_key = crypto.generate_key()
    settings.SECRETS_KEYS = [new_key, old_key]
    call_command("rotate_secrets")
    settings.SECRETS_KEYS = [new_key]
    credential = Credential.objects.get(provision_request=request)
    assert crypto.decrypt(credential.ciphertext).startswith("noop credentials")
