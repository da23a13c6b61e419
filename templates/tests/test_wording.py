"""Validator errors in words: what each JSON Schema keyword says to a person (issue 25)."""

import pytest
from django.core.exceptions import ValidationError

from templates import rendering
from templates.seed import BASIC_EKS_CLUSTER

EKS_SCHEMA = BASIC_EKS_CLUSTER["parameters_schema"]
SCHEMA = {
    "type": "object",
    "required": ["name"],
    "properties": {
        "name": {"type": "string", "title": "Bucket name", "pattern": "^[a-z]+$"},
        "slug": {
            "type": "string",
            "pattern": "^[a-z-]+$",
            "errorMessage": "Use lowercase letters and hyphens only.",
        },
        "size": {"type": "integer", "title": "Size (GiB)", "minimum": 20, "maximum": 500},
        "ratio": {"type": "number", "exclusiveMinimum": 0, "multipleOf": 0.5},
        "tier": {"enum": ["gold", "silver", 3]},
        "label": {"type": "string", "minLength": 2, "maxLength": 5},
        "email": {"type": "string", "format": "email"},
        "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 1},
        "public": {"type": "boolean"},
    },
}


def words(schema, parameters) -> dict:
    with pytest.raises(ValidationError) as info:
        rendering.resolve_parameters(schema, parameters)
    return info.value.message_dict


@pytest.mark.parametrize(
    ("parameters", "path", "message"),
    [
        ({}, "name", "Bucket name is required."),
        ({"name": "A1"}, "name", "Bucket name is not in the required format."),
        ({"name": "a", "slug": "X"}, "slug", "Use lowercase letters and hyphens only."),
        ({"name": "a", "size": 5}, "size", "Size (GiB) must be at least 20."),
        ({"name": "a", "size": 501}, "size", "Size (GiB) must be at most 500."),
        ({"name": "a", "size": "big"}, "size", "Size (GiB) must be a whole number."),
        ({"name": "a", "ratio": 0}, "ratio", "Ratio must be more than 0."),
        ({"name": "a", "ratio": 0.7}, "ratio", "Ratio must be a multiple of 0.5."),
        ({"name": "a", "tier": "bronze"}, "tier", "Tier must be one of: gold, silver, 3."),
        ({"name": "a", "label": "x"}, "label", "Label must be at least 2 characters long."),
        ({"name": "a", "label": "xxxxxx"}, "label", "Label must be at most 5 characters long."),
        ({"name": "a", "email": "nope"}, "email", "Email must be an email address."),
        ({"name": "a", "tags": ["a", "b"]}, "tags", "Tags must have at most 1 item."),
        ({"name": "a", "tags": [1]}, "tags.0", "Tags (item 1) must be text."),
        ({"name": "a", "public": "no"}, "public", "Public must be yes or no."),
    ],
)
def test_each_keyword_says_what_is_allowed_in_words(parameters, path, message):
    assert words(SCHEMA, parameters)[f"parameters.{path}"] == [message]


def test_a_pattern_is_described_not_shown():
    (message,) = words(EKS_SCHEMA, {"cluster_name": "Not a valid name!"})["parameters.cluster_name"]
    assert message == (
        "Cluster name must match the required format: lower-case letters, digits and hyphens, starting with a letter."
    )
    assert "^" not in message
    assert "does not match" not in message


def test_the_validator_message_and_keyword_are_kept_for_the_api():
    with pytest.raises(ValidationError) as info:
        rendering.resolve_parameters(EKS_SCHEMA, {"cluster_name": "Bad!"})
    (error,) = info.value.error_dict["parameters.cluster_name"]
    assert error.code == "pattern"
    assert error.validator_message == "'Bad!' does not match '^[a-z][a-z0-9-]{1,38}[a-z0-9]$'"


def test_a_percent_sign_in_a_description_is_kept_as_written():
    schema = {"type": "object", "properties": {"cpu": {"type": "string", "pattern": "^x$", "description": "100% CPU"}}}
    assert words(schema, {"cpu": "y"}) == {"parameters.cpu": ["Cpu must match the required format: 100% CPU."]}
