"""Quotas fixtures; the shared ones (users, clients, templates, requests) are in the root conftest.py."""

import pytest

from quotas.pricing_seed import seed_pricing


@pytest.fixture
def pricing(db) -> int:
    """The seed prices (instances, disks, EKS control plane); returns how many rows were created."""
    return seed_pricing()
