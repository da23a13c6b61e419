"""What MongoDB can store, checked by path: NULs, lone surrogates, integers past 64 bits, infinities, depth."""

import pytest
from django.core.exceptions import ValidationError

from cloudassist.content import INT64_MAX, INT64_MIN, MAX_DEPTH, check_storable, problem


@pytest.mark.parametrize(
    ("value", "path", "says"),
    [
        ({"a": ["ok", "x\x00"]}, "a.1", "NUL"),
        ({"a": {"b\x00c": 1}}, "a.b\\x00c", "the key contains a NUL"),
        ({"a": "\ud800"}, "a", "lone surrogate"),
        ({"\udfff": 1}, "\\udfff", "the key contains a lone surrogate"),
        ([1, [2, INT64_MAX + 1]], "1.1", "64-bit"),
        ({"n": INT64_MIN - 1}, "n", "64-bit"),
        ({"f": float("inf")}, "f", "too large"),
        ("\x00", "", "NUL"),
    ],
)
def test_the_first_value_that_cannot_be_stored_is_named_by_its_path(value, path, says):
    found = problem(value)
    assert found is not None
    assert found[0] == path
    assert says in found[1]


@pytest.mark.parametrize(
    "value",
    [{"a": [INT64_MIN, INT64_MAX, 1.5, True, None, "é ✓ 😀", {"$set": "", "a.b": ""}]}, [], "", 0],
)
def test_what_can_be_stored_passes(value):
    assert problem(value) is None


def test_check_storable_is_a_validation_error_keyed_by_the_path():
    with pytest.raises(ValidationError) as raised:
        check_storable({"x": [2**64]}, root="data")
    assert list(raised.value.message_dict) == ["data.x.0"]


def test_a_document_nested_as_deeply_as_json_allows_is_walked_without_recursion():
    deep: list = ["\x00"]
    for _ in range(50_000):
        deep = [deep]
    found = problem(deep)
    assert found is not None
    assert found[0] == "0"  # the top-level item it is in
    assert "nested more than 64 levels" in found[1]


def test_nesting_is_bounded_at_max_depth():
    def nested(levels):
        value: dict = {}
        for _ in range(levels - 1):
            value = {"a": value}
        return value

    assert problem(nested(MAX_DEPTH)) is None
    path, says = problem(nested(MAX_DEPTH + 1))
    assert path == "a"  # the top-level field, not a path 64 keys long
    assert "nested more than" in says
    assert problem(nested(MAX_DEPTH + 1), root="data") == ("data", says)
