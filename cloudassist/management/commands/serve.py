"""`manage.py serve` (what `make run` runs): everything a developer needs, in one process tree.

Starts embedded MongoDB and Redis when MONGODB_URI / REDIS_URL are not set (data under
./var/), and the local AWS emulator (moto) when the AWS providers use it (AWS_USE_EMULATOR,
no AWS_ENDPOINT_URL); applies migrations, seeds demo data, then runs the web server (the production
one, ``python -m cloudassist.serving``: gunicorn with gevent workers) and one rq worker with the
scheduler, and a second worker for the notification deliveries (so that provisioning never waits behind
email). The workers serve their own metrics on 127.0.0.1:9200 and :9201 (WORKER_METRICS_PORT and the
next port; 0 turns them off), each adding up its forked jobs' values
through a metrics directory under ./var/ that is emptied at each start. A worker or the scheduler
that dies is started again, after a backoff (1 s, doubling up to 30 s; back to 1 s once it has run
for a minute), with a line saying so; if the web server dies, everything stops. Ctrl-C (or SIGTERM)
stops everything it started, children first.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from cloudassist import apps, embedded
from cloudassist.seed import DEMO_USERS

# The rq workers `make run` starts: (name, queues in priority order). The chart runs the same two
# (charts/cloudassist: the worker and notifier Deployments).
WORKERS = (
    ("worker", ("provisioning", "default")),
    ("notifier", ("notifications",)),
)


RESTART_BACKOFF_SECONDS = (1, 2, 4, 8, 16, 30)  # after each crash in a row; the last one repeats
STABLE_SECONDS = 60  # a child that ran this long starts again with the shortest backoff


@dataclass
class Child:
    """A process `serve` runs and watches: the web server (``restart=False``: its death stops
    everything), the workers and the scheduler (started again when they die)."""

    name: str
    args: list[str]
    env: dict[str, str]
    restart: bool = True
    proc: subprocess.Popen | None = field(default=None, repr=False)
    crashes: int = 0  # in a row
    started_at: float = 0.0
    restart_at: float | None = None

    def start(self) -> Child:
        self.proc = embedded.spawn(self.args, env=self.env)
        self.started_at = time.monotonic()
        self.restart_at = None
        return self

    def backoff(self) -> float:
        return RESTART_BACKOFF_SECONDS[min(self.crashes, len(RESTART_BACKOFF_SECONDS) - 1)]


def _serve_site_url(host: str, port: int) -> None:
    """Without SITE_URL, links in notifications point at what is served here (--port may differ from
    PORT); the seed, the web server and the workers all use it."""
    if not os.environ.get("SITE_URL"):
        settings.SITE_URL = f"http://{'localhost' if host in ('0.0.0.0', '::') else host}:{port}"  # noqa: S104


def _interrupt(signum, frame):
    raise KeyboardInterrupt


class Command(BaseCommand):
    help = "Run CloudAssist for development: embedded servers, migrations, demo data, web server and worker."

    def add_arguments(self, parser):
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument("--no-worker", action="store_true", help="Do not start the rq worker.")
        parser.add_argument("--no-seed", action="store_true", help="Do not seed demo data.")

    def handle(self, *args, host: str, port: int, no_worker: bool, no_seed: bool, **options):
        if embedded.port_is_open(port):
            raise CommandError(f"port {port} is already in use; stop what runs there or set PORT to another port")
        _serve_site_url(host, port)
        previous = {sig: signal.signal(sig, _interrupt) for sig in (signal.SIGINT, signal.SIGTERM)}
        services = embedded.EmbeddedServices()
        children = []
        try:
            services, env = embedded.start_missing(
                data_dir=settings.VAR_DIR,
                mongodb_uri=os.environ.get("MONGODB_URI"),
                redis_url=os.environ.get("REDIS_URL"),
                mongo_port=settings.EMBEDDED_MONGO_PORT,
                redis_port=settings.EMBEDDED_REDIS_PORT,
                aws_emulator=settings.AWS_EMULATOR and not settings.AWS_ENDPOINT_URL,
                moto_port=settings.EMBEDDED_MOTO_PORT,
            )
            call_command("migrate", interactive=False, verbosity=0)
            self.stdout.write("migrations applied")
            if not no_seed:
                call_command("seed_demo", stdout=self.stdout)
            child_env = {**os.environ, **env, "SITE_URL": settings.SITE_URL}
            manage = [sys.executable, str(settings.BASE_DIR / "manage.py")]
            web, web_env = self._web_server(host, port)
            children.append(Child("web server", web, {**child_env, **web_env}, restart=False).start())
            worker_metrics = ""
            if not no_worker:
                # Two workers, so that provisioning never waits behind email: one for provisioning (first)
                # and the short jobs on default, one for the deliveries on notifications (a slow SMTP
                # server holds back only other deliveries). Each job runs in a horse forked ahead of it.
                for name, queues in WORKERS:
                    worker = [*manage, "rqworker", *queues, "--with-scheduler"]
                    worker_env, metrics_url = self._worker_metrics(host, child_env, name)
                    children.append(Child(f"{name} ({' '.join(queues)})", worker, worker_env).start())
                    worker_metrics += f"   {name} {metrics_url}"
                # rq's cron scheduler: the provisioning and notification sweeps (cloudassist/cron.py).
                children.append(Child("scheduler (rqcron)", [*manage, "rqcron", "cloudassist.cron"], child_env).start())
            self._banner(host, port, env, worker_metrics=worker_metrics)
            while True:
                for child in children:
                    self._watch(child)
                time.sleep(0.5)
        except embedded.EmbeddedServerError as exc:
            raise CommandError(str(exc)) from exc
        except KeyboardInterrupt:
            self.stdout.write("\nstopping CloudAssist ...")
        finally:
            signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the cleanup short
            for child in reversed(children):
                if child.proc is not None:
                    embedded.terminate(child.proc)
            services.stop()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        self.stdout.write(f"stopped; data kept under {settings.VAR_DIR}")

    def _watch(self, child: Child) -> None:
        """Start again a child whose backoff is over; notice one that died (the web server's death
        stops everything; any other child is started again after its backoff)."""
        now = time.monotonic()
        if child.restart_at is not None:
            if now >= child.restart_at:
                child.start()
                self.stdout.write(f"{child.name} started again (pid {child.proc.pid})")
            return
        code = child.proc.poll()
        if code is None:
            if child.crashes and now - child.started_at >= STABLE_SECONDS:
                child.crashes = 0
            return
        if not child.restart:
            raise CommandError(f"the {child.name} exited with code {code}")
        delay = child.backoff()
        child.crashes += 1
        child.restart_at = now + delay
        self.stderr.write(f"{child.name} exited with code {code}; starting it again in {delay} s")

    @staticmethod
    def _web_server(host: str, port: int) -> tuple[list[str], dict[str, str]]:
        """The production web server (cloudassist/serving.py): config watches wait in greenlets, and
        WhiteNoise serves the static files as under runserver. One worker unless WEB_CONCURRENCY says
        otherwise; long polls still waiting when it stops are answered at once, the rest cut after 3 s."""
        env = {
            "HOST": host,
            "PORT": str(port),
            "WEB_CONCURRENCY": os.environ.get("WEB_CONCURRENCY", "1"),
            "WEB_GRACEFUL_TIMEOUT": "3",
        }
        return [sys.executable, "-m", "cloudassist.serving"], env

    def _worker_metrics(self, host: str, env: dict[str, str], name: str) -> tuple[dict[str, str], str]:
        """A worker's environment with its metrics port on, and the banner's words for it: the first
        worker serves on WORKER_METRICS_PORT, the next one on the port after it. Its metrics directory
        (multiprocess mode: the forked jobs' values) is emptied at every start."""
        given = os.environ.get("WORKER_METRICS_PORT", "9200").strip() or "0"
        if not given.isdigit():
            raise CommandError(f"WORKER_METRICS_PORT must be a port number (0 turns it off), not {given!r}")
        if int(given) == 0:
            return {**env, "WORKER_METRICS_PORT": "0"}, "off (WORKER_METRICS_PORT=0)"
        port = int(given) + [worker for worker, _ in WORKERS].index(name)
        if embedded.port_is_open(port):
            return {**env, "WORKER_METRICS_PORT": "0"}, f"off: port {port} is in use (set WORKER_METRICS_PORT)"
        directory = settings.VAR_DIR / "metrics" / name
        shutil.rmtree(directory, ignore_errors=True)
        directory.mkdir(parents=True)
        worker_env = {
            **env,
            "WORKER_METRICS_PORT": str(port),
            "WORKER_METRICS_ADDR": host,
            "PROMETHEUS_MULTIPROC_DIR": str(directory),
        }
        return worker_env, f"http://{host}:{port}/metrics"

    def _aws(self, env: dict[str, str]) -> str:
        if "AWS_USE_EMULATOR" in env:
            credentials = " ".join(f"{name}={value}" for name, value in embedded.EMULATOR_CREDENTIALS.items())
            return (
                f"local emulator (moto) at {env['AWS_ENDPOINT_URL']}, NOT real AWS: nothing is really created,\n"
                f"            and it forgets everything when stopped. Dummy credentials for it: {credentials}"
            )
        if settings.AWS_EMULATOR:
            return f"emulator at {settings.AWS_ENDPOINT_URL} (AWS_USE_EMULATOR=true), NOT real AWS"
        where = settings.AWS_ENDPOINT_URL or "real AWS"
        return f"{where}, region {settings.AWS_REGION} (credentials from boto3's usual chain)"

    def _banner(self, host: str, port: int, env: dict[str, str], worker_metrics: str = "") -> None:
        base = f"http://{host}:{port}"
        urls = {name: value for name, value in env.items() if name.endswith(("_URI", "_URL"))}
        servers = ", ".join(f"{name}={value}" for name, value in urls.items()) or "none (external servers configured)"
        lines = [
            "",
            "CloudAssist is running",
            f"  API       {base}/api/v1/",
            f"  Admin     {base}/admin/",
            f"  Docs      {base}/docs   Redoc {base}/redoc   Schema {base}/api/schema/",
            f"  Health    {base}/health   {base}/ready",
            f"  Metrics   {base}/metrics{worker_metrics}",
            f"  Embedded  {servers}",
            f"  AWS       {self._aws(env)}",
            f"  Users     {' '.join(DEMO_USERS)}   password: {settings.DEMO_PASSWORD}",
            *apps.banner_lines(),  # e.g. the templates that cannot be requested, and what to set
            "  Ctrl-C stops everything started here.",
            "",
        ]
        self.stdout.write(self.style.SUCCESS("\n".join(lines)))
