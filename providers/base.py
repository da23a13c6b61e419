"""The plugin interface: what every provider (aws-eks, aws-s3, aws-ec2, kubernetes, noop) implements.

A plugin owns everything about its kind of resource:

- ``document_schema``: the JSON Schema of the document its templates must render (the supported
  subset; anything else is refused when the template is saved, naming the field), with the
  defaults for what a document may leave out (the one place they live besides the template's
  parameter schema);
- ``plan(documents, request_id=...) -> Plan``: the resources to create, with their key attributes
  in words and numbers, and the ``spec`` that ``create`` applies;
- ``estimate(plan, hours, prices) -> Estimate``: the price of exactly that plan, looked up
  through quotas' price tables;
- ``unavailable_reason()``: why nothing can be provisioned now (a setting to set);
- ``create`` / ``status`` / ``delete``: apply the plan carried by a ``Target``;
- ``inventory()``: what exists now tagged ``managed-by: cloudassist``, for reconciliation.

Plugins are idempotent. Every name and tag derives from the request id, so ``create`` on
something that already exists carries on from where it is, and ``delete`` of something
that is gone succeeds. They never see the database: the provisioning job hands them a
``Target`` (the stored plan) and records what they return.
"""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError

from providers import documents

if TYPE_CHECKING:
    from quotas.estimates import Estimate, Prices


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


REQUEST_SUFFIX_PLACEHOLDER = "xxxxxxxx"  # a dry run's names: the request's id is not known yet


def short_id(request_id: str | None) -> str:
    """The last 8 characters of the request id, which names carry so two requests never collide."""
    return request_id[-8:] if request_id else REQUEST_SUFFIX_PLACEHOLDER


@dataclass(frozen=True)
class PlannedResource:
    """One thing a plan creates: its kind and name, a sentence for people, and its key attributes."""

    kind: str  # "EKS cluster", "managed node group", "S3 bucket", "EC2 instance", "NetworkPolicy", ...
    name: str  # as it will be named when created (the request's suffix included)
    summary: str  # "EKS cluster team-a-1a2b3c4d, Kubernetes 1.30, us-west-1"
    attributes: dict[str, Any] = field(default_factory=dict)  # JSON-ready


@dataclass(frozen=True)
class Plan:
    """What a request will create, stored on the request at submission and applied as it is.

    ``spec`` is the plugin's own input to ``create``: the rendered document, checked against the
    plugin's schema, with its defaults filled in and the request's names. JSON-ready throughout."""

    provider: str
    resources: list[PlannedResource]
    spec: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return {"provider": self.provider, "resources": [asdict(r) for r in self.resources], "spec": self.spec}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Plan:
        return cls(
            provider=data["provider"],
            resources=[PlannedResource(**resource) for resource in data.get("resources", [])],
            spec=data.get("spec", {}),
        )

    @property
    def lines(self) -> list[str]:
        return [resource.summary for resource in self.resources]


@dataclass(frozen=True)
class Target:
    """What a plugin needs to know about one provision request: who, until when, and its plan."""

    request_id: str
    owner: str  # the requester's username, for tags
    plan: Plan
    expires_at: datetime | None

    @property
    def spec(self) -> dict[str, Any]:
        return self.plan.spec

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


@dataclass(frozen=True)
class Found:
    """A resource tagged ``managed-by: cloudassist`` that exists now (``inventory``)."""

    kind: str
    name: str
    request_id: str | None  # its ``cloudassist-request`` tag (None: tagged managed-by only)
    region: str = ""
    created_at: datetime | None = None
    usd_per_hour: Decimal | None = None  # its estimated hourly cost, when the plugin can tell
    detail: dict[str, Any] = field(default_factory=dict)


class Provider:
    """Base class of the plugins. Subclasses set ``label`` and ``document_schema`` and implement
    ``plan``, ``estimate`` and the operations; the defaults here take any document, plan it as one
    opaque resource and estimate nothing (what the noop plugin and test plugins need)."""

    name: str = ""  # set by @register
    label: str = ""  # "AWS EKS"
    #: The JSON Schema of the document the template renders (a list of YAML documents is given to
    #: it as an array when ``multiple_documents``, else the single document as an object).
    document_schema: dict[str, Any] = {"type": "object"}
    multiple_documents: bool = False

    # --- planning -------------------------------------------------------------------------------

    def check(self, manifests: list[dict[str, Any]]) -> Any:
        """The rendered YAML documents, validated against ``document_schema`` with its defaults
        filled in; a ValidationError naming the path (``body.managedNodeGroups[0].ami: not
        supported by aws-eks``) otherwise."""
        if self.multiple_documents:
            document: Any = manifests
        elif len(manifests) != 1:
            raise ValidationError(
                {"body": [f"{self.name} templates render exactly one YAML document, not {len(manifests)}."]}
            )
        else:
            document = manifests[0]
        return documents.validate(document, self.document_schema, plugin=self.name)

    def plan(self, manifests: list[dict[str, Any]], *, request_id: str | None = None) -> Plan:
        """The resources ``manifests`` (the rendered template) describe, named for ``request_id``
        (a dry run has none yet: names carry a placeholder suffix)."""
        document = self.check(manifests)
        return Plan(
            provider=self.name,
            resources=[PlannedResource(kind="document", name=short_id(request_id), summary=f"{self.name} document")],
            spec={"document": document},
        )

    def estimate(self, plan: Plan, hours: Decimal, prices: Prices) -> Estimate:
        from quotas.estimates import Estimate

        return Estimate(hours=hours, notes=["This resource is billed by use and is not estimated in advance."])

    # --- operations -----------------------------------------------------------------------------

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

    # --- reconciliation -------------------------------------------------------------------------

    def inventory(self) -> list[Found]:
        """Everything of this kind that exists now tagged ``managed-by: cloudassist`` (for the
        reconcile job's orphans). Plugins that create nothing find nothing."""
        return []

    def missing(self, target: Target) -> list[str]:
        """The planned resources of a deployed request that do not exist now, in words
        ("managed node group ng-spot-1a2b3c4d"); empty when everything is there (drift)."""
        return []

    def remove(self, found: Found) -> list[Step]:
        """Delete one orphan ``inventory`` found (and what hangs off it), idempotently. Never
        called for a resource tagged for a live request."""
        return []
