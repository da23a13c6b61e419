"""No dead ends (provisioning/services/lifecycle.py): a failed provisioning is retried, a failed
purge is retried or closed after a manual clean-up, the last failure is shown, and a provider
that is not configured refuses submission and retry, naming the setting."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

import providers
from cloudassist.exceptions import Conflict
from providers import register
from providers.base import Outcome, Provider, ProviderError, State
from provisioning import jobs, services, transitions
from provisioning.choices import RequestStatus
from provisioning.models import Credential, Event, ProvisionRequest
from provisioning.tests.conftest import ONE_CPU, use_provider
from quotas import services as quota_services
from quotas.choices import ReservationState

ATTEMPTS: dict[str, int] = {}


@register("test-fails-once")
class FailsOnceProvider(Provider):
    """A permanent error on the first create, then READY (someone fixed the cloud account); its
    first delete fails too."""

    def create(self, target):
        ATTEMPTS["create"] = ATTEMPTS.get("create", 0) + 1
        if ATTEMPTS["create"] == 1:
            raise ProviderError("the cloud account's vCPU limit is reached")
        return Outcome(State.READY, {"resource": "r"}, "secret text\n", "credentials")

    def status(self, target):
        return Outcome(State.READY)

    def delete(self, target):
        ATTEMPTS["delete"] = ATTEMPTS.get("delete", 0) + 1
        if ATTEMPTS["delete"] == 1:
            raise ProviderError("access denied deleting r")
        return Outcome(State.ABSENT)


@pytest.fixture(autouse=True)
def _reset():
    ATTEMPTS.clear()


def _actions(request) -> list[str]:
    return list(Event.objects.filter(provision_request=request).values_list("action", flat=True))


@pytest.fixture
def failed(make_request, devops_user, provisioning_queue, settings):
    """A request on test-fails-once whose first provisioning failed (kept for a retry)."""
    settings.FAILED_PURGE_DELAY_MINUTES = 60

    def make(**fields) -> ProvisionRequest:
        ATTEMPTS.clear()
        request = use_provider(make_request(**fields), "test-fails-once")
        services.approve_request(actor=devops_user, request=request)
        assert jobs.provision(str(request.pk)) == "failed"
        provisioning_queue.empty()
        request.refresh_from_db()
        return request

    return make


@pytest.mark.django_db
def test_devops_retries_a_failed_provisioning_which_carries_on_and_clears_the_reason(
    failed, devops_user, provisioning_queue
):
    request = failed()
    assert request.status == RequestStatus.FAILED
    assert request.failure_reason == "the cloud account's vCPU limit is reached"

    services.retry_provisioning(actor=devops_user, request=request, note="limit raised")
    assert ProvisionRequest.objects.get(pk=request.pk).status == RequestStatus.APPROVED
    assert [job.id for job in provisioning_queue.jobs] == [f"provision-{request.pk}"]
    retry = Event.objects.get(provision_request=request, action="retry")
    assert (retry.from_status, retry.to_status, retry.actor_name, retry.note) == (
        "FAILED",
        "APPROVED",
        "ops1",
        "limit raised",
    )
    assert retry.data == {"previous_failure": "the cloud account's vCPU limit is reached"}

    assert jobs.provision(str(request.pk)) == "deployed"
    deployed = ProvisionRequest.objects.get(pk=request.pk)
    assert (deployed.status, deployed.failure_reason) == (RequestStatus.DEPLOYED, "")
    assert ATTEMPTS["create"] == 2


@pytest.mark.django_db
def test_the_requester_retries_only_when_the_template_allows_it(failed, dev_user, eks):
    request = failed()
    with pytest.raises(PermissionDenied, match="requester_can_retry"):
        services.retry_provisioning(actor=dev_user, request=request)

    eks.requester_can_retry = True
    eks.save(update_fields=["requester_can_retry"])
    allowed = failed()  # the policy is taken at submission, in the snapshot
    assert allowed.template_snapshot["policy"]["requester_can_retry"] is True
    services.retry_provisioning(actor=dev_user, request=allowed)
    assert ProvisionRequest.objects.get(pk=allowed.pk).status == RequestStatus.APPROVED
    # The earlier request keeps its own policy.
    with pytest.raises(PermissionDenied):
        services.retry_provisioning(actor=dev_user, request=ProvisionRequest.objects.get(pk=request.pk))


@pytest.mark.django_db
def test_retry_only_from_failed_and_not_once_expired(failed, make_request, devops_user):
    with pytest.raises(transitions.InvalidTransition, match="it is DEPLOYED"):
        services.retry_provisioning(actor=devops_user, request=make_request(status=RequestStatus.DEPLOYED))
    request = failed(expires_at=timezone.now() + timedelta(hours=2))
    ProvisionRequest.objects.filter(pk=request.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    request.refresh_from_db()
    with pytest.raises(Conflict, match="expired") as caught:
        services.retry_provisioning(actor=devops_user, request=request)
    assert caught.value.code == "expired"


@pytest.mark.django_db
def test_a_failure_with_an_unconfigured_provider_says_so_and_its_retry_is_a_409_naming_the_setting(
    make_request, templates, devops_user, provisioning_queue, settings
):
    request = make_request(template=templates["dev-namespace"], parameters=ONE_CPU)
    services.approve_request(actor=devops_user, request=request)
    settings.SHARED_CLUSTER_KUBECONFIG_DATA = ""  # the shared cluster went away after submission
    provisioning_queue.empty()
    assert jobs.provision(str(request.pk)) == "failed"
    request.refresh_from_db()
    assert "SHARED_CLUSTER_KUBECONFIG" in request.failure_reason
    assert "Retrying cannot succeed until the provider is configured" in request.failure_reason
    assert [job.id for job in provisioning_queue.jobs] == [f"purge-{request.pk}"]  # no retry can help: purge now
    with pytest.raises(Conflict, match="SHARED_CLUSTER_KUBECONFIG") as caught:
        services.retry_provisioning(actor=devops_user, request=request)
    assert caught.value.code == "provider_not_configured"
    assert caught.value.extra["provider"] == "kubernetes"


@pytest.mark.django_db
def test_a_failed_purge_is_retried_or_marked_cleaned_up_with_a_note(failed, devops_user, dev_user, provisioning_queue):
    request = failed()
    services.retry_provisioning(actor=devops_user, request=request)
    jobs.provision(str(request.pk))
    assert Credential.objects.filter(provision_request=request).exists()
    assert jobs.purge(str(request.pk)) == "purge failed"
    request.refresh_from_db()
    assert (request.status, request.failure_reason) == (RequestStatus.PURGE_FAILED, "access denied deleting r")

    # Retry the purge: PURGE_FAILED -> PURGE_INITIATED, and the job.
    provisioning_queue.empty()
    services.start_purge(actor=devops_user, request=request, note="permissions fixed")
    assert [job.id for job in provisioning_queue.jobs] == [f"purge-{request.pk}"]
    assert ProvisionRequest.objects.get(pk=request.pk).status == RequestStatus.PURGE_INITIATED
    ProvisionRequest.objects.filter(pk=request.pk).update(status=RequestStatus.PURGE_FAILED)  # ... and failed again
    request.refresh_from_db()

    with pytest.raises(ValidationError) as caught:
        services.mark_cleaned_up(actor=devops_user, request=request, note="  ")
    assert "note" in caught.value.message_dict
    with pytest.raises(PermissionDenied):
        services.mark_cleaned_up(actor=dev_user, request=request, note="I deleted it")
    assert quota_services.reserved(user=dev_user)["live_environments"] == 1

    services.mark_cleaned_up(actor=devops_user, request=request, note="deleted r in the console")
    closed = ProvisionRequest.objects.get(pk=request.pk)
    assert (closed.status, closed.failure_reason) == (RequestStatus.PURGED, "")
    assert closed.reservation_state == ReservationState.RELEASED
    assert quota_services.reserved(user=dev_user)["live_environments"] == 0
    assert not Credential.objects.filter(provision_request=request).exists()
    event = Event.objects.get(provision_request=request, action="mark_cleaned_up")
    assert (event.from_status, event.to_status, event.actor_name) == ("PURGE_FAILED", "PURGED", "ops1")
    assert event.note == "deleted r in the console"
    with pytest.raises(transitions.InvalidTransition, match="it is PURGED"):
        services.mark_cleaned_up(actor=devops_user, request=closed, note="again")


@pytest.mark.django_db
def test_the_requester_is_told_of_a_retry_by_devops_and_of_the_clean_up(failed, devops_user):
    from notifications.models import Notification

    request = failed()
    services.retry_provisioning(actor=devops_user, request=request, note="limit raised")
    retried = Notification.objects.filter(provision_request=request, title__startswith="Retrying").get()
    assert "ops1 retries provisioning" in retried.body
    assert "limit raised" in retried.body
    ProvisionRequest.objects.filter(pk=request.pk).update(status=RequestStatus.PURGE_FAILED)
    request.refresh_from_db()
    services.mark_cleaned_up(actor=devops_user, request=request, note="deleted by hand")
    cleaned = Notification.objects.filter(provision_request=request, title__startswith="Deleted").get()
    assert "cleaned up by DevOps" in cleaned.body
    assert "deleted by hand" in cleaned.body


@pytest.mark.django_db
def test_no_status_is_a_dead_end():
    """From every status some move leads on, or it is terminal by design."""
    terminal = {RequestStatus.REVOKED, RequestStatus.REJECTED, RequestStatus.PURGED, RequestStatus.TIMED_OUT}
    leaving = {source for move in transitions.REQUEST_MOVES.values() for source in move.sources}
    assert set(RequestStatus.values) - terminal <= leaving
    assert transitions.REQUEST_MOVES["retry"].sources == {RequestStatus.FAILED}
    assert transitions.REQUEST_MOVES["mark_cleaned_up"].sources == {RequestStatus.PURGE_FAILED}
    assert RequestStatus.PURGE_FAILED in transitions.REQUEST_MOVES["start_purge"].sources


# --- submission: a provider that is not configured ------------------------------------------


@pytest.mark.django_db
def test_a_template_whose_provider_is_not_configured_cannot_be_requested(templates, dev_user, settings):
    settings.SHARED_CLUSTER_KUBECONFIG_DATA = ""
    settings.SHARED_CLUSTER_KUBECONFIG = ""
    with pytest.raises(Conflict, match="SHARED_CLUSTER_KUBECONFIG") as caught:
        services.submit_request(actor=dev_user, template=templates["dev-namespace"], parameters=ONE_CPU)
    assert caught.value.code == "provider_not_configured"
    assert caught.value.extra == {"template": "dev-namespace", "provider": "kubernetes"}
    assert not ProvisionRequest.objects.exists()
    assert quota_services.reserved(user=dev_user)["live_environments"] == 0


def test_the_registry_says_which_providers_are_configured(settings):
    settings.SHARED_CLUSTER_KUBECONFIG_DATA = ""
    settings.SHARED_CLUSTER_KUBECONFIG = ""
    assert providers.unavailable_reason("kubernetes").startswith("No shared cluster is configured: set SHARED_CLUSTER")
    assert providers.unavailable_reason("noop") is None
    assert providers.unavailable_reason("nope") == "No provider is registered for 'nope'."
    settings.SHARED_CLUSTER_KUBECONFIG_DATA = "not: [a, kubeconfig"
    assert "SHARED_CLUSTER_KUBECONFIG_DATA is not valid YAML" in providers.unavailable_reason("kubernetes")
    # EKS on real AWS needs its IAM roles; the emulator does not.
    settings.AWS_EMULATOR, settings.EKS_CLUSTER_ROLE_ARN, settings.EKS_NODE_ROLE_ARN = False, "", ""
    assert "EKS_CLUSTER_ROLE_ARN" in providers.unavailable_reason("aws-eks")
    settings.EKS_CLUSTER_ROLE_ARN, settings.EKS_NODE_ROLE_ARN = "arn:aws:iam::1:role/c", "arn:aws:iam::1:role/n"
    assert providers.unavailable_reason("aws-eks") is None
