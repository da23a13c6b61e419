from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group
from django.db import connections
from django.utils import timezone

from cloudassist.exceptions import ApplicationError
from provisioning import services
from provisioning.choices import ExtensionStatus, RequestStatus
from provisioning.models import Event, ExtensionRequest, ProvisionRequest
from provisioning.services import reservations
from quotas import services as quota_services
from quotas.choices import QuotaType
from quotas.models import Quota, UsageLedger
from quotas.services import QuotaExceeded

# dev-namespace with 1 CPU for 8 h: half an m5.large (us-east-1, $0.096/h) = 4 machine-hours, $0.384.
ONE_CPU = {"namespace": "team-a", "cpu_limit": 1}
COST = Decimal("0.384")


@pytest.fixture
def namespace(templates):
    return templates["dev-namespace"]


@pytest.fixture
def submit(namespace, dev_user):
    def submit_one(user=None, **fields):
        fields.setdefault("expires_at", timezone.now() + timedelta(hours=8))
        return services.submit_request(actor=user or dev_user, template=namespace, parameters=ONE_CPU, **fields)

    return submit_one


def ledger(user) -> dict[str, int]:
    return quota_services.reserved(user=user)


def quota(**fields) -> Quota:
    fields.setdefault("quota_type", QuotaType.PERMANENT)
    return Quota.objects.create(**fields)


@pytest.mark.django_db
def test_without_a_quota_nothing_limits_but_everything_is_reserved(submit, dev_user):
    request = submit()
    assert request.cost_estimate["usd"] == "0.38"
    assert request.cost_estimate["machine_hours"] == "4"
    assert ledger(dev_user) == {
        "live_environments": 1,
        "usd_micros": 384_000,
        "machine_hours_micros": 4_000_000,
        "disk_gb_hours_micros": 0,
    }
    codes = [remark["code"] for remark in request.analysis_remarks]
    assert codes[:2] == ["estimate", "no_quota"]


@pytest.mark.django_db
def test_over_budget_is_a_409_with_a_breakdown_and_stores_nothing(submit, dev_user):
    quota(user=dev_user, usd_budget=Decimal("0.50"))
    submit()
    with pytest.raises(QuotaExceeded) as refused:
        submit()
    assert refused.value.extra["quota"]["usd"] == {
        "limit": "0.5",
        "reserved": "0.384",
        "this_request": "0.384",
        "exceeded": True,
    }
    assert "USD budget (limit 0.5, reserved 0.384, this request 0.384)" in refused.value.message
    assert ProvisionRequest.objects.count() == 1
    assert ledger(dev_user)["usd_micros"] == 384_000


@pytest.mark.django_db
def test_revoke_and_reject_release_the_reservation(submit, dev_user, devops_user):
    quota(user=dev_user, max_live_environments=1)
    first = submit()
    with pytest.raises(QuotaExceeded):
        submit()
    services.revoke_request(actor=dev_user, request=first)
    second = submit()
    services.reject_request(actor=devops_user, request=second, note="no")
    assert ledger(dev_user) == dict.fromkeys(quota_services.LEDGER_FIELDS, 0)
    # The same request cannot release twice.
    assert not reservations.release(second)
    assert ledger(dev_user)["live_environments"] == 0


@pytest.mark.django_db
def test_the_users_own_quota_wins_over_their_roles(submit, dev_user):
    quota(role=Group.objects.get(name="dev"), max_live_environments=1)
    submit()
    with pytest.raises(QuotaExceeded):
        submit()
    quota(user=dev_user, max_live_environments=3)
    submit()
    submit()
    with pytest.raises(QuotaExceeded) as refused:
        submit()
    assert refused.value.extra["quota_source"] == "user"


@pytest.mark.django_db
def test_the_most_generous_role_applies(make_user):
    both = make_user("both", "dev", "devops")
    quota(role=Group.objects.get(name="dev"), usd_budget=Decimal("10"), max_live_environments=1)
    quota(role=Group.objects.get(name="devops"), usd_budget=Decimal("50"), max_live_environments=5)
    effective = quota_services.effective_quota(both)
    assert effective.limits["usd_micros"] == 50_000_000
    assert effective.limits["live_environments"] == 5
    assert effective.source == "role:dev,devops"


@pytest.mark.django_db
def test_temporary_quotas_add_to_permanent_ones_while_valid(dev_user):
    now = timezone.now()
    quota(user=dev_user, usd_budget=Decimal("100"), max_live_environments=2)
    quota(
        user=dev_user,
        quota_type=QuotaType.TEMPORARY,
        valid_from=now - timedelta(days=1),
        valid_until=now + timedelta(days=1),
        usd_budget=Decimal("50"),
    )
    quota(
        user=dev_user,
        quota_type=QuotaType.TEMPORARY,
        valid_from=now - timedelta(days=10),
        valid_until=now - timedelta(days=3),
        usd_budget=Decimal("1000"),
    )
    limits = quota_services.effective_quota(dev_user, now=now).limits
    assert limits["usd_micros"] == 150_000_000
    assert limits["live_environments"] == 2  # the temporary quota does not cap what it leaves unset
    assert limits["machine_hours_micros"] is None
    later = quota_services.effective_quota(dev_user, now=now + timedelta(days=2)).limits
    assert later["usd_micros"] == 100_000_000
    Quota.objects.filter(user=dev_user).update(ended_at=now)
    assert quota_services.effective_quota(dev_user, now=now).source == "none"


@pytest.mark.django_db
def test_a_temporary_quota_alone_is_the_limit_while_valid(dev_user):
    now = timezone.now()
    quota(
        user=dev_user,
        quota_type=QuotaType.TEMPORARY,
        valid_from=now,
        valid_until=now + timedelta(hours=1),
        max_live_environments=1,
    )
    assert quota_services.effective_quota(dev_user, now=now).limits["live_environments"] == 1
    assert quota_services.effective_quota(dev_user, now=now + timedelta(hours=2)).source == "none"


@pytest.mark.django_db
def test_approval_rechecks_a_quota_that_shrank(submit, dev_user, devops_user, provisioning_queue):
    budget = quota(user=dev_user, usd_budget=Decimal("1.00"))
    request = submit()
    Quota.objects.filter(pk=budget.pk).update(usd_budget=Decimal("0.10"))
    with pytest.raises(QuotaExceeded) as refused:
        services.approve_request(actor=devops_user, request=request)
    assert refused.value.extra["quota"]["usd"]["limit"] == "0.1"
    assert ProvisionRequest.objects.get(pk=request.pk).status == RequestStatus.REQUESTED
    assert not Event.objects.filter(provision_request=request, action="approve").exists()
    assert provisioning_queue.count == 0


@pytest.mark.django_db
def test_an_extension_over_budget_is_refused_and_changes_nothing(submit, dev_user, devops_user):
    quota(user=dev_user, usd_budget=Decimal("0.50"))
    request = submit()
    services.approve_request(actor=devops_user, request=request)
    extension = services.request_extension(actor=dev_user, request=request, extend_by_hours=8, reason="more")
    with pytest.raises(QuotaExceeded) as refused:
        services.approve_extension(actor=devops_user, extension=extension)
    assert refused.value.extra["quota"]["usd"]["this_request"] == "0.384"  # the extra 8 hours
    assert ExtensionRequest.objects.get(pk=extension.pk).status == ExtensionStatus.REQUESTED
    stored = ProvisionRequest.objects.get(pk=request.pk)
    assert stored.expires_at == request.expires_at
    assert ledger(dev_user)["usd_micros"] == 384_000


@pytest.mark.django_db
def test_an_extension_within_budget_adjusts_the_reservation_and_estimate(submit, dev_user, devops_user):
    quota(user=dev_user, usd_budget=Decimal("1.00"))
    request = submit()
    services.approve_request(actor=devops_user, request=request)
    extension = services.request_extension(actor=dev_user, request=request, extend_by_hours=8, reason="more")
    services.approve_extension(actor=devops_user, extension=extension)
    stored = ProvisionRequest.objects.get(pk=request.pk)
    assert stored.cost_estimate["hours"] == "16"
    assert stored.reservation["usd_micros"] == 768_000
    assert ledger(dev_user) == {
        "live_environments": 1,
        "usd_micros": 768_000,
        "machine_hours_micros": 8_000_000,
        "disk_gb_hours_micros": 0,
    }
    services.revoke_request(actor=dev_user, request=stored)
    assert ledger(dev_user)["usd_micros"] == 0


@pytest.mark.django_db
def test_analysis_warns_near_the_budget_and_for_large_or_permanent_requests(submit, dev_user, eks):
    quota(user=dev_user, usd_budget=Decimal("0.45"))
    near = submit()
    warnings = {remark["code"] for remark in near.analysis_remarks if remark["level"] == "warning"}
    assert warnings == {"quota_nearly_used"}
    Quota.objects.all().delete()
    big = services.submit_request(
        actor=dev_user,
        template=eks,
        parameters={"cluster_name": "big-one", "instance_type": "m5.xlarge"},
        request_type="PERMANENT",
    )
    codes = {remark["code"] for remark in big.analysis_remarks if remark["level"] == "warning"}
    assert "permanent" in codes
    long_lived = services.submit_request(
        actor=dev_user,
        template=eks,
        parameters={"cluster_name": "long-one"},
        expires_at=timezone.now() + timedelta(hours=eks.max_lifetime_hours - 1),
    )
    assert "lifetime_near_maximum" in {remark["code"] for remark in long_lived.analysis_remarks}


@pytest.mark.django_db(transaction=True)
def test_one_hundred_concurrent_submissions_against_a_quota_for_ten(namespace, dev_user):
    quota(user=dev_user, usd_budget=COST * 10)
    barrier = threading.Barrier(100)
    outcomes: Counter = Counter()
    lock = threading.Lock()

    def submit_one() -> None:
        try:
            barrier.wait()
            services.submit_request(
                actor=dev_user,
                template=namespace,
                parameters=ONE_CPU,
                expires_at=timezone.now() + timedelta(hours=8),
            )
            outcome = "accepted"
        except ApplicationError as exc:
            outcome = type(exc).__name__
        finally:
            connections.close_all()
        with lock:
            outcomes[outcome] += 1

    threads = [threading.Thread(target=submit_one) for _ in range(100)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert outcomes == {"accepted": 10, "QuotaExceeded": 90}
    assert ProvisionRequest.objects.filter(requested_by=dev_user).count() == 10
    full = UsageLedger.objects.get(user=dev_user)
    assert (full.usd_micros, full.live_environments) == (3_840_000, 10)  # exactly the budget


@pytest.mark.django_db
def test_purging_releases_the_reservation(submit, dev_user):
    request = submit()
    ProvisionRequest.objects.filter(pk=request.pk).update(status=RequestStatus.PURGE_INITIATED)
    request.refresh_from_db()
    services.mark_purged(request=request)
    assert ledger(dev_user) == dict.fromkeys(quota_services.LEDGER_FIELDS, 0)
