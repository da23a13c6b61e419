"""providers/kubernetes/client.py: API errors, mapped to transient or permanent ProviderErrors."""

from __future__ import annotations

import socket

import pytest
import yaml

from providers.base import ProviderError, State, TransientProviderError
from providers.tests.kubernetes.support import NAMESPACE, make_target

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
