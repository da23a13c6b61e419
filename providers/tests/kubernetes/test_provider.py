"""providers/kubernetes/provider.py: create, status and delete of a request's namespace."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
import yaml

import providers
from providers.base import ProviderError, State, TransientProviderError
from providers.kubernetes.manifests import ROLE_RULES, tagged
from providers.kubernetes.naming import ROLE_BINDING_NAME, ROLE_NAME, service_account_name
from providers.kubernetes.provider import KubernetesNamespaceProvider
from providers.tests.kubernetes.support import (
    CA_DATA,
    NAMESPACE,
    OTHER_REQUEST_ID,
    REQUEST_ID,
    make_target,
)


def test_registered_as_kubernetes():
    assert isinstance(providers.get("kubernetes"), KubernetesNamespaceProvider)
    assert "kubernetes" in providers.names()


# --- create -----------------------------------------------------------------------------------


def test_create_makes_everything_and_returns_a_namespace_scoped_kubeconfig(provider, shared_cluster):
    api = shared_cluster
    target = make_target()
    outcome = provider.create(target)

    assert outcome.state == State.READY
    assert outcome.secret_kind == "kubeconfig"
    account = service_account_name(target.request_id)
    assert account == "cloudassist-a7b8c9d0"
    assert api.names("namespaces") == [NAMESPACE]
    assert api.names("serviceaccounts", NAMESPACE) == [account]
    assert api.names("roles", NAMESPACE) == [ROLE_NAME]
    assert api.names("rolebindings", NAMESPACE) == [ROLE_BINDING_NAME]
    assert api.names("resourcequotas", NAMESPACE) == [f"{NAMESPACE}-quota"]
    assert api.names("limitranges", NAMESPACE) == [f"{NAMESPACE}-defaults"]
    namespace = api.get("namespaces", NAMESPACE)
    assert namespace["metadata"]["labels"]["cloudassist-request"] == REQUEST_ID
    assert namespace["metadata"]["labels"]["cloudassist-owner"] == "dev1"
    assert api.get("resourcequotas", f"{NAMESPACE}-quota", NAMESPACE)["spec"]["hard"]["limits.memory"] == "6Gi"
    # Every object was sent as planned (with the owner's tags too), with a JSON body.
    posted = [call for call in api.calls("POST") if not call.path.endswith("/token")]
    assert [call.body for call in posted] == [tagged(obj, target.tags) for obj in target.spec["objects"]]
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
    assert len(patches) == 6  # the namespace's labels too
    assert {call.headers["content-type"] for call in patches} == {"application/merge-patch+json"}
    assert yaml.safe_load(second.secret)["contexts"] == yaml.safe_load(first.secret)["contexts"]


def test_create_puts_drifted_objects_back(provider, shared_cluster):
    api = shared_cluster
    provider.create(make_target())
    quota = api.objects[("resourcequotas", NAMESPACE, f"{NAMESPACE}-quota")]
    quota["spec"]["hard"]["limits.cpu"] = "64"
    role = api.objects[("roles", NAMESPACE, ROLE_NAME)]
    role["rules"].append({"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]})

    provider.create(make_target())
    assert api.get("resourcequotas", f"{NAMESPACE}-quota", NAMESPACE)["spec"]["hard"]["limits.cpu"] == "3"
    assert api.get("roles", ROLE_NAME, NAMESPACE)["rules"] == ROLE_RULES


def test_create_finishes_a_half_done_create(provider, shared_cluster):
    api = shared_cluster
    api.fail("POST", r"/rolebindings$", 503)
    with pytest.raises(TransientProviderError):
        provider.create(make_target())
    assert api.names("rolebindings", NAMESPACE) == []
    outcome = provider.create(make_target())
    assert outcome.state == State.READY
    assert api.names("rolebindings", NAMESPACE) == [ROLE_BINDING_NAME]


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
