"""Checking a rendered document against a plugin's schema: defaults filled in, errors naming the path.

The plugin schemas say ``additionalProperties: false`` wherever they list what a plugin supports,
so a field outside that subset is refused by name (``body.managedNodeGroups[0].ami: not supported
by aws-eks``) instead of being silently dropped. Defaults (``default`` in a property's schema) are
filled in before validation, so what is planned, priced and created is the same document.
"""

from __future__ import annotations

import copy
from typing import Any

from django.core.exceptions import ValidationError
from jsonschema import Draft202012Validator


def path_text(parts, root: str = "body") -> str:
    """``["managedNodeGroups", 0, "ami"]`` -> ``body.managedNodeGroups[0].ami`` (``body[1].kind`` for lists)."""
    text = root
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else f".{part}"
    return text


def fill_defaults(schema: dict[str, Any], instance: Any) -> Any:
    """``instance`` with the ``default`` of every absent property its schema declares, recursively
    through ``properties``, ``items`` and ``allOf``/``if``/``then`` are left alone (keep schemas plain)."""
    if not isinstance(schema, dict):
        return instance
    if isinstance(instance, dict):
        properties = schema.get("properties") or {}
        for name, sub in properties.items():
            if name not in instance and isinstance(sub, dict) and "default" in sub:
                instance[name] = copy.deepcopy(sub["default"])
            if name in instance:
                instance[name] = fill_defaults(sub, instance[name])
    elif isinstance(instance, list) and isinstance(schema.get("items"), dict):
        for index, item in enumerate(instance):
            instance[index] = fill_defaults(schema["items"], item)
    return instance


def _message(error, plugin: str) -> tuple[str, str]:
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        allowed = set((error.schema.get("properties") or {}).keys())
        extra = sorted(key for key in error.instance if key not in allowed)
        if extra:
            return path_text([*error.absolute_path, extra[0]]), f"not supported by {plugin}"
    if error.validator == "required" and isinstance(error.instance, dict):
        missing = [name for name in error.validator_value if name not in error.instance]
        if missing:
            return path_text([*error.absolute_path, missing[0]]), f"required by {plugin}"
    message = error.schema.get("errorMessage") if isinstance(error.schema, dict) else None
    return path_text(error.absolute_path), message or error.message


def validate(document: Any, schema: dict[str, Any], *, plugin: str) -> Any:
    """A copy of ``document`` with the schema's defaults, or a ValidationError naming each bad path."""
    filled = fill_defaults(schema, copy.deepcopy(document))
    errors = sorted(Draft202012Validator(schema).iter_errors(filled), key=lambda e: list(map(str, e.absolute_path)))
    if errors:
        found: dict[str, list[str]] = {}
        for error in errors[:10]:
            path, message = _message(error, plugin)
            found.setdefault(path, []).append(message)
        raise ValidationError(found)
    return filled
