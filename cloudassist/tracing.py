"""Traces: OpenTelemetry spans for requests, MongoDB, Redis, rq jobs and AWS calls.

Off by default, and then free: nothing from OpenTelemetry is imported or patched. The standard
``OTEL_*`` variables switch it on (``enabled()``): ``OTEL_TRACES_EXPORTER`` set to anything but
``none`` (``otlp`` or ``console``), or an OTLP endpoint (``OTEL_EXPORTER_OTLP_ENDPOINT`` /
``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``) without ``OTEL_TRACES_EXPORTER``; ``OTEL_SDK_DISABLED=true``
always wins. The SDK reads everything else itself (service name and resource attributes, sampler,
batch sizes, exporter endpoint, headers, timeouts, propagators).

``setup()`` runs once per process from ``CloudAssistConfig.ready()``, inside ``django.setup()``: before
the WSGI/ASGI handler builds its middleware chain (so the Django middleware is in it), before the
first MongoClient is created (pymongo's command listener only joins clients created after it), and
in the rq worker before it forks its work horses (which inherit the provider; the batch processor
restarts its thread after a fork). Work horses leave through ``os._exit``, which skips the exit
handlers, so ``job_span`` flushes at the end of each job run in a forked child.

MongoDB and Redis commands are traced only inside a request or job span: on their own they are the
worker's polling, heartbeats and scheduler loop, and would flood the backend with one-span traces.
Probes (/health, /ready, /metrics) are not traced unless ``OTEL_PYTHON_DJANGO_EXCLUDED_URLS`` (or
``OTEL_PYTHON_EXCLUDED_URLS``) says otherwise. ``OTEL_PYTHON_DISABLED_INSTRUMENTATIONS`` (django,
pymongo, redis, botocore) leaves out single instrumentations.

Jobs: ``job_meta()`` (cloudassist/logs.py) puts the W3C ``traceparent``/``tracestate`` of the
enqueuing span into the job's meta; ``job_span()`` runs the job in a CONSUMER span whose parent is that
span (one trace from the API call to the last job it caused) and which also links to it (backends that
start a new trace per consumer span still show where the job came from).

Tests install their own span processor with ``configure(span_processor=...)`` (no global provider)
and remove everything again with ``unconfigure()``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import Iterator, Mapping, MutableMapping
from typing import Any

from django.core.exceptions import ImproperlyConfigured

from cloudassist.internals import opentelemetry as otel_internals

logger = logging.getLogger(__name__)

DEFAULT_SERVICE_NAME = "cloudassist"
# Probes and scrapes make no request spans unless the standard variables list other URLs.
DEFAULT_EXCLUDED_URLS = "/health$,/ready$,/metrics$"
EXPORTERS = ("otlp", "console")
INSTRUMENTATIONS = ("django", "pymongo", "redis", "botocore")
ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")
TRACE_CONTEXT_KEYS = ("traceparent", "tracestate")
FLUSH_TIMEOUT_MILLIS = 5000

_lock = threading.Lock()
# When on: provider, tracer, pid (of the process that configured it), instrumentors, owned (we shut it down).
_state: dict[str, Any] = {}


def _environ(environ: Mapping[str, str] | None) -> Mapping[str, str]:
    return os.environ if environ is None else environ


def exporter_names(environ: Mapping[str, str] | None = None) -> list[str]:
    """The exporters asked for: ``OTEL_TRACES_EXPORTER`` (comma-separated, ``none`` dropped), else otlp."""
    env = _environ(environ)
    given = [name.strip().lower() for name in env.get("OTEL_TRACES_EXPORTER", "").split(",") if name.strip()]
    if not given:
        return ["otlp"]
    return [name for name in given if name != "none"]


def enabled(environ: Mapping[str, str] | None = None) -> bool:
    """Whether the OTEL_* variables switch tracing on (see the module docstring)."""
    env = _environ(environ)
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    if env.get("OTEL_TRACES_EXPORTER", "").strip():
        return bool(exporter_names(env))
    return any(env.get(name, "").strip() for name in ENDPOINT_VARIABLES)


def active() -> bool:
    """Whether this process traces (cheap: callers use it to skip all tracing work when off)."""
    return bool(_state)


def setup() -> bool:
    """Switch tracing on for this process if the OTEL_* variables say so; once per process."""
    if not enabled():
        return False
    with _lock:
        if _state:
            return True
        provider = build_provider()
        for processor in span_processors():
            provider.add_span_processor(processor)
        _configure(provider, set_global=True, owned=True)
    logger.info("tracing on: exporters %s", ", ".join(exporter_names()))
    return True


def configure(*, span_processor=None, tracer_provider=None, set_global: bool = False):
    """Instrument with a given provider (or a new one from the environment, with ``span_processor``
    added). For tests: the global provider is left alone unless ``set_global``. Returns the provider."""
    with _lock:
        if _state:
            raise RuntimeError("tracing is already configured in this process; unconfigure() first")
        provider = tracer_provider if tracer_provider is not None else build_provider()
        if span_processor is not None:
            provider.add_span_processor(span_processor)
        _configure(provider, set_global=set_global, owned=tracer_provider is None)
        return provider


def unconfigure() -> None:
    """Remove every instrumentation ``configure()``/``setup()`` added (the global provider, once set,
    stays: OpenTelemetry allows one per process) and shut down a provider made here."""
    with _lock:
        if not _state:
            return
        for instrumentor in reversed(_state["instrumentors"]):
            instrumentor.uninstrument()
        if _state["owned"]:
            _state["provider"].shutdown()
        _state.clear()


def build_provider():
    """A TracerProvider from the environment: resource from OTEL_SERVICE_NAME / OTEL_RESOURCE_ATTRIBUTES
    (service.name defaults to "cloudassist"), sampler from OTEL_TRACES_SAMPLER (SDK default otherwise)."""
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider

    resource = Resource.create()
    if str(resource.attributes.get(SERVICE_NAME, "")).startswith("unknown_service"):
        resource = resource.merge(Resource({SERVICE_NAME: DEFAULT_SERVICE_NAME}))
    return TracerProvider(resource=resource)


def span_processors(environ: Mapping[str, str] | None = None) -> list:
    """One BatchSpanProcessor per exporter in OTEL_TRACES_EXPORTER: otlp (OTLP over HTTP/protobuf,
    configured by the OTEL_EXPORTER_OTLP_* variables) or console (stdout)."""
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    env = _environ(environ)
    processors = []
    for name in exporter_names(env):
        if name == "otlp":
            protocol = env.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") or env.get("OTEL_EXPORTER_OTLP_PROTOCOL")
            if protocol and protocol.strip().lower() != "http/protobuf":
                raise ImproperlyConfigured(
                    f"OTEL_EXPORTER_OTLP_PROTOCOL '{protocol}' is not supported; CloudAssist exports OTLP over "
                    "http/protobuf (the collector's port 4318)"
                )
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            processors.append(BatchSpanProcessor(OTLPSpanExporter()))
        elif name == "console":
            from opentelemetry.sdk.trace.export import ConsoleSpanExporter

            processors.append(BatchSpanProcessor(ConsoleSpanExporter()))
        else:
            raise ImproperlyConfigured(
                f"OTEL_TRACES_EXPORTER '{name}' is not supported; use {', '.join(EXPORTERS)} or none"
            )
    return processors


def _configure(provider, *, set_global: bool, owned: bool) -> None:
    from opentelemetry import trace

    if set_global:
        trace.set_tracer_provider(provider)
    _state.update(
        provider=provider,
        tracer=provider.get_tracer(__name__),
        pid=os.getpid(),
        owned=owned,
        instrumentors=_instrument(provider),
    )


def _instrument(provider) -> list:
    disabled = {
        name.strip().lower()
        for name in os.environ.get("OTEL_PYTHON_DISABLED_INSTRUMENTATIONS", "").split(",")
        if name.strip()
    }
    child_only = _child_only_provider(provider)
    done = []
    if "django" not in disabled:
        from opentelemetry.instrumentation.django import DjangoInstrumentor

        custom = os.environ.get("OTEL_PYTHON_DJANGO_EXCLUDED_URLS") or os.environ.get("OTEL_PYTHON_EXCLUDED_URLS")
        DjangoInstrumentor().instrument(
            tracer_provider=provider,
            excluded_urls=None if custom else DEFAULT_EXCLUDED_URLS,
            response_hook=_django_response_hook,
        )
        done.append(DjangoInstrumentor())
    if "pymongo" not in disabled:
        from opentelemetry.instrumentation.pymongo import PymongoInstrumentor

        PymongoInstrumentor().instrument(tracer_provider=child_only)
        # Its command listener is registered once per process and keeps its first tracer: give it this one.
        otel_internals.set_pymongo_tracer(child_only.get_tracer("opentelemetry.instrumentation.pymongo"))
        done.append(PymongoInstrumentor())
    if "redis" not in disabled:
        from opentelemetry.instrumentation.redis import RedisInstrumentor

        RedisInstrumentor().instrument(tracer_provider=child_only)
        done.append(RedisInstrumentor())
    if "botocore" not in disabled:
        from opentelemetry.instrumentation.botocore import BotocoreInstrumentor

        BotocoreInstrumentor().instrument(tracer_provider=provider)
        done.append(BotocoreInstrumentor())
    return done


def _django_response_hook(span, request, response) -> None:
    request_id = getattr(request, "request_id", "")
    if request_id and span.is_recording():
        span.set_attribute("cloudassist.request_id", request_id)


def _child_only_provider(provider):
    """``provider``, but its tracers start no span without a current parent span."""
    from opentelemetry import trace

    def has_parent(context) -> bool:
        return trace.get_current_span(context).get_span_context().is_valid

    class ChildOnlyTracer(trace.Tracer):
        def __init__(self, tracer):
            self._inner = tracer

        def start_span(self, name, context=None, *args, **kwargs):
            if not has_parent(context):
                return trace.INVALID_SPAN
            return self._inner.start_span(name, context, *args, **kwargs)

        @contextlib.contextmanager
        def start_as_current_span(self, name, context=None, *args, **kwargs):
            if not has_parent(context):
                yield trace.INVALID_SPAN
                return
            with self._inner.start_as_current_span(name, context, *args, **kwargs) as span:
                yield span

    class ChildOnlyTracerProvider(trace.TracerProvider):
        def get_tracer(self, *args, **kwargs):
            return ChildOnlyTracer(provider.get_tracer(*args, **kwargs))

    return ChildOnlyTracerProvider()


# --- rq jobs and logs -------------------------------------------------------------------------


def inject(carrier: MutableMapping[str, str]) -> None:
    """Add the current span's W3C trace context (traceparent, tracestate) to ``carrier`` when on."""
    if not _state:
        return
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    TraceContextTextMapPropagator().inject(carrier)


@contextlib.contextmanager
def job_span(job, **attributes: str) -> Iterator[None]:
    """Run an rq job in a CONSUMER span: child of, and linked to, the span that enqueued it (the trace
    context in ``job.meta``); exceptions are recorded and set the error status. No-op when off."""
    if not _state or job is None:
        yield
        return
    from opentelemetry import trace
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    meta = job.meta or {}
    carrier = {key: meta[key] for key in TRACE_CONTEXT_KEYS if isinstance(meta.get(key), str)}
    parent = TraceContextTextMapPropagator().extract(carrier)
    enqueued_by = trace.get_current_span(parent).get_span_context()
    links = [trace.Link(enqueued_by, {"messaging.operation.type": "send"})] if enqueued_by.is_valid else []
    span_attributes = {
        "messaging.system": "rq",
        "messaging.operation.type": "process",
        "messaging.destination.name": job.origin or "",
        "messaging.message.id": job.id,
        "code.function.name": job.func_name or "",
        **{key: value for key, value in attributes.items() if value},
    }
    try:
        with _state["tracer"].start_as_current_span(
            f"rq.job {job.func_name}",
            context=parent,
            kind=trace.SpanKind.CONSUMER,
            links=links,
            attributes=span_attributes,
        ):
            yield
    finally:
        if _state and os.getpid() != _state["pid"]:
            flush()  # a forked work horse ends with os._exit: no exit handler exports what is left


def flush(timeout_millis: int = FLUSH_TIMEOUT_MILLIS) -> bool:
    """Export the spans still buffered (a forked rq work horse must, before it exits)."""
    if not _state:
        return True
    return _state["provider"].force_flush(timeout_millis)


def current_ids() -> tuple[str, str] | None:
    """(trace_id, span_id) in hex of the current recording span, for the logs; None when off."""
    if not _state:
        return None
    from opentelemetry import trace

    span = trace.get_current_span()
    if not span.is_recording():
        return None
    context = span.get_span_context()
    return format(context.trace_id, "032x"), format(context.span_id, "016x")
