"""What a JSON value may hold to be stored in MongoDB, checked once where it comes in.

JSON lets a client send what BSON cannot store or Python cannot encode: a NUL in a key
(BSON keys are C strings), a lone surrogate (``"\\ud800"``: no UTF-8 encoding), an integer
outside BSON's 64 bits (``2**63``), or a number that overflowed to infinity (``1e400``). Each
would fail deep in the driver, as a 500; NULs are refused in string values too (they truncate
in many tools and have no business in a config or a parameter). The API's JSON parser
(cloudassist/api/parsers.py) runs :func:`check_storable` on every body, and the services that
store JSON from elsewhere (the admin's forms) run it too. Objects and arrays nest at most
``MAX_DEPTH`` levels, so the code after it (merge patches, copies, schema validation, BSON) never
recurses past Python's limit. The walk is iterative: a document nested as deeply as the parser
allows cannot overflow the stack here.
"""

from __future__ import annotations

import math
from typing import Any

from django.core.exceptions import ValidationError

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
#: How deep objects and arrays may nest (MongoDB refuses documents past 100 levels, and the code
#: that merges, copies and validates JSON recurses): deeper is a 400 here, not a RecursionError later.
MAX_DEPTH = 64

NUL = "contains a NUL character (\\u0000)."
SURROGATE = "contains a lone surrogate (an unpaired \\ud800-\\udfff escape): not valid Unicode."
INTEGER = f"is an integer outside the 64-bit range MongoDB stores ({INT64_MIN} to {INT64_MAX})."
FLOAT = "is a number too large to store (it overflows a 64-bit float)."
DEPTH = f"is nested more than {MAX_DEPTH} levels deep (objects and arrays)."


def string_problem(text: str) -> str | None:
    """Why ``text`` cannot be stored, or None."""
    if "\x00" in text:
        return NUL
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            return SURROGATE
    return None


def shown(key: str) -> str:
    """A key as it can appear in an error path (and an error message): escaped if it must be."""
    return key.encode("unicode_escape").decode("ascii") if string_problem(key) else key


def _spelled(link, root: str) -> str:
    """The dotted path of a ``(parent link, part)`` chain (built only for the answer: a wide
    document's paths are never all spelled out)."""
    parts = []
    while link is not None:
        link, part = link
        parts.append(part)
    return ".".join([root] * bool(root) + parts[::-1])


def _outermost(link, root: str) -> str:
    """The field a too-deep value is in: ``root``, else the body's top-level key (a path 64 parts
    long would name nothing a person or a form can find)."""
    if root:
        return root
    first = None
    while link is not None:
        link, first = link
    return first or ""


def _scalar_problem(item: Any) -> str | None:
    if isinstance(item, str):
        return string_problem(item)
    if isinstance(item, bool):
        return None
    if isinstance(item, int):
        return None if INT64_MIN <= item <= INT64_MAX else INTEGER
    if isinstance(item, float):
        return None if math.isfinite(item) else FLOAT
    return None


def problem(value: Any, *, root: str = "") -> tuple[str, str] | None:
    """The first ``(path, reason)`` in ``value`` that cannot be stored (dotted path, list items
    by index, ``root`` for the value itself), or None."""
    stack: list[tuple[Any, Any, int]] = [(None, value, 1)]
    while stack:
        link, item, depth = stack.pop()
        if isinstance(item, dict | list | tuple) and depth > MAX_DEPTH:
            return _outermost(link, root), DEPTH
        if isinstance(item, dict):
            children = []
            for key, child in item.items():
                reason = string_problem(key) if isinstance(key, str) else None
                if reason:
                    return _spelled((link, shown(key)), root), f"the key {reason}"
                children.append(((link, str(key)), child, depth + 1))
            stack.extend(reversed(children))
        elif isinstance(item, list | tuple):
            stack.extend(reversed([((link, str(index)), child, depth + 1) for index, child in enumerate(item)]))
        else:
            reason = _scalar_problem(item)
            if reason:
                return _spelled(link, root), reason
    return None


def check_storable(value: Any, *, root: str = "") -> None:
    """A Django ``ValidationError`` keyed by the path of the first value that cannot be stored."""
    found = problem(value, root=root)
    if found is not None:
        path, reason = found
        if path:
            raise ValidationError({path: [reason]})
        raise ValidationError({"non_field_errors": [f"The request body {reason}"]})
