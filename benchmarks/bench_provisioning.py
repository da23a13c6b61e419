"""`make bench`: figures for the local setup, printed, never asserted.

For each worker configuration (the one `make run` and the image use, and the old one for
comparison; --config to choose):

- approval-to-INITIATED latency (p50, p99): one rq worker process, on the configuration's
  queues (so it also runs the notification jobs the approvals and deployments enqueue on
  default), runs while requests are approved one every --interval-ms (100 ms); the latency
  is the time between the approval's audit event and the worker's INITIATED event. Also the
  jobs/s it kept up with (first INITIATED to last DEPLOYED).
- jobs per second through one worker with the no-op provider: a backlog of approved
  requests drained by `rqworker --burst` (APPROVED -> INITIATED -> DEPLOYED each).

- approval-to-INITIATED with slow email (--slow-smtp): a real SMTP server (aiosmtpd) that takes
  1 s per message, the requesters and reviewers emailed, one approval a second; once with the
  workers `make run` and the chart start (provisioning + default, and a notifier for the
  deliveries on notifications) and once with one worker for every queue (before: emails and
  provisioning in one worker).

Every worker process it starts (and its work horses) is stopped and checked gone.
Then a Prometheus scrape of /metrics (p50, p99, size) with every request of the run in the
database: the scrape counts requests by status and reads the queues at scrape time.

It starts its own throw-away MongoDB and Redis (or uses MONGODB_URI / REDIS_URL) and a
database of its own, dropped at the end.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(BASE_DIR))

from cloudassist.testing.kubernetes import PLACEHOLDER_KUBECONFIG  # noqa: E402 (after the path)


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


# Worker configurations: name -> (queues in priority order, worker class). "current" is what
# `make run` and the image run (cloudassist/management/commands/serve.py, Dockerfile, chart).
CONFIGS = {
    "current": (("provisioning", "default"), "cloudassist.worker.Worker"),  # preforking, provisioning first
    "old": (("default", "provisioning"), "cloudassist.worker.ForkingWorker"),  # rq's fork per dequeued job
    "simple": (("provisioning", "default"), "cloudassist.worker.SimpleWorker"),  # no fork: no crash isolation
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency-requests", type=int, default=100)
    parser.add_argument("--throughput-requests", type=int, default=300)
    parser.add_argument(
        "--config",
        action="append",
        choices=sorted(CONFIGS),
        help="worker configuration to measure (repeatable); default: current (what `make run` and the image run) "
        "and old",
    )
    parser.add_argument("--rounds", type=int, default=1, help="measure the configurations this many times, in turn")
    parser.add_argument("--scrapes", type=int, default=50, help="scrapes of /metrics to time")
    parser.add_argument("--interval-ms", type=float, default=100, help="time between approvals in the latency run")
    parser.add_argument(
        "--slow-smtp",
        type=int,
        default=10,
        metavar="N",
        help="approvals (one a second) in the slow-email measurement, 0 to skip it",
    )
    parser.add_argument(
        "--only-slow-smtp", action="store_true", help="measure only approval -> INITIATED with slow email"
    )
    options = parser.parse_args()

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cloudassist.settings")
    os.environ.setdefault("DEBUG", "true")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    # The namespace template must be requestable; the namespaces are never created (bench: the queue).
    os.environ.setdefault("SHARED_CLUSTER_KUBECONFIG_DATA", PLACEHOLDER_KUBECONFIG)
    os.environ["MONGODB_NAME"] = f"cloudassist_bench_{os.getpid()}"
    from cloudassist import embedded

    data_dir = Path(tempfile.mkdtemp(prefix="cloudassist-bench-"))
    services, env = embedded.start_missing(
        data_dir=data_dir,
        mongodb_uri=os.environ.get("MONGODB_URI"),
        redis_url=os.environ.get("REDIS_URL"),
        persist=False,
    )
    os.environ.update(env)
    try:
        import django

        django.setup()
        from django.core.management import call_command
        from django.db import connection

        call_command("migrate", verbosity=0)
        print("CloudAssist provisioning benchmark (local: embedded MongoDB and Redis, no-op provider)")
        index = 0
        for _round in range(options.rounds):
            for name in () if options.only_slow_smtp else options.config or ("current", "old"):
                _measure(options, name, prefix=f"w{index}")
                index += 1
        if options.slow_smtp:
            _measure_slow_smtp(options.slow_smtp)
        if not options.only_slow_smtp:
            _measure_scrape(options.scrapes)
        connection.connection.drop_database(os.environ["MONGODB_NAME"])
    finally:
        services.stop()
        embedded.remove_data(data_dir)


def _measure(options, name: str, *, prefix: str) -> None:
    import django_rq

    from cloudassist import embedded

    queues, worker_class = CONFIGS[name]
    requests, reviewer, queue = _prepare(options.latency_requests + options.throughput_requests, prefix=prefix)
    manage = [sys.executable, str(BASE_DIR / "manage.py"), "rqworker", *queues, "--worker-class", worker_class]

    # 1. Latency: requests approved one every interval while one worker waits for jobs.
    # Its own session (embedded.spawn), so that terminate() stops it: a worker left behind would
    # compete with the next measurement's workers for the CPU.
    worker = embedded.spawn(manage, log_path=Path(os.devnull), env=os.environ.copy())
    try:
        time.sleep(3)  # let the worker start listening
        latency_batch = requests[: options.latency_requests]
        started = time.monotonic()
        for index, request in enumerate(latency_batch):
            _approve(request, reviewer)
            time.sleep(max(0.0, started + (index + 1) * options.interval_ms / 1000 - time.monotonic()))
        _wait_until_deployed(latency_batch)
    finally:
        leftovers = _stop(worker)
    latencies = _latencies(latency_batch)
    kept_up = len(latency_batch) / _busy_seconds(latency_batch)

    # 2. Throughput: a backlog of approved requests drained by one burst worker, on the provisioning
    # queue only (the notification jobs the provisioning enqueues on default would keep it going).
    django_rq.get_queue("default").empty()
    backlog = requests[options.latency_requests :]
    for request in backlog:
        _approve(request, reviewer)
    burst = [*manage[:3], "provisioning", *manage[3 + len(queues) :], "--burst"]
    subprocess.run(burst, env=os.environ.copy(), check=True, capture_output=True)
    seconds = _busy_seconds(backlog)
    queue.empty()
    django_rq.get_queue("default").empty()

    print(f"  {name}: rqworker {' '.join(queues)} --worker-class {worker_class}")
    print(f"    approval -> INITIATED, {len(latencies)} requests approved one every {options.interval_ms:g} ms:")
    print(
        f"      p50 {1000 * statistics.median(latencies):7.1f} ms   p99 {1000 * _percentile(latencies, 0.99):7.1f} ms"
        f"   {kept_up:5.1f} jobs/s"
    )
    print(
        f"    throughput draining {len(backlog)} provision jobs: {len(backlog) / seconds:6.1f} jobs/s "
        f"({seconds:.2f} s from the first INITIATED to the last DEPLOYED)"
    )
    print(f"    worker stopped: {leftovers or 'no process left'}")


# Slow email: the worker sets `make run` and the chart use, and one worker for everything (before).
SLOW_SMTP_CONFIGS = {
    "current (make run, chart)": (("provisioning", "default"), ("notifications",)),
    "before: one worker": (("provisioning", "default", "notifications"),),
}
SMTP_DELAY_SECONDS = 1.0


class _SlowSMTPHandler:
    """aiosmtpd handler that takes SMTP_DELAY_SECONDS to accept each message."""

    def __init__(self):
        self.messages = 0

    async def handle_DATA(self, server, session, envelope):
        import asyncio

        await asyncio.sleep(SMTP_DELAY_SECONDS)
        self.messages += 1
        return "250 Message accepted for delivery"


def _measure_slow_smtp(count: int) -> None:
    import django_rq
    from aiosmtpd.controller import Controller
    from django.contrib.auth import get_user_model

    from cloudassist import embedded

    handler = _SlowSMTPHandler()
    port = embedded.free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    print(
        f"  approval -> INITIATED with slow email (aiosmtpd, {SMTP_DELAY_SECONDS:g} s per message), "
        "one approval a second:"
    )
    try:
        env = {**os.environ, "EMAIL_URL": f"smtp://127.0.0.1:{port}"}
        for index, (name, workers) in enumerate(SLOW_SMTP_CONFIGS.items()):
            requests, reviewer, _queue = _prepare(count, prefix=f"smtp{index}")
            # Everyone concerned has an email address: each approval and each deployment sends mail.
            get_user_model().objects.filter(username__startswith=f"smtp{index}-").update(email="bench@example.com")
            django_rq.get_queue("notifications").empty()
            sent_before = handler.messages
            processes = [
                embedded.spawn(
                    [sys.executable, str(BASE_DIR / "manage.py"), "rqworker", *queues, "--with-scheduler"],
                    log_path=Path(os.devnull),
                    env=env,
                )
                for queues in workers
            ]
            try:
                time.sleep(3)  # let the workers start listening
                started = time.monotonic()
                for number, request in enumerate(requests):
                    _approve(request, reviewer)
                    time.sleep(max(0.0, started + number + 1 - time.monotonic()))
                _wait_until_deployed(requests, timeout=30 + 4 * count * SMTP_DELAY_SECONDS)
            finally:
                leftovers = [_stop(process) for process in processes]
            latencies = _latencies(requests)
            for queue_name in ("default", "provisioning", "notifications"):
                django_rq.get_queue(queue_name).empty()
            workers_text = " + ".join(f"rqworker {' '.join(queues)}" for queues in workers)
            print(f"    {name}: {workers_text}")
            print(
                f"      p50 {1000 * statistics.median(latencies):7.1f} ms   max {1000 * max(latencies):7.1f} ms"
                f"   ({len(latencies)} approvals, {handler.messages - sent_before} emails accepted meanwhile)"
            )
            print(f"      workers stopped: {'; '.join(filter(None, leftovers)) or 'no process left'}")
    finally:
        controller.stop()


def _stop(worker) -> str:
    """Stop the worker and every process under it (work horses, the spare); '' when none is left."""
    import psutil

    from cloudassist import embedded

    try:
        tree = psutil.Process(worker.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        tree = []
    embedded.terminate(worker)
    _gone, alive = psutil.wait_procs(tree, timeout=10)
    for proc in alive:
        with contextlib.suppress(psutil.NoSuchProcess):
            proc.kill()
    return f"{len(alive)} process(es) left behind, killed: {[p.pid for p in alive]}" if alive else ""


def _measure_scrape(scrapes: int) -> None:
    from django.test import Client

    from provisioning.models import ProvisionRequest

    client = Client()  # DEBUG is on here, so /metrics is open (no METRICS_TOKEN)
    timings, size = [], 0
    for _ in range(scrapes):
        started = time.perf_counter()
        response = client.get("/metrics", HTTP_HOST="localhost")
        timings.append(time.perf_counter() - started)
        if response.status_code != 200:
            raise SystemExit(f"/metrics answered {response.status_code}")
        size = len(response.content)
    print(f"  /metrics scrape, {ProvisionRequest.objects.count()} requests in the database, {scrapes} scrapes:")
    print(
        f"      p50 {1000 * statistics.median(timings):7.1f} ms   p99 {1000 * _percentile(timings, 0.99):7.1f} ms"
        f"   {size / 1024:.0f} KiB"
    )


def _prepare(count: int, *, prefix: str):
    import django_rq
    from django.contrib.auth.models import Group

    from cloudassist import roles
    from cloudassist import services as user_services
    from provisioning import services
    from provisioning.models import ProvisionRequest
    from quotas.pricing_seed import seed_pricing
    from templates import services as template_services
    from templates.models import Template
    from templates.seed import TEMPLATES

    user_services.ensure_roles()

    dev = user_services.create_user(
        username=f"{prefix}-dev", password="x", groups=[Group.objects.get(name=roles.DEV)], validate_password=False
    )
    ops = user_services.create_user(
        username=f"{prefix}-ops", password="x", groups=[Group.objects.get(name=roles.DEVOPS)], validate_password=False
    )
    seed_pricing()
    for definition in TEMPLATES:
        if not Template.objects.filter(pk=definition["id"]).exists():
            template_services.create_template(actor=None, **definition)
    template = Template.objects.get(pk="dev-namespace")
    made = []
    for index in range(count):
        request = services.submit_request(
            actor=dev, template=template, parameters={"namespace": f"{prefix}-bench-{index}"}
        )
        made.append(request)
    # The provisioner applies each request's stored plan, whose provider is the plugin it calls.
    for request in made:
        ProvisionRequest.objects.filter(pk=request.pk).update(
            template_snapshot={**request.template_snapshot, "provider": "noop"},
            plan={**request.plan, "provider": "noop"},
        )
    for queue_name in ("default", "provisioning", "notifications"):
        django_rq.get_queue(queue_name).empty()  # the analysis jobs and review emails are not measured
    return [ProvisionRequest.objects.get(pk=r.pk) for r in made], ops, django_rq.get_queue("provisioning")


def _approve(request, reviewer) -> None:
    from provisioning import services

    services.approve_request(actor=reviewer, request=request)


def _wait_until_deployed(batch, timeout: float = 120) -> None:
    from provisioning.models import ProvisionRequest

    deadline = time.monotonic() + timeout
    ids = [r.pk for r in batch]
    while ProvisionRequest.objects.filter(pk__in=ids, status="DEPLOYED").count() < len(ids):
        if time.monotonic() > deadline:
            raise SystemExit(f"the worker did not deploy every request within {timeout:g} s")
        time.sleep(0.2)


def _event_times(batch, action: str) -> dict:
    from provisioning.models import Event

    events = Event.objects.filter(provision_request_id__in=[r.pk for r in batch], action=action)
    return {event.provision_request_id: event.created_at for event in events}


def _latencies(batch) -> list[float]:
    approved, initiated = _event_times(batch, "approve"), _event_times(batch, "start_provisioning")
    return [(initiated[pk] - approved[pk]).total_seconds() for pk in approved if pk in initiated]


def _busy_seconds(batch) -> float:
    started, deployed = _event_times(batch, "start_provisioning"), _event_times(batch, "mark_deployed")
    return max((max(deployed.values()) - min(started.values())).total_seconds(), 0.001)


if __name__ == "__main__":
    main()
