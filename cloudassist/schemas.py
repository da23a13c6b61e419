"""JSON Schema validation whose regular expressions cannot stall the process.

jsonschema runs ``pattern``, ``patternProperties`` (and, through them, ``additionalProperties``)
with Python's backtracking ``re``: a schema pattern like ``^(a+)+$`` against 40 a's and a ``!``
holds the CPU for minutes, and with it every request the process serves. Here they run on RE2
(google-re2), which matches in linear time; a pattern RE2 cannot run (backreferences,
lookaround) is a validation error naming it, never a fallback to ``re``."""

from __future__ import annotations

import functools

import re2
from jsonschema import Draft202012Validator, validators
from jsonschema.exceptions import ValidationError

UNSUPPORTED = "{!r} is not a supported regular expression (RE2 syntax: no backreferences or lookaround)."


@functools.lru_cache(maxsize=1024)
def _compiled(pattern: str):
    try:
        return re2.compile(pattern)
    except re2.error:
        return None


def _pattern(validator, pattern, instance, schema):
    if not validator.is_type(instance, "string"):
        return
    compiled = _compiled(pattern)
    if compiled is None:
        yield ValidationError(UNSUPPORTED.format(pattern))
    elif not compiled.search(instance):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


def _pattern_properties(validator, pattern_properties, instance, schema):
    if not validator.is_type(instance, "object"):
        return
    for pattern, subschema in pattern_properties.items():
        compiled = _compiled(pattern)
        if compiled is None:
            yield ValidationError(UNSUPPORTED.format(pattern))
            continue
        for key, value in instance.items():
            if compiled.search(key):
                yield from validator.descend(value, subschema, path=key, schema_path=pattern)


def _additional_properties(validator, additional, instance, schema):
    if not validator.is_type(instance, "object"):
        return
    known = schema.get("properties", {})
    patterns = [_compiled(pattern) for pattern in schema.get("patternProperties", {})]
    extras = [
        key
        for key in instance
        if key not in known and not any(compiled is not None and compiled.search(key) for compiled in patterns)
    ]
    if validator.is_type(additional, "object"):
        for extra in extras:
            yield from validator.descend(instance[extra], additional, path=extra)
    elif not additional and extras:
        listed = ", ".join(repr(extra) for extra in sorted(extras))
        yield ValidationError(
            f"Additional properties are not allowed ({listed} {'was' if len(extras) == 1 else 'were'} unexpected)"
        )


SafeValidator = validators.extend(
    Draft202012Validator,
    {"pattern": _pattern, "patternProperties": _pattern_properties, "additionalProperties": _additional_properties},
)
