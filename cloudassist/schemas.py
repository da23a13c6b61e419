"""JSON Schema validation whose regular expressions cannot stall the process.

jsonschema runs ``pattern``, ``patternProperties`` (and, through them, ``additionalProperties``)
with Python's backtracking ``re``: a schema pattern like ``^(a+)+$`` against 40 a's and a ``!``
holds the CPU for minutes, and with it every request the process serves. Here they run on RE2
(google-re2), which matches in linear time; a pattern RE2 cannot run (backreferences,
lookaround) is a validation error naming it, never a fallback to ``re``.

References are resolved inside the schema only (:func:`validator`: a remote ``$ref`` is never
fetched), and :func:`reference_problem` refuses, when a schema is saved, the references that could
not be resolved or would never end."""

from __future__ import annotations

import functools
from typing import Any

import re2
import referencing.exceptions
from jsonschema import Draft202012Validator, validators
from jsonschema.exceptions import ValidationError
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

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


# --- references: local only, resolvable, no loop that never reaches the data ----------------------


def _refuse_retrieval(uri: str):
    raise LookupError(f"{uri!r} is not part of the schema; remote references are never fetched.")


# The registry every validation uses: a ``$ref`` the schema does not contain is an error, never a
# download (jsonschema's default registry fetches http(s) URLs with urllib).
LOCAL_ONLY = Registry(retrieve=_refuse_retrieval)

UNRESOLVABLE = (referencing.exceptions.Unresolvable, referencing.exceptions.Unretrievable)


def validator(schema: dict, **kwargs) -> SafeValidator:
    """A :data:`SafeValidator` for ``schema`` that resolves references inside it only."""
    return SafeValidator(schema, registry=LOCAL_ONLY, **kwargs)


# Keywords whose subschemas apply to the same instance (a loop through them never ends) and those
# that apply to a part of it (a loop through them ends with the data).
_IN_PLACE_ONE = ("not", "if", "then", "else")
_IN_PLACE_MANY = ("allOf", "anyOf", "oneOf")
_IN_PLACE_MAP = ("dependentSchemas",)
_DESCENDING_ONE = (
    "items",
    "contains",
    "additionalProperties",
    "propertyNames",
    "unevaluatedItems",
    "unevaluatedProperties",
    "additionalItems",
)
_DESCENDING_MANY = ("prefixItems",)
_DESCENDING_MAP = ("properties", "patternProperties", "$defs", "definitions")
_REFS = ("$ref", "$dynamicRef")
MAX_EXPANSION = 10_000


def _children(node: dict):
    """``(subschema, in_place)`` for each subschema ``node`` holds (not following references)."""
    for keyword in _IN_PLACE_ONE + _DESCENDING_ONE:
        if isinstance(node.get(keyword), dict):
            yield node[keyword], keyword in _IN_PLACE_ONE
    for keyword in _IN_PLACE_MANY + _DESCENDING_MANY:
        if isinstance(node.get(keyword), list):
            for item in node[keyword]:
                if isinstance(item, dict):
                    yield item, keyword in _IN_PLACE_MANY
    for keyword in _IN_PLACE_MAP + _DESCENDING_MAP:
        if isinstance(node.get(keyword), dict):
            for item in node[keyword].values():
                if isinstance(item, dict):
                    yield item, keyword in _IN_PLACE_MAP


def reference_problem(schema: Any) -> str | None:
    """Why the ``$ref``s of ``schema`` (a valid JSON Schema) cannot be used, or None: a reference
    that is not local (``#...``) is refused, as is one that points at nothing in the schema, a
    nested ``$id`` (it would move what a local reference means), a loop of references that never
    reaches into the data (``{"$defs": {"a": {"$ref": "#/$defs/a"}}}``: validation would never
    end), and references that expand to more than MAX_EXPANSION subschemas."""
    if not isinstance(schema, dict):
        return None
    resolver = LOCAL_ONLY.resolver_with_root(Resource.from_contents(schema, default_specification=DRAFT202012))
    nodes: dict[int, dict] = {}
    edges: dict[int, list[int]] = {}  # in place only: a subschema and the references it follows
    stack = [schema]
    while stack:
        node = stack.pop()
        if id(node) in nodes:
            continue
        nodes[id(node)] = node
        if node is not schema and "$id" in node:
            return "A nested '$id' is not supported: give '$id' at the root only."
        out = edges.setdefault(id(node), [])
        for child, in_place in _children(node):
            stack.append(child)
            if in_place:
                out.append(id(child))
        for keyword in _REFS:
            ref = node.get(keyword)
            if not isinstance(ref, str):
                continue
            if not ref.startswith("#"):
                return f"The {keyword} {ref!r} is not allowed: only references inside the schema (#/...) are."
            try:
                target = resolver.lookup(ref).contents
            except UNRESOLVABLE:
                return f"The {keyword} {ref!r} points at nothing in the schema."
            if isinstance(target, dict):
                stack.append(target)
                out.append(id(target))
    return _loop_problem(edges)


def _loop_problem(edges: dict[int, list[int]]) -> str | None:
    """A cycle, or too large an expansion, in the in-place graph (iterative depth-first search)."""
    done: dict[int, int] = {}  # node -> how many subschemas apply with it, in place
    for start, targets in edges.items():
        if start in done:
            continue
        on_path = {start}
        stack = [(start, iter(targets))]
        while stack:
            node, pending = stack[-1]
            step = next(pending, None)
            if step is None:
                stack.pop()
                on_path.discard(node)
                done[node] = 1 + sum(done[child] for child in edges[node])
                if done[node] > MAX_EXPANSION:
                    return f"The schema's references expand to more than {MAX_EXPANSION} subschemas."
            elif step in on_path:
                return "The schema's $refs form a cycle that never reaches into the data; validation would not end."
            elif step not in done:
                on_path.add(step)
                stack.append((step, iter(edges[step])))
    return None
