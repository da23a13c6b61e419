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
