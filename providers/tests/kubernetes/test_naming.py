"""providers/kubernetes/naming.py: names, labels and the parameters they come from."""

from __future__ import annotations

import pytest

from providers.base import ProviderError
from providers.kubernetes.manifests import build_namespace
from providers.kubernetes.naming import label_value
from providers.tests.kubernetes.support import LABEL_VALUE, make_target


def test_labels_are_valid_and_annotations_keep_the_tags():
    target = make_target(owner="Alice Smith+ops@example.com", request_id="x" * 70)
    metadata = build_namespace(target)["metadata"]
    assert metadata["labels"]["app.kubernetes.io/managed-by"] == "cloudassist"
    assert metadata["labels"]["cloudassist-owner"] == "Alice-Smith-ops-example.com"
    assert metadata["labels"]["cloudassist-request"] == "x" * 63
    assert all(LABEL_VALUE.match(value) and len(value) <= 63 for value in metadata["labels"].values())
    assert metadata["annotations"] == target.tags


@pytest.mark.parametrize("value", ["-lead", "trail.", "a@b", "_x_", "..", "ü", "a" * 80])
def test_label_value_sanitising(value):
    assert LABEL_VALUE.match(label_value(value))
    assert len(label_value(value)) <= 63


@pytest.mark.parametrize("name", ["Team", "1team", "team_a", "a" * 64, "", None, "team-", "default", "kube-system"])
def test_bad_namespace_names_are_refused(name, provider, shared_cluster):
    with pytest.raises(ProviderError, match="namespace"):
        provider.create(make_target(namespace=name))
    assert shared_cluster.requests == []


@pytest.mark.parametrize(("key", "value"), [("cpu_limit", 0), ("cpu_limit", "2"), ("memory_limit_gi", True)])
def test_bad_limits_are_refused(key, value, provider, shared_cluster):
    with pytest.raises(ProviderError, match=key):
        provider.create(make_target(**{key: value}))
    assert shared_cluster.requests == []
