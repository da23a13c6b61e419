"""providers/kubernetes/manifests.py: the objects the ``kubernetes`` provider applies."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from providers.base import ProviderError, Target
from providers.kubernetes.manifests import (
    build_manifests,
    build_namespace,
    build_resource_quota,
    build_role,
    build_token_request,
)
from providers.tests.kubernetes.support import NAMESPACE, REQUEST_ID, VALIDATE_VERSIONS, make_target
from templates import rendering
from templates.seed import DEV_NAMESPACE

# --- the manifests ----------------------------------------------------------------------------


@pytest.mark.parametrize("version", VALIDATE_VERSIONS)
def test_every_object_passes_strict_validation(version):
    target = make_target(owner="Alice.Smith@example.com")
    for obj in [*build_manifests(target), build_token_request(3600)]:
        kubernetes_validate.validate(obj, version, strict=True)


def test_manifests_pass_the_kubernetes_validate_command(tmp_path):
    manifests = tmp_path / "namespace.yaml"
    manifests.write_text(yaml.safe_dump_all(build_manifests(make_target())))
    command = Path(sys.executable).with_name("kubernetes-validate")
    version = VALIDATE_VERSIONS[-1]
    result = subprocess.run(
        [str(command), "--strict", "-k", version, str(manifests)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("INFO") == 6
    assert "WARN" not in result.stdout


def test_manifests_follow_the_parameters_and_the_template():
    target = make_target(cpu_limit=4, memory_limit_gi=8)
    namespace, account, role, binding, quota, limits = build_manifests(target)
    assert namespace["metadata"]["name"] == NAMESPACE
    assert {obj["metadata"]["namespace"] for obj in (account, role, binding, quota, limits)} == {NAMESPACE}
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


@pytest.mark.parametrize(
    "parameters", [{"namespace": "team-b"}, {"namespace": "team-b", "cpu_limit": 16, "memory_limit_gi": 1}]
)
def test_quota_and_limits_are_what_the_reviewed_template_says(parameters):
    """The provider applies the dev-namespace template's ResourceQuota and LimitRange as rendered."""
    rendered = rendering.render(
        body=DEV_NAMESPACE["body"], schema=DEV_NAMESPACE["parameters_schema"], parameters=parameters
    )
    target = Target(
        request_id=REQUEST_ID,
        owner="dev1",
        parameters=rendered.parameters,
        manifests=rendered.manifests,
        expires_at=None,
    )
    built = {obj["kind"]: obj for obj in build_manifests(target)}
    for manifest in rendered.manifests:
        obj = built[manifest["kind"]]
        assert obj["metadata"]["name"] == manifest["metadata"]["name"]
        assert obj["metadata"].get("namespace") == manifest["metadata"].get("namespace")
        assert manifest["metadata"].get("labels", {}).items() <= obj["metadata"]["labels"].items()
        assert obj.get("spec") == manifest.get("spec")


def test_parameter_defaults_are_the_templates():
    quota = build_resource_quota(
        Target(request_id=REQUEST_ID, owner="dev1", parameters={"namespace": "x1"}, manifests=[], expires_at=None)
    )
    assert quota["spec"]["hard"]["limits.cpu"] == "2"
    assert quota["spec"]["hard"]["limits.memory"] == "4Gi"


def test_role_stays_inside_the_namespace():
    rules = build_role(make_target())["rules"]
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
    assert build_namespace(make_target())["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "baseline"
    settings.SHARED_CLUSTER_POD_SECURITY = "restricted"
    provider.create(make_target())
    labels = shared_cluster.get("namespaces", NAMESPACE)["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"


def test_an_unknown_pod_security_level_is_refused(settings, provider, shared_cluster):
    settings.SHARED_CLUSTER_POD_SECURITY = "lenient"
    with pytest.raises(ProviderError, match="SHARED_CLUSTER_POD_SECURITY"):
        provider.create(make_target())
    assert shared_cluster.requests == []
