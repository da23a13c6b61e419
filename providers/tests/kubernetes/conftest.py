"""Fixtures for the kubernetes provider's tests: the API server's double and the settings that point at it.

No real API server can run here: the manifests are checked with kubernetes-validate --strict,
and the client calls go over HTTP to providers/tests/k8s_api_double.py (which also validates
every object it stores).
"""

from __future__ import annotations

import pytest
import yaml

import providers
from providers.tests.k8s_api_double import KubernetesAPIDouble
from providers.tests.kubernetes.support import CA_DATA


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
