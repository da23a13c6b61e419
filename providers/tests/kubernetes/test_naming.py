"""providers/kubernetes/naming.py: labels, annotations and the rules for the namespace's name."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

import providers
from providers.kubernetes.manifests import tagged
from providers.kubernetes.naming import label_value
from providers.tests.kubernetes.support import LABEL_VALUE, make_target


def test_labels_are_valid_and_annotations_keep_the_tags():
    target = make_target(owner="Alice Smith+ops@example.com", request_id="x" * 70)
    metadata = tagged(target.spec["objects"][0], target.tags)["metadata"]
    assert metadata["labels"]["app.kubernetes.io/managed-by"] == "cloudassist"
    assert metadata["labels"]["cloudassist-owner"] == "Alice-Smith-ops-example.com"
    assert metadata["labels"]["cloudassist-request"] == "x" * 63
    assert all(LABEL_VALUE.match(value) and len(value) <= 63 for value in metadata["labels"].values())
    assert metadata["annotations"] == target.tags


@pytest.mark.parametrize("value", ["-lead", "trail.", "a@b", "_x_", "..", "ü", "a" * 80])
def test_label_value_sanitising(value):
    assert LABEL_VALUE.match(label_value(value))
    assert len(label_value(value)) <= 63


def _namespace(name):
    return [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}},
        {
            "apiVersion": "v1",
            "kind": "ResourceQuota",
            "metadata": {"name": "quota"},
            "spec": {"hard": {"limits.cpu": "1"}},
        },
    ]


@pytest.mark.parametrize("name", ["Team", "1team", "team_a", "a" * 64, "", "team-", "default", "kube-system"])
def test_bad_namespace_names_are_refused_naming_the_field(name):
    with pytest.raises(ValidationError) as caught:
        providers.get("kubernetes").plan(_namespace(name))
    assert list(caught.value.message_dict) == ["body[0].metadata.name"]
