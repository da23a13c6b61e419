"""The production web server (``python -m cloudassist.serving``: gunicorn, gevent workers) in a
child process, against the test run's MongoDB, Redis and test database.

Requests go over real HTTP to the same database as the test itself (use
``@pytest.mark.django_db(transaction=True)`` so the server sees the test's data). The server gets
the test process's environment (MONGODB_URI, REDIS_URL, SECRET_KEY ... set by the pytest plugin),
the test database's name, a metrics token and its own Prometheus multiprocess directory.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass

import psutil

from cloudassist import embedded

METRICS_TOKEN = "test-metrics-token"


@dataclass
class Server:
    url: str
    process: subprocess.Popen

    def workers(self) -> list[psutil.Process]:
        return psutil.Process(self.process.pid).children()

    def metric(self, name: str, **labels: str) -> float:
        """The sum of a metric's samples on /metrics (all worker processes), of those whose labels
        include ``labels`` when given."""
        from prometheus_client.parser import text_string_to_metric_families

        headers = {"Authorization": f"Bearer {METRICS_TOKEN}"}
        request = urllib.request.Request(f"{self.url}/metrics", headers=headers)  # noqa: S310 (http only)
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            families = text_string_to_metric_families(response.read().decode())
            return sum(
                sample.value
                for family in families
                for sample in family.samples
                if sample.name == name and labels.items() <= sample.labels.items()
            )


def _up(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=2) as response:  # noqa: S310 (http only)
            return response.status == 200
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


@contextlib.contextmanager
def running_server(
    *, env: dict[str, str] | None = None, workers: int = 1, timeout: float = 60.0, log=None
) -> Iterator[Server]:
    """Yield the running server; stop it (SIGTERM, as Kubernetes does) afterwards. Its output goes
    to ``log`` (an open file) when given, else to the test's own stdout and stderr."""
    from django.db import connection

    port = embedded.free_port()
    with tempfile.TemporaryDirectory(prefix="cloudassist-serving-") as metrics_dir:
        child_env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "cloudassist.settings",
            "MONGODB_NAME": connection.settings_dict["NAME"],  # the test database
            "HOST": "127.0.0.1",
            "PORT": str(port),
            "WEB_CONCURRENCY": str(workers),
            "WEB_GRACEFUL_TIMEOUT": "3",
            "METRICS_TOKEN": METRICS_TOKEN,
            "PROMETHEUS_MULTIPROC_DIR": metrics_dir,
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "LOG_LEVEL": "WARNING",
            **(env or {}),
        }
        process = subprocess.Popen(
            [sys.executable, "-m", "cloudassist.serving"],
            env=child_env,
            start_new_session=True,
            stdout=log,
            stderr=subprocess.STDOUT if log is not None else None,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + timeout
            while not _up(url):
                if process.poll() is not None:
                    raise RuntimeError(f"python -m cloudassist.serving exited with code {process.returncode}")
                if time.monotonic() > deadline:
                    raise RuntimeError("python -m cloudassist.serving did not answer /health")
                time.sleep(0.1)
            yield Server(url=url, process=process)
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait()
