"""providers/kubernetes/manifests.py: the objects the plugin adds, and the objects it applies."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import kubernetes_validate
import pytest
import yaml
from django.core.exceptions import ValidationError

from providers.kubernetes.manifests import build_access, build_token_request, tagged
from providers.tests.kubernetes.support import (
    NAMESPACE,
    NETWORK_AND_RBAC,
    REQUEST_ID,
    VALIDATE_VERSIONS,
    make_target,
    plan_for,
)
from templates import planning
from templates.seed import DEV_NAMESPACE


def _applied(target):
    return [tagged(obj, target.tags) for obj in target.spec["objects"]]


@pytest.mark.parametrize("version", VALIDATE_VERSIONS)
def test_every_object_passes_strict_validation(version):
    target = make_target(owner="Alice.Smith@example.com", body=DEV_NAMESPACE["body"] + NETWORK_AND_RBAC)
    for obj in [*_applied(target), build_token_request(3600)]:
        kubernetes_validate.validate(obj, version, strict=True)


def test_manifests_pass_the_kubernetes_validate_command(tmp_path):
    manifests = tmp_path / "namespace.yaml"
    manifests.write_text(yaml.safe_dump_all(_applied(make_target())))
    command = Path(sys.executable).with_name("kubernetes-validate")
    version = VALIDATE_VERSIONS[-1]
    result = subprocess.run(
        [str(command), "--strict", "-k", version, str(manifests)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("INFO") == 6
    assert "WARN" not in result.stdout


def test_the_plan_applies_the_template_as_rendered_plus_the_access_objects():
    target = make_target(cpu_limit=4, memory_limit_gi=8)
    namespace, account, role, binding, quota, limits = target.spec["objects"]
    assert target.spec["namespace"] == NAMESPACE
    assert namespace["kind"] == "Namespace"
    assert namespace["metadata"]["name"] == NAMESPACE
    assert {obj["metadata"]["namespace"] for obj in (account, role, binding, quota, limits)} == {NAMESPACE}
    assert [account["kind"], role["kind"], binding["kind"]] == ["ServiceAccount", "Role", "RoleBinding"]
    assert quota["metadata"]["name"] == f"{NAMESPACE}-quota"
    assert quota["spec"]["hard"] == {
        "requests.cpu": "4",
        "limits.cpu": "4",
        "requests.memory": "8Gi",
        "limits.memory": "8Gi",
    }
    assert limits["metadata"]["name"] == f"{NAMESPACE}-defaults"
    assert limits["spec"]["limits"] == [
        {
            "type": "Container",
            "default": {"cpu": "500m", "memory": "512Mi"},
            "defaultRequest": {"cpu": "100m", "memory": "128Mi"},
        }
    ]
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "Role",
        "name": role["metadata"]["name"],
    }
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": account["metadata"]["name"], "namespace": NAMESPACE}
    ]
    for obj in target.spec["objects"]:
        assert obj["metadata"]["labels"]["cloudassist-request"] == REQUEST_ID
        assert obj["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "cloudassist"
        assert obj["metadata"]["annotations"]["cloudassist-request"] == REQUEST_ID


def test_parameter_defaults_are_the_templates():
    plan = planning.plan(
        provider="kubernetes",
        body=DEV_NAMESPACE["body"],
        schema=DEV_NAMESPACE["parameters_schema"],
        parameters={"namespace": NAMESPACE},
    ).plan
    quota = next(obj for obj in plan.spec["objects"] if obj["kind"] == "ResourceQuota")
    assert quota["spec"]["hard"]["limits.cpu"] == "2"
    assert quota["spec"]["hard"]["limits.memory"] == "4Gi"
    # A dry run names no request: its service account carries the placeholder.
    assert plan.spec["service_account"] == "cloudassist-xxxxxxxx"
    assert "cloudassist-request" not in plan.spec["objects"][0]["metadata"]["labels"]


def test_role_stays_inside_the_namespace():
    rules = build_access(NAMESPACE, REQUEST_ID)[1]["rules"]
    groups = {group for rule in rules for group in rule["apiGroups"]}
    resources = {resource for rule in rules for resource in rule["resources"]}
    verbs = {verb for rule in rules for verb in rule["verbs"]}
    assert "*" not in groups | resources | verbs
    assert "rbac.authorization.k8s.io" not in groups  # no self-escalation
    assert not resources & {"namespaces", "nodes", "persistentvolumes", "clusterroles", "clusterrolebindings"}
    assert {"escalate", "bind", "impersonate"}.isdisjoint(verbs)
    assert all("nonResourceURLs" not in rule and "resourceNames" not in rule for rule in rules)
    for needed in (
        "pods",
        "services",
        "configmaps",
        "secrets",
        "persistentvolumeclaims",
        "deployments",
        "jobs",
        "ingresses",
    ):
        assert any(needed in rule["resources"] and "create" in rule["verbs"] for rule in rules), needed
    # What CloudAssist sets is read-only for the requester.
    for fixed in ("resourcequotas", "limitranges"):
        assert all(
            "create" not in rule["verbs"] and "update" not in rule["verbs"]
            for rule in rules
            if fixed in rule["resources"]
        )


def test_pod_security_is_enforced_on_the_namespace(settings, provider, shared_cluster):
    label = "pod-security.kubernetes.io/enforce"
    assert make_target().spec["objects"][0]["metadata"]["labels"][label] == "baseline"
    settings.SHARED_CLUSTER_POD_SECURITY = "restricted"
    target = make_target()
    assert target.plan.resources[0].attributes["pod_security"] == "restricted"
    provider.create(target)
    assert shared_cluster.get("namespaces", NAMESPACE)["metadata"]["labels"][label] == "restricted"


@pytest.mark.parametrize(
    ("asked", "setting", "enforced"), [("restricted", "baseline", "restricted"), ("privileged", "baseline", "baseline")]
)
def test_a_template_may_be_stricter_than_the_setting_never_laxer(asked, setting, enforced, settings):
    settings.SHARED_CLUSTER_POD_SECURITY = setting
    body = DEV_NAMESPACE["body"].replace(
        "    app.kubernetes.io/managed-by: cloudassist\n",
        f"    app.kubernetes.io/managed-by: cloudassist\n    pod-security.kubernetes.io/enforce: {asked}\n",
    )
    plan = plan_for(body=body)
    assert plan.spec["objects"][0]["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == enforced


def test_an_unknown_pod_security_level_is_refused(settings, shared_cluster):
    settings.SHARED_CLUSTER_POD_SECURITY = "lenient"
    with pytest.raises(ValidationError, match="SHARED_CLUSTER_POD_SECURITY"):
        make_target()
    assert shared_cluster.requests == []
