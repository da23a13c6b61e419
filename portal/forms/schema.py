"""A Django form drawn from a template's JSON Schema (pure: no database, no request).

Each top-level property becomes one field: an ``enum`` a select, an integer or number a number
input with the schema's bounds and step, a boolean a checkbox, a string a text input (its
``maxLength`` and ``format`` as widget hints), an array of enum values a group of checkboxes, and
anything else a JSON text area. ``title`` is the label, ``description`` the help text,
``default`` the initial value; properties named in ``required`` are marked.

The fields only turn the posted text into JSON values (a whole number, a boolean, a list). Every
rule of the schema (required, bounds, pattern, length, enum) is checked by the API's own validator
(``templates.rendering.resolve_parameters``, through the submission service), and its errors are
put back beside the field by ``add_schema_errors``: one validator, one set of messages.
"""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.core.exceptions import ValidationError

PARAMETERS_PREFIX = "parameters."  # how the validator names a parameter's errors


def _properties(schema: Any) -> dict[str, dict]:
    properties = schema.get("properties", {}) if isinstance(schema, dict) else {}
    if not isinstance(properties, dict):
        return {}
    return {name: spec if isinstance(spec, dict) else {} for name, spec in properties.items()}


def _label(name: str, spec: dict) -> str:
    title = spec.get("title")
    if isinstance(title, str) and title.strip():
        return title
    return name.replace("_", " ").replace("-", " ").strip().capitalize() or name


def _type(spec: dict) -> str | None:
    kind = spec.get("type")
    if isinstance(kind, list):  # ["integer", "null"]: the first non-null type
        kind = next((k for k in kind if k != "null"), None)
    return kind if isinstance(kind, str) else None


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _choice_key(value: Any) -> str:
    """The posted text of an enum value: strings as themselves, anything else as JSON."""
    return value if isinstance(value, str) else json.dumps(value)


def _number_attrs(spec: dict, *, integer: bool) -> dict[str, Any]:
    attrs: dict[str, Any] = {}
    if _number(spec.get("minimum")):
        attrs["min"] = spec["minimum"]
    elif _number(spec.get("exclusiveMinimum")) and integer:
        attrs["min"] = int(spec["exclusiveMinimum"]) + 1
    if _number(spec.get("maximum")):
        attrs["max"] = spec["maximum"]
    elif _number(spec.get("exclusiveMaximum")) and integer:
        attrs["max"] = int(spec["exclusiveMaximum"]) - 1
    step = spec.get("multipleOf")
    attrs["step"] = step if _number(step) else (1 if integer else "any")
    return attrs


class SchemaJSONField(forms.JSONField):
    """Any JSON value (objects, arrays without an enum): empty text means 'not given'."""

    def to_python(self, value):
        if value in self.empty_values:
            return None
        return super().to_python(value)


def field_for(name: str, spec: dict, *, required: bool) -> forms.Field:
    """One form field for the property ``name`` described by ``spec``."""
    kind = _type(spec)
    default = spec.get("default")
    common: dict[str, Any] = {"label": _label(name, spec), "required": False}
    description = spec.get("description")
    if isinstance(description, str):
        common["help_text"] = description
    attrs: dict[str, Any] = {"required": True} if required and kind != "boolean" else {}

    if isinstance(spec.get("enum"), list) and spec["enum"]:
        values = {_choice_key(value): value for value in spec["enum"]}
        choices = [(key, str(value)) for key, value in values.items()]
        if not (required or "default" in spec) or default is None:
            choices.insert(0, ("", "—"))
        field: forms.Field = forms.TypedChoiceField(
            choices=choices, coerce=values.__getitem__, empty_value=None, widget=forms.Select(attrs=attrs), **common
        )
        field.initial = None if default is None else _choice_key(default)
    elif kind == "boolean":
        field = forms.BooleanField(widget=forms.CheckboxInput(attrs=attrs), **common)
        field.initial = bool(default)
    elif kind in ("integer", "number"):
        integer = kind == "integer"
        widget = forms.NumberInput(attrs={**attrs, **_number_attrs(spec, integer=integer)})
        field = (forms.IntegerField if integer else forms.FloatField)(widget=widget, **common)
        field.initial = default if _number(default) else None
    elif kind == "string":
        widget_attrs = dict(attrs)
        if isinstance(spec.get("maxLength"), int):
            widget_attrs["maxlength"] = spec["maxLength"]
        if isinstance(spec.get("minLength"), int) and spec["minLength"] > 0:
            widget_attrs["minlength"] = spec["minLength"]
        input_type = {"email": "email", "uri": "url", "date": "date"}.get(spec.get("format"), "text")
        field = forms.CharField(
            widget=forms.TextInput(attrs={**widget_attrs, "type": input_type}), strip=False, empty_value=None, **common
        )
        field.initial = default if isinstance(default, str) else None
    elif kind == "array" and isinstance(spec.get("items"), dict) and isinstance(spec["items"].get("enum"), list):
        values = {_choice_key(value): value for value in spec["items"]["enum"]}
        field = forms.TypedMultipleChoiceField(
            choices=[(key, str(value)) for key, value in values.items()],
            coerce=values.__getitem__,
            widget=forms.CheckboxSelectMultiple,
            **common,
        )
        field.initial = [_choice_key(value) for value in default] if isinstance(default, list) else []
    else:
        field = SchemaJSONField(widget=forms.Textarea(attrs={**attrs, "rows": 3}), **common)
        field.initial = None if default is None else json.dumps(default)
        field.help_text = (field.help_text + " " if field.help_text else "") + "As JSON."
    field.schema_required = required
    field.schema_kind = kind or "any"
    return field


class ParametersForm(forms.Form):
    """The parameters of one template; built by ``parameters_form_class``."""

    required_css_class = "required"
    schema: dict = {}

    def parameters(self) -> dict[str, Any]:
        """The values given (after ``is_valid()``), as JSON: empty fields are left out, so the
        validator applies the schema's defaults and reports what is required."""
        return {name: value for name, value in self.cleaned_data.items() if value is not None and value != ""}


def parameters_form_class(schema: Any) -> type[ParametersForm]:
    """A form class with one field per property of ``schema``, in the schema's order."""
    required = set(schema.get("required", []) if isinstance(schema, dict) else [])
    fields = {name: field_for(name, spec, required=name in required) for name, spec in _properties(schema).items()}
    return type("ParametersForm", (ParametersForm,), {**fields, "schema": schema})


def add_schema_errors(form: forms.Form, error: ValidationError) -> list[str]:
    """Put the validator's errors keyed ``parameters.<name>[.<path>]`` beside field ``name`` of
    ``form``; answer the messages of every other key (for the caller to place)."""
    rest: list[str] = []
    if not hasattr(error, "error_dict"):
        return list(error.messages)
    for key, errors in error.error_dict.items():
        if key.startswith(PARAMETERS_PREFIX):
            name, _, path = key[len(PARAMETERS_PREFIX) :].partition(".")
            # The validator's errors are sentences naming the parameter (templates/wording.py),
            # their code the JSON Schema keyword ("required": the estimate waits for the value).
            messages = [_placed(one, path) for one in errors]
            if name in form.fields:
                for message in messages:
                    form.add_error(name, message)
                continue
            rest.extend(f"{name}: {' '.join(message)}" for message in messages)
        elif key == "parameters":
            for message in errors:
                form.add_error(None, message)
        else:
            rest.extend(" ".join(message) for message in errors)
    return rest


def _placed(error: ValidationError, path: str) -> ValidationError:
    """One error of a parameter, for its field: a worded one as it is (its sentence names the
    place), any other prefixed with the path inside the parameter."""
    if not path or hasattr(error, "validator_message"):
        return error
    return ValidationError(f"{path}: {' '.join(error)}", code=error.code)
