"""Kubeconfigs: the shared cluster's, read from the settings, and the requester's, written for
the namespace with a token whose lifetime follows the request."""

from __future__ import annotations

import base64
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from django.conf import settings
from django.utils import timezone

from providers.base import ProviderError

MIN_TOKEN_SECONDS = 600  # the TokenRequest API refuses anything shorter than ten minutes


def token_lifetime_seconds(
    expires_at: datetime | None, *, now: datetime, permanent_seconds: int, max_seconds: int
) -> int:
    """Seconds until the request expires (or ``permanent_seconds``), capped, and never under ten minutes."""
    if expires_at is None:
        wanted = permanent_seconds
    else:
        if timezone.is_naive(expires_at):
            expires_at = expires_at.replace(tzinfo=UTC)
        wanted = math.ceil((expires_at - now).total_seconds())
    return max(MIN_TOKEN_SECONDS, min(wanted, max_seconds))


@dataclass(frozen=True)
class ClusterEndpoint:
    """What a kubeconfig needs to reach the shared cluster (no credentials)."""

    name: str
    server: str
    certificate_authority_data: str | None = None
    insecure_skip_tls_verify: bool = False
    tls_server_name: str | None = None


def build_kubeconfig(*, cluster: ClusterEndpoint, namespace: str, user: str, token: str) -> dict[str, Any]:
    """A kubeconfig with one context: the namespace, as the service account."""
    entry: dict[str, Any] = {"server": cluster.server}
    if cluster.certificate_authority_data:
        entry["certificate-authority-data"] = cluster.certificate_authority_data
    if cluster.insecure_skip_tls_verify:
        entry["insecure-skip-tls-verify"] = True
    if cluster.tls_server_name:
        entry["tls-server-name"] = cluster.tls_server_name
    context = f"{cluster.name}-{namespace}"
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": cluster.name, "cluster": entry}],
        "users": [{"name": user, "user": {"token": token}}],
        "contexts": [{"name": context, "context": {"cluster": cluster.name, "namespace": namespace, "user": user}}],
        "current-context": context,
        "preferences": {},
    }


# --- the shared cluster -----------------------------------------------------------------------

NOT_CONFIGURED = (
    "No shared cluster is configured: set SHARED_CLUSTER_KUBECONFIG (a kubeconfig file) "
    "or SHARED_CLUSTER_KUBECONFIG_DATA (the kubeconfig YAML)."
)


@dataclass(frozen=True)
class SharedCluster:
    kubeconfig: dict[str, Any]
    path: Path | None  # the file it came from, if any (relative paths in it are relative to it)
    context: str | None
    endpoint: ClusterEndpoint


def _named(entries: Any, name: str, what: str) -> dict[str, Any]:
    for entry in entries or []:
        if isinstance(entry, dict) and entry.get("name") == name:
            return entry.get(what) or {}
    raise ProviderError(f"The shared cluster's kubeconfig has no {what} named '{name}'.")


def _endpoint(kubeconfig: dict[str, Any], context_name: str | None, base: Path | None) -> ClusterEndpoint:
    context_name = context_name or kubeconfig.get("current-context")
    if not context_name:
        raise ProviderError("The shared cluster's kubeconfig has no current-context: set SHARED_CLUSTER_CONTEXT.")
    context = _named(kubeconfig.get("contexts"), context_name, "context")
    cluster_name = context.get("cluster") or ""
    cluster = _named(kubeconfig.get("clusters"), cluster_name, "cluster")
    server = settings.SHARED_CLUSTER_PUBLIC_SERVER or cluster.get("server")
    if not server:
        raise ProviderError(f"The cluster '{cluster_name}' in the shared cluster's kubeconfig has no server.")
    ca_data = cluster.get("certificate-authority-data")
    if not ca_data and cluster.get("certificate-authority"):
        ca_path = Path(cluster["certificate-authority"]).expanduser()
        if not ca_path.is_absolute() and base is not None:
            ca_path = base / ca_path
        try:
            ca_data = base64.b64encode(ca_path.read_bytes()).decode("ascii")
        except OSError as exc:
            raise ProviderError(f"Cannot read the shared cluster's certificate authority {ca_path}: {exc}") from exc
    return ClusterEndpoint(
        name=cluster_name,
        server=server,
        certificate_authority_data=ca_data or None,
        insecure_skip_tls_verify=bool(cluster.get("insecure-skip-tls-verify")),
        tls_server_name=cluster.get("tls-server-name") or None,
    )


def load_shared_cluster() -> SharedCluster:
    """The shared cluster from the settings, or a ProviderError that says what to set."""
    path_setting = settings.SHARED_CLUSTER_KUBECONFIG
    data_setting = settings.SHARED_CLUSTER_KUBECONFIG_DATA
    if path_setting and data_setting:
        raise ProviderError("Set only one of SHARED_CLUSTER_KUBECONFIG and SHARED_CLUSTER_KUBECONFIG_DATA.")
    if not path_setting and not data_setting:
        raise ProviderError(NOT_CONFIGURED)
    path = None
    source = "SHARED_CLUSTER_KUBECONFIG_DATA"
    if path_setting:
        path = Path(path_setting).expanduser()
        source = f"SHARED_CLUSTER_KUBECONFIG ({path})"
        try:
            data_setting = path.read_text()
        except OSError as exc:
            raise ProviderError(f"Cannot read the shared cluster's kubeconfig {path}: {exc}") from exc
    try:
        kubeconfig = yaml.safe_load(data_setting)
    except yaml.YAMLError as exc:
        raise ProviderError(f"{source} is not valid YAML: {exc}") from exc
    if not isinstance(kubeconfig, dict):
        raise ProviderError(f"{source} is not a kubeconfig.")
    context = settings.SHARED_CLUSTER_CONTEXT or None
    base = path.parent if path is not None else None
    return SharedCluster(
        kubeconfig=kubeconfig, path=path, context=context, endpoint=_endpoint(kubeconfig, context, base)
    )
