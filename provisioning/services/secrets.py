"""The kubeconfig or credentials of an environment: stored encrypted when it is deployed,
dropped when it is purged, and read (decrypted, audited) by those allowed to see it."""

from __future__ import annotations

from cloudassist import crypto
from cloudassist.exceptions import NotFound
from provisioning import transitions
from provisioning.models import Credential, ProvisionRequest


def store(*, request: ProvisionRequest, secret: str, kind: str | None) -> None:
    """Encrypt and keep the environment's secret (replacing any earlier one)."""
    Credential.objects.update_or_create(
        provision_request_id=request.pk,
        defaults={"kind": kind or "credentials", "ciphertext": crypto.encrypt(secret)},
    )


def forget(*, request: ProvisionRequest) -> None:
    Credential.objects.filter(provision_request_id=request.pk).delete()


def read_secret(*, actor, request: ProvisionRequest, kind: str) -> str:
    """Decrypt the kubeconfig or credentials for someone allowed to see the request; every read
    is an audit event (the secret itself never is)."""
    credential = Credential.objects.filter(provision_request=request).first()
    if credential is None:
        raise NotFound(f"No {kind} for this request: it is {request.status}.")
    if credential.kind != kind:
        raise NotFound(f"This request has {credential.kind}, not a {kind}; download .../{credential.kind}/ instead.")
    text = crypto.decrypt(credential.ciphertext)
    transitions.record_same_status(subject=request, actor=actor, action=f"download_{kind}")
    return text
