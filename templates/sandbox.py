"""A Jinja sandbox whose renders are bounded in time, size and depth.

Jinja's ``ImmutableSandboxedEnvironment`` keeps templates away from Python's internals, but not
from the CPU or memory: ``{{ 7 ** 3000000 }}``, ``'x' * 10**9``, ``'x'|center(10**9)``, a
recursive macro or two nested loops of ``range(20000)`` and ``range(1000)`` each hold a process
for seconds (or exhaust its memory). Here:

- every value a template builds (a string, a list, the output of a filter, a call or a block) is
  limited to :data:`MAX_VALUE_SIZE` (characters, or elements counted through nested lists),
  checked *before* the expensive operators and filters run (``*``, ``**``, ``+``, ``%``, ``~``,
  ``center``, ``indent``, ``wordwrap``, ``format``, ``join``, ``replace``, ``batch``, ``slice``,
  ``sum``, ``str.ljust`` and friends);
- integers are limited to :data:`MAX_INT_BITS` bits (``**`` and ``*`` refuse to go beyond);
- calls (macros, ``caller()``, recursive loops) nest at most :data:`MAX_CALL_DEPTH` deep;
- all the loops of a render make at most :data:`MAX_LOOP_ITERATIONS` iterations, and
- a render has a wall-clock budget (``TEMPLATE_RENDER_TIMEOUT_SECONDS``), checked at every loop
  iteration, call, filter, operator, attribute or item lookup and output chunk: no signals, so it
  works the same in web threads, gevent greenlets and rq work horses. A single filter over the
  largest allowed input (e.g. ``groupby`` of 100,000 items) can still run past it, by a second at
  most, before the check that follows it.

A render past a bound raises :class:`RenderLimit` (a Jinja ``SecurityError``) naming it.
"""

from __future__ import annotations

import re
import string
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from functools import wraps
from typing import Any

from jinja2 import StrictUndefined, nodes, pass_environment
from jinja2.compiler import CodeGenerator, Frame
from jinja2.exceptions import SecurityError
from jinja2.filters import make_attrgetter
from jinja2.runtime import markup_join, str_join
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import Namespace, generate_lorem_ipsum

MAX_RENDERED_CHARS = 1_000_000
MAX_VALUE_SIZE = MAX_RENDERED_CHARS
ELEMENT_SIZE = 8  # what a list element, a number or a short string counts for (at most 125,000 of them)
MAX_INT_BITS = 16_384  # ~4,900 decimal digits: more than Python prints (4,300) anyway
MAX_CALL_DEPTH = 50
MAX_LOOP_ITERATIONS = 200_000
MAX_SLICES = 10_000
DEFAULT_TIMEOUT_SECONDS = 1.0

_LOOP_FILTER = "_bounded_loop"


class RenderLimit(SecurityError):
    """A render went past one of the sandbox's bounds."""


@dataclass
class Budget:
    """What one render may still spend."""

    timeout: float
    deadline: float
    iterations: int = 0
    depth: int = 0

    def tick(self) -> None:
        if time.monotonic() > self.deadline:
            raise RenderLimit(f"the template took longer than {self.timeout:g} s to render")


_current: ContextVar[Budget | None] = ContextVar("template_render_budget", default=None)


@contextmanager
def budget(timeout: float = DEFAULT_TIMEOUT_SECONDS) -> Iterator[Budget]:
    """Bound the renders made inside (a ContextVar: per thread and per greenlet)."""
    current = Budget(timeout=timeout, deadline=time.monotonic() + timeout)
    token = _current.set(current)
    try:
        yield current
    finally:
        _current.reset(token)


def _tick() -> None:
    current = _current.get()
    if current is not None:
        current.tick()


# --- sizes ---------------------------------------------------------------------------------------


def size(value: Any, limit: int = MAX_VALUE_SIZE) -> int:
    """How big ``value`` is once written out: the characters of a string, ELEMENT_SIZE for every
    other value (through nested lists and dicts, a list shared twice counted twice; a list is
    written with a few characters per element, and sorting or copying a million of them is
    where the time goes). Stops counting past ``limit``."""
    total = 0
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str | bytes):
            total += max(len(item), ELEMENT_SIZE)
        else:
            total += ELEMENT_SIZE
            if isinstance(item, list | tuple | set | frozenset):
                stack.extend(item)
            elif isinstance(item, dict):
                stack.extend(item.keys())
                stack.extend(item.values())
        if total > limit:
            return total
    return total


def _refuse_size(what: str, amount: int | float) -> None:
    if amount > MAX_VALUE_SIZE:
        raise RenderLimit(f"{what} would be larger than {MAX_VALUE_SIZE:,} characters or items")


def _check_sizes(what: str, *values: Any) -> None:
    total = 0
    for value in values:
        total += size(value, MAX_VALUE_SIZE - total)
        _refuse_size(what, total)


def _checked(what: str, value: Any) -> Any:
    if isinstance(value, str | bytes | list | tuple | dict | set | frozenset):
        _refuse_size(what, size(value))
    return value


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) else None


def _bits_refused(bits: float) -> None:
    if bits > MAX_INT_BITS:
        raise RenderLimit(f"the number would have more than {MAX_INT_BITS:,} bits")


def _check_power(base: Any, exponent: Any) -> None:
    if isinstance(base, int) and isinstance(exponent, int) and exponent > 0 and abs(base) > 1:
        _bits_refused(exponent * (abs(base).bit_length() - 1))


def _check_product(left: Any, right: Any) -> None:
    if isinstance(left, int) and isinstance(right, int):
        _bits_refused(left.bit_length() + right.bit_length() - 1)
        return
    for sequence, count in ((left, right), (right, left)):
        if isinstance(count, int) and isinstance(sequence, str | bytes | list | tuple):
            each = len(sequence) if isinstance(sequence, str | bytes) else size(sequence)
            _refuse_size("the repeated value", max(count, 0) * each)


_PERCENT_SPEC = re.compile(r"%(?:\([^)]*\))?[#0\- +]*(\*|\d+)?(?:\.(\*|\d+))?")


def _check_percent(template: str, args: Any) -> None:
    """``'%5s' % x``: widths and precisions add up to at most MAX_VALUE_SIZE; no ``*`` widths."""
    widths = 0
    for width, precision in _PERCENT_SPEC.findall(template):
        if "*" in (width, precision):
            raise RenderLimit("'*' widths in %-formatting are not allowed")
        widths += int(width or 0) + int(precision or 0)
    _refuse_size("the formatted string", widths)
    _check_sizes("the formatted string", template, args)


def _check_format(template: str, args: Any) -> None:
    """``'{:>5}'.format(x)``: widths add up to at most MAX_VALUE_SIZE; no nested ``{}`` in specs."""
    widths = 0
    try:
        fields = list(string.Formatter().parse(template))
    except ValueError:
        return  # str.format raises its own error
    for _, _, spec, _ in fields:
        if spec and "{" in spec:
            raise RenderLimit("nested fields in a format spec are not allowed")
        widths += sum(int(number) for number in re.findall(r"\d+", spec or ""))
    _refuse_size("the formatted string", widths)
    _check_sizes("the formatted string", template, args)


def _lines(value: str) -> int:
    return value.count("\n") + 1


def _check_method(method: Any, args: tuple, kwargs: dict) -> tuple:
    """String, bytes and int methods whose result can dwarf their arguments; returns the arguments
    to call with (an iterator given to ``str.join`` is read into a list first, to be counted)."""
    target = getattr(method, "__self__", None)
    name = getattr(method, "__name__", "")
    if isinstance(target, str | bytes) and name == "join" and args and not isinstance(args[0], list | tuple):
        args = (list(args[0]), *args[1:])
    if isinstance(target, int) and not isinstance(target, bool) and name == "to_bytes":
        length = _int(args[0] if args else kwargs.get("length", 1))
        _refuse_size("the bytes", length or 0)
    if not isinstance(target, str | bytes):
        return args
    first = args[0] if args else None
    if name in ("ljust", "rjust", "center", "zfill"):
        _refuse_size(f"{name}()'s result", _int(first) or kwargs.get("width", 0) or 0)
    elif name == "expandtabs":
        tabsize = _int(first) or _int(kwargs.get("tabsize")) or 8
        tab = "\t" if isinstance(target, str) else b"\t"
        _refuse_size("expandtabs()'s result", len(target) + target.count(tab) * tabsize)
    elif name == "replace" and len(args) >= 2 and isinstance(args[0], str | bytes) and isinstance(args[1], str | bytes):
        _check_replace(target, args[0], args[1], args[2] if len(args) > 2 else kwargs.get("count", -1))
    elif name == "join" and isinstance(first, list | tuple):
        _refuse_size("join()'s result", size(first) + len(target) * max(len(first) - 1, 0))
    elif name in ("format", "format_map") and isinstance(target, str):
        _check_format(target, (args, kwargs))
    return args


def _check_replace(value: Any, old: Any, new: Any, count: Any) -> None:
    if not isinstance(value, str | bytes) or not isinstance(old, str | bytes) or not isinstance(new, str | bytes):
        return
    occurrences = value.count(old) if len(old) else len(value) + 1
    if isinstance(count, int) and count >= 0:
        occurrences = min(occurrences, count)
    _refuse_size("replace()'s result", len(value) + occurrences * (len(new) - len(old)))


# --- filters -------------------------------------------------------------------------------------


def _pre_checks(name: str, args: tuple, kwargs: dict) -> None:
    """The filters whose result can dwarf their input: check its size before running them."""
    value = args[0] if args else None
    rest = args[1:]

    def arg(index: int, keyword: str, default: Any) -> Any:
        return rest[index] if len(rest) > index else kwargs.get(keyword, default)

    text = value if isinstance(value, str) else ""
    if name == "center":
        _refuse_size("center's result", _int(arg(0, "width", 80)) or 0)
    elif name == "indent":
        width = arg(0, "width", 4)
        pad = len(width) if isinstance(width, str) else (_int(width) or 0)
        _refuse_size("indent's result", len(text) + _lines(text) * pad)
    elif name == "wordwrap":
        width = max(_int(arg(0, "width", 79)) or 1, 1)
        wrapstring = arg(2, "wrapstring", None) or "\n"
        _refuse_size("wordwrap's result", len(text) + (len(text) // width + _lines(text)) * len(str(wrapstring)))
    elif name == "format" and isinstance(value, str):
        _check_percent(value, (rest, kwargs))
    elif name == "replace":
        _check_replace(value, arg(0, "old", ""), arg(1, "new", ""), arg(2, "count", None))
    elif name == "batch":
        _refuse_size("batch's rows", _int(arg(0, "linecount", 1)) or 0)
    elif name == "slice" and (_int(arg(0, "slices", 1)) or 0) > MAX_SLICES:
        raise RenderLimit(f"slice makes at most {MAX_SLICES:,} slices")
    elif name == "truncate":
        _check_sizes("truncate's result", value, arg(2, "end", "..."))


def _bounded_filter(name: str, function: Any) -> Any:
    @wraps(function)
    def bounded(*args: Any, **kwargs: Any) -> Any:
        _tick()
        plain = args[1:] if getattr(function, "jinja_pass_arg", None) is not None else args
        _check_sizes(f"the input of '{name}'", *plain, *kwargs.values())
        _pre_checks(name, plain, kwargs)
        return _checked(f"the result of '{name}'", function(*args, **kwargs))

    return bounded


def _materialized_join(function: Any) -> Any:
    """``join``: count what it would build (its items, and the separator between each) first."""

    @wraps(function)
    def join(eval_ctx: Any, value: Any, d: str = "", attribute: Any = None) -> Any:
        items = list(value) if isinstance(value, Iterable) and not isinstance(value, str) else value
        if isinstance(items, list):
            _refuse_size("join's result", size(items) + len(str(d)) * max(len(items) - 1, 0))
        return function(eval_ctx, items, d, attribute)

    return join


@pass_environment
def _sum(environment: Any, iterable: Any, attribute: Any = None, start: Any = 0) -> Any:
    """``sum`` that counts a sum of lists before it builds it (and copies ``start`` instead of
    extending it in place, as Jinja's does)."""
    get = make_attrgetter(environment, attribute) if attribute is not None else (lambda item: item)
    values = [get(item) for item in iterable]
    if isinstance(start, list | tuple | str):
        _check_sizes("sum's result", start, values)
        start = type(start)(start)
    result = start
    for value in values:
        _tick()
        result += value
    return result


def _lipsum(n: int = 5, html: bool = True, min: int = 20, max: int = 100) -> str:
    _refuse_size("lipsum's text", (_int(n) or 0) * (_int(max) or 0) * 12)
    return generate_lorem_ipsum(n=n, html=html, min=min, max=max)


class BoundedNamespace(Namespace):
    """``namespace()``, whose attributes hold values of bounded size (``{% set ns.x = [ns.x,
    ns.x] %}`` in a loop would otherwise double a structure at every turn)."""

    def __setitem__(self, name: str, value: Any) -> None:
        _checked("a namespace attribute", value)
        super().__setitem__(name, value)


def _bounded_loop(iterable: Any) -> Iterator[Any]:
    """What every ``{% for %}`` iterates through: counts the iterations and checks the clock."""
    current = _current.get()
    for item in iterable:
        if current is not None:
            current.iterations += 1
            if current.iterations > MAX_LOOP_ITERATIONS:
                raise RenderLimit(f"the template's loops ran more than {MAX_LOOP_ITERATIONS:,} iterations")
            current.tick()
        yield item


def _finalize(value: Any) -> Any:
    """Every ``{{ value }}``, before it is turned into text."""
    return _checked("an output value", value)


# --- the environment -----------------------------------------------------------------------------


class _BoundedCodeGenerator(CodeGenerator):
    """Runs every ``for`` through :func:`_bounded_loop` and every ``~`` through a size check."""

    def visit_Template(self, node: nodes.Template, frame: Frame | None = None) -> None:
        for loop in node.find_all(nodes.For):
            loop.iter = nodes.Filter(loop.iter, _LOOP_FILTER, [], [], None, None, lineno=loop.iter.lineno)
        super().visit_Template(node, frame)

    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        self.write("environment.join_values(context.eval_ctx, (")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write("))")


class BoundedEnvironment(ImmutableSandboxedEnvironment):
    """The immutable sandbox with the bounds of this module."""

    code_generator_class = _BoundedCodeGenerator
    intercepted_binops = frozenset({"*", "**", "+", "%"})

    def __init__(self, **options: Any):
        options.setdefault("undefined", StrictUndefined)
        super().__init__(finalize=_finalize, **options)
        self.filters = {name: _bounded_filter(name, function) for name, function in self.filters.items()}
        self.filters["join"] = _bounded_filter("join", _materialized_join(self.filters["join"].__wrapped__))
        self.filters["sum"] = _bounded_filter("sum", _sum)
        self.filters[_LOOP_FILTER] = _bounded_loop
        self.globals.update(namespace=BoundedNamespace, lipsum=_lipsum)

    @staticmethod
    def concat(parts: Iterable[str]) -> str:  # blocks, macros, filter and call blocks
        parts = list(parts)
        _refuse_size("a block's text", sum(len(part) for part in parts))
        return "".join(parts)

    @staticmethod
    def join_values(eval_ctx: Any, values: tuple) -> str:  # the ~ operator
        _tick()
        _check_sizes("the joined string", *values)
        return markup_join(values) if eval_ctx.autoescape else str_join(values)

    def getattr(self, obj: Any, attribute: str) -> Any:  # also what sort, groupby, map... use per item
        _tick()
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        _tick()
        return super().getitem(obj, argument)

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        _tick()
        if operator == "**":
            _check_power(left, right)
        elif operator == "*":
            _check_product(left, right)
        elif operator == "+" and not isinstance(left, int | float):
            _check_sizes("the sum", left, right)
        elif operator == "%" and isinstance(left, str):
            _check_percent(left, right)
        return super().call_binop(context, operator, left, right)

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        current = _current.get()
        if current is not None:
            current.tick()
            if current.depth >= MAX_CALL_DEPTH:
                raise RenderLimit(f"calls nest more than {MAX_CALL_DEPTH} deep (a macro that calls itself?)")
            current.depth += 1
        try:
            _check_sizes("a call's arguments", *args, *kwargs.values())
            args = _check_method(getattr(__obj, "__wrapped__", __obj), args, kwargs)
            return _checked("a call's result", super().call(__context, __obj, *args, **kwargs))
        finally:
            if current is not None:
                current.depth -= 1
