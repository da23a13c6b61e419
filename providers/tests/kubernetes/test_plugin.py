"""providers/kubernetes/provider.py as a plugin: what a template may render, its plan and estimate,
a template edit applied end to end, and reconciliation (inventory, missing, remove)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from providers.base import Found, Target
from providers.tests.kubernetes.support import NAMESPACE, NETWORK_AND_RBAC, REQUEST_ID
from quotas.choices import OperatingSystem, PricingModel
from quotas.models import InstancePrice
from templates import planning
from templates import services as template_services
from templates.seed import DEV_NAMESPACE

HEAD = DEV_NAMESPACE["body"]


def _template(body: str, template_id: str = "team-namespace"):
    """A template saved as a platform team would: the seed's dev-namespace with ``body``."""
    definition = {**DEV_NAMESPACE, "id": template_id, "body": body}
    return template_services.create_template(actor=None, **definition)


def _target(template, *, parameters=None, request_id=REQUEST_ID, owner="dev1") -> Target:
    planned = planning.plan(
        provider=template.provider,
        body=template.body,
        schema=template.parameters_schema,
        parameters={"namespace": NAMESPACE, **(parameters or {})},
        request_id=request_id,
    )
    return Target(request_id=request_id, owner=owner, plan=planned.plan, expires_at=None)


def _refusal(body: str) -> dict[str, list[str]]:
    with pytest.raises(ValidationError) as caught:
        _template(body)
    return caught.value.message_dict


# --- what a template may render ----------------------------------------------------------------


def test_the_seeded_template_is_accepted_and_planned_in_words(templates):
    target = _target(templates["dev-namespace"], parameters={"cpu_limit": 2, "memory_limit_gi": 4})
    assert target.plan.lines == [
        f"Namespace {NAMESPACE} on the shared cluster",
        "access: ServiceAccount cloudassist-a7b8c9d0 with Role cloudassist-namespace-admin",
        f"ResourceQuota {NAMESPACE}-quota: 2 CPU, 4 GiB memory",
        f"LimitRange {NAMESPACE}-defaults: Container default 500m cpu, 512Mi memory",
    ]
    assert [obj["kind"] for obj in target.spec["objects"]] == [
        "Namespace",
        "ServiceAccount",
        "Role",
        "RoleBinding",
        "ResourceQuota",
        "LimitRange",
    ]


def test_a_cluster_scoped_kind_is_refused_at_save_naming_it(templates):
    body = HEAD + "---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: x\nrules: []\n"
    errors = _refusal(body)
    assert list(errors) == ["body[3].kind"]
    assert "cluster-scoped" in errors["body[3].kind"][0]


def test_an_unsupported_kind_is_refused_naming_it(templates):
    body = HEAD + "---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: x\n"
    errors = _refusal(body)
    assert list(errors) == ["body[3].kind"]
    assert "not supported by kubernetes" in errors["body[3].kind"][0]


def test_an_object_failing_kubernetes_validate_is_refused_naming_the_field(templates):
    body = HEAD + (
        "---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: deny\n"
        "spec:\n  podSelector: {}\n  policyTypes: [Ingress]\n  ingres: []\n"
    )
    errors = _refusal(body)
    assert list(errors) == ["body[3].spec"]
    assert "ingres" in errors["body[3].spec"][0]


def test_an_object_in_another_namespace_is_refused(templates):
    body = HEAD + "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n  namespace: elsewhere\ndata: {}\n"
    assert list(_refusal(body)) == ["body[3].metadata.namespace"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (HEAD + "---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: second\n", "body[3].kind"),
        (HEAD.split("---")[1] + "---" + HEAD.split("---")[2], "body"),  # no Namespace
        (HEAD + "---\napiVersion: v1\nkind: Role\nmetadata:\n  name: x\n", "body[3].apiVersion"),
        (
            HEAD + "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  generateName: x-\n  name: x\n",
            "body[3].metadata.generateName",
        ),
        (
            HEAD + "---\napiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: cloudassist-x\n",
            "body[3].metadata.name",
        ),
    ],
)
def test_other_refusals_name_the_field(body, field, templates):
    assert field in _refusal(body)


def test_a_namespace_without_a_cpu_quota_cannot_be_priced_and_is_refused(templates):
    body = HEAD.replace('    limits.cpu: "{{ cpu_limit }}"\n', "").replace('    requests.cpu: "{{ cpu_limit }}"\n', "")
    errors = _refusal(body)
    assert list(errors) == ["body"]
    assert "ResourceQuota with spec.hard limits.cpu" in errors["body"][0]


# --- the estimate ------------------------------------------------------------------------------


@pytest.mark.parametrize(("cpu", "cores"), [("3", Decimal(3)), ("500m", Decimal("0.5")), ("1.5", Decimal("1.5"))])
def test_the_estimate_is_the_plans_cpu_share_of_the_reference_node(cpu, cores, templates, settings):
    body = HEAD.replace('limits.cpu: "{{ cpu_limit }}"', f'limits.cpu: "{cpu}"')
    target = _target(_template(body))
    reference = InstancePrice.objects.get(
        instance_type=settings.SHARED_CLUSTER_NODE_TYPE,
        region=settings.SHARED_CLUSTER_REGION,
        pricing_model=PricingModel.ON_DEMAND,
        operating_system=OperatingSystem.LINUX,
    )
    estimate = planning.price(target.plan, 10)
    (item,) = estimate.line_items
    share = cores / Decimal(reference.vcpus)
    assert item.quantity == share
    assert estimate.machine_hours == share * 10
    assert estimate.usd == share * 10 * reference.usd_per_hour
    quota = next(resource for resource in target.plan.resources if resource.kind == "ResourceQuota")
    assert Decimal(quota.attributes["cpu"]) == cores


# --- a template edit, applied and purged -------------------------------------------------------


def test_a_template_edit_adding_a_network_policy_and_a_role_binding_is_what_gets_created(
    templates, provider, shared_cluster
):
    api = shared_cluster
    template = templates["dev-namespace"]
    template_services.update_template(template=template, body=HEAD + NETWORK_AND_RBAC)
    target = _target(template)
    assert target.plan.lines[-3:] == [
        "NetworkPolicy deny-ingress",
        "Role reader: 1 rule",
        "RoleBinding readers -> Role reader",
    ]

    provider.create(target)
    assert api.names("networkpolicies", NAMESPACE) == ["deny-ingress"]
    assert api.names("roles", NAMESPACE) == ["cloudassist-namespace-admin", "reader"]
    assert api.names("rolebindings", NAMESPACE) == ["cloudassist-namespace-admin", "readers"]
    policy = api.get("networkpolicies", "deny-ingress", NAMESPACE)
    assert policy["spec"] == {"podSelector": {}, "policyTypes": ["Ingress"]}
    assert policy["metadata"]["labels"]["cloudassist-request"] == REQUEST_ID
    assert policy["metadata"]["labels"]["cloudassist-owner"] == "dev1"
    assert api.get("rolebindings", "readers", NAMESPACE)["subjects"][0]["name"] == "team-a-readers"
    assert provider.missing(target) == []

    provider.delete(target)
    api.finish_deletions()
    assert api.objects == {}
    assert len(provider.missing(target)) == len(target.spec["objects"])


def test_a_config_map_is_created_and_put_back_when_changed(templates, provider, shared_cluster):
    body = HEAD + "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  LOG_LEVEL: info\n"
    target = _target(_template(body))
    provider.create(target)
    shared_cluster.objects[("configmaps", NAMESPACE, "settings")]["data"]["LOG_LEVEL"] = "debug"
    provider.create(target)
    assert shared_cluster.get("configmaps", "settings", NAMESPACE)["data"] == {"LOG_LEVEL": "info"}


# --- reconciliation ----------------------------------------------------------------------------


def test_missing_reports_an_object_deleted_behind_our_back(templates, provider, shared_cluster):
    template = templates["dev-namespace"]
    template_services.update_template(template=template, body=HEAD + NETWORK_AND_RBAC)
    target = _target(template)
    provider.create(target)
    del shared_cluster.objects[("networkpolicies", NAMESPACE, "deny-ingress")]
    del shared_cluster.objects[("resourcequotas", NAMESPACE, f"{NAMESPACE}-quota")]
    assert provider.missing(target) == [f"ResourceQuota {NAMESPACE}-quota", "NetworkPolicy deny-ingress"]


def test_inventory_finds_a_namespace_made_by_hand_with_our_label(templates, provider, shared_cluster):
    provider.create(_target(templates["dev-namespace"]))
    shared_cluster.add_namespace(
        "by-hand",
        labels={"app.kubernetes.io/managed-by": "cloudassist"},
        annotations={"cloudassist-request": "665f00000000000000000001"},
    )
    shared_cluster.add_namespace("someone-elses")
    found = {item.name: item for item in provider.inventory()}
    assert sorted(found) == ["by-hand", NAMESPACE]
    assert found["by-hand"].kind == "Namespace"
    assert found["by-hand"].request_id == "665f00000000000000000001"
    assert found[NAMESPACE].request_id == REQUEST_ID
    assert found[NAMESPACE].created_at is not None


def test_remove_deletes_an_orphan_namespace_only_while_it_is_labelled_ours(provider, shared_cluster):
    shared_cluster.add_namespace("orphan", labels={"app.kubernetes.io/managed-by": "cloudassist"})
    shared_cluster.add_namespace("theirs")
    (orphan,) = provider.inventory()
    steps = provider.remove(orphan)
    assert "Deleted orphan namespace orphan" in steps[0].detail
    assert shared_cluster.get("namespaces", "orphan")["status"]["phase"] == "Terminating"

    not_ours = Found(kind="Namespace", name="theirs", request_id=None)
    assert "left alone" in provider.remove(not_ours)[0].detail
    assert shared_cluster.get("namespaces", "theirs")["status"]["phase"] == "Active"
    shared_cluster.finish_deletions()
    assert "already gone" in provider.remove(orphan)[0].detail
