"""OpenTelemetry's pymongo instrumentation internals that ``cloudassist/tracing.py`` changes.

The instrumentor registers one command listener per process (``_commandtracer_instance``) and it
keeps the tracer it was first made with (``_tracer``): after a fork, or when tracing is set up
again, tracing.py hands it the current tracer.
"""

from __future__ import annotations

from cloudassist.internals import Internal

DISTRIBUTION = "opentelemetry-instrumentation-pymongo"


def _instrumentor():
    from opentelemetry.instrumentation.pymongo import PymongoInstrumentor

    return PymongoInstrumentor


def _command_tracer():
    from opentelemetry import trace
    from opentelemetry.instrumentation.pymongo import CommandTracer

    return CommandTracer(trace.NoOpTracer())


GUARDED = (
    Internal(DISTRIBUTION, _instrumentor, "_commandtracer_instance", "the process's one command listener"),
    Internal(DISTRIBUTION, _command_tracer, "_tracer", "replaced by the current tracer"),
)


def set_pymongo_tracer(tracer) -> None:
    """Give the pymongo command listener (if instrumentation registered one) ``tracer``."""
    from opentelemetry.instrumentation.pymongo import PymongoInstrumentor

    listener = getattr(PymongoInstrumentor(), "_commandtracer_instance", None)
    if listener is not None:
        listener._tracer = tracer
