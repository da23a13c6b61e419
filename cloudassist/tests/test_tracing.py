"""Traces (cloudassist/tracing.py): off and free by default, switched on by the OTEL_* variables;
spans for requests (WSGI and ASGI), MongoDB, Redis, rq jobs (continuing and linking to the request
that enqueued them) and AWS calls.

In-process tests install their own span processor (an in-memory exporter) with
``tracing.configure()`` and remove every instrumentation afterwards; what only a fresh process
can show (nothing imported when off; the environment switching it on before the ASGI handler and
the first MongoClient exist) runs in a subprocess.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import textwrap

import django_rq
import pytest
from asgiref.sync import async_to_sync
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from django.test import AsyncClient
from opentelemetry import trace
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode
from rq import Queue, SimpleWorker, Worker

from cloudassist import embedded, logs, tracing
from providers import aws
from provisioning.models import ProvisionRequest
from provisioning.tests.conftest import use_provider

OTEL_MIDDLEWARE = "opentelemetry.instrumentation.django.middleware.otel_middleware._DjangoMiddleware"
TEST_QUEUE = "tracing-test"


@logs.in_job_context
def sample_job(fail: bool = False) -> str:
    """A job for these tests (run by a real rq worker, in this process or a forked work horse)."""
    if fail:
        raise RuntimeError("the job failed on purpose")
    logging.getLogger("cloudassist.tests").info("sample job ran")
    return "done"


@pytest.fixture
def spans(django_db_blocker):
    """Tracing on in this process, into an in-memory exporter; everything is uninstrumented after."""

    def new_mongo_client() -> None:  # pymongo's command listener joins only the clients created after it
        with django_db_blocker.unblock():
            connection.ensure_connection()
            connection.close_pool()

    exporter = InMemorySpanExporter()
    tracing.configure(span_processor=SimpleSpanProcessor(exporter))
    try:
        new_mongo_client()
        yield exporter
    finally:
        tracing.unconfigure()
        new_mongo_client()
    assert OTEL_MIDDLEWARE not in settings.MIDDLEWARE


@pytest.fixture
def test_queue():
    queue = Queue(TEST_QUEUE, connection=django_rq.get_connection("default"))
    queue.empty()
    yield queue
    queue.empty()


def _server_span(exporter, route_part: str):
    (span,) = [s for s in exporter.get_finished_spans() if s.kind is SpanKind.SERVER and route_part in s.name]
    return span


def _children(exporter, parent, *, db_system: str | None = None):
    found = [
        s for s in exporter.get_finished_spans() if s.parent is not None and s.parent.span_id == parent.context.span_id
    ]
    if db_system is not None:
        found = [s for s in found if s.attributes.get("db.system") == db_system]
    return found


def _run(code: str, **env: str) -> subprocess.CompletedProcess:
    clean = {name: value for name, value in os.environ.items() if not name.startswith("OTEL_")}
    clean.update(env)
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        env=clean,
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _json_documents(text: str) -> list[dict]:
    """The JSON objects in ``text`` (the console exporter prints indented spans, the logs JSON lines)."""
    decoder, found, index = json.JSONDecoder(), [], 0
    while (index := text.find("{", index)) != -1:
        document, index = decoder.raw_decode(text, index)
        found.append(document)
    return found


# --- (e) the environment decides ------------------------------------------------------------


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, False),
        ({"OTEL_SERVICE_NAME": "cloudassist-web"}, False),
        ({"OTEL_TRACES_EXPORTER": "none"}, False),
        ({"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, False),
        ({"OTEL_TRACES_EXPORTER": "otlp"}, True),
        ({"OTEL_TRACES_EXPORTER": "console"}, True),
        ({"OTEL_TRACES_EXPORTER": "console,none"}, True),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, True),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"}, True),
        ({"OTEL_SDK_DISABLED": "true", "OTEL_TRACES_EXPORTER": "otlp"}, False),
        ({"OTEL_SDK_DISABLED": "TRUE", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, False),
        ({"OTEL_SDK_DISABLED": "false", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, True),
    ],
)
def test_the_otel_variables_switch_tracing_on(environ, expected):
    assert tracing.enabled(environ) is expected


def test_exporters_come_from_the_environment():
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    env = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}
    processors = tracing.span_processors(env) + tracing.span_processors({"OTEL_TRACES_EXPORTER": "otlp,console"})
    try:
        exporters = [type(p._batch_processor._exporter) for p in processors]
        assert exporters == [OTLPSpanExporter, OTLPSpanExporter, ConsoleSpanExporter]
        assert all(isinstance(p, BatchSpanProcessor) for p in processors)
    finally:
        for processor in processors:
            processor.shutdown()
    with pytest.raises(ImproperlyConfigured, match="jaeger"):
        tracing.span_processors({"OTEL_TRACES_EXPORTER": "jaeger"})
    with pytest.raises(ImproperlyConfigured, match="grpc"):
        tracing.span_processors({"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"})


def test_the_service_name_defaults_to_cloudassist(monkeypatch):
    for name in ("OTEL_SERVICE_NAME", "OTEL_RESOURCE_ATTRIBUTES"):
        monkeypatch.delenv(name, raising=False)
    assert tracing.build_provider().resource.attributes["service.name"] == "cloudassist"
    monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", "service.name=from-attributes,deployment.environment=staging")
    resource = tracing.build_provider().resource
    assert resource.attributes["service.name"] == "from-attributes"
    assert resource.attributes["deployment.environment"] == "staging"
    monkeypatch.setenv("OTEL_SERVICE_NAME", "cloudassist-worker")
    assert tracing.build_provider().resource.attributes["service.name"] == "cloudassist-worker"


# --- (a) off by default, and free -------------------------------------------------------------


def test_off_by_default_in_this_process():
    from opentelemetry.instrumentation.django import DjangoInstrumentor
    from opentelemetry.instrumentation.redis import RedisInstrumentor

    assert not any(name.startswith("OTEL_") for name in os.environ), "the test run must not set OTEL_*"
    assert not tracing.active()
    assert not DjangoInstrumentor().is_instrumented_by_opentelemetry
    assert not RedisInstrumentor().is_instrumented_by_opentelemetry
    assert OTEL_MIDDLEWARE not in settings.MIDDLEWARE
    assert set(logs.job_meta()) <= {"request_id", "user_id"}
    assert tracing.current_ids() is None


def test_off_by_default_nothing_is_imported_or_patched():
    """(redis-py 8 imports OpenTelemetry's API and metrics SDK itself when they are installed; the
    instrumentations, the tracing SDK and the exporters stay out.)"""
    result = _run(
        """
        import json, sys
        import cloudassist.asgi
        import pymongo.monitoring
        import redis
        from django.conf import settings
        loaded = sorted(name for name in sys.modules if name.startswith("opentelemetry"))
        print(json.dumps({
            "loaded": loaded,
            "middleware": settings.MIDDLEWARE,
            "redis_patched": hasattr(redis.Redis.execute_command, "__wrapped__"),
            "mongo_listeners": [type(l).__module__ for l in pymongo.monitoring._LISTENERS.command_listeners],
        }))
        """
    )
    assert result.returncode == 0, result.stderr
    (report,) = [d for d in _json_documents(result.stdout) if "loaded" in d]
    prefixes = ("opentelemetry.instrumentation", "opentelemetry.sdk.trace", "opentelemetry.exporter")
    assert [name for name in report["loaded"] if name.startswith(prefixes)] == []
    assert OTEL_MIDDLEWARE not in report["middleware"]
    # The one global command listener is the metrics' (cloudassist/apps.py), none is tracing's.
    assert (report["redis_patched"], report["mongo_listeners"]) == (False, ["cloudassist.metrics"])


# --- switched on by the environment, in a fresh process: ASGI, pymongo before the client ---------


def test_the_environment_switches_tracing_on_before_the_asgi_handler_and_the_mongo_client():
    result = _run(
        """
        import asyncio
        import cloudassist.asgi

        async def call():
            scope = {
                "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
                "scheme": "http", "path": "/api/v1/templates/", "raw_path": b"/api/v1/templates/",
                "query_string": b"", "root_path": "", "client": ("127.0.0.1", 40000), "server": ("localhost", 80),
                "headers": [(b"host", b"localhost"), (b"authorization", b"Token not-a-valid-token")],
            }
            sent, incoming = [], asyncio.Queue()
            incoming.put_nowait({"type": "http.request", "body": b"", "more_body": False})

            async def receive():
                return await incoming.get()  # then nothing more: the client stays connected

            async def send(message):
                sent.append(message)

            await cloudassist.asgi.application(scope, receive, send)
            assert sent[0]["status"] == 401, sent[0]

        asyncio.run(call())
        """,
        OTEL_TRACES_EXPORTER="console",
        OTEL_SERVICE_NAME="cloudassist-web",
    )
    assert result.returncode == 0, result.stderr
    spans = [d for d in _json_documents(result.stdout) if "context" in d and "kind" in d]
    (server,) = [s for s in spans if s["kind"] == "SpanKind.SERVER"]
    assert server["attributes"]["http.route"].startswith("api/v1/templates/")
    assert server["attributes"]["http.status_code"] == 401
    assert server["resource"]["attributes"]["service.name"] == "cloudassist-web"
    mongo = [s for s in spans if s["attributes"].get("db.system") == "mongodb"]
    assert mongo, "the token lookup reaches MongoDB through a client created after the listener"
    assert {s["parent_id"] for s in mongo} == {server["context"]["span_id"]}
    assert {s["context"]["trace_id"] for s in mongo} == {server["context"]["trace_id"]}


# --- (b) requests: a SERVER span with the route, MongoDB spans inside ---------------------------


@pytest.mark.django_db
def test_an_api_request_makes_a_server_span_with_mongodb_children(templates, dev_client, spans):
    response = dev_client.get("/api/v1/templates/", HTTP_X_REQUEST_ID="trace-list-templates")
    assert response.status_code == 200
    server = _server_span(spans, "templates")
    assert server.attributes["http.route"].startswith("api/v1/templates/")
    assert server.attributes["http.method"] == "GET"
    assert server.attributes["cloudassist.request_id"] == "trace-list-templates"
    mongo = _children(spans, server, db_system="mongodb")
    assert mongo
    assert all(s.kind is SpanKind.CLIENT for s in mongo)
    assert {s.context.trace_id for s in mongo} == {server.context.trace_id}


@pytest.mark.django_db
def test_requests_served_over_asgi_are_traced(spans):
    get = async_to_sync(AsyncClient().get)
    response = get("/api/v1/templates/", headers={"Authorization": "Token not-a-valid-token"})
    assert response.status_code == 401
    server = _server_span(spans, "templates")
    assert server.attributes["http.route"].startswith("api/v1/templates/")
    assert _children(spans, server, db_system="mongodb")


def test_probes_are_not_traced(spans):
    from django.test import Client

    assert Client().get("/health").status_code == 200
    assert not [s for s in spans.get_finished_spans() if s.kind is SpanKind.SERVER]


def test_logs_carry_the_trace_and_span_ids(spans):
    record = logging.makeLogRecord({"name": "cloudassist.test", "levelname": "INFO", "levelno": 20, "msg": "hi"})
    with trace.get_tracer("test", tracer_provider=tracing._state["provider"]).start_as_current_span("work") as span:
        logs.ContextFilter().filter(record)
    body = json.loads(logs.JsonFormatter().format(record))
    assert body["trace_id"] == format(span.get_span_context().trace_id, "032x")
    assert body["span_id"] == format(span.get_span_context().span_id, "016x")


def test_redis_and_mongodb_commands_outside_any_span_are_not_traced(spans, test_queue):
    test_queue.connection.ping()
    assert test_queue.count == 0
    assert spans.get_finished_spans() == ()


# --- (c) jobs: enqueued with the trace context, run in a span that continues the request's trace ---


@pytest.mark.django_db
def test_a_job_continues_and_links_to_the_request_that_enqueued_it(
    make_request, devops_client, provisioning_queue, spans
):
    request = make_request()
    use_provider(request, "noop")
    spans.clear()
    approved = devops_client.post(f"/api/v1/provision-requests/{request.pk}/approve/", {}, format="json")
    assert approved.status_code == 200
    approve = _server_span(spans, "approve")
    (job,) = provisioning_queue.jobs
    traceparent = job.meta["traceparent"]
    assert traceparent.startswith(f"00-{approve.context.trace_id:032x}-{approve.context.span_id:016x}-")
    enqueue = [s for s in spans.get_finished_spans() if s.attributes.get("db.system") == "redis"]
    assert enqueue, "the enqueue's Redis commands are spans of the approve request"
    assert {s.context.trace_id for s in enqueue} == {approve.context.trace_id}

    SimpleWorker([provisioning_queue], connection=provisioning_queue.connection).work(burst=True)
    assert ProvisionRequest.objects.get(pk=request.pk).status == "DEPLOYED"
    (run,) = [s for s in spans.get_finished_spans() if s.kind is SpanKind.CONSUMER]
    assert run.name == "rq.job provisioning.jobs.provision"
    assert run.context.trace_id == approve.context.trace_id
    assert run.parent.span_id == approve.context.span_id
    (link,) = run.links
    assert (link.context.trace_id, link.context.span_id) == (approve.context.trace_id, approve.context.span_id)
    assert run.attributes["messaging.system"] == "rq"
    assert run.attributes["messaging.destination.name"] == "provisioning"
    assert run.attributes["messaging.message.id"] == job.id
    assert run.attributes["code.function.name"] == "provisioning.jobs.provision"
    assert run.attributes["cloudassist.request_id"] == job.meta["request_id"]
    assert run.status.status_code is StatusCode.UNSET
    assert _children(spans, run, db_system="mongodb"), "the job's MongoDB commands are inside its span"


def test_a_failing_job_records_the_exception(spans, test_queue):
    tracer = trace.get_tracer("test", tracer_provider=tracing._state["provider"])
    with tracer.start_as_current_span("enqueue") as enqueuing:
        job = test_queue.enqueue(sample_job, True, meta=logs.job_meta())
    SimpleWorker([test_queue], connection=test_queue.connection).work(burst=True)
    assert job.get_status(refresh=True) == "failed"
    (run,) = [s for s in spans.get_finished_spans() if s.kind is SpanKind.CONSUMER]
    assert run.parent.span_id == enqueuing.get_span_context().span_id
    assert run.status.status_code is StatusCode.ERROR
    (event,) = [e for e in run.events if e.name == "exception"]
    assert event.attributes["exception.type"] == "RuntimeError"


def test_a_job_without_trace_context_starts_its_own_trace(spans, test_queue):
    test_queue.enqueue(sample_job, meta={"request_id": "no-trace-context"})
    SimpleWorker([test_queue], connection=test_queue.connection).work(burst=True)
    (run,) = [s for s in spans.get_finished_spans() if s.kind is SpanKind.CONSUMER]
    assert run.parent is None
    assert run.links == ()


def test_a_forked_work_horse_flushes_its_spans_before_it_exits(test_queue, tmp_path):
    """rq's work horse exits with os._exit (no exit handlers): the job's span is exported anyway. The
    batch processor would otherwise wait an hour before exporting."""
    out = (tmp_path / "spans.jsonl").open("a")
    exporter = ConsoleSpanExporter(out=out, formatter=lambda span: span.to_json(indent=None) + "\n")
    tracing.configure(span_processor=BatchSpanProcessor(exporter, schedule_delay_millis=3_600_000))
    try:
        tracer = trace.get_tracer("test", tracer_provider=tracing._state["provider"])
        with tracer.start_as_current_span("enqueue"):
            job = test_queue.enqueue(sample_job, meta=logs.job_meta())
        Worker([test_queue], connection=test_queue.connection).work(burst=True)
        assert job.get_status(refresh=True) == "finished"
        exported = [json.loads(line) for line in (tmp_path / "spans.jsonl").read_text().splitlines()]
    finally:
        tracing.unconfigure()
        out.close()
    names = [span["name"] for span in exported]
    assert "rq.job cloudassist.tests.test_tracing.sample_job" in names
    assert "enqueue" not in names, "only the work horse exported (the parent's batch is still waiting)"


# --- (d) AWS calls --------------------------------------------------------------------------------


@pytest.fixture
def emulator(settings):
    """The AWS emulator of the test run (started by cloudassist.testing.pytest_plugin), emptied after."""
    assert settings.AWS_EMULATOR, "the tests must never talk to real AWS"
    yield settings.AWS_ENDPOINT_URL
    embedded.reset_emulator(settings.AWS_ENDPOINT_URL)


def test_aws_calls_are_client_spans(emulator, spans):
    tracer = trace.get_tracer("test", tracer_provider=tracing._state["provider"])
    with tracer.start_as_current_span("job") as parent:
        aws.client("s3", "us-east-1").list_buckets()
    (call,) = [s for s in spans.get_finished_spans() if s.attributes.get("rpc.system") == "aws-api"]
    assert call.name == "S3.ListBuckets"
    assert call.kind is SpanKind.CLIENT
    assert call.attributes["rpc.service"] == "S3"
    assert call.parent.span_id == parent.get_span_context().span_id


def test_unconfigure_removes_every_instrumentation(spans):
    from opentelemetry.instrumentation.botocore import BotocoreInstrumentor
    from opentelemetry.instrumentation.django import DjangoInstrumentor
    from opentelemetry.instrumentation.pymongo import PymongoInstrumentor
    from opentelemetry.instrumentation.redis import RedisInstrumentor

    instrumentors = [DjangoInstrumentor(), PymongoInstrumentor(), RedisInstrumentor(), BotocoreInstrumentor()]
    assert all(i.is_instrumented_by_opentelemetry for i in instrumentors)
    assert OTEL_MIDDLEWARE in settings.MIDDLEWARE
    with pytest.raises(RuntimeError, match="already configured"):
        tracing.configure()
    tracing.unconfigure()
    assert not any(i.is_instrumented_by_opentelemetry for i in instrumentors)
    assert OTEL_MIDDLEWARE not in settings.MIDDLEWARE
    assert not tracing.active()
