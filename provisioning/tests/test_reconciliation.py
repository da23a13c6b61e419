"""Reconciliation (provisioning/reconciliation.py) against a test plugin whose resources live in a dict
the test controls: a double of a cloud, not of our storage. MongoDB and Redis are the real servers;
requests are deployed through the real provisioning job."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from conftest import PASSWORD
from notifications.models import Notification
from providers import register
from providers.base import Found, Outcome, Plan, PlannedResource, Provider, ProviderError, State, Step, short_id
from provisioning import jobs, reconciliation, services
from provisioning.choices import RequestStatus
from provisioning.models import Event, Orphan, OrphanState, ProvisionRequest

CLOUD: dict[tuple[str, str, str], Found] = {}  # (kind, region, name) -> what exists
REGION = "test-1"
HOURLY = Decimal("0.0416")
ONLY = ["test-cloud"]


def _put(found: Found) -> Found:
    CLOUD[(found.kind, found.region, found.name)] = found
    return found


def _gone(kind: str, name: str) -> Found:
    return CLOUD.pop((kind, REGION, name))


@register("test-cloud")
class TestCloud(Provider):
    """A bucket and an instance per request, kept in CLOUD, tagged with the request's id."""

    label = "Test cloud"

    def plan(self, manifests, *, request_id=None):
        suffix = short_id(request_id)
        return Plan(
            provider=self.name,
            resources=[
                PlannedResource("bucket", f"b-{suffix}", f"bucket b-{suffix}"),
                PlannedResource("instance", f"i-{suffix}", f"instance i-{suffix}"),
            ],
            spec={},
        )

    def create(self, target):
        for resource in target.plan.resources:
            _put(
                Found(
                    kind=resource.kind,
                    name=resource.name,
                    request_id=target.request_id,
                    region=REGION,
                    created_at=timezone.now(),
                    usd_per_hour=HOURLY,
                )
            )
        return Outcome(State.READY, {"region": REGION})

    def delete(self, target):
        for resource in target.plan.resources:
            CLOUD.pop((resource.kind, REGION, resource.name), None)
        return Outcome(State.ABSENT)

    def inventory(self):
        return list(CLOUD.values())

    def missing(self, target):
        return [
            f"{resource.kind} {resource.name}"
            for resource in target.plan.resources
            if (resource.kind, REGION, resource.name) not in CLOUD
        ]

    def remove(self, found):
        CLOUD.pop((found.kind, found.region, found.name), None)
        return [Step("delete", f"deleted {found.kind} {found.name}")]


@register("test-cloud-down")
class DownCloud(Provider):
    def inventory(self):
        raise ProviderError("the cloud is unreachable")

    def missing(self, target):
        raise ProviderError("the cloud is unreachable")


@pytest.fixture(autouse=True)
def _empty_cloud(settings):
    settings.ORPHAN_PURGE_AFTER_HOURS = 24
    CLOUD.clear()
    yield
    CLOUD.clear()


@pytest.fixture
def deployed(make_request, devops_user, provisioning_queue):
    """A request planned for the test cloud, approved and provisioned by the real job."""

    def make(**fields) -> ProvisionRequest:
        request = make_request(**fields)
        snapshot = {**request.template_snapshot, "provider": "test-cloud"}
        plan = TestCloud().plan([], request_id=str(request.pk)).as_dict()
        ProvisionRequest.objects.filter(pk=request.pk).update(template_snapshot=snapshot, plan=plan)
        request.refresh_from_db()
        services.approve_request(actor=devops_user, request=request)
        assert jobs.provision(str(request.pk)) == "deployed"
        provisioning_queue.empty()
        return ProvisionRequest.objects.get(pk=request.pk)

    return make


def _orphan_by_hand(name: str = "b-byhand", request_id: str | None = None) -> Found:
    return _put(
        Found(
            kind="bucket",
            name=name,
            request_id=request_id,
            region=REGION,
            created_at=timezone.now() - timedelta(days=3),
            usd_per_hour=HOURLY,
            detail={"arn": f"arn:test:::{name}"},
        )
    )


@pytest.mark.django_db
def test_an_orphan_is_recorded_with_its_age_and_cost_and_first_seen_is_kept(deployed):
    request = deployed()
    found = _orphan_by_hand()
    now = timezone.now()

    counts = reconciliation.reconcile_resources(now=now, only=ONLY)

    assert counts["inventoried"] == 3
    assert counts["orphans"] == 1
    assert counts["new_orphans"] == 1
    assert counts["purged"] == 0
    assert counts["errors"] == 0
    orphan = Orphan.objects.get()
    assert (orphan.provider, orphan.kind, orphan.name, orphan.region) == ("test-cloud", "bucket", "b-byhand", REGION)
    assert orphan.request_tag == ""
    assert orphan.state == OrphanState.FOUND
    assert orphan.usd_per_hour == HOURLY
    assert orphan.detail == {"arn": "arn:test:::b-byhand"}
    assert abs(orphan.created_at - found.created_at) < timedelta(seconds=1)
    assert abs(orphan.first_seen - now) < timedelta(seconds=1)
    # The request's own resources are not orphans.
    assert not Orphan.objects.filter(request_tag=str(request.pk)).exists()

    later = now + timedelta(hours=5)
    counts = reconciliation.reconcile_resources(now=later, only=ONLY)
    assert counts["orphans"] == 1
    assert counts["new_orphans"] == 0
    orphan.refresh_from_db()
    assert abs(orphan.first_seen - now) < timedelta(seconds=1)
    assert abs(orphan.last_seen - later) < timedelta(seconds=1)
    assert reconciliation.age(orphan.first_seen, later) == "5h 0m"


@pytest.mark.django_db
def test_an_orphan_is_removed_after_orphan_purge_after_hours_and_an_audit_line_is_logged(caplog):
    _orphan_by_hand()
    now = timezone.now()
    reconciliation.reconcile_resources(now=now, only=ONLY)

    assert reconciliation.reconcile_resources(now=now + timedelta(hours=23), only=ONLY)["purged"] == 0
    assert ("bucket", REGION, "b-byhand") in CLOUD

    counts = reconciliation.reconcile_resources(now=now + timedelta(hours=24, minutes=1), only=ONLY)

    assert counts["purged"] == 1
    assert ("bucket", REGION, "b-byhand") not in CLOUD
    orphan = Orphan.objects.get()
    assert orphan.state == OrphanState.PURGED
    assert orphan.purged_by == "system"
    assert orphan.purged_at is not None
    assert any("orphan removed by system: bucket b-byhand" in record.getMessage() for record in caplog.records)
    # Gone from the cloud: the next run leaves it PURGED (nothing to mark, nothing to remove).
    counts = reconciliation.reconcile_resources(now=now + timedelta(hours=25), only=ONLY)
    assert counts["orphans"] == 0
    assert counts["purged"] == 0
    assert Orphan.objects.get().state == OrphanState.GONE


@pytest.mark.django_db
def test_with_orphan_purge_after_hours_0_nothing_is_removed_automatically(settings):
    settings.ORPHAN_PURGE_AFTER_HOURS = 0
    _orphan_by_hand()
    now = timezone.now()
    reconciliation.reconcile_resources(now=now, only=ONLY)
    counts = reconciliation.reconcile_resources(now=now + timedelta(days=365), only=ONLY)
    assert counts["purged"] == 0
    assert counts["orphans"] == 1
    assert ("bucket", REGION, "b-byhand") in CLOUD
    assert Orphan.objects.get().state == OrphanState.FOUND


@pytest.mark.django_db
@pytest.mark.parametrize(
    "status", [RequestStatus.DEPLOYED, RequestStatus.EXPIRED, RequestStatus.FAILED, RequestStatus.PURGE_FAILED]
)
def test_a_resource_tagged_for_a_live_request_is_never_removed(deployed, status):
    request = deployed()
    ProvisionRequest.objects.filter(pk=request.pk).update(status=status)
    before = set(CLOUD)
    counts = reconciliation.reconcile_resources(now=timezone.now() + timedelta(days=30), only=ONLY)
    assert counts["orphans"] == 0
    assert counts["purged"] == 0
    assert set(CLOUD) == before
    assert not Orphan.objects.exists()


@pytest.mark.django_db
def test_resources_of_a_purged_request_are_orphans_and_the_removal_is_on_its_audit_trail(deployed):
    request = deployed()
    ProvisionRequest.objects.filter(pk=request.pk).update(status=RequestStatus.PURGED)  # the purge left them
    now = timezone.now()
    assert reconciliation.reconcile_resources(now=now, only=ONLY)["orphans"] == 2
    assert set(Orphan.objects.values_list("request_tag", flat=True)) == {str(request.pk)}
    assert reconciliation.reconcile_resources(now=now + timedelta(hours=25), only=ONLY)["purged"] == 2
    assert CLOUD == {}
    assert Event.objects.filter(provision_request=request, action="orphan_removed").count() == 2


@pytest.mark.django_db
def test_the_owner_is_read_again_right_before_removing(deployed):
    """An orphan recorded while its tag named no owning request is not removed once one owns it."""
    request = deployed()
    ProvisionRequest.objects.filter(pk=request.pk).update(status=RequestStatus.PURGED)
    now = timezone.now()
    reconciliation.reconcile_resources(now=now, only=ONLY)
    ProvisionRequest.objects.filter(pk=request.pk).update(status=RequestStatus.DEPLOYED)  # e.g. a status race
    orphan = Orphan.objects.filter(kind="bucket").get()

    removal = reconciliation.purge_orphan(orphan, now=now + timedelta(hours=30))

    assert not removal.removed
    assert "owns it now" in removal.reason
    assert ("bucket", REGION, f"b-{str(request.pk)[-8:]}") in CLOUD


@pytest.mark.django_db
def test_a_failed_removal_keeps_the_orphan_found_with_the_error(monkeypatch):
    _orphan_by_hand()
    now = timezone.now()
    reconciliation.reconcile_resources(now=now, only=ONLY)

    def refuse(self, found):
        raise ProviderError("access denied")

    monkeypatch.setattr(TestCloud, "remove", refuse)  # the cloud refuses, not our storage
    counts = reconciliation.reconcile_resources(now=now + timedelta(hours=25), only=ONLY)
    assert counts["remove_failed"] == 1
    assert counts["purged"] == 0
    orphan = Orphan.objects.get()
    assert orphan.state == OrphanState.FOUND
    assert orphan.last_error == "access denied"
    assert orphan.purged_at is None


@pytest.mark.django_db
def test_an_orphan_no_longer_found_is_gone(deployed):
    _orphan_by_hand()
    now = timezone.now()
    reconciliation.reconcile_resources(now=now, only=ONLY)
    _gone("bucket", "b-byhand")
    assert reconciliation.reconcile_resources(now=now + timedelta(minutes=10), only=ONLY)["gone"] == 1
    assert Orphan.objects.get().state == OrphanState.GONE


@pytest.mark.django_db
def test_a_plugin_error_is_counted_and_does_not_stop_the_others():
    _orphan_by_hand()
    counts = reconciliation.reconcile_resources(only=["test-cloud-down", "test-cloud"])
    assert counts["errors"] == 1
    assert counts["orphans"] == 1


def _drift_notifications(request) -> list[tuple[str, str]]:
    rows = Notification.objects.filter(provision_request=request, kind="drifted").order_by("created_at")
    return [(row.recipient.username, row.title) for row in rows]


@pytest.mark.django_db
def test_a_deployed_request_whose_resources_are_gone_drifts_and_people_are_told_once(deployed, devops_user):
    request = deployed()
    now = timezone.now()
    counts = reconciliation.reconcile_resources(now=now, only=ONLY)
    assert counts["checked"] == 1
    assert counts["drifted"] == 0
    assert ProvisionRequest.objects.get(pk=request.pk).drift is None

    _gone("instance", f"i-{str(request.pk)[-8:]}")  # deleted behind the product's back
    counts = reconciliation.reconcile_resources(now=now + timedelta(minutes=10), only=ONLY)

    assert counts["drifted"] == 1
    assert counts["newly_drifted"] == 1
    stored = ProvisionRequest.objects.get(pk=request.pk)
    assert stored.status == RequestStatus.DEPLOYED
    assert stored.drift["missing"] == [f"instance i-{str(request.pk)[-8:]}"]
    assert stored.drift["found_at"] == (now + timedelta(minutes=10)).isoformat()
    event = Event.objects.get(provision_request=request, action="drift")
    assert event.from_status == event.to_status == RequestStatus.DEPLOYED
    assert event.data["missing"] == stored.drift["missing"]
    told = _drift_notifications(request)
    assert sorted(name for name, _ in told) == ["dev1", devops_user.username]

    # The same again: nothing changes, nobody is told twice.
    counts = reconciliation.reconcile_resources(now=now + timedelta(minutes=20), only=ONLY)
    assert counts["drifted"] == 1
    assert counts["newly_drifted"] == 0
    assert Event.objects.filter(provision_request=request, action="drift").count() == 1
    assert _drift_notifications(request) == told
    assert ProvisionRequest.objects.get(pk=request.pk).drift == stored.drift


@pytest.mark.django_db
def test_drift_is_cleared_when_the_resources_are_back(deployed):
    request = deployed()
    suffix = str(request.pk)[-8:]
    missing = _gone("bucket", f"b-{suffix}")
    reconciliation.reconcile_resources(only=ONLY)
    assert ProvisionRequest.objects.get(pk=request.pk).drift["missing"] == [f"bucket b-{suffix}"]

    _put(missing)
    counts = reconciliation.reconcile_resources(only=ONLY)

    assert counts["drift_cleared"] == 1
    assert counts["drifted"] == 0
    assert ProvisionRequest.objects.get(pk=request.pk).drift is None
    assert Event.objects.filter(provision_request=request, action="drift_cleared").count() == 1
    assert reconciliation.reconcile_resources(only=ONLY)["drift_cleared"] == 0


@pytest.mark.django_db
def test_manage_py_reconcile_prints_the_counts_the_orphans_and_the_drifted(deployed):
    request = deployed()
    _orphan_by_hand()
    _gone("bucket", f"b-{str(request.pk)[-8:]}")
    out = StringIO()

    call_command("reconcile", "--provider", "test-cloud", stdout=out)

    text = out.getvalue()
    assert "orphans=1" in text
    assert "new_orphans=1" in text
    assert "newly_drifted=1" in text
    assert "1 orphan(s)" in text
    assert "test-cloud bucket b-byhand test-1 (no request tag): orphaned 0m, $0.0416/h" in text
    assert f"{request.pk}: missing bucket b-{str(request.pk)[-8:]}" in text

    out = StringIO()
    call_command("reconcile", "--provider", "test-cloud", "--purge", stdout=out)
    assert "bucket b-byhand in test-1 (test-cloud): removed" in out.getvalue()
    assert "0 orphan(s)" in out.getvalue()
    assert ("bucket", REGION, "b-byhand") not in CLOUD


@pytest.mark.django_db
def test_the_console_lists_orphans_for_devops_and_purges_one_after_confirmation(client, devops_user, deployed):
    request = deployed()
    _orphan_by_hand()
    _gone("instance", f"i-{str(request.pk)[-8:]}")
    reconciliation.reconcile_resources(only=ONLY)
    orphan = Orphan.objects.get()
    assert client.login(username=devops_user.username, password=PASSWORD)

    listing = client.get("/admin/provisioning/orphan/")
    assert listing.status_code == 200
    page = listing.content.decode()
    assert "b-byhand" in page
    assert "$0.0416" in page
    assert "Found" in page

    data = {"action": "purge_selected", "_selected_action": [str(orphan.pk)], "index": "0"}
    confirm = client.post("/admin/provisioning/orphan/", data)
    assert confirm.status_code == 200
    assert "cannot be undone" in confirm.content.decode()
    assert ("bucket", REGION, "b-byhand") in CLOUD

    done = client.post("/admin/provisioning/orphan/", {**data, "apply": "1"})
    assert done.status_code == 302
    assert ("bucket", REGION, "b-byhand") not in CLOUD
    orphan.refresh_from_db()
    assert orphan.state == OrphanState.PURGED
    assert orphan.purged_by == devops_user.username

    assert client.get(f"/admin/provisioning/orphan/{orphan.pk}/change/").status_code == 200
    # The drifted request's page says what is missing.
    change = client.get(f"/admin/provisioning/provisionrequest/{request.pk}/change/").content.decode()
    assert "Drifted:" in change
    assert f"instance i-{str(request.pk)[-8:]}" in change


@pytest.mark.django_db
def test_the_api_shows_drift(dev_client, deployed):
    request = deployed()
    _gone("bucket", f"b-{str(request.pk)[-8:]}")
    reconciliation.reconcile_resources(only=ONLY)
    body = dev_client.get(f"/api/v1/provision-requests/{request.pk}/").json()
    assert body["drift"]["missing"] == [f"bucket b-{str(request.pk)[-8:]}"]


def test_the_reconcile_job_is_scheduled_on_its_own_interval_and_queue():
    from django.apps import apps
    from django.utils.module_loading import import_string

    (job,) = [
        job
        for job in apps.get_app_config("provisioning").periodic_jobs
        if job.name == "provisioning-reconcile-resources"
    ]
    assert import_string(job.func) is jobs.reconcile_resources
    assert job.interval_setting == "RECONCILE_INTERVAL_SECONDS"
    assert job.queue == services.PROVISIONING_QUEUE
