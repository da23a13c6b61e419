"""The provisioning fixtures live in the root conftest.py, shared with the quotas and providers tests."""

from datetime import timedelta

from django.utils import timezone

EKS_PARAMETERS = {"cluster_name": "team-a-dev", "region": "eu-west-1", "instance_type": "t3.medium"}
ONE_CPU = {"namespace": "team-a", "cpu_limit": 1}


def namespace_request_body(**overrides):
    """A dev-namespace request for one CPU, eight hours (the API's body)."""
    return {
        "template": "dev-namespace",
        "parameters": ONE_CPU,
        "expires_at": (timezone.now() + timedelta(hours=8)).isoformat(),
        **overrides,
    }


def use_provider(request, provider: str):
    """The request as if its template named ``provider`` (an in-process one: no cloud account in the
    test): its snapshot and its stored plan say so; the plan's resources stay as they were planned."""
    from provisioning.models import ProvisionRequest

    ProvisionRequest.objects.filter(pk=request.pk).update(
        template_snapshot={**request.template_snapshot, "provider": provider},
        plan={**(request.plan or {}), "provider": provider},
    )
    request.refresh_from_db()
    return request
