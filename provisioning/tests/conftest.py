"""The provisioning fixtures live in the root conftest.py, shared with the quotas tests; the
AWS emulator's fixture lives here."""

from datetime import timedelta

import pytest
from django.utils import timezone

from cloudassist import embedded

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


@pytest.fixture
def moto_endpoint(settings):
    """The AWS emulator of the test run (a real moto server over HTTP, started by
    cloudassist.testing.pytest_plugin), emptied before and after the test."""
    assert settings.AWS_EMULATOR, "the tests must never talk to real AWS"
    endpoint = settings.AWS_ENDPOINT_URL
    embedded.reset_emulator(endpoint)
    yield endpoint
    embedded.reset_emulator(endpoint)
