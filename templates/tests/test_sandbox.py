"""Bounded rendering: expensive operators, filters, loops, recursion and nesting are a quick
ValidationError on ``body`` (a 400 naming it), never a long render, a 500 or a huge document."""

import pytest
from django.core.exceptions import ValidationError

from templates import rendering, sandbox

SCHEMA = {"type": "object", "properties": {"items": {"type": "array"}, "name": {"type": "string"}}}


def render(body: str, **parameters):
    return rendering.render(body=body, schema=SCHEMA, parameters=parameters)


def refusal(body: str, **parameters) -> str:
    with pytest.raises(ValidationError) as info:
        render(body, **parameters)
    errors = info.value.message_dict
    assert list(errors) == ["body"], errors
    return errors["body"][0]


def nested(depth: int) -> list:
    outer = level = []
    for _ in range(depth - 1):
        level.append([])
        level = level[0]
    return outer


@pytest.mark.parametrize(
    ("body", "says"),
    [
        # operators
        ("a: {{ 7 ** 3000000 }}", "bits"),
        ("a: {{ 2 ** 100000 }}", "bits"),
        ("{% set n = 2 ** 10000 %}a: {{ n * n * n }}", "bits"),
        ("a: {{ 'x' * 10 ** 9 }}", "larger than"),
        ("a: {{ [1, 2] * 10 ** 8 }}", "larger than"),
        ("a: {{ ('x' * 900000) + ('y' * 900000) }}", "larger than"),
        ("a: {{ ('x' * 900000) ~ ('y' * 900000) }}", "larger than"),
        ("a: {{ '%999999999d' % 1 }}", "larger than"),
        ("a: {{ '%*d' % (999999999, 1) }}", "widths"),
        # filters
        ("a: {{ 'x'|center(10 ** 9) }}", "center"),
        ("a: {{ ('x\n' * 100000)|indent(1000) }}", "indent"),
        ("a: {{ ('x ' * 400000)|wordwrap(1, wrapstring='-' * 100) }}", "wordwrap"),
        ("a: {{ '%0999999999d'|format(1) }}", "larger than"),
        ("a: {{ ('x' * 1000)|replace('x', 'y' * 10000) }}", "replace"),
        ("a: {{ range(100000)|join('x' * 1000) }}", "join"),
        ("a: {{ [1]|batch(10 ** 9, 'x')|list }}", "batch"),
        ("a: {{ [1]|slice(10 ** 9)|list }}", "slice"),
        ("a: {{ ([range(1000)|list] * 100000)|sum(start=[])|length }}", "larger than"),
        ("a: {{ lipsum(100000) }}", "lipsum"),
        # methods
        ("a: {{ 'x'.ljust(10 ** 9) }}", "ljust"),
        ("a: {{ 'x'.zfill(10 ** 9) }}", "zfill"),
        ("a: {{ ('\t' * 1000).expandtabs(100000) }}", "expandtabs"),
        ("a: {{ ('x' * 1000).replace('x', 'y' * 10000) }}", "replace"),
        ("a: {{ ('x' * 1000).join(range(2000)|map('string')) }}", "join"),
        ("a: {{ '{:>999999999}'.format(1) }}", "larger than"),
        ("a: {{ '{:{}}'.format(1, 999999999) }}", "nested"),
        ("a: {{ (1).to_bytes(10 ** 9, 'big') }}", "larger than"),
        # structures that double: shared references written out in full
        (
            "{% set ns = namespace(x=['x' * 1000]) %}{% for i in range(40) %}{% set ns.x = [ns.x, ns.x] %}{% endfor %}"
            "a: {{ ns.x }}",
            "larger than",
        ),
        (
            "{% set a = ['x' * 100000] * 5 %}{% set b = [a, a, a] %}{% set c = [b, b, b] %}a: {{ c }}",
            "larger than",
        ),
        # blocks, macros and loops that build text
        ("{% set x %}{% for i in range(2000) %}{{ 'y' * 1000 }}{% endfor %}{% endset %}a: 1", "block"),
        ("{% macro m() %}{% for i in range(2000) %}{{ 'y' * 1000 }}{% endfor %}{% endmacro %}a: {{ m() }}", "block"),
        ("a: {% for i in range(100000) %}{{ 'y' * 1000 }}{% endfor %}", "exceeds"),
        # loops and recursion
        ("{% for i in range(20000) %}{% for j in range(1000) %}{% endfor %}{% endfor %}a: 1", "iterations|longer than"),
        (
            "{% for i in range(100000) %}{% for c in 'x' * 100000 %}{% endfor %}{% endfor %}a: 1",
            "iterations|longer than",
        ),
        ("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}a: {{ f(1) }}", "deep"),
        (
            "{% macro f(n) %}{{ caller() }}{% endmacro %}{% macro g() %}{% call f(1) %}{{ g() }}{% endcall %}"
            "{% endmacro %}a: {{ g() }}",
            "deep",
        ),
        ("{% for x in [[[]]] recursive %}{{ loop([[x]]) }}{% endfor %}a: 1", "deep"),
        ("{% block b %}{{ self.b() }}{% endblock %}a: 1", "deep"),
        # errors the template makes
        ("{% include 'other.yaml' %}", "loader"),
        ("a: {{ {}|dictsort(by='nothing') }}", "Template failed"),
        ("a: {{ [1, 'a']|sort }}", "TypeError"),
        ("a: {{ (10 ** 4400)|string }}", "ValueError"),
    ],
)
def test_expensive_or_broken_templates_are_refused_quickly(body, says):
    """``says``: what the refusal names (``a|b``: either; on a busy machine the clock may stop a
    loop before its iteration count does)."""
    message = refusal(body)
    assert any(part in message for part in says.split("|")), message


@pytest.mark.parametrize(
    ("body", "parameters", "says"),
    [
        ("a: " + "[" * 5000 + "]" * 5000, {}, "nests more than"),
        ("a: " + "{b: " * 100 + "1" + "}" * 100, {}, "nests more than"),
        ("a: {{ items }}", {"items": nested(20)}, None),
        (
            "a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
            "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
            "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
            "g: [*f, *f, *f, *f, *f, *f, *f, *f, *f, *f]\n",
            {},
            "nodes",
        ),
        ("a: &a [*a]", {}, "anchor"),
    ],
)
def test_rendered_yaml_is_bounded_in_depth_and_size(body, parameters, says):
    if says is None:
        assert render(body, **parameters).manifests == [{"a": parameters["items"]}]
    else:
        assert says in refusal(body, **parameters)


def test_a_loop_within_the_limits_still_runs_out_of_time(monkeypatch):
    """Each iteration is cheap enough for the other bounds; the clock stops it. The clock is made
    to advance a millisecond a reading, so the answer does not depend on this machine's speed."""
    readings = iter(range(10**9))
    monkeypatch.setattr(sandbox.time, "monotonic", lambda: next(readings) / 1000)
    message = refusal("{% for i in range(100000) %}{% set x = i * 2 %}{% endfor %}a: 1")
    assert "longer than 1 s" in message


def test_the_budget_is_a_setting(settings):
    settings.TEMPLATE_RENDER_TIMEOUT_SECONDS = 0
    assert "longer than 0 s" in refusal("{% for i in range(10) %}{% endfor %}a: 1")


@pytest.mark.parametrize("depth", [rendering.MAX_DEPTH + 1, 1_000, 10_000])
def test_parameters_nested_deeper_than_the_limit_are_refused(depth):
    with pytest.raises(ValidationError) as info:
        render("a: 1", items=nested(depth))
    ((path, (says,)),) = info.value.message_dict.items()
    assert path == "parameters"
    assert f"nested more than {rendering.MAX_DEPTH} levels deep" in says


def test_parameters_at_the_limit_render():
    assert render("a: {{ items|length }}", items=nested(rendering.MAX_DEPTH - 1)).manifests == [{"a": 1}]


def test_a_schema_nested_deeper_than_the_limit_is_refused():
    schema = {"type": "object"}
    for _ in range(10_000):
        schema = {"type": "object", "properties": {"a": schema}}
    with pytest.raises(ValidationError) as info:
        rendering.check_schema(schema)
    assert "parameters_schema" in info.value.message_dict


def test_a_body_nested_too_deeply_to_parse_is_refused():
    with pytest.raises(ValidationError) as info:
        rendering.check_body("a: {{ " + "(" * 10_000 + "1" + ")" * 10_000 + " }}", {"type": "object"})
    assert "too deeply" in info.value.message_dict["body"][0]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("a: {{ 2 ** 64 }}", 2**64),
        ("a: {{ 7 ** -3 }}", 7**-3),
        ("a: '{{ '-' * 20 }}'", "-" * 20),
        ("a: '{{ 'x'|center(9) }}'", "    x    "),
        ("a: '{{ '%05d' % 42 }}'", "00042"),
        ("a: '{{ '%s-%s'|format('a', 'b') }}'", "a-b"),
        ("a: '{{ '{}:{:>4}'.format('k', 7) }}'", "k:   7"),
        ("a: '{{ items|join(',') }}'", "1,2,3"),
        ("a: '{{ ','.join(items|map('string')) }}'", "1,2,3"),
        ("a: {{ [[1], [2]]|sum(start=[]) }}", [1, 2]),
        ("a: {{ items|sum }}", 6),
        ("a: {{ items + [4] }}", [1, 2, 3, 4]),
        ("a: '{{ name ~ '-' ~ 1 }}'", "n-1"),
        ("a: {{ ('x y ' * 3)|wordwrap(4)|tojson }}", "x y\nx y\nx y"),
        ("a: |\n  {{ 'l1\nl2'|indent(2) }}", "l1\nl2"),
        ("a: '{{ 'abc'|replace('b', 'BB') }}'", "aBBc"),
        ("a: {{ items|batch(2)|list }}", [[1, 2], [3]]),
        ("{% set ns = namespace(n=0) %}{% for i in items %}{% set ns.n = ns.n + i %}{% endfor %}a: {{ ns.n }}", 6),
        ("{% macro f(n) %}{{ f(n - 1) if n else 0 }}{% endmacro %}a: {{ f(40) }}", 0),
        ("a: '{% for x in [1, [2, [3]]] recursive %}{{ loop(x) if x is iterable else x }},{% endfor %}'", "1,2,3,,,"),
        ("{% for i in range(300) %}{% for j in range(300) %}{% endfor %}{% endfor %}a: done", "done"),
    ],
)
def test_ordinary_templates_render_as_before(body, expected):
    result = render(body, items=[1, 2, 3], name="n")
    assert result.manifests == [{"a": expected}], result.document


def test_renders_outside_a_budget_keep_the_size_checks():
    environment = sandbox.BoundedEnvironment()
    with pytest.raises(sandbox.RenderLimit):
        environment.from_string("{{ 'x' * 10 ** 9 }}").render()
