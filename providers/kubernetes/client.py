"""Talking to the shared cluster's API server: the client, and its errors mapped to ProviderErrors."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import urllib3
from django.conf import settings
from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException
from kubernetes.config import new_client_from_config, new_client_from_config_dict
from kubernetes.config.config_exception import ConfigException

from providers.base import ProviderError, TransientProviderError
from providers.kubernetes.kubeconfig import SharedCluster, load_shared_cluster


class NotFound(ProviderError):
    """The API answered 404 (callers that expect it catch it)."""


class AlreadyExists(ProviderError):
    """The API answered 409 AlreadyExists (callers that expect it catch it)."""


class Conflict(TransientProviderError):
    """The API answered 409 for another reason (a precondition failed, the object changed): look again."""


def api_client(cluster: SharedCluster) -> k8s.ApiClient:
    """A client for the shared cluster, from its kubeconfig (and context)."""
    # Retry refused connections, never a request that may have reached the server: a read
    # timeout surfaces at once as a TransientProviderError and the job retries with backoff.
    configuration = k8s.Configuration(retries=urllib3.Retry(total=2, connect=2, read=0, status=0, redirect=0))
    options = {"context": cluster.context, "persist_config": False, "client_configuration": configuration}
    try:
        if cluster.path is not None:
            return new_client_from_config(config_file=str(cluster.path), **options)
        return new_client_from_config_dict(cluster.kubeconfig, **options)
    except ConfigException as exc:
        raise ProviderError(f"The shared cluster's kubeconfig cannot be used: {exc}") from exc


def _status_message(exc: ApiException) -> tuple[str, str]:
    """(reason, message) from a Kubernetes Status body, or from the HTTP status line."""
    try:
        body = json.loads(exc.body or "")
    except (TypeError, ValueError):
        body = None
    if isinstance(body, dict):
        return str(body.get("reason") or exc.reason or ""), str(body.get("message") or exc.reason or "")
    return str(exc.reason or ""), str(exc.reason or "no message")


def api_error(description: str, exc: ApiException) -> ProviderError:
    """The ProviderError for an API error: 5xx, 429 and conflicts are transient, other 4xx permanent."""
    status = exc.status or 0
    reason, message = _status_message(exc)
    text = f"{description}: the API server answered {status} {reason}: {message}"
    if status == 404:
        return NotFound(text)
    if status == 409:
        return AlreadyExists(text) if reason == "AlreadyExists" else Conflict(text)
    if status >= 500 or status == 429:
        return TransientProviderError(text)
    return ProviderError(text)


class Session:
    """The API clients for one operation, with every call's errors mapped to ProviderErrors."""

    def __init__(self, cluster: SharedCluster):
        self.cluster = cluster
        self.api_client = api_client(cluster)
        self.core = k8s.CoreV1Api(self.api_client)
        self.rbac = k8s.RbacAuthorizationV1Api(self.api_client)
        self.networking = k8s.NetworkingV1Api(self.api_client)
        self.timeout = settings.SHARED_CLUSTER_API_TIMEOUT

    def close(self) -> None:
        self.api_client.close()

    def method(self, api: str, verb: str, snake: str) -> Callable[..., Any]:
        """The typed API's method: ``method("core", "create", "config_map")`` is
        ``CoreV1Api.create_namespaced_config_map``."""
        return getattr(getattr(self, api), f"{verb}_namespaced_{snake}")

    def send(self, description: str, method: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """``call`` for a request with a JSON body: the generated client leaves Content-Type out on
        POST and DELETE (the API server then assumes JSON); say it anyway."""
        return self.call(description, method, *args, _headers={"Content-Type": "application/json"}, **kwargs)

    def call(self, description: str, method: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        try:
            return method(*args, _request_timeout=self.timeout, **kwargs)
        except ApiException as exc:
            raise api_error(description, exc) from exc
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise TransientProviderError(
                f"{description}: the shared cluster's API server did not answer ({exc.__class__.__name__})."
            ) from exc


@contextmanager
def session() -> Iterator[Session]:
    opened = Session(load_shared_cluster())
    try:
        yield opened
    finally:
        opened.close()
