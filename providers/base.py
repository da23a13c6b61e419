"""The provider interface: what every provider (aws-eks, kubernetes, aws-s3, aws-ec2) implements.

Providers are idempotent. Every name and tag derives from the request id, so ``create`` on
something that already exists carries on from where it is, and ``delete`` of something
that is gone succeeds. They never see the database: the provisioning job hands them a
``Target`` and records what they return.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


class State(enum.StrEnum):
    ABSENT = "ABSENT"  # nothing exists (never created, or deleted)
    CREATING = "CREATING"
    READY = "READY"
    DELETING = "DELETING"
    FAILED = "FAILED"


class ProviderError(Exception):
    """A permanent failure: retrying will not help (bad parameters, missing configuration)."""


class TransientProviderError(ProviderError):
    """Worth retrying with backoff (throttling, timeouts, the cloud not ready yet)."""


@dataclass(frozen=True)
class Target:
    """What a provider needs to know about one provision request."""

    request_id: str
    owner: str  # the requester's username, for tags
    parameters: dict[str, Any]
    manifests: list[dict[str, Any]]  # the rendered template snapshot, parsed
    expires_at: datetime | None

    @property
    def short_id(self) -> str:
        return self.request_id[-8:]

    @property
    def tags(self) -> dict[str, str]:
        """Tags on everything a provider creates, so every resource names its owner request."""
        return {
            "managed-by": "cloudassist",
            "cloudassist-request": self.request_id,
            "cloudassist-owner": self.owner,
        }


@dataclass(frozen=True)
class Step:
    """One thing a provider did, for the audit trail (never secrets)."""

    action: str
    detail: str
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class Outcome:
    """What ``create``/``status``/``delete`` found or did.

    ``outputs`` are shown to the requester (endpoint, resource ids, region); ``secret`` is
    the kubeconfig YAML or credentials text, stored encrypted and only downloadable.
    """

    state: State
    outputs: dict[str, Any] = field(default_factory=dict)
    secret: str | None = None
    secret_kind: str | None = None  # "kubeconfig" or "credentials"
    steps: list[Step] = field(default_factory=list)


class Provider:
    """Base class; subclasses set ``name`` and implement the three operations."""

    name: str = ""

    @classmethod
    def unavailable_reason(cls) -> str | None:
        """Why nothing can be provisioned with this provider now (naming the setting to set), or
        None when it is configured. Cheap and without network calls: submission, the template API,
        the admin and `make run`'s banner ask it."""
        return None

    def create(self, target: Target) -> Outcome:
        """Create what is missing and wait until it is usable; return READY with outputs and secret."""
        raise NotImplementedError

    def status(self, target: Target) -> Outcome:
        """What exists now (READY outcomes carry outputs and the secret again)."""
        raise NotImplementedError

    def delete(self, target: Target) -> Outcome:
        """Delete everything the request owns; ABSENT when done, also if it was already gone."""
        raise NotImplementedError
