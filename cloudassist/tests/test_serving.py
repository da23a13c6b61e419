"""`python -m cloudassist.serving`, the production web server, started for real (a child process on a
free port, against the test run's MongoDB, Redis and test database). The config watch's behaviour
under it, 200 waiting watches included, is in configs/tests/test_watch.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest

from cloudassist import services, serving
from cloudassist.testing.server import running_server

pytestmark = pytest.mark.django_db(transaction=True)


def _get(url: str, token: str | None = None):
    request = urllib.request.Request(url)
    if token:
        request.add_header("Authorization", f"Token {token}")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers, exc.read()


def test_the_production_server_serves_health_the_api_and_static_files(dev_user):
    token = services.issue_token(user=dev_user)[1]
    with running_server(workers=2) as server:
        assert len(server.workers()) == 2  # WEB_CONCURRENCY
        status, _, body = _get(f"{server.url}/health")
        assert (status, json.loads(body)) == (200, {"status": "ok"})

        status, _, body = _get(f"{server.url}/api/v1/users/me/", token)
        assert status == 200
        assert json.loads(body)["username"] == "dev1"
        assert _get(f"{server.url}/api/v1/users/me/")[0] == 401

        status, headers, body = _get(f"{server.url}/static/admin/css/base.css")  # WhiteNoise
        assert status == 200
        assert headers["Content-Type"].startswith("text/css")
        assert b"body" in body

        # Concurrent plain requests are served side by side (greenlets), all answered.
        with ThreadPoolExecutor(max_workers=20) as pool:
            statuses = list(pool.map(lambda _: _get(f"{server.url}/api/v1/users/me/", token)[0], range(40)))
        assert statuses == [200] * 40
    assert server.process.returncode == 0  # SIGTERM: a clean, graceful stop


def test_the_configuration_reads_the_environment_and_not_the_project_settings():
    code = (
        "import sys; from cloudassist import serving; "
        "print(serving.bind, serving.workers, serving.worker_connections, serving.graceful_timeout, "
        "serving.forwarded_allow_ips, serving.worker_class, 'django.conf' in sys.modules)"
    )
    env = {
        **os.environ,
        "HOST": "::",
        "PORT": "9000",
        "WEB_CONCURRENCY": "3",
        "WEB_WORKER_CONNECTIONS": "2000",
        "WEB_GRACEFUL_TIMEOUT": "5",
        "FORWARDED_ALLOW_IPS": "10.0.0.1",
        "DJANGO_SETTINGS_MODULE": "no.such.settings",  # never imported by the server configuration
    }
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["['[::]:9000']", "3", "2000", "5", "10.0.0.1", "gevent", "False"]


def test_the_command_is_gunicorn_with_this_file_as_its_configuration():
    argv = serving.command(["--log-level", "debug"])
    assert argv[:3] == [sys.executable, "-m", "gunicorn"]
    assert argv[3:5] == ["--config", serving.__file__]
    assert argv[5:] == ["--log-level", "debug"]
