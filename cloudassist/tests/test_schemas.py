"""JSON Schema patterns run on RE2: no catastrophic backtracking, same answers otherwise."""

import re2

from cloudassist.schemas import SafeValidator, _compiled


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
