import pytest

from cloudassist.seed import seed_demo
from templates.models import Template
from templates.seed import BASIC_EKS_CLUSTER

NEW_TEMPLATE = {
    "id": "small-bucket",
    "name": "Small bucket",
    "resource_type": "S3_BUCKET",
    "provider": "noop",  # API mechanics: any document (aws-s3 checks an S3Bucket document)
    "body": "bucket: {{ bucket }}\nregion: {{ region }}\n",
    "parameters_schema": {
        "type": "object",
        "required": ["bucket"],
        "properties": {"bucket": {"type": "string"}, "region": {"type": "string", "default": "eu-west-1"}},
    },
    "default_lifetime_hours": 4,
    "max_lifetime_hours": 48,
}


@pytest.fixture
def seeded(db):
    seed_demo(password="irrelevant-password")


@pytest.mark.django_db
def test_everyone_reads_active_templates_only(seeded, dev_client, admin_client_api):
    Template.objects.filter(pk="dev-namespace").update(is_active=False)
    dev_ids = [t["id"] for t in dev_client.get("/api/v1/templates/").json()["results"]]
    assert sorted(dev_ids) == ["basic-eks-cluster", "ec2-instance", "s3-bucket"]
    assert dev_client.get("/api/v1/templates/dev-namespace/").status_code == 404
    admin_ids = [t["id"] for t in admin_client_api.get("/api/v1/templates/").json()["results"]]
    assert sorted(admin_ids) == ["basic-eks-cluster", "dev-namespace", "ec2-instance", "s3-bucket"]


@pytest.mark.django_db
def test_template_detail_carries_url_schema_and_lifetimes(seeded, dev_client):
    body = dev_client.get("/api/v1/templates/basic-eks-cluster/").json()
    assert body["url"].endswith("/api/v1/templates/basic-eks-cluster/")
    assert body["parameters_schema"] == BASIC_EKS_CLUSTER["parameters_schema"]
    assert body["max_lifetime_hours"] == 168
    assert body["version"] == 1


@pytest.mark.django_db
def test_admin_creates_updates_and_deactivates(admin_client_api, admin_user, dev_client):
    created = admin_client_api.post("/api/v1/templates/", NEW_TEMPLATE, format="json")
    assert created.status_code == 201, created.json()
    assert created.json()["created_by"].endswith(f"/api/v1/users/{admin_user.pk}/")

    renamed = admin_client_api.patch("/api/v1/templates/small-bucket/", {"name": "Tiny bucket"}, format="json")
    assert renamed.json()["version"] == 1  # metadata changes keep the version
    changed = admin_client_api.patch(
        "/api/v1/templates/small-bucket/", {"body": "bucket: {{ bucket }}\n"}, format="json"
    )
    assert changed.json()["version"] == 2

    assert admin_client_api.patch("/api/v1/templates/small-bucket/", {"is_active": False}).status_code == 200
    assert dev_client.get("/api/v1/templates/small-bucket/").status_code == 404


@pytest.mark.django_db
def test_template_id_cannot_change(admin_client_api, seeded):
    response = admin_client_api.patch("/api/v1/templates/dev-namespace/", {"id": "other"}, format="json")
    assert response.status_code == 200
    assert response.json()["id"] == "dev-namespace"
    assert not Template.objects.filter(pk="other").exists()


@pytest.mark.django_db
def test_duplicate_template_id_is_a_400(admin_client_api, seeded):
    response = admin_client_api.post("/api/v1/templates/", {**NEW_TEMPLATE, "id": "dev-namespace"}, format="json")
    assert response.status_code == 400
    assert "id" in response.json()["fields"]
    assert Template.objects.get(pk="dev-namespace").name == "Development namespace"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"parameters_schema": {"type": "object", "properties": {"bucket": {"type": 5}}}}, "parameters_schema"),
        ({"body": "bucket: {{ bucket }} {{ secret }}"}, "body"),
        ({"body": "{% if %}"}, "body"),
        ({"default_lifetime_hours": 100}, "default_lifetime_hours"),
        ({"resource_type": "MAINFRAME"}, "resource_type"),
        ({"provider": "gcp"}, "provider"),
        ({"id": "Not A Slug"}, "id"),
        ({"max_lifetime_hours": 0}, "max_lifetime_hours"),
    ],
)
def test_invalid_definitions_are_400s_naming_the_field(admin_client_api, change, field):
    response = admin_client_api.post("/api/v1/templates/", {**NEW_TEMPLATE, **change}, format="json")
    assert response.status_code == 400
    assert field in response.json()["fields"], response.json()
    assert not Template.objects.exists()


@pytest.mark.django_db
def test_developers_cannot_write_templates(seeded, dev_client, devops_client):
    for client in (dev_client, devops_client):
        assert client.post("/api/v1/templates/", NEW_TEMPLATE, format="json").status_code == 403
        assert client.patch("/api/v1/templates/dev-namespace/", {"is_active": False}).status_code == 403
        assert client.delete("/api/v1/templates/dev-namespace/").status_code == 403
    assert Template.objects.get(pk="dev-namespace").is_active


@pytest.mark.django_db
def test_render_is_a_dry_run_returning_the_document(seeded, dev_client):
    response = dev_client.post(
        "/api/v1/templates/basic-eks-cluster/render/", {"parameters": {"cluster_name": "demo-1"}}, format="json"
    )
    assert response.status_code == 200
    body = response.json()
    assert body["template"] == "basic-eks-cluster"
    assert body["parameters"]["region"] == "us-east-1"
    assert "name: demo-1\n" in body["document"]


@pytest.mark.django_db
def test_render_errors_name_each_parameter(seeded, dev_client):
    response = dev_client.post(
        "/api/v1/templates/basic-eks-cluster/render/",
        {"parameters": {"region": "mars", "desired_capacity": "two", "extra": 1}},
        format="json",
    )
    assert response.status_code == 400
    assert set(response.json()["fields"]) == {
        "parameters.cluster_name",
        "parameters.region",
        "parameters.desired_capacity",
        "parameters.extra",
    }


@pytest.mark.django_db
def test_render_of_unknown_or_inactive_template_is_404(seeded, dev_client):
    Template.objects.filter(pk="dev-namespace").update(is_active=False)
    for template_id in ("nope", "dev-namespace"):
        response = dev_client.post(f"/api/v1/templates/{template_id}/render/", {"parameters": {}}, format="json")
        assert response.status_code == 404


@pytest.mark.django_db
def test_filters_and_ordering(seeded, dev_client):
    body = dev_client.get("/api/v1/templates/?resource_type=KUBERNETES_NAMESPACE").json()
    assert [t["id"] for t in body["results"]] == ["dev-namespace"]
    body = dev_client.get("/api/v1/templates/?ordering=-name").json()
    assert [t["id"] for t in body["results"]] == ["s3-bucket", "ec2-instance", "dev-namespace", "basic-eks-cluster"]
    body = dev_client.get("/api/v1/templates/?resource_type=NOPE")
    assert body.status_code == 400
    assert "resource_type" in body.json()["fields"]


@pytest.mark.django_db
def test_templates_say_whether_they_can_be_requested_and_why_not(seeded, dev_client, settings):
    by_id = {t["id"]: t for t in dev_client.get("/api/v1/templates/").json()["results"]}
    assert by_id["dev-namespace"]["available"] is True
    assert by_id["dev-namespace"]["unavailable_reason"] == ""
    settings.SHARED_CLUSTER_KUBECONFIG_DATA = ""
    namespace = dev_client.get("/api/v1/templates/dev-namespace/").json()
    assert namespace["available"] is False
    assert "SHARED_CLUSTER_KUBECONFIG" in namespace["unavailable_reason"]
    assert dev_client.get("/api/v1/templates/basic-eks-cluster/").json()["available"] is True


@pytest.mark.django_db
def test_the_banner_lists_the_templates_that_cannot_be_requested(seeded, settings):
    from cloudassist import apps

    assert apps.banner_lines() == []
    settings.SHARED_CLUSTER_KUBECONFIG_DATA = ""
    (line,) = apps.banner_lines()
    assert "dev-namespace (kubernetes)" in line
    assert "SHARED_CLUSTER_KUBECONFIG" in line


@pytest.mark.django_db
def test_policy_fields_are_read_and_written_with_validation(admin_client_api, seeded, dev_client):
    body = dev_client.get("/api/v1/templates/basic-eks-cluster/").json()
    assert {
        "review_timeout_hours": 72,
        "max_total_lifetime_hours": None,
        "purge_grace_hours": 0,
        "required_approvals": 1,
        "required_approvals_above_usd": None,
    }.items() <= body.items()
    url = "/api/v1/templates/basic-eks-cluster/"
    too_short = admin_client_api.patch(url, {"max_total_lifetime_hours": 10}, format="json")
    assert too_short.status_code == 400
    assert "max_total_lifetime_hours" in str(too_short.json())
    assert admin_client_api.patch(url, {"required_approvals": 9}, format="json").status_code == 400
    changed = admin_client_api.patch(
        url,
        {"max_total_lifetime_hours": 336, "required_approvals": 2, "required_approvals_above_usd": "100.00"},
        format="json",
    )
    assert changed.status_code == 200, changed.content
    assert (changed.json()["max_total_lifetime_hours"], changed.json()["required_approvals"]) == (336, 2)


def _nested(depth: int) -> list:
    outer = level = []
    for _ in range(depth - 1):
        level.append([])
        level = level[0]
    return outer


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "parameters", "field", "says"),
    [
        ("bucket: {{ 7 ** 3000000 }}", {}, "body", "bits"),
        ("bucket: {{ 'x' * 10 ** 9 }}", {}, "body", "larger than"),
        ("{% for i in range(20000) %}{% for j in range(1000) %}{% endfor %}{% endfor %}bucket: x", {}, "body", "loops"),
        ("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}bucket: {{ f(1) }}", {}, "body", "nest"),
        ("bucket: " + "[" * 10_000 + "]" * 10_000, {}, "body", "nests more than"),
        ("bucket: {{ region }}", {"region": _nested(200)}, "parameters", "nested more than"),
    ],
)
def test_renders_past_the_sandbox_bounds_are_400s_naming_the_problem(
    admin_client_api, dev_client, body, parameters, field, says
):
    """A body past the bounds is refused when the template is saved (it is rendered then, with its
    defaults); a parameter past them when the template is rendered."""
    schema = {"type": "object", "properties": {"region": {"default": "eu-west-1"}}}
    created = admin_client_api.post(
        "/api/v1/templates/", {**NEW_TEMPLATE, "body": body, "parameters_schema": schema}, format="json"
    )
    if field == "body":
        response = created
    else:
        assert created.status_code == 201, created.json()
        response = dev_client.post("/api/v1/templates/small-bucket/render/", {"parameters": parameters}, format="json")
    assert response.status_code == 400, response.content[:500]
    error = response.json()
    assert says in " ".join(error.get("fields", {}).get(field, [])), error


@pytest.mark.django_db
def test_a_schema_nested_too_deeply_is_a_400(admin_client_api):
    schema = {"type": "object"}
    for _ in range(400):
        schema = {"type": "object", "properties": {"region": schema}}
    response = admin_client_api.post("/api/v1/templates/", {**NEW_TEMPLATE, "parameters_schema": schema}, format="json")
    assert response.status_code == 400
    assert "nested more than" in response.json()["fields"]["parameters_schema"][0]


NOOP_TEMPLATE = {
    "id": "noop-thing",
    "name": "Noop thing",
    "resource_type": "EC2_INSTANCE",
    "provider": "noop",
    "body": "size: {{ size }}\ncount: {{ count }}\n",
    "parameters_schema": {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "size": {"type": "string", "default": "small"},
            "count": {"type": "integer", "minimum": 1, "maximum": 3, "default": 1},
        },
    },
    "default_lifetime_hours": 4,
    "max_lifetime_hours": 48,
}


@pytest.mark.django_db
def test_plan_is_a_dry_run_returning_the_plan_and_its_estimate(seeded, dev_client):
    from templates import planning

    template = Template.objects.get(pk="basic-eks-cluster")
    parameters = planning.example_parameters(template.parameters_schema)
    response = dev_client.post(
        "/api/v1/templates/basic-eks-cluster/plan/", {"parameters": parameters, "lifetime_hours": 10}, format="json"
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    expected = planning.plan(
        provider=template.provider, body=template.body, schema=template.parameters_schema, parameters=parameters
    )
    assert (body["template"], body["template_version"]) == ("basic-eks-cluster", template.version)
    assert body["parameters"] == expected.rendered.parameters
    assert body["plan"]["provider"] == template.provider
    assert [resource["summary"] for resource in body["plan"]["resources"]] == expected.plan.lines
    assert body["plan"]["spec"] == expected.plan.spec
    assert body["estimate"] == planning.price(expected.plan, 10).as_dict()
    assert body["estimate"]["hours"] == "10"


@pytest.mark.django_db
def test_plan_prices_the_default_lifetime_and_refuses_more_than_the_maximum(seeded, dev_client):
    Template.objects.create(**NOOP_TEMPLATE)
    response = dev_client.post("/api/v1/templates/noop-thing/plan/", {}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["estimate"]["hours"] == "4"
    assert response.json()["parameters"] == {"size": "small", "count": 1}
    assert response.json()["plan"]["resources"]
    for hours in (49, 0):
        response = dev_client.post("/api/v1/templates/noop-thing/plan/", {"lifetime_hours": hours}, format="json")
        assert response.status_code == 400
        assert set(response.json()["fields"]) == {"lifetime_hours"}


@pytest.mark.django_db
def test_plan_errors_name_each_parameter(seeded, dev_client):
    Template.objects.create(**NOOP_TEMPLATE)
    response = dev_client.post(
        "/api/v1/templates/noop-thing/plan/", {"parameters": {"count": 9, "colour": "red"}}, format="json"
    )
    assert response.status_code == 400
    assert set(response.json()["fields"]) == {"parameters.count", "parameters.colour"}
    assert dev_client.post("/api/v1/templates/nope/plan/", {}, format="json").status_code == 404


@pytest.mark.django_db
def test_plan_is_in_the_openapi_schema(seeded, dev_client):
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    operation = schema["paths"]["/api/v1/templates/{id}/plan/"]["post"]
    assert operation["requestBody"]["content"]["application/json"]["schema"]["$ref"].startswith(
        "#/components/schemas/PlanRequest"
    )
    assert operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/PlanResult")
    components = schema["components"]["schemas"]
    assert {"template", "template_version", "parameters", "plan", "estimate"} <= set(
        components["PlanResult"]["properties"]
    )
    assert {"provider", "resources", "spec"} <= set(components["Plan"]["properties"])
    assert "plan" in components["EstimateResult"]["properties"]
    assert "plan" in components["ProvisionRequest"]["properties"]
