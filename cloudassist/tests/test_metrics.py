"""/metrics: access control, the HTTP and MongoDB metrics, each product metric moving when the real
thing happens (real MongoDB, Redis, SMTP server and rq workers), and the multiprocess mode
(a real `manage.py rqworker` scraped over HTTP, and a web scrape adding up other processes' files)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.db import connection
from prometheus_client.parser import text_string_to_metric_families
from pymongo.errors import OperationFailure
from rq import Retry

from cloudassist import embedded
from cloudassist.worker import SimpleWorker
from notifications.tests.conftest import smtp_server  # noqa: F401 -- the fixture, for the delivery test
from providers import register
from providers.base import Provider, ProviderError
from provisioning import jobs, services
from provisioning.choices import RequestStatus
from provisioning.models import ProvisionRequest
from provisioning.tests.conftest import use_provider

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "s3cret-metrics-token"


@register("test-metrics-broken")
class BrokenProvider(Provider):
    def create(self, target):
        raise ProviderError("no capacity")

    def delete(self, target):
        raise ProviderError("access denied")


def boom():
    """An rq job that fails (enqueued by its dotted path)."""
    raise RuntimeError("boom")


def parse(text: str) -> dict[tuple[str, frozenset], float]:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: dict, name: str, **labels) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


@pytest.fixture
def scrape(client, settings):
    settings.METRICS_TOKEN = TOKEN

    def get() -> dict:
        response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
        assert response.status_code == 200, response.content
        return parse(response.content.decode())

    return get


# --- access ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_without_a_token_metrics_are_not_found_unless_debug(client, settings):
    settings.METRICS_TOKEN = ""
    settings.DEBUG = False
    response = client.get("/metrics")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    settings.DEBUG = True
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    assert "cloudassist_provision_requests" in response.content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize("header", [None, "Bearer wrong-token", f"Basic {TOKEN}", "Bearer ", TOKEN])
def test_a_configured_token_is_required(client, settings, header):
    settings.METRICS_TOKEN = TOKEN
    settings.DEBUG = True  # even in DEBUG, a configured token is required
    extra = {"HTTP_AUTHORIZATION": header} if header is not None else {}
    response = client.get("/metrics", **extra)
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    body = response.json()
    assert body["code"] == "not_authenticated"
    assert "METRICS_TOKEN" in body["error"]
    assert b"cloudassist_" not in response.content


@pytest.mark.django_db
def test_the_right_token_gets_the_exposition(client, settings):
    settings.METRICS_TOKEN = TOKEN
    settings.DEBUG = False
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200
    families = {family.name for family in text_string_to_metric_families(response.content.decode())}
    assert {"cloudassist_provision_requests", "cloudassist_rq_queue_jobs", "cloudassist_collector_up"} <= families
    assert client.post("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code == 405


def test_metrics_is_exempt_from_the_https_redirect():
    assert r"^metrics$" in django_settings.SECURE_REDIRECT_EXEMPT


def test_the_prometheus_middlewares_wrap_all_others():
    assert django_settings.MIDDLEWARE[0] == "django_prometheus.middleware.PrometheusBeforeMiddleware"
    assert django_settings.MIDDLEWARE[-1] == "django_prometheus.middleware.PrometheusAfterMiddleware"


# --- HTTP, MongoDB, cache ----------------------------------------------------------------------


@pytest.mark.django_db
def test_requests_are_counted_and_timed_per_view_name(client, scrape):
    before = scrape()
    for _ in range(2):
        assert client.get("/health").status_code == 200
    assert client.get("/api/v1/provision-requests/").status_code == 401
    assert client.get("/no/such/path/12345").status_code == 404
    after = scrape()
    responses = "django_http_responses_total_by_status_view_method_total"
    latency = "django_http_requests_latency_seconds_by_view_method_count"
    ok, view = {"status": "200", "method": "GET"}, {"view": "health"}
    assert value(after, responses, **ok, **view) - value(before, responses, **ok, **view) == 2
    assert value(after, latency, method="GET", **view) - value(before, latency, method="GET", **view) == 2
    denied = {"status": "401", "view": "provisionrequest-list", "method": "GET"}
    assert value(after, responses, **denied) - value(before, responses, **denied) == 1
    views = {dict(labels).get("view") for name, labels in after if name == responses}
    assert not any(view and view.startswith("/") for view in views), "paths must not become label values"


@pytest.mark.django_db
def test_mongodb_commands_are_timed_and_failures_counted(scrape):
    before = scrape()
    assert ProvisionRequest.objects.filter(status=RequestStatus.DEPLOYED).count() >= 0
    connection.ensure_connection()
    with pytest.raises(OperationFailure):
        connection.connection[django_settings.DATABASES["default"]["NAME"]].command("noSuchCommandForMetrics")
    after = scrape()
    duration = "cloudassist_mongodb_command_duration_seconds_count"
    assert value(after, duration, command="aggregate") > value(before, duration, command="aggregate")
    failures = "cloudassist_mongodb_command_failures_total"
    assert value(after, failures, command="noSuchCommandForMetrics") == 1 + value(
        before, failures, command="noSuchCommandForMetrics"
    )


@pytest.mark.django_db
def test_the_cache_is_instrumented(scrape):
    from django.core.cache import cache

    before = scrape()
    cache.set("metrics-test", 0)
    assert cache.get("metrics-test", "default") == 0  # a falsy value is still a hit
    assert cache.get("metrics-test-missing") is None
    after = scrape()

    def delta(name, **labels):
        return value(after, name, backend="locmem", **labels) - value(before, name, backend="locmem", **labels)

    assert delta("cloudassist_cache_gets_total", result="hit") == 1
    assert delta("cloudassist_cache_gets_total", result="miss") == 1
    assert delta("cloudassist_cache_operation_duration_seconds_count", operation="get") == 2
    assert delta("cloudassist_cache_operation_duration_seconds_count", operation="set") == 1


# --- product metrics ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_requests_by_status_and_reviews_follow_the_api(scrape, make_request, devops_client, provisioning_queue):
    before = scrape()
    first, second = make_request(), make_request()
    submitted = scrape()
    status = "cloudassist_provision_requests"
    assert value(submitted, status, status="REQUESTED") - value(before, status, status="REQUESTED") == 2

    url = "/api/v1/provision-requests/"
    assert devops_client.post(f"{url}{first.pk}/approve/", {"note": "ok"}).status_code == 200
    assert devops_client.post(f"{url}{first.pk}/approve/", {"note": "again"}).status_code == 409  # not counted
    assert devops_client.post(f"{url}{second.pk}/reject/", {"note": "too big"}).status_code == 200
    after = scrape()
    for name, delta in (("REQUESTED", 0), ("APPROVED", 1), ("REJECTED", 1)):
        assert value(after, status, status=name) - value(before, status, status=name) == delta
    reviews = "cloudassist_reviews_total"
    approved = {"kind": "provision", "decision": "approved", "actor": "human"}
    rejected = {"kind": "provision", "decision": "rejected", "actor": "human"}
    assert value(after, reviews, **approved) - value(before, reviews, **approved) == 1
    assert value(after, reviews, **rejected) - value(before, reviews, **rejected) == 1
    assert value(after, "cloudassist_collector_up", collector="provision_requests") == 1


@pytest.mark.django_db
def test_a_system_approval_is_counted_as_system(scrape, make_request, provisioning_queue):
    request = make_request()
    before = scrape()
    services.approve_request(actor=None, request=request, note="auto")
    after = scrape()
    labels = {"kind": "provision", "decision": "approved", "actor": "system"}
    assert (
        value(after, "cloudassist_reviews_total", **labels) - value(before, "cloudassist_reviews_total", **labels) == 1
    )


def _approved(make_request, devops_user, provider: str) -> ProvisionRequest:
    request = use_provider(make_request(), provider)
    services.approve_request(actor=devops_user, request=request)
    return request


@pytest.mark.django_db
def test_provisioning_and_purge_durations_and_failures(scrape, make_request, devops_user, provisioning_queue):
    before = scrape()
    ok = _approved(make_request, devops_user, "noop")
    assert jobs.provision(str(ok.pk)) == "deployed"
    services.start_purge(actor=devops_user, request=ProvisionRequest.objects.get(pk=ok.pk))
    assert jobs.purge(str(ok.pk)) == "purged"
    broken = _approved(make_request, devops_user, "test-metrics-broken")
    assert jobs.provision(str(broken.pk)) == "failed"
    assert jobs.purge(str(broken.pk)) == "purge failed"
    after = scrape()

    def delta(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    duration = "cloudassist_provisioning_duration_seconds_count"
    assert delta(duration, operation="provision", provider="noop", outcome="succeeded") == 1
    assert delta(duration, operation="purge", provider="noop", outcome="succeeded") == 1
    assert delta(duration, operation="provision", provider="test-metrics-broken", outcome="failed") == 1
    assert delta(duration, operation="purge", provider="test-metrics-broken", outcome="failed") == 1
    calls = "cloudassist_provider_call_duration_seconds_count"
    assert delta(calls, operation="create", provider="noop", outcome="ok") == 1
    assert delta(calls, operation="delete", provider="noop", outcome="ok") == 1
    assert delta(calls, operation="create", provider="test-metrics-broken", outcome="error") == 1
    total = "cloudassist_provisioning_duration_seconds_sum"
    assert delta(total, operation="provision", provider="noop", outcome="succeeded") >= 0


@pytest.mark.django_db
def test_queue_depth_and_job_outcomes_per_queue(scrape, default_queue, provisioning_queue, make_request):
    before = scrape()
    request = make_request()  # enqueues analyse on the default queue
    services.enqueue("provision", request.pk)  # on the provisioning queue
    default_queue.enqueue(boom)
    default_queue.enqueue(boom, retry=Retry(max=1))
    queued = scrape()

    def depth(samples, queue, state):
        return value(samples, "cloudassist_rq_queue_jobs", queue=queue, state=state)

    assert depth(queued, "default", "queued") - depth(before, "default", "queued") == 3
    assert depth(queued, "provisioning", "queued") - depth(before, "provisioning", "queued") == 1

    provisioning_queue.empty()
    SimpleWorker([default_queue], connection=default_queue.connection).work(burst=True)
    after = scrape()
    assert depth(after, "default", "queued") == 0
    assert depth(after, "default", "failed") - depth(before, "default", "failed") == 2
    jobs_total = "cloudassist_rq_jobs_total"

    def ran(outcome, job):
        return value(after, jobs_total, queue="default", job=job, outcome=outcome) - value(
            before, jobs_total, queue="default", job=job, outcome=outcome
        )

    assert ran("finished", "provisioning.jobs.analyse") == 1
    assert ran("failed", f"{__name__}.boom") == 2
    assert ran("retried", f"{__name__}.boom") == 1
    runs = "cloudassist_rq_job_duration_seconds_count"
    job = f"{__name__}.boom"
    assert value(after, runs, queue="default", job=job) - value(before, runs, queue="default", job=job) == 3
    assert value(after, "cloudassist_collector_up", collector="rq_queues") == 1


@pytest.mark.django_db
def test_redis_reachability_is_a_gauge(scrape, settings):
    assert value(scrape(), "cloudassist_redis_up") == 1
    settings.REDIS_URL = f"redis://127.0.0.1:{embedded.free_port()}/0"  # nothing listens there
    assert value(scrape(), "cloudassist_redis_up") == 0


@pytest.mark.django_db
def test_notification_deliveries_by_channel_and_outcome(
    scrape,
    smtp_server,  # noqa: F811 -- the fixture imported above
    default_queue,
    make_request,
    devops_user,
):
    from django.contrib.auth import get_user_model

    from notifications import services as notification_services
    from notifications.models import Delivery

    request = make_request()
    get_user_model().objects.filter(pk=request.requested_by_id).update(email="dev1@example.com")
    before = scrape()
    services.approve_request(actor=devops_user, request=request, note="go")
    (delivery,) = Delivery.objects.filter(notification__provision_request=request, channel="email")
    smtp_server.fail_next(1)
    assert notification_services.deliver(delivery.pk) == "retry later"
    Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=None)
    assert notification_services.deliver(delivery.pk) == "sent"
    after = scrape()
    name = "cloudassist_notification_deliveries_total"
    for outcome in ("retry", "sent"):
        labels = {"channel": "email", "outcome": outcome}
        assert value(after, name, **labels) - value(before, name, **labels) == 1


@pytest.mark.django_db
def test_config_reads_and_writes(scrape, dev_client):
    before = scrape()
    base = "/api/v1/configs/"
    assert dev_client.post(base, {"name": "metrics.test", "data": {"a": 1}}, format="json").status_code == 201
    assert dev_client.get(f"{base}metrics.test").status_code == 200
    assert dev_client.get(base).status_code == 200
    assert dev_client.patch(f"{base}metrics.test", {"b": 2}, format="json").status_code == 200
    assert (
        dev_client.put(f"{base}metrics.test", {"name": "metrics.test", "data": {"c": 3}}, format="json").status_code
        == 200
    )
    assert dev_client.delete(f"{base}metrics.test").status_code == 204
    after = scrape()

    def delta(name, operation):
        return value(after, name, operation=operation) - value(before, name, operation=operation)

    assert delta("cloudassist_config_reads_total", "get") == 1
    assert delta("cloudassist_config_reads_total", "list") == 1
    for operation in ("create", "patch", "replace", "delete"):
        assert delta("cloudassist_config_writes_total", operation) == 1


# --- multiprocess mode -------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _env(multiproc_dir: Path, **extra) -> dict[str, str]:
    database = django_settings.DATABASES["default"]
    return {
        **os.environ,
        "PROMETHEUS_MULTIPROC_DIR": str(multiproc_dir),
        "MONGODB_URI": database["HOST"],
        "MONGODB_NAME": database["NAME"],  # the test database
        "REDIS_URL": django_settings.REDIS_URL,
        "DJANGO_SETTINGS_MODULE": "cloudassist.settings",
        **extra,
    }


def test_web_scrape_adds_up_every_process_in_multiprocess_mode(tmp_path, client, settings, monkeypatch, db):
    code = (
        "from configs.metrics import config_written; from notifications.metrics import delivery; "
        "config_written('create'); delivery(channel='email', outcome='sent')"
    )
    for _ in range(2):  # two processes, as two gunicorn workers
        subprocess.run([sys.executable, "-c", code], env=_env(tmp_path), cwd=ROOT, check=True, timeout=60)
    assert len(list(tmp_path.glob("counter_*.db"))) == 2
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    settings.METRICS_TOKEN = TOKEN
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    samples = parse(response.content.decode())
    assert value(samples, "cloudassist_config_writes_total", operation="create") == 2
    assert value(samples, "cloudassist_notification_deliveries_total", channel="email", outcome="sent") == 2
    assert ("cloudassist_provision_requests", frozenset({("status", "REQUESTED")})) in samples  # scrape-time too


def _scrape_url(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=5) as response:
        return parse(response.read().decode())


@pytest.mark.django_db
def test_the_worker_serves_the_metrics_of_its_forked_work_horses(tmp_path, default_queue):
    port = _free_port()
    worker = subprocess.Popen(
        [sys.executable, "manage.py", "rqworker", "default"],
        env=_env(tmp_path, WORKER_METRICS_PORT=str(port)),
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}/metrics"
    job = "provisioning.jobs.analyse"
    finished = {"queue": "default", "job": job, "outcome": "finished"}
    try:
        for _ in range(3):  # three jobs, three forks
            default_queue.enqueue(job, "000000000000000000000000")
        deadline = time.monotonic() + 60
        samples: dict = {}
        while time.monotonic() < deadline and worker.poll() is None:
            try:
                samples = _scrape_url(url)
            except OSError:
                samples = {}
            if value(samples, "cloudassist_rq_jobs_total", **finished) >= 3:
                break
            time.sleep(0.1)
        assert worker.poll() is None, worker.stderr.read().decode()[-3000:]
        assert value(samples, "cloudassist_rq_jobs_total", **finished) == 3
        commands = sum(
            v for (name, _), v in samples.items() if name == "cloudassist_mongodb_command_duration_seconds_count"
        )
        assert commands >= 3  # the horses' MongoDB reads
        assert not any(name == "cloudassist_provision_requests" for name, _ in samples)  # web only
        # The horses share one file set per worker (and its spare horses one more): no file per job.
        suffixes = {path.stem.rsplit("_", 1)[1] for path in tmp_path.glob("*.db")}
        assert suffixes <= {str(worker.pid), f"horse{worker.pid}", f"spare{worker.pid}"}, suffixes
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
        if worker.stderr:
            worker.stderr.close()
