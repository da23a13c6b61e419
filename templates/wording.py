"""A JSON Schema validator's error in words a person can act on (pure: no database).

``jsonschema`` says ``'Not a valid name!' does not match '^[a-z][a-z0-9-]{1,38}[a-z0-9]$'``; a
person needs "Cluster name must match the required format: lowercase letters, digits and
hyphens". Each keyword has its sentence, naming the parameter by its ``title`` (else its name,
humanised). A pattern's regex is never shown: the parameter's ``errorMessage`` (a string, or an
object with a ``pattern`` entry) or its ``description`` says what is allowed, else only that the
format is wrong.
"""

from __future__ import annotations

import json
from typing import Any

TYPE_WORDS = {
    "string": "text",
    "integer": "a whole number",
    "number": "a number",
    "boolean": "yes or no",
    "array": "a list",
    "object": "an object",
    "null": "empty",
}
FORMAT_WORDS = {
    "email": "an email address",
    "uri": "a URL",
    "date": "a date (YYYY-MM-DD)",
    "date-time": "a date and time",
    "ipv4": "an IPv4 address",
    "ipv6": "an IPv6 address",
    "hostname": "a host name",
}


def label(name: str, spec: Any) -> str:
    """How a form and a message name a parameter: its ``title``, else its name humanised."""
    title = spec.get("title") if isinstance(spec, dict) else None
    if isinstance(title, str) and title.strip():
        return title.strip()
    return str(name).replace("_", " ").replace("-", " ").strip().capitalize() or str(name)


def _value(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _number(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _plural(count: Any, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def _custom(spec: dict, keyword: str) -> str | None:
    """The schema's own words for a keyword: ``errorMessage`` (the ajv-errors convention)."""
    custom = spec.get("errorMessage")
    if isinstance(custom, dict):
        custom = custom.get(keyword)
    return custom.strip() if isinstance(custom, str) and custom.strip() else None


def _types(value: Any) -> str:
    kinds = value if isinstance(value, list) else [value]
    return " or ".join(TYPE_WORDS.get(kind, str(kind)) for kind in kinds)


# What follows a parameter's label, per keyword, from the keyword's value in the schema.
PHRASES = {
    "enum": lambda expected: "must be one of: " + ", ".join(_value(choice) for choice in expected or []),
    "const": lambda expected: f"must be {_value(expected)}",
    "type": lambda expected: f"must be {_types(expected)}",
    "minimum": lambda expected: f"must be at least {_number(expected)}",
    "maximum": lambda expected: f"must be at most {_number(expected)}",
    "exclusiveMinimum": lambda expected: f"must be more than {_number(expected)}",
    "exclusiveMaximum": lambda expected: f"must be less than {_number(expected)}",
    "multipleOf": lambda expected: f"must be a multiple of {_number(expected)}",
    "minLength": lambda expected: (
        "must not be empty" if expected == 1 else f"must be at least {_plural(expected, 'character')} long"
    ),
    "maxLength": lambda expected: f"must be at most {_plural(expected, 'character')} long",
    "minItems": lambda expected: f"must have at least {_plural(expected, 'item')}",
    "maxItems": lambda expected: f"must have at most {_plural(expected, 'item')}",
    "uniqueItems": lambda expected: "must not repeat an item",
    "format": lambda expected: f"must be {FORMAT_WORDS.get(expected, f'a valid {expected}')}",
}


def phrase(keyword: str, expected: Any, spec: dict, name: str = "") -> str:
    """What follows the parameter's label: "must be one of: a, b", "is required", ..."""
    if keyword == "required":
        return "is required"
    if keyword in PHRASES:
        return PHRASES[keyword](expected)
    described = _described(spec, name)  # a pattern's or another keyword's: the title is the subject already
    if keyword == "pattern":
        return f"must match the required format: {described}" if described else "is not in the required format"
    return f"is not valid: {described}" if described else "is not valid"


def _described(spec: dict, name: str) -> str:
    """The description, without a leading "<Label>:" (the sentence names the parameter already)."""
    described = spec.get("description")
    if not isinstance(described, str):
        return ""
    described = described.strip().rstrip(".")
    named = label(name, spec) + ":"
    if described.lower().startswith(named.lower()):
        described = described[len(named) :].strip()
    return described


def sentence(keyword: str, expected: Any, spec: Any, *, name: str) -> str:
    """The whole message: the schema's ``errorMessage`` for the keyword if it gives one, else
    "<Label> <phrase>."."""
    spec = spec if isinstance(spec, dict) else {}
    custom = _custom(spec, keyword)
    if custom:
        return custom
    return f"{label(name, spec)} {phrase(keyword, expected, spec, name)}."


def of_error(error, schema: dict) -> str:
    """A ``jsonschema`` ``ValidationError`` on the parameters of ``schema``, in words."""
    properties = schema.get("properties") if isinstance(schema, dict) else None
    properties = properties if isinstance(properties, dict) else {}
    path = list(error.absolute_path)
    if error.validator == "required":
        instance = error.instance if isinstance(error.instance, dict) else {}
        missing = [name for name in error.validator_value if name not in instance]
        name = missing[0] if missing else "value"
        parent = error.schema.get("properties") if isinstance(error.schema, dict) else None
        spec = (parent or {}).get(name) if isinstance(parent, dict) else None
        if path:  # a nested object: name the top-level parameter too
            return f"{label(path[0], properties.get(path[0]))}: {label(name, spec)} is required."
        return sentence("required", None, spec, name=name)
    if not path:
        return sentence(error.validator, error.validator_value, error.schema, name="parameters")
    top = properties.get(path[0])
    spec = error.schema if isinstance(error.schema, dict) else {}
    if len(path) == 1:
        # The keyword may sit in the property's own schema or in one it refers to: the property's
        # title, description and errorMessage name it.
        merged = {**spec, **{k: v for k, v in (top or {}).items() if k in ("title", "description", "errorMessage")}}
        return sentence(error.validator, error.validator_value, merged, name=str(path[0]))
    where = ", ".join(f"item {part + 1}" if isinstance(part, int) else str(part) for part in path[1:])
    worded = phrase(error.validator, error.validator_value, spec, str(path[-1]))
    return _custom(spec, error.validator) or f"{label(path[0], top)} ({where}) {worded}."
