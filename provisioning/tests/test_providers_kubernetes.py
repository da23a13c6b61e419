"""The ``kubernetes`` provider, against a test double of the API server's HTTP endpoints.

No real API server can run here: the manifests are checked with kubernetes-validate --strict,
and the client calls go over HTTP to provisioning/tests/k8s_api_double.py (which also validates
every object it stores).
"""

from __future__ import annotations

import base64
import re
import socket
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import kubernetes_validate
import pytest
import yaml
from django.utils import timezone

from provisioning import providers
from provisioning.providers import kubernetes_namespace as kn
from provisioning.providers.base import ProviderError, State, Target, TransientProviderError
from provisioning.tests.k8s_api_double import KubernetesAPIDouble
from templates import rendering
from templates.seed import DEV_NAMESPACE

REQUEST_ID = "665f1c2ab3d4e5f6a7b8c9d0"
OTHER_REQUEST_ID = "665f1c2ab3d4e5f6a7b8ffff"
NAMESPACE = "team-a-dev"
CA_DATA = base64.b64encode(b"-----BEGIN CERTIFICATE-----\nnot a real one\n-----END CERTIFICATE-----\n").decode()
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
VALIDATE_VERSIONS = ["1.30.0", kubernetes_validate.utils.latest_version()]


def make_target(*, request_id=REQUEST_ID, owner="dev1", expires_in=timedelta(hours=24), **parameters) -> Target:
    return Target(
        request_id=request_id,
        owner=owner,
        parameters={"namespace": NAMESPACE, "cpu_limit": 3, "memory_limit_gi": 6, **parameters},
        manifests=[],
        expires_at=None if expires_in is None else timezone.now() + expires_in,
    )


@pytest.fixture
def k8s_api():
    with KubernetesAPIDouble() as double:
        yield double


@pytest.fixture
def shared_cluster(settings, k8s_api):
    """The settings point at the double's kubeconfig (inline)."""
    settings.SHARED_CLUSTER_KUBECONFIG = ""
    settings.SHARED_CLUSTER_KUBECONFIG_DATA = yaml.safe_dump(k8s_api.kubeconfig(ca_data=CA_DATA))
    settings.SHARED_CLUSTER_CONTEXT = ""
    settings.SHARED_CLUSTER_PUBLIC_SERVER = ""
    settings.SHARED_CLUSTER_TOKEN_MAX_SECONDS = 30 * 24 * 3600
    settings.SHARED_CLUSTER_PERMANENT_TOKEN_SECONDS = 7 * 24 * 3600
    settings.SHARED_CLUSTER_API_TIMEOUT = 5
    settings.SHARED_CLUSTER_POD_SECURITY = "baseline"
    return k8s_api


@pytest.fixture
def provider():
    return providers.get("kubernetes")


def test_registered_as_kubernetes():
    assert isinstance(providers.get("kubernetes"), kn.KubernetesNamespaceProvider)
    assert "kubernetes" in providers.names()


# --- the manifests ----------------------------------------------------------------------------


@pytest.mark.parametrize("version", VALIDATE_VERSIONS)
def test_every_object_passes_strict_validation(version):
    target = make_target(owner="Alice.Smith@example.com")
    for obj in [*kn.build_manifests(target), kn.build_token_request(3600)]:
        kubernetes_validate.validate(obj, version, strict=True)


def test_manifests_pass_the_kubernetes_validate_command(tmp_path):
    manifests = tmp_path / "namespace.yaml"
    manifests.write_text(yaml.safe_dump_all(kn.build_manifests(make_target())))
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
    namespace, account, role, binding, quota, limits = kn.build_manifests(target)
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
    built = {obj["kind"]: obj for obj in kn.build_manifests(target)}
    for manifest in rendered.manifests:
        obj = built[manifest["kind"]]
        assert obj["metadata"]["name"] == manifest["metadata"]["name"]
        assert obj["metadata"].get("namespace") == manifest["metadata"].get("namespace")
        assert manifest["metadata"].get("labels", {}).items() <= obj["metadata"]["labels"].items()
        assert obj.get("spec") == manifest.get("spec")


def test_parameter_defaults_are_the_templates():
    quota = kn.build_resource_quota(
        Target(request_id=REQUEST_ID, owner="dev1", parameters={"namespace": "x1"}, manifests=[], expires_at=None)
    )
    assert quota["spec"]["hard"]["limits.cpu"] == "2"
    assert quota["spec"]["hard"]["limits.memory"] == "4Gi"


def test_role_stays_inside_the_namespace():
    rules = kn.build_role(make_target())["rules"]
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
    assert kn.build_namespace(make_target())["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "baseline"
    settings.SHARED_CLUSTER_POD_SECURITY = "restricted"
    provider.create(make_target())
    labels = shared_cluster.get("namespaces", NAMESPACE)["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"


def test_an_unknown_pod_security_level_is_refused(settings, provider, shared_cluster):
    settings.SHARED_CLUSTER_POD_SECURITY = "lenient"
    with pytest.raises(ProviderError, match="SHARED_CLUSTER_POD_SECURITY"):
        provider.create(make_target())
    assert shared_cluster.requests == []


def test_labels_are_valid_and_annotations_keep_the_tags():
    target = make_target(owner="Alice Smith+ops@example.com", request_id="x" * 70)
    metadata = kn.build_namespace(target)["metadata"]
    assert metadata["labels"]["app.kubernetes.io/managed-by"] == "cloudassist"
    assert metadata["labels"]["cloudassist-owner"] == "Alice-Smith-ops-example.com"
    assert metadata["labels"]["cloudassist-request"] == "x" * 63
    assert all(LABEL_VALUE.match(value) and len(value) <= 63 for value in metadata["labels"].values())
    assert metadata["annotations"] == target.tags


@pytest.mark.parametrize("value", ["-lead", "trail.", "a@b", "_x_", "..", "ü", "a" * 80])
def test_label_value_sanitising(value):
    assert LABEL_VALUE.match(kn.label_value(value))
    assert len(kn.label_value(value)) <= 63


@pytest.mark.parametrize("name", ["Team", "1team", "team_a", "a" * 64, "", None, "team-", "default", "kube-system"])
def test_bad_namespace_names_are_refused(name, provider, shared_cluster):
    with pytest.raises(ProviderError, match="namespace"):
        provider.create(make_target(namespace=name))
    assert shared_cluster.requests == []


@pytest.mark.parametrize(("key", "value"), [("cpu_limit", 0), ("cpu_limit", "2"), ("memory_limit_gi", True)])
def test_bad_limits_are_refused(key, value, provider, shared_cluster):
    with pytest.raises(ProviderError, match=key):
        provider.create(make_target(**{key: value}))
    assert shared_cluster.requests == []


# --- token lifetime ---------------------------------------------------------------------------

NOW = datetime(2030, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("expires_at", "seconds"),
    [
        (NOW + timedelta(hours=5), 5 * 3600),
        (NOW + timedelta(hours=5, milliseconds=1), 5 * 3600 + 1),
        (NOW + timedelta(minutes=2), 600),  # the API's minimum
        (NOW - timedelta(hours=1), 600),
        (NOW + timedelta(days=90), 30 * 86400),  # the cap
        (None, 7 * 86400),  # permanent
    ],
)
def test_token_lifetime(expires_at, seconds):
    assert (
        kn.token_lifetime_seconds(expires_at, now=NOW, permanent_seconds=7 * 86400, max_seconds=30 * 86400) == seconds
    )


def test_permanent_lifetime_is_capped_too():
    assert kn.token_lifetime_seconds(None, now=NOW, permanent_seconds=10**9, max_seconds=86400) == 86400


# --- create -----------------------------------------------------------------------------------


def test_create_makes_everything_and_returns_a_namespace_scoped_kubeconfig(provider, shared_cluster):
    api = shared_cluster
    target = make_target()
    outcome = provider.create(target)

    assert outcome.state == State.READY
    assert outcome.secret_kind == "kubeconfig"
    account = kn.service_account_name(target)
    assert account == "cloudassist-a7b8c9d0"
    assert api.names("namespaces") == [NAMESPACE]
    assert api.names("serviceaccounts", NAMESPACE) == [account]
    assert api.names("roles", NAMESPACE) == [kn.ROLE_NAME]
    assert api.names("rolebindings", NAMESPACE) == [kn.ROLE_BINDING_NAME]
    assert api.names("resourcequotas", NAMESPACE) == [f"{NAMESPACE}-quota"]
    assert api.names("limitranges", NAMESPACE) == [f"{NAMESPACE}-defaults"]
    namespace = api.get("namespaces", NAMESPACE)
    assert namespace["metadata"]["labels"]["cloudassist-request"] == REQUEST_ID
    assert namespace["metadata"]["labels"]["cloudassist-owner"] == "dev1"
    assert api.get("resourcequotas", f"{NAMESPACE}-quota", NAMESPACE)["spec"]["hard"]["limits.memory"] == "6Gi"
    # Every object was sent as built, with a JSON body.
    posted = [call for call in api.calls("POST") if not call.path.endswith("/token")]
    assert [call.body for call in posted] == kn.build_manifests(target)
    assert all(call.headers["content-type"] == "application/json" for call in api.calls("POST"))

    config = yaml.safe_load(outcome.secret)
    assert config["kind"] == "Config"
    (context,) = config["contexts"]
    assert config["current-context"] == context["name"]
    assert context["context"]["namespace"] == NAMESPACE
    (cluster,) = config["clusters"]
    assert cluster["cluster"] == {"server": api.url, "certificate-authority-data": CA_DATA}
    (user,) = config["users"]
    assert set(user["user"]) == {"token"}
    token = user["user"]["token"]
    assert api.issued[token].namespace == NAMESPACE
    assert api.issued[token].service_account == account
    assert api.token not in outcome.secret  # never CloudAssist's own credentials

    assert outcome.outputs["namespace"] == NAMESPACE
    assert outcome.outputs["server"] == api.url
    assert outcome.outputs["service_account"] == account
    assert outcome.outputs["context"] == context["name"]
    assert outcome.outputs["token_expires_at"] == api.issued[token].expires_at.isoformat().replace("+00:00", "Z")
    assert all(token not in step.detail and token not in str(step.data) for step in outcome.steps)
    assert [step.action for step in outcome.steps] == ["create"] * 6 + ["token"]


def test_the_kubeconfig_works_with_the_kubernetes_client(provider, shared_cluster):
    from kubernetes import client, config

    outcome = provider.create(make_target())
    api_client = config.new_client_from_config_dict(yaml.safe_load(outcome.secret), persist_config=False)
    try:
        assert api_client.configuration.host == shared_cluster.url
        assert api_client.configuration.api_key["BearerToken"].startswith("Bearer double-token-")
        assert isinstance(client.CoreV1Api(api_client), client.CoreV1Api)
    finally:
        api_client.close()


def test_token_expires_with_the_request(provider, shared_cluster):
    target = make_target(expires_in=timedelta(hours=5))
    outcome = provider.create(target)
    (call,) = shared_cluster.calls("POST", r"/serviceaccounts/[^/]+/token$")
    assert call.body["kind"] == "TokenRequest"
    assert 5 * 3600 - 5 <= call.body["spec"]["expirationSeconds"] <= 5 * 3600 + 1
    expires = datetime.fromisoformat(outcome.outputs["token_expires_at"])
    assert abs(expires - target.expires_at) < timedelta(seconds=5)


@pytest.mark.parametrize(
    ("expires_in", "seconds"),
    [(timedelta(minutes=1), 600), (timedelta(days=365), 30 * 24 * 3600), (None, 7 * 24 * 3600)],
)
def test_token_lifetime_is_bounded(expires_in, seconds, provider, shared_cluster):
    provider.create(make_target(expires_in=expires_in))
    (call,) = shared_cluster.calls("POST", r"/token$")
    assert call.body["spec"]["expirationSeconds"] == seconds


def test_create_twice_is_idempotent(provider, shared_cluster):
    api = shared_cluster
    target = make_target()
    first = provider.create(target)
    before = {key: (obj["metadata"]["uid"]) for key, obj in api.objects.items()}
    second = provider.create(target)

    assert second.state == State.READY
    assert {key: (obj["metadata"]["uid"]) for key, obj in api.objects.items()} == before  # nothing new, nothing lost
    assert [step.action for step in second.steps] == ["exists"] + ["update"] * 5 + ["token"]
    patches = api.calls("PATCH")
    assert len(patches) == 5
    assert {call.headers["content-type"] for call in patches} == {"application/merge-patch+json"}
    assert yaml.safe_load(second.secret)["contexts"] == yaml.safe_load(first.secret)["contexts"]


def test_create_puts_drifted_objects_back(provider, shared_cluster):
    api = shared_cluster
    provider.create(make_target())
    quota = api.objects[("resourcequotas", NAMESPACE, f"{NAMESPACE}-quota")]
    quota["spec"]["hard"]["limits.cpu"] = "64"
    role = api.objects[("roles", NAMESPACE, kn.ROLE_NAME)]
    role["rules"].append({"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]})

    provider.create(make_target())
    assert api.get("resourcequotas", f"{NAMESPACE}-quota", NAMESPACE)["spec"]["hard"]["limits.cpu"] == "3"
    assert api.get("roles", kn.ROLE_NAME, NAMESPACE)["rules"] == kn.ROLE_RULES


def test_create_finishes_a_half_done_create(provider, shared_cluster):
    api = shared_cluster
    api.fail("POST", r"/rolebindings$", 503)
    with pytest.raises(TransientProviderError):
        provider.create(make_target())
    assert api.names("rolebindings", NAMESPACE) == []
    outcome = provider.create(make_target())
    assert outcome.state == State.READY
    assert api.names("rolebindings", NAMESPACE) == [kn.ROLE_BINDING_NAME]


@pytest.mark.parametrize(
    ("labels", "whose"),
    [
        (None, "outside CloudAssist"),
        ({"cloudassist-request": OTHER_REQUEST_ID}, OTHER_REQUEST_ID),
        ({"app.kubernetes.io/managed-by": "cloudassist"}, "outside CloudAssist"),
    ],
)
def test_create_never_adopts_someone_elses_namespace(labels, whose, provider, shared_cluster):
    api = shared_cluster
    api.add_namespace(NAMESPACE, labels=labels)
    before = api.get("namespaces", NAMESPACE)
    with pytest.raises(ProviderError, match=f"already exists and belongs .*{whose}") as caught:
        provider.create(make_target())
    assert not isinstance(caught.value, TransientProviderError)
    assert api.get("namespaces", NAMESPACE) == before
    assert [key for key in api.objects if key[1] == NAMESPACE] == []
    assert api.calls("POST", "/token") == []


def test_label_alone_is_not_enough_when_the_annotation_disagrees(provider, shared_cluster):
    shared_cluster.add_namespace(
        NAMESPACE, labels={"cloudassist-request": REQUEST_ID}, annotations={"cloudassist-request": OTHER_REQUEST_ID}
    )
    with pytest.raises(ProviderError, match="already exists"):
        provider.create(make_target())


def test_create_waits_while_our_namespace_is_still_terminating(provider, shared_cluster):
    provider.create(make_target())
    provider.delete(make_target())
    with pytest.raises(TransientProviderError, match="still being deleted"):
        provider.create(make_target())


# --- status -----------------------------------------------------------------------------------


def test_status_follows_the_namespace(provider, shared_cluster):
    api = shared_cluster
    target = make_target()
    assert provider.status(target).state == State.ABSENT

    provider.create(target)
    ready = provider.status(target)
    assert ready.state == State.READY
    assert ready.secret_kind == "kubeconfig"
    assert yaml.safe_load(ready.secret)["contexts"][0]["context"]["namespace"] == NAMESPACE
    assert ready.outputs["namespace"] == NAMESPACE

    provider.delete(target)
    assert provider.status(target).state == State.DELETING
    api.finish_deletions()
    assert provider.status(target).state == State.ABSENT


def test_status_of_someone_elses_namespace_is_absent(provider, shared_cluster):
    shared_cluster.add_namespace(NAMESPACE)
    outcome = provider.status(make_target())
    assert outcome.state == State.ABSENT
    assert "does not belong to this request" in outcome.steps[0].detail
    assert shared_cluster.calls("POST") == []


def test_status_of_a_half_done_create_is_creating(provider, shared_cluster):
    api = shared_cluster
    api.fail("POST", r"/serviceaccounts$", 500)
    with pytest.raises(TransientProviderError):
        provider.create(make_target())
    assert provider.status(make_target()).state == State.CREATING


# --- delete -----------------------------------------------------------------------------------


def test_delete_removes_the_namespace_and_is_idempotent(provider, shared_cluster):
    api = shared_cluster
    target = make_target()
    provider.create(target)
    uid = api.get("namespaces", NAMESPACE)["metadata"]["uid"]

    first = provider.delete(target)
    assert first.state == State.DELETING
    (call,) = api.calls("DELETE")
    assert call.path == f"/api/v1/namespaces/{NAMESPACE}"
    assert call.body == {"preconditions": {"uid": uid}, "propagationPolicy": "Background"}
    assert api.get("namespaces", NAMESPACE)["status"]["phase"] == "Terminating"

    assert provider.delete(target).state == State.DELETING  # still terminating: no second DELETE
    assert len(api.calls("DELETE")) == 1

    api.finish_deletions()
    assert api.objects == {}
    gone = provider.delete(target)
    assert gone.state == State.ABSENT
    assert provider.delete(target).state == State.ABSENT


def test_delete_of_what_never_existed_is_absent(provider, shared_cluster):
    assert provider.delete(make_target()).state == State.ABSENT
    assert shared_cluster.calls("DELETE") == []


def test_delete_leaves_someone_elses_namespace_alone(provider, shared_cluster):
    api = shared_cluster
    api.add_namespace(NAMESPACE, labels={"cloudassist-request": OTHER_REQUEST_ID})
    outcome = provider.delete(make_target())
    assert outcome.state == State.ABSENT
    assert api.calls("DELETE") == []
    assert api.get("namespaces", NAMESPACE)["status"]["phase"] == "Active"


def test_delete_when_the_namespace_went_meanwhile(provider, shared_cluster):
    api = shared_cluster
    provider.create(make_target())
    api.fail("DELETE", f"/namespaces/{NAMESPACE}$", 404)
    assert provider.delete(make_target()).state == State.ABSENT


def test_delete_looks_again_after_a_conflict(provider, shared_cluster):
    api = shared_cluster
    provider.create(make_target())
    api.fail("DELETE", f"/namespaces/{NAMESPACE}$", 409)
    assert provider.delete(make_target()).state == State.DELETING
    assert len(api.calls("DELETE")) == 2


# --- errors -----------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [500, 502, 503, 429])
def test_server_errors_and_throttling_are_transient(status, provider, shared_cluster):
    shared_cluster.fail("POST", r"^/api/v1/namespaces$", status, message="etcdserver: request timed out")
    with pytest.raises(TransientProviderError, match=f"{status} .*etcdserver: request timed out"):
        provider.create(make_target())
    assert provider.create(make_target()).state == State.READY  # a retry carries on


@pytest.mark.parametrize("operation", ["status", "delete"])
def test_server_errors_on_reads_are_transient(operation, provider, shared_cluster):
    shared_cluster.fail("GET", f"/namespaces/{NAMESPACE}$", 500)
    with pytest.raises(TransientProviderError):
        getattr(provider, operation)(make_target())


def test_other_client_errors_are_permanent_with_the_apis_message(provider, shared_cluster):
    message = 'roles.rbac.authorization.k8s.io is forbidden: User "cloudassist" cannot create resource "roles"'
    shared_cluster.fail("POST", r"/roles$", 403, message=message)
    with pytest.raises(ProviderError) as caught:
        provider.create(make_target())
    assert not isinstance(caught.value, TransientProviderError)
    assert message in str(caught.value)
    assert "Creating Role" in str(caught.value)


def test_wrong_credentials_are_permanent(settings, provider, shared_cluster):
    settings.SHARED_CLUSTER_KUBECONFIG_DATA = yaml.safe_dump(shared_cluster.kubeconfig(token="wrong"))
    with pytest.raises(ProviderError, match="401") as caught:
        provider.create(make_target())
    assert not isinstance(caught.value, TransientProviderError)
    assert "wrong" not in str(caught.value)


def test_an_unreachable_server_is_transient(settings, provider, shared_cluster):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = shared_cluster.kubeconfig()
    config["clusters"][0]["cluster"]["server"] = f"http://127.0.0.1:{port}"
    settings.SHARED_CLUSTER_KUBECONFIG_DATA = yaml.safe_dump(config)
    with pytest.raises(TransientProviderError, match="did not answer"):
        provider.create(make_target())


@pytest.mark.parametrize(("operation", "method"), [("create", "POST"), ("status", "GET")])
def test_a_slow_server_is_transient_and_not_retried_in_place(operation, method, settings, provider, shared_cluster):
    settings.SHARED_CLUSTER_API_TIMEOUT = 0.3
    shared_cluster.fail(method, r"^/api/v1/namespaces", 200, delay=1.0)
    with pytest.raises(TransientProviderError, match="did not answer"):
        getattr(provider, operation)(make_target())
    assert len(shared_cluster.requests) == 1


# --- configuration ----------------------------------------------------------------------------


@pytest.mark.parametrize("operation", ["create", "status", "delete"])
def test_missing_settings_say_what_to_set(operation, settings, provider):
    settings.SHARED_CLUSTER_KUBECONFIG = ""
    settings.SHARED_CLUSTER_KUBECONFIG_DATA = ""
    with pytest.raises(ProviderError) as caught:
        getattr(provider, operation)(make_target())
    assert not isinstance(caught.value, TransientProviderError)
    assert str(caught.value).startswith("No shared cluster is configured: set SHARED_CLUSTER_KUBECONFIG")
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    ("kubeconfig", "context", "match"),
    [
        ("{not yaml", "", "not valid YAML"),
        ("just a string", "", "not a kubeconfig"),
        ("apiVersion: v1\nkind: Config\n", "", "no current-context"),
        (None, "elsewhere", "no context named 'elsewhere'"),
    ],
)
def test_bad_kubeconfigs_are_permanent(kubeconfig, context, match, settings, provider, shared_cluster):
    if kubeconfig is not None:
        settings.SHARED_CLUSTER_KUBECONFIG_DATA = kubeconfig
    settings.SHARED_CLUSTER_CONTEXT = context
    with pytest.raises(ProviderError, match=match):
        provider.create(make_target())
    assert shared_cluster.requests == []


def test_both_kubeconfig_settings_is_an_error(settings, provider, shared_cluster, tmp_path):
    settings.SHARED_CLUSTER_KUBECONFIG = str(tmp_path / "config")
    with pytest.raises(ProviderError, match="only one"):
        provider.create(make_target())


def test_kubeconfig_file_with_a_context_and_a_relative_ca(settings, provider, shared_cluster, tmp_path):
    (tmp_path / "ca.crt").write_bytes(base64.b64decode(CA_DATA))
    config = shared_cluster.kubeconfig()
    config["clusters"][0]["cluster"]["certificate-authority"] = "ca.crt"
    config["contexts"].append({"name": "other", "context": {"cluster": "nowhere", "user": "nobody"}})
    config["current-context"] = "other"
    (tmp_path / "config").write_text(yaml.safe_dump(config))
    settings.SHARED_CLUSTER_KUBECONFIG_DATA = ""
    settings.SHARED_CLUSTER_KUBECONFIG = str(tmp_path / "config")
    settings.SHARED_CLUSTER_CONTEXT = "double-admin"

    outcome = provider.create(make_target())
    assert outcome.state == State.READY
    cluster = yaml.safe_load(outcome.secret)["clusters"][0]["cluster"]
    assert cluster == {"server": shared_cluster.url, "certificate-authority-data": CA_DATA}


def test_missing_kubeconfig_file(settings, provider, tmp_path):
    settings.SHARED_CLUSTER_KUBECONFIG_DATA = ""
    settings.SHARED_CLUSTER_KUBECONFIG = str(tmp_path / "absent")
    with pytest.raises(ProviderError, match="Cannot read the shared cluster's kubeconfig"):
        provider.create(make_target())


def test_public_server_goes_into_the_requesters_kubeconfig(settings, provider, shared_cluster):
    settings.SHARED_CLUSTER_PUBLIC_SERVER = "https://k8s.example.com:6443"
    outcome = provider.create(make_target())
    assert yaml.safe_load(outcome.secret)["clusters"][0]["cluster"]["server"] == "https://k8s.example.com:6443"
    assert outcome.outputs["server"] == "https://k8s.example.com:6443"
