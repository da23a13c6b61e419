"""Pure functions: check a template definition, resolve parameters, render in a sandbox.

Errors are Django ``ValidationError``s keyed by field path (``parameters.region``,
``body``, ``parameters_schema``), which the API turns into a 400 naming the field.
"""

from __future__ import annotations

import copy
import functools
from dataclasses import dataclass
from typing import Any

import yaml
from django.conf import settings
from django.core.exceptions import ValidationError
from jinja2 import Template, TemplateError, TemplateSyntaxError, UndefinedError, meta
from jinja2.exceptions import SecurityError
from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import SchemaError

from cloudassist import content, schemas
from cloudassist.content import check_storable
from templates import sandbox, wording

MAX_RENDERED_CHARS = sandbox.MAX_RENDERED_CHARS
#: How deep the rendered YAML may nest: as deep as JSON coming in (parameters, schemas).
MAX_DEPTH = content.MAX_DEPTH
#: Nodes of the rendered YAML, aliases expanded (a "billion laughs" document is refused).
MAX_YAML_NODES = 1_000_000

_environment = sandbox.BoundedEnvironment(
    autoescape=False, keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True
)
_YAMLLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True)
class Rendered:
    document: str
    parameters: dict[str, Any]
    manifests: list[dict[str, Any]]


def properties_of(schema: dict) -> dict[str, Any]:
    properties = schema.get("properties", {})
    return properties if isinstance(properties, dict) else {}


def example_parameters(schema: dict) -> dict[str, Any]:
    """A filled-in example of the parameters: each one's default, else its first example or
    enum value, else a placeholder of its type (the browsable API's form shows it)."""
    placeholders = {"string": "", "integer": 0, "number": 0, "boolean": False, "array": [], "object": {}}
    example: dict[str, Any] = {}
    for name, spec in properties_of(schema).items():
        if not isinstance(spec, dict):
            continue
        if "default" in spec:
            example[name] = copy.deepcopy(spec["default"])
        elif spec.get("examples"):
            example[name] = copy.deepcopy(spec["examples"][0])
        elif spec.get("enum"):
            example[name] = copy.deepcopy(spec["enum"][0])
        elif isinstance(spec.get("minimum"), int | float):
            example[name] = spec["minimum"]
        else:
            example[name] = placeholders.get(spec.get("type"), "")
    return example


def form_fields(schema: dict) -> list[dict[str, Any]]:
    """How a request form draws each parameter (the admin's preview of it): name, label, widget
    (select for an enum, number with min/max/step, checkbox, text), default, required, help."""
    required = set(schema.get("required") or []) if isinstance(schema, dict) else set()
    fields = []
    for name, raw in properties_of(schema if isinstance(schema, dict) else {}).items():
        spec = raw if isinstance(raw, dict) else {}
        kind = spec.get("type")
        if spec.get("enum"):
            widget = "select"
        elif kind in ("integer", "number"):
            widget = "number"
        elif kind == "boolean":
            widget = "checkbox"
        else:
            widget = "text"
        fields.append(
            {
                "name": name,
                "label": spec.get("title") or name.replace("_", " ").capitalize(),
                "widget": widget,
                "type": kind or "any",
                "choices": list(spec.get("enum") or []),
                "minimum": spec.get("minimum"),
                "maximum": spec.get("maximum"),
                "step": spec.get("multipleOf") or (1 if kind == "integer" else None),
                "default": spec.get("default"),
                "required": name in required,
                "help": spec.get("description", ""),
                "pattern": spec.get("pattern"),
            }
        )
    return fields


def check_schema(schema: Any) -> None:
    """The parameters schema is a valid JSON Schema for an object."""
    if not isinstance(schema, dict):
        raise ValidationError({"parameters_schema": ["Must be a JSON object (a JSON Schema)."]})
    # The admin's form too: what MongoDB can store, nested at most MAX_DEPTH (before jsonschema recurses)
    check_storable(schema, root="parameters_schema")
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        path = "/".join(str(part) for part in exc.absolute_path) or "(root)"
        raise ValidationError({"parameters_schema": [f"Not a valid JSON Schema at {path}: {exc.message}"]}) from exc
    problem = schemas.reference_problem(schema)
    if problem:
        raise ValidationError({"parameters_schema": [problem]})
    if schema.get("type", "object") != "object":
        raise ValidationError({"parameters_schema": ['The schema must describe an object ("type": "object").']})


def check_body(body: str, schema: dict) -> None:
    """The body compiles, and every placeholder is a declared parameter."""
    try:
        parsed = _environment.parse(body)
    except TemplateSyntaxError as exc:
        raise ValidationError({"body": [f"Template syntax error on line {exc.lineno}: {exc.message}"]}) from exc
    except RecursionError as exc:
        raise ValidationError({"body": ["The template nests its expressions or blocks too deeply."]}) from exc
    undeclared = sorted(meta.find_undeclared_variables(parsed) - set(properties_of(schema)) - set(_environment.globals))
    if undeclared:
        raise ValidationError(
            {"body": [f"Placeholders not declared in parameters_schema.properties: {', '.join(undeclared)}"]}
        )


def check_definition(
    *,
    body: str,
    parameters_schema: Any,
    default_lifetime_hours: int,
    max_lifetime_hours: int,
    max_total_lifetime_hours: int | None = None,
):
    check_schema(parameters_schema)
    check_body(body, parameters_schema)
    if default_lifetime_hours > max_lifetime_hours:
        raise ValidationError(
            {"default_lifetime_hours": [f"Must not exceed max_lifetime_hours ({max_lifetime_hours})."]}
        )
    check_policy(max_lifetime_hours=max_lifetime_hours, max_total_lifetime_hours=max_total_lifetime_hours)


def check_policy(*, max_lifetime_hours: int, max_total_lifetime_hours: int | None) -> None:
    """The lease cap (submission to expiry, extensions included) is at least one maximum lifetime."""
    if max_total_lifetime_hours is not None and max_total_lifetime_hours < max_lifetime_hours:
        raise ValidationError(
            {
                "max_total_lifetime_hours": [
                    f"Must be at least max_lifetime_hours ({max_lifetime_hours}), or empty to cap the lease there."
                ]
            }
        )


def _error_path(error) -> str:
    parts = [str(part) for part in error.absolute_path]
    if error.validator == "required":
        instance = error.instance if isinstance(error.instance, dict) else {}
        missing = [name for name in error.validator_value if name not in instance]
        if missing:
            parts.append(missing[0])
    return ".".join(["parameters", *parts])


def worded(error, schema: dict) -> ValidationError:
    """One validator error as a Django error: its message in words (templates/wording.py), its
    code the JSON Schema keyword, and the validator's own message kept as ``validator_message``
    (the API answers both)."""
    message = wording.of_error(error, schema)
    # No params: "%" in a description stays as written
    result = ValidationError(message, code=str(error.validator))
    result.validator_message = error.message
    return result


def resolve_parameters(schema: dict, parameters: Any) -> dict[str, Any]:
    """Apply top-level defaults, refuse unknown names, and validate against the schema."""
    if not isinstance(parameters, dict):
        raise ValidationError({"parameters": ["Must be a JSON object of parameter names to values."]})
    # The portal's forms too: what MongoDB can store, nested at most MAX_DEPTH (before copies and checks)
    check_storable(parameters, root="parameters")
    check_storable(schema, root="parameters_schema")  # saved before its depth was checked
    properties = properties_of(schema)
    unknown = sorted(set(parameters) - set(properties))
    errors: dict[str, list] = {
        f"parameters.{name}": [f"Unknown parameter; expected one of: {', '.join(sorted(properties)) or '(none)'}."]
        for name in unknown
    }
    resolved = copy.deepcopy(parameters)
    for name, spec in properties.items():
        if name not in resolved and isinstance(spec, dict) and "default" in spec:
            resolved[name] = copy.deepcopy(spec["default"])
    try:
        found = sorted(
            schemas.validator(schema, format_checker=FormatChecker()).iter_errors(resolved),
            key=lambda e: list(e.absolute_path),
        )
    except (*schemas.UNRESOLVABLE, RecursionError) as exc:
        if isinstance(exc, RecursionError) and schemas.reference_problem(schema) is None:
            # Data nested deeper than a recursive schema can follow.
            raise ValidationError({"parameters": ["Nested too deeply to check against the schema."]}) from exc
        # A schema saved before its references were checked (check_schema) is the only other way here.
        raise ValidationError({"parameters_schema": ["The template's schema cannot be used: fix its $refs."]}) from exc
    for error in found:
        if error.validator == "additionalProperties":
            continue  # reported above as unknown parameters
        errors.setdefault(_error_path(error), []).append(worded(error, schema))
    if errors:
        raise ValidationError(errors)
    for name, spec in properties.items():
        value = resolved.get(name)
        if isinstance(spec, dict) and spec.get("type") == "integer" and isinstance(value, float):
            resolved[name] = int(value)  # 3.0 is an integer in JSON Schema; render it as 3
    return resolved


@functools.lru_cache(maxsize=256)
def _compiled(body: str) -> Template:
    """Compiling is most of a small render's cost; a template's body changes rarely."""
    return _environment.from_string(body)


def render_timeout() -> float:
    return float(getattr(settings, "TEMPLATE_RENDER_TIMEOUT_SECONDS", sandbox.DEFAULT_TIMEOUT_SECONDS))


def _render_text(body: str, parameters: dict[str, Any]) -> str:
    """Render in the bounded sandbox (templates/sandbox.py): every bound it hits, and every error
    the template makes, is a ValidationError on ``body``."""
    try:
        with sandbox.budget(render_timeout()) as current:
            template = _compiled(body)
            chunks: list[str] = []
            size = 0
            for chunk in template.generate(**parameters):
                size += len(chunk)
                if size > MAX_RENDERED_CHARS:
                    raise ValidationError({"body": [f"The rendered document exceeds {MAX_RENDERED_CHARS} characters."]})
                current.tick()
                chunks.append(chunk)
    except SecurityError as exc:
        raise ValidationError({"body": [f"Refused by the template sandbox: {exc}"]}) from exc
    except UndefinedError as exc:
        raise ValidationError({"body": [f"Undefined value in template: {exc.message}"]}) from exc
    except TemplateSyntaxError as exc:
        raise ValidationError({"body": [f"Template syntax error on line {exc.lineno}: {exc.message}"]}) from exc
    except RecursionError as exc:
        raise ValidationError(
            {"body": ["The template nests too deeply to render (a macro that calls itself?)."]}
        ) from exc
    except MemoryError as exc:
        raise ValidationError({"body": ["The template needs too much memory to render."]}) from exc
    except (TemplateError, TypeError, ValueError, ArithmeticError, LookupError, AttributeError) as exc:
        raise ValidationError({"body": [f"Template failed to render: {type(exc).__name__}: {exc}"]}) from exc
    return "".join(chunks)


_OPENING = (yaml.MappingStartEvent, yaml.SequenceStartEvent)
_CLOSING = (yaml.MappingEndEvent, yaml.SequenceEndEvent)


def _yaml_refused(message: str) -> ValidationError:
    return ValidationError({"body": [f"The rendered YAML {message}."]})


def _check_yaml_shape(document: str) -> None:
    """Read the document's events (libyaml's parser: no recursion) and refuse it before anything
    is built when it nests more than MAX_DEPTH deep, or holds more than MAX_YAML_NODES nodes once
    its aliases are expanded (a "billion laughs" document: small, but huge as JSON)."""
    sizes: dict[str, int] = {}  # anchor -> nodes under it
    open_nodes: list[list] = [[None, 0]]  # [anchor, nodes so far] of the stream and each open collection
    for event in yaml.parse(document, Loader=_YAMLLoader):
        if isinstance(event, yaml.DocumentStartEvent):
            sizes.clear()
        elif isinstance(event, _OPENING):
            if len(open_nodes) > MAX_DEPTH:
                raise _yaml_refused(f"nests more than {MAX_DEPTH} levels deep")
            open_nodes.append([event.anchor, 1])
        elif isinstance(event, _CLOSING):
            _add_nodes(open_nodes, sizes, *open_nodes.pop())
        elif isinstance(event, yaml.ScalarEvent):
            _add_nodes(open_nodes, sizes, event.anchor, 1)
        elif isinstance(event, yaml.AliasEvent):
            if event.anchor not in sizes:
                raise _yaml_refused(f"refers to an unknown or enclosing anchor '{event.anchor}'")
            _add_nodes(open_nodes, sizes, None, sizes[event.anchor])


def _add_nodes(open_nodes: list[list], sizes: dict[str, int], anchor: str | None, nodes: int) -> None:
    if anchor is not None:
        sizes[anchor] = nodes
    open_nodes[-1][1] += nodes
    if open_nodes[-1][1] > MAX_YAML_NODES:
        raise _yaml_refused(f"has more than {MAX_YAML_NODES:,} nodes (aliases expanded)")


def parse_yaml(document: str) -> list[dict[str, Any]]:
    try:
        _check_yaml_shape(document)
        documents = [doc for doc in yaml.load_all(document, Loader=_YAMLLoader) if doc is not None]
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ValidationError({"body": [f"The rendered document is not valid YAML{where}: {problem}"]}) from exc
    if not documents:
        raise ValidationError({"body": ["The rendered document is empty."]})
    for index, doc in enumerate(documents):
        if not isinstance(doc, dict):
            raise ValidationError(
                {"body": [f"Rendered YAML document {index + 1} is a {type(doc).__name__}, not a mapping."]}
            )
    return documents


def render(*, body: str, schema: dict, parameters: Any) -> Rendered:
    """Validate parameters, render the body in the sandbox, and parse the result as YAML."""
    resolved = resolve_parameters(schema, parameters)
    document = _render_text(body, resolved)
    return Rendered(document=document, parameters=resolved, manifests=parse_yaml(document))
