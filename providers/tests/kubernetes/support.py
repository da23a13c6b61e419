"""What the kubernetes plugin's tests share: the request, the namespace, templates and targets for them."""

from __future__ import annotations

import base64
import re
from datetime import timedelta

import kubernetes_validate
from django.utils import timezone

from providers.base import Target
from templates import planning
from templates.seed import DEV_NAMESPACE

REQUEST_ID = "665f1c2ab3d4e5f6a7b8c9d0"
OTHER_REQUEST_ID = "665f1c2ab3d4e5f6a7b8ffff"
NAMESPACE = "team-a-dev"
CA_DATA = base64.b64encode(b"-----BEGIN CERTIFICATE-----\nnot a real one\n-----END CERTIFICATE-----\n").decode()
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
VALIDATE_VERSIONS = ["1.30.0", kubernetes_validate.utils.latest_version()]

#: A NetworkPolicy, a Role and a RoleBinding, appended to the seeded dev-namespace body.
NETWORK_AND_RBAC = """\
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: deny-ingress
  namespace: {{ namespace }}
spec:
  podSelector: {}
  policyTypes: [Ingress]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: reader
rules:
  - apiGroups: [""]
    resources: [pods, configmaps]
    verbs: [get, list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: readers
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: Role
  name: reader
subjects:
  - kind: Group
    apiGroup: rbac.authorization.k8s.io
    name: team-a-readers
"""


def plan_for(parameters: dict | None = None, *, body: str = DEV_NAMESPACE["body"], request_id: str | None = REQUEST_ID):
    """The plan of the dev-namespace template (or ``body`` with its schema) for ``parameters``."""
    return planning.plan(
        provider="kubernetes",
        body=body,
        schema=DEV_NAMESPACE["parameters_schema"],
        parameters={"namespace": NAMESPACE, "cpu_limit": 3, "memory_limit_gi": 6, **(parameters or {})},
        request_id=request_id,
    ).plan


def make_target(
    *,
    request_id=REQUEST_ID,
    owner="dev1",
    expires_in=timedelta(hours=24),
    body: str = DEV_NAMESPACE["body"],
    **parameters,
) -> Target:
    plan = plan_for(parameters, body=body, request_id=request_id)
    return Target(
        request_id=request_id,
        owner=owner,
        plan=plan,
        expires_at=None if expires_in is None else timezone.now() + expires_in,
    )
