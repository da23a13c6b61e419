"""JSON Schema patterns run on RE2: no catastrophic backtracking, same answers otherwise."""

import socket

import pytest
import re2

from cloudassist.schemas import MAX_EXPANSION, UNRESOLVABLE, SafeValidator, _compiled, reference_problem, validator


def _errors(schema, data) -> list[str]:
    return [error.message for error in SafeValidator(schema).iter_errors(data)]


def test_a_catastrophic_pattern_answers_at_once():
    evil = "a" * 40 + "!"  # Python's re backtracks on this for minutes; RE2 matches in linear time
    assert isinstance(_compiled("^(a+)+$"), type(re2.compile("a")))  # the patterns run on RE2, not re
    assert _errors({"pattern": "^(a+)+$"}, evil) == [f"{evil!r} does not match '^(a+)+$'"]
    assert _errors({"patternProperties": {"^(a+)+$": {"type": "integer"}}}, {evil: "x"}) == []
    assert _errors({"additionalProperties": False, "patternProperties": {"^(a+)+$": {}}}, {evil: 1}) == [
        f"Additional properties are not allowed ({evil!r} was unexpected)"
    ]


def test_patterns_keep_their_meaning():
    schema = {
        "type": "object",
        "properties": {"name": {"type": "string", "pattern": "^[a-z][a-z0-9-]*$"}},
        "patternProperties": {"^x-": {"type": "integer"}},
        "additionalProperties": False,
    }
    assert _errors(schema, {"name": "ok-1", "x-count": 3}) == []
    assert _errors(schema, {"name": "Bad"}) == ["'Bad' does not match '^[a-z][a-z0-9-]*$'"]
    assert _errors(schema, {"x-count": "three"}) == ["'three' is not of type 'integer'"]
    assert _errors(schema, {"other": 1}) == ["Additional properties are not allowed ('other' was unexpected)"]


def test_a_pattern_re2_cannot_run_is_an_error_naming_it():
    (message,) = _errors({"pattern": "(a)\\1"}, "aa")
    assert "(a)\\\\1" in message
    assert "not a supported regular expression" in message


# --- references ------------------------------------------------------------------------------

LOOP = {"$defs": {"a": {"$ref": "#/$defs/a"}}, "properties": {"x": {"$ref": "#/$defs/a"}}}


@pytest.mark.parametrize(
    ("schema", "names"),
    [
        ({"$ref": "http://127.0.0.1:9/x.json"}, "'http://127.0.0.1:9/x.json' is not allowed"),
        ({"properties": {"a": {"items": {"$ref": "file:///etc/passwd"}}}}, "'file:///etc/passwd' is not allowed"),
        ({"$ref": "other.json#/a"}, "'other.json#/a' is not allowed"),
        ({"$dynamicRef": "https://example.com/meta"}, "$dynamicRef"),
        ({"properties": {"a": {"$ref": "#/$defs/missing"}}}, "'#/$defs/missing' points at nothing"),
        ({"properties": {"a": {"$id": "https://example.com/a", "$ref": "#/x"}}}, "nested '$id'"),
        (LOOP, "cycle"),
        ({"$ref": "#"}, "cycle"),
        (
            {
                "$defs": {"a": {"allOf": [{"$ref": "#/$defs/b"}]}, "b": {"not": {"$ref": "#/$defs/a"}}},
                "$ref": "#/$defs/a",
            },
            "cycle",
        ),
        ({"$defs": {"a": {"anyOf": [{"$ref": "#/$defs/a"}]}}}, "cycle"),  # unused, still refused
    ],
)
def test_references_that_cannot_be_used_are_refused(schema, names):
    problem = reference_problem(schema)
    assert problem is not None
    assert names in problem, problem


@pytest.mark.parametrize(
    "schema",
    [
        {"$defs": {"n": {"type": "integer"}}, "properties": {"x": {"$ref": "#/$defs/n"}, "y": {"$ref": "#/$defs/n"}}},
        {"type": "object", "properties": {"children": {"type": "array", "items": {"$ref": "#"}}}},  # a tree: fine
        {"$defs": {"node": {"properties": {"next": {"$ref": "#/$defs/node"}}}}, "$ref": "#/$defs/node"},
        {"properties": {"a": {"$anchor": "here", "type": "string"}, "b": {"$ref": "#here"}}},
        {"$id": "https://example.com/root", "properties": {"a": {"$ref": "#/$defs/s"}}, "$defs": {"s": {}}},
        {"properties": {"default_is_data": {"default": {"$ref": "http://127.0.0.1:9/x"}}}},  # not a reference
        {"type": "string"},
    ],
)
def test_local_references_and_recursion_through_the_data_are_fine(schema):
    assert reference_problem(schema) is None


def test_references_that_expand_too_far_are_refused():
    # Each level refers twice to the next: 2**20 subschemas for one instance ("billion laughs").
    defs = {f"l{i}": {"allOf": [{"$ref": f"#/$defs/l{i + 1}"}, {"$ref": f"#/$defs/l{i + 1}"}]} for i in range(20)}
    defs["l20"] = {"type": "integer"}
    problem = reference_problem({"$defs": defs, "$ref": "#/$defs/l0"})
    assert problem is not None
    assert str(MAX_EXPANSION) in problem


def test_a_remote_reference_is_never_fetched():
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        listener.setblocking(False)
        port = listener.getsockname()[1]
        schema = {"properties": {"a": {"$ref": f"http://127.0.0.1:{port}/x.json"}}}
        with pytest.raises(UNRESOLVABLE):
            list(validator(schema).iter_errors({"a": 1}))
        with pytest.raises(BlockingIOError):
            listener.accept()  # nobody came
