from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group
from django.utils import timezone

from provisioning import services
from provisioning.models import Event
from provisioning.tests.conftest import namespace_request_body as _request_body
from quotas.models import Quota


@pytest.mark.django_db
def test_submission_over_quota_is_a_409_with_the_breakdown(dev_client, templates, dev_user):
    Quota.objects.create(user=dev_user, usd_budget=Decimal("0.50"), max_live_environments=5)
    assert dev_client.post("/api/v1/provision-requests/", _request_body(), format="json").status_code == 201
    refused = dev_client.post("/api/v1/provision-requests/", _request_body(), format="json")
    assert refused.status_code == 409
    body = refused.json()
    assert body["code"] == "quota_exceeded"
    assert body["quota"]["usd"] == {"limit": "0.5", "reserved": "0.384", "this_request": "0.384", "exceeded": True}
    assert body["quota"]["live_environments"]["exceeded"] is False
    assert "USD budget" in body["error"]


@pytest.mark.django_db
def test_admins_allocate_update_and_end_quotas(admin_client_api, dev_client, devops_client, dev_user, other_dev):
    own = admin_client_api.post(
        "/api/v1/quotas/",
        {"user": str(dev_user.pk), "usd_budget": "100.00", "max_live_environments": 3, "note": "team A"},
        format="json",
    )
    assert own.status_code == 201, own.json()
    role = admin_client_api.post(
        "/api/v1/quotas/",
        {
            "role": "dev",
            "quota_type": "TEMPORARY",
            "valid_from": timezone.now().isoformat(),
            "valid_until": (timezone.now() + timedelta(days=7)).isoformat(),
            "machine_hours": "500",
        },
        format="json",
    )
    assert role.status_code == 201, role.json()
    Quota.objects.create(user=other_dev, max_live_environments=1)

    mine = {row["id"] for row in dev_client.get("/api/v1/quotas/").json()["results"]}
    assert mine == {own.json()["id"], role.json()["id"]}  # own and their role's, not other_dev's
    assert devops_client.get("/api/v1/quotas/").json()["count"] == 3

    assert dev_client.post("/api/v1/quotas/", {"role": "dev"}, format="json").status_code == 403
    url = own.json()["url"]
    assert admin_client_api.patch(url, {"usd_budget": "50"}, format="json").json()["usd_budget"] == "50.00"
    ended = admin_client_api.post(f"{url}end/").json()
    assert ended["ended_at"] is not None
    assert ended["active"] is False
    assert admin_client_api.delete(url).status_code == 405


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"usd_budget": "10"}, "user"),
        ({"user": "000000000000000000000000", "usd_budget": "10"}, "user"),
        ({"role": "dev", "quota_type": "TEMPORARY"}, "valid_from"),
        ({"role": "dev", "valid_until": "2030-01-01T00:00:00Z"}, "valid_until"),
        ({"role": "dev", "usd_budget": "-1"}, "usd_budget"),
        ({"role": "nobody"}, "role"),
        ({"role": "dev", "budget": 5}, "budget"),
    ],
)
def test_bad_quotas_name_the_field(admin_client_api, dev_user, body, field):
    response = admin_client_api.post("/api/v1/quotas/", body, format="json")
    assert response.status_code == 400, response.json()
    assert field in response.json()["fields"]


@pytest.mark.django_db
def test_usage_shows_limits_reserved_and_consumed(dev_client, devops_client, make_request, dev_user, devops_user):
    Quota.objects.create(role=Group.objects.get(name="dev"), max_live_environments=4, usd_budget=Decimal("100"))
    request = make_request()
    services.approve_request(actor=devops_user, request=request)
    Event.objects.filter(provision_request=request, action="approve").update(
        created_at=timezone.now() - timedelta(hours=2)
    )
    mine = dev_client.get("/api/v1/quotas/usage/").json()
    assert mine["user"] == "dev1"
    assert mine["source"] == "role:dev"
    assert mine["dimensions"]["live_environments"] == {"limit": "4", "reserved": "1", "available": "3"}
    assert mine["dimensions"]["machine_hours"]["limit"] is None
    assert Decimal(mine["consumed_to_date"]["machine_hours"]) == pytest.approx(Decimal(4), rel=Decimal("0.01"))
    theirs = devops_client.get("/api/v1/quotas/usage/", {"user": "dev1"}).json()
    assert theirs["dimensions"] == mine["dimensions"]
    assert devops_client.get("/api/v1/quotas/usage/", {"user": "ghost"}).status_code == 404
    # A developer may name themself, but asking for someone else's figures is a 403, not their own.
    assert dev_client.get("/api/v1/quotas/usage/", {"user": "dev1"}).json()["user"] == "dev1"
    refused = dev_client.get("/api/v1/quotas/usage/", {"user": "ops1"})
    assert refused.status_code == 403
    assert "Only DevOps and admins" in refused.json()["error"]
