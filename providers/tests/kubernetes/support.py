"""What the kubernetes provider's tests share: the request, the namespace, and targets for them."""

from __future__ import annotations

import base64
import re
from datetime import timedelta

import kubernetes_validate
from django.utils import timezone

from providers.base import Target

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
