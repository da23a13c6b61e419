"""POST /api/v1/estimates/ (price a request before submitting it) and GET /api/v1/bills/
(provisioning/api/costs.py, provisioning/bills.py)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone
from rest_framework.test import APIClient

from provisioning import services
from provisioning.models import Event
from provisioning.tests.conftest import namespace_request_body as _request_body
from quotas.models import Quota
from templates import services as template_services
from templates.models import Template


@pytest.mark.django_db
def test_estimate_before_submitting(dev_client, templates, dev_user):
    response = dev_client.post("/api/v1/estimates/", _request_body(), format="json")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["estimate"]["usd"] == "0.38"
    assert body["estimate"]["machine_hours"] == "4"
    assert body["quota"]["fits"] is True
    assert body["parameters"]["memory_limit_gi"] == 4  # defaults applied

    Quota.objects.create(user=dev_user, usd_budget=Decimal("0.10"))
    over = dev_client.post("/api/v1/estimates/", _request_body(), format="json").json()
    assert over["quota"]["fits"] is False
    assert over["quota"]["quota"]["usd"]["limit"] == "0.1"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        (
            {"template": "basic-eks-cluster", "parameters": {"cluster_name": "abc", "region": "mars-1"}},
            "parameters.region",
        ),
        ({"parameters": {"namespace": "UPPER"}}, "parameters.namespace"),
        ({"expires_at": "2000-01-01T00:00:00Z"}, "expires_at"),
    ],
)
def test_bad_estimates_name_the_field(dev_client, templates, overrides, field):
    response = dev_client.post("/api/v1/estimates/", _request_body(**overrides), format="json")
    assert response.status_code == 400
    assert field in response.json()["fields"]


@pytest.mark.django_db
def test_a_bad_parameter_is_answered_for_programs_and_in_words(dev_client, templates):
    """The validator's message stays in ``fields``; ``messages`` and ``error`` say it in words."""
    body = {"template": "basic-eks-cluster", "parameters": {"cluster_name": "Not a valid name!", "region": "mars-1"}}
    answer = dev_client.post("/api/v1/estimates/", _request_body(**body), format="json").json()
    assert answer["fields"]["parameters.cluster_name"] == [
        "'Not a valid name!' does not match '^[a-z][a-z0-9-]{1,38}[a-z0-9]$'"
    ]
    assert answer["messages"]["parameters.cluster_name"] == (
        "Cluster name must match the required format: lower-case letters, digits and hyphens, starting with a letter."
    )
    assert answer["messages"]["parameters.region"].startswith("Region must be one of: us-east-1, ")
    assert answer["error"] == (
        "Invalid input in 'parameters.cluster_name': "
        + answer["messages"]["parameters.cluster_name"]
        + " (and 1 more: parameters.region)"
    )
    missing = dev_client.post(
        "/api/v1/estimates/", _request_body(template="basic-eks-cluster", parameters={}), format="json"
    ).json()
    assert missing["fields"] == {"parameters.cluster_name": ["'cluster_name' is a required property"]}
    assert missing["messages"] == {"parameters.cluster_name": "Cluster name is required."}
    assert missing["code"] == "invalid"


@pytest.mark.django_db
def test_monthly_bills(dev_client, devops_client, make_request, make_user, dev_user, devops_user):
    request = make_request()
    services.approve_request(actor=devops_user, request=request)
    Event.objects.filter(provision_request=request, action="approve").update(
        created_at=timezone.now() - timedelta(hours=1)
    )
    make_request()  # never approved: never billed
    month = timezone.now().strftime("%Y-%m")
    body = devops_client.get("/api/v1/bills/", {"month": month}).json()
    assert [bill["user"] for bill in body["bills"]] == ["dev1"]
    line = body["bills"][0]["requests"][0]
    assert line["provision_request"] == str(request.pk)
    assert Decimal(line["live_hours"]) == pytest.approx(Decimal(1), abs=Decimal("0.05"))
    assert Decimal(body["total_usd"]) > 0
    assert dev_client.get("/api/v1/bills/").json()["bills"][0]["user"] == "dev1"
    other = make_user("dev9", "dev")
    client = APIClient()
    client.force_authenticate(other)
    assert client.get("/api/v1/bills/").json()["bills"] == []
    assert devops_client.get("/api/v1/bills/", {"month": "2026-13"}).status_code == 400
    assert devops_client.get("/api/v1/bills/", {"month": "1999-01"}).json()["bills"] == []


@pytest.mark.django_db
def test_a_developer_asking_for_someone_elses_bills_gets_a_403(dev_client, devops_client, dev_user, other_dev):
    assert dev_client.get("/api/v1/bills/", {"user": "dev1"}).status_code == 200
    assert dev_client.get("/api/v1/bills/", {"user": str(dev_user.pk)}).status_code == 200
    refused = dev_client.get("/api/v1/bills/", {"user": "dev2"})
    assert refused.status_code == 403
    assert refused.json()["code"] == "permission_denied"
    assert devops_client.get("/api/v1/bills/", {"user": "dev2"}).status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/api/v1/estimates/", "/api/v1/provision-requests/"])
@pytest.mark.parametrize(
    "body",
    [
        "{% for i in range(20000) %}{% for j in range(1000) %}{% endfor %}{% endfor %}name: {{ namespace }}",
        "name: {{ namespace }}\ncpu: {{ 7 ** 3000000 }}",
        "{% macro f(n) %}{{ f(n ~ 1) }}{% endmacro %}name: {{ f(namespace) }}",
    ],
)
def test_estimates_and_submissions_of_a_template_past_the_sandbox_bounds_are_400s(dev_client, templates, path, body):
    """Issue 17: the render every estimate and submission makes is bounded like the dry run. Such a
    body is refused when saved (it is rendered then); one stored before that check still answers 400s."""
    with pytest.raises(ValidationError, match="Refused by the template sandbox"):
        template_services.update_template(template=templates["dev-namespace"], body=body)
    Template.objects.filter(pk="dev-namespace").update(body=body)
    response = dev_client.post(path, _request_body(), format="json")
    assert response.status_code == 400, response.content[:300]
    assert "Refused by the template sandbox" in response.json()["fields"]["body"][0]
    assert not Event.objects.exists()


@pytest.mark.django_db
def test_the_estimate_carries_the_plan_it_prices(dev_client, templates, dev_user):
    from providers.base import Plan
    from templates import planning

    response = dev_client.post("/api/v1/estimates/", _request_body(), format="json")
    assert response.status_code == 200, response.json()
    body = response.json()
    plan = Plan.from_dict(body["plan"])
    assert plan.lines
    assert all(resource["summary"] for resource in body["plan"]["resources"])
    assert body["estimate"] == planning.price(plan, Decimal(body["estimate"]["hours"])).as_dict()
