"""The whole flow against real servers: MongoDB, Redis, an rq burst worker and the moto AWS
emulator over HTTP. Submit -> analysed -> approved -> provisioned (usable kubeconfig) ->
extended -> expiry sweep -> purged, and the cluster is really gone."""

from __future__ import annotations

from datetime import timedelta

import django_rq
import pytest
import yaml
from django.conf import settings
from django.utils import timezone
from rq import SimpleWorker

from providers import aws
from provisioning import provisioner, services
from provisioning.choices import RequestStatus
from provisioning.models import Credential, Event, ProvisionRequest

URL = "/api/v1/provision-requests/"


@pytest.fixture
def queues():
    names = ("default", "provisioning", "notifications")
    for name in names:
        django_rq.get_queue(name).empty()
    yield [django_rq.get_queue(name) for name in names]
    for name in names:
        django_rq.get_queue(name).empty()


def work(queues) -> None:
    """One burst worker in this process (the test database), draining both queues."""
    SimpleWorker(queues, connection=queues[0].connection).work(burst=True)


def clusters(region: str = "us-east-1") -> list[str]:
    return aws.client("eks", region).list_clusters()["clusters"]


@pytest.mark.django_db
def test_submit_analyse_approve_provision_extend_expire_purge(
    moto_endpoint, queues, templates, dev_client, devops_client
):
    created = dev_client.post(
        URL,
        {"template": "basic-eks-cluster", "parameters": {"cluster_name": "e2e-demo", "region": "us-east-1"}},
        format="json",
    )
    assert created.status_code == 201, created.json()
    pk = created.json()["id"]

    work(queues)  # analyse: manual review by default
    request = ProvisionRequest.objects.get(pk=pk)
    assert request.status == RequestStatus.REQUESTED
    assert request.analysis_remarks[-1]["code"] == "manual_review"

    assert devops_client.post(f"{URL}{pk}/approve/", {"note": "go"}, format="json").status_code == 200
    work(queues)  # provision
    request.refresh_from_db()
    assert request.status == RequestStatus.DEPLOYED, list(Event.objects.filter(provision_request=request).values())
    assert clusters() == [request.outputs["cluster_name"]]

    kubeconfig = dev_client.get(f"{URL}{pk}/kubeconfig/")
    assert kubeconfig.status_code == 200
    document = yaml.safe_load(kubeconfig.content)
    cluster = aws.client("eks", "us-east-1").describe_cluster(name=request.outputs["cluster_name"])["cluster"]
    assert document["kind"] == "Config"
    assert document["clusters"][0]["cluster"]["server"] == cluster["endpoint"]
    assert document["users"][0]["user"]["exec"]["args"][:2] == ["eks", "get-token"]
    assert "e2e-demo" not in str(request.outputs.get("kubeconfig", ""))  # outputs never hold the secret

    extension = dev_client.post(
        "/api/v1/extension-requests/", {"provision_request": pk, "reason": "demo moved", "extend_by_hours": 24}
    )
    assert extension.status_code == 201, extension.json()
    ext_url = f"/api/v1/extension-requests/{extension.json()['id']}/approve/"
    assert devops_client.post(ext_url, {}, format="json").status_code == 200
    extended = ProvisionRequest.objects.get(pk=pk)
    assert extended.expires_at - request.expires_at == timedelta(hours=24)

    assert provisioner.sweep(now=timezone.now() + timedelta(hours=1))["expired"] == 0  # not due yet
    assert provisioner.sweep(now=extended.expires_at + timedelta(minutes=1))["expired"] == 1
    work(queues)  # purge
    extended.refresh_from_db()
    assert extended.status == RequestStatus.PURGED
    assert clusters() == []
    assert not Credential.objects.filter(provision_request_id=pk).exists()

    trail = [event["action"] for event in dev_client.get(f"{URL}{pk}/events/?page_size=200").json()["results"]]
    for action in (
        "submit",
        "approve",
        "start_provisioning",
        "mark_deployed",
        "download_kubeconfig",
        "extend",
        "expire",
        "start_purge",
        "mark_purged",
    ):
        assert action in trail, (action, trail)
    assert trail.index("start_provisioning") < trail.index("mark_deployed") < trail.index("expire")


@pytest.mark.django_db
def test_a_worker_killed_mid_provision_ends_deployed_with_one_owned_cluster(
    moto_endpoint, queues, make_request, devops_user
):
    request = make_request(parameters={"cluster_name": "crash-test", "region": "us-east-1"})
    services.approve_request(actor=devops_user, request=request)
    for queue in queues:
        queue.empty()
    # The worker took the job, created the cluster, and died before recording anything.
    services.start_provisioning(request=request)
    provider_target = provisioner.target_for(request)
    import providers

    eks = aws.client("eks", "us-east-1")
    providers.get("aws-eks").create(provider_target)
    assert len(clusters()) == 1
    assert ProvisionRequest.objects.get(pk=request.pk).status == RequestStatus.INITIATED

    later = timezone.now() + timedelta(minutes=31)
    assert provisioner.reconcile(now=later)["resumed"] == 1
    work(queues)
    request.refresh_from_db()
    assert request.status == RequestStatus.DEPLOYED
    (name,) = clusters()
    assert eks.describe_cluster(name=name)["cluster"]["tags"]["cloudassist-request"] == str(request.pk)


@pytest.mark.django_db
def test_a_request_that_cannot_be_provisioned_leaves_nothing_behind(moto_endpoint, queues, make_request, devops_user):
    request = make_request(parameters={"cluster_name": "never-done", "region": "us-east-1"})
    services.approve_request(actor=devops_user, request=request)
    for queue in queues:
        queue.empty()
    services.start_provisioning(request=request)
    providers_target = provisioner.target_for(request)
    import providers

    providers.get("aws-eks").create(providers_target)
    # Stuck for good: after two resumes the sweep fails it, and the purge removes the cluster.
    start = timezone.now()
    for minutes in (31, 62):
        ProvisionRequest.objects.filter(pk=request.pk).update(updated_at=start - timedelta(hours=1))
        provisioner.reconcile(now=start + timedelta(minutes=minutes))
        for queue in queues:
            queue.empty()  # the resumed jobs are lost too
    ProvisionRequest.objects.filter(pk=request.pk).update(updated_at=start - timedelta(hours=1))
    assert provisioner.reconcile(now=start + timedelta(minutes=93))["failed"] == 1
    # Kept for a retry for FAILED_PURGE_DELAY_MINUTES, then the sweep purges it.
    later = timezone.now() + timedelta(minutes=settings.FAILED_PURGE_DELAY_MINUTES + 1)
    assert provisioner.reconcile(now=later)["failed_purged"] == 1
    work(queues)
    assert ProvisionRequest.objects.get(pk=request.pk).status == RequestStatus.PURGED
    assert clusters() == []
