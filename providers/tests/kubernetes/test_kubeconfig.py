"""providers/kubernetes/kubeconfig.py: the shared cluster's kubeconfig and the requester's."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest
import yaml

from providers.base import ProviderError, State, TransientProviderError
from providers.kubernetes.kubeconfig import token_lifetime_seconds
from providers.tests.kubernetes.support import CA_DATA, make_target

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
    assert token_lifetime_seconds(expires_at, now=NOW, permanent_seconds=7 * 86400, max_seconds=30 * 86400) == seconds


def test_permanent_lifetime_is_capped_too():
    assert token_lifetime_seconds(None, now=NOW, permanent_seconds=10**9, max_seconds=86400) == 86400


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
