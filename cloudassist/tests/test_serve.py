"""`manage.py serve` (what `make run` runs), end to end, as a real process tree."""

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import boto3
import psutil
import pytest
import redis
from prometheus_client.parser import text_string_to_metric_families
from rq import Queue, Worker

from cloudassist import embedded
from cloudassist.seed import DEMO_USERS

BASE_DIR = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _call(url: str, data: dict | None = None, token: str | None = None) -> tuple[int, dict]:
    request = urllib.request.Request(url, data=json.dumps(data).encode() if data is not None else None)
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Token {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def _wait_until_ready(proc, base: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, _output(proc)
        try:
            if _call(f"{base}/ready")[0] == 200:
                return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.5)
    pytest.fail("serve did not become ready")


def _finished_jobs(url: str, timeout: float = 60) -> float:
    """The worker's count of finished jobs, once it is above zero (0 if it never gets there)."""
    deadline = time.monotonic() + timeout
    finished = 0.0
    while time.monotonic() < deadline:
        with urllib.request.urlopen(url, timeout=10) as response:
            families = text_string_to_metric_families(response.read().decode())
            finished = sum(
                sample.value
                for family in families
                for sample in family.samples
                if sample.name == "cloudassist_rq_jobs_total" and sample.labels.get("outcome") == "finished"
            )
        if finished:
            return finished
        time.sleep(0.5)
    return finished


def _assert_worker_metrics(worker: psutil.Process, serve_env: dict, connection) -> None:
    """The worker serves its metrics, adding up its forked jobs' values: a job run now is counted."""
    assert worker.environ()["PROMETHEUS_MULTIPROC_DIR"] == str(
        Path(serve_env["CLOUDASSIST_VAR_DIR"]) / "metrics" / "worker"
    )
    Queue("default", connection=connection).enqueue("configs.jobs.purge_expired")
    assert _finished_jobs(f"http://127.0.0.1:{serve_env['WORKER_METRICS_PORT']}/metrics") >= 1


def _start(env):
    """``manage.py serve``, its output to a file: a pipe nobody reads while the test runs fills up
    (64 KB of log lines) and blocks the web worker writing the next line, which then answers nothing."""
    log = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 -- closed by _output's caller's process end
    proc = subprocess.Popen(
        [sys.executable, "manage.py", "serve"],
        cwd=BASE_DIR,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
    )
    proc.log = log
    return proc


def _output(proc) -> str:
    proc.log.seek(0)
    return proc.log.read()


def _running(process: psutil.Process) -> bool:
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _name(process: psutil.Process) -> str:
    """The binary's name; for Python children, the module or script they run."""
    command = process.cmdline()
    if process.name().startswith("python") and len(command) > 2:
        return command[2] if command[1] == "-m" else Path(command[1]).name
    return process.name()


def _stop(proc) -> tuple[list[tuple[str, psutil.Process]], str]:
    """Ctrl-C the serve process; returns the processes it had started, with their names, and its output."""
    tree = []
    for child in psutil.Process(proc.pid).children(recursive=True):
        try:
            tree.append((_name(child), child))
        except (psutil.ZombieProcess, psutil.NoSuchProcess):
            continue  # a work horse that has just exited (not yet reaped): nothing left to stop
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=90)
    output = _output(proc)
    assert proc.returncode == 0, output
    assert "stopped; data kept under" in output
    return tree, output


def test_serve_runs_everything_stops_cleanly_and_keeps_data(serve_env):  # noqa: PLR0915 (one end-to-end story)
    base = f"http://127.0.0.1:{serve_env['PORT']}"
    proc = _start(serve_env)
    try:
        _wait_until_ready(proc, base)
        assert _call(f"{base}/health") == (200, {"status": "ok"})
        status, body = _call(f"{base}/api/v1/auth/token/", {"username": "aaa", "password": "demo-pass-for-tests"})
        assert status == 200
        token = body["token"]
        assert _call(f"{base}/api/v1/roles/", {"name": "kept-role"}, token)[0] == 201
        # The web server is the production one (python -m cloudassist.serving: gunicorn, gevent
        # workers): WhiteNoise serves the admin's static files, and a config watch waits and answers.
        with urllib.request.urlopen(f"{base}/static/admin/css/base.css", timeout=10) as response:
            assert response.status == 200
            assert response.headers["Content-Type"].startswith("text/css")
            assert b"body" in response.read()
        assert _call(f"{base}/configs", {"name": "served", "data": {"on": True}}, token)[0] == 201
        watch = urllib.request.Request(f"{base}/configs/served?wait=1s&version=1")
        watch.add_header("Authorization", f"Token {token}")
        with urllib.request.urlopen(watch, timeout=10) as response:
            assert response.headers["X-CloudAssist-Watch"] == "timeout"
            assert json.loads(response.read())["data"] == {"on": True}
        connection = redis.Redis.from_url(f"redis://127.0.0.1:{serve_env['EMBEDDED_REDIS_PORT']}/0")
        workers = Worker.all(connection=connection)
        # Two workers: provisioning (first) and default, and the deliveries on their own, so that
        # provisioning never waits behind a slow SMTP server.
        assert sorted([queue.name for queue in worker.queues] for worker in workers) == [
            ["notifications"],
            ["provisioning", "default"],
        ]
        # The local AWS emulator answers on its port, and the worker was pointed at it.
        moto_url = f"http://127.0.0.1:{serve_env['EMBEDDED_MOTO_PORT']}"
        s3 = boto3.client(
            "s3", region_name="us-east-1", endpoint_url=moto_url, aws_access_key_id="x", aws_secret_access_key="x"
        )
        assert s3.list_buckets()["Buckets"] == []
        rqworkers = {
            child.cmdline()[3]: child for child in psutil.Process(proc.pid).children() if "rqworker" in child.cmdline()
        }
        worker, notifier = rqworkers.pop("provisioning"), rqworkers.pop("notifications")
        assert (rqworkers, worker.cmdline()[2:], notifier.cmdline()[2:]) == (
            {},
            ["rqworker", "provisioning", "default", "--with-scheduler"],
            ["rqworker", "notifications", "--with-scheduler"],
        )
        assert worker.environ()["AWS_ENDPOINT_URL"] == moto_url
        assert worker.environ()["AWS_ACCESS_KEY_ID"] == "testing"
        _assert_worker_metrics(worker, serve_env, connection)
        assert notifier.environ()["PROMETHEUS_MULTIPROC_DIR"] != worker.environ()["PROMETHEUS_MULTIPROC_DIR"]
        (web,) = [child for child in psutil.Process(proc.pid).children() if _name(child) == "gunicorn"]
        assert web.cmdline()[3:5] == ["--config", str(Path(BASE_DIR) / "cloudassist" / "serving.py")]
        # rq's cron scheduler runs the sweep; no system cron.
        (cron,) = [child for child in psutil.Process(proc.pid).children() if "rqcron" in child.cmdline()]
        assert "cloudassist.cron" in cron.cmdline()
    finally:
        tree, output = _stop(proc)
    assert {"mongod", "redis-server", "moto.server", "gunicorn"} <= {name for name, _ in tree}
    assert len(tree) >= 7  # mongod, redis-server, moto, the web server, the two workers and the cron scheduler
    assert [name for name, child in tree if _running(child)] == []
    assert "AWS       local emulator (moto) at http://127.0.0.1:" in output
    # The banner says the emulator is not real AWS, and where the worker's metrics are.
    assert all(text in output for text in ("NOT real AWS", f"127.0.0.1:{serve_env['WORKER_METRICS_PORT']}/metrics"))

    # Second run: same data, no duplicate demo users.
    proc = _start(serve_env)
    try:
        _wait_until_ready(proc, base)
        # The token issued in the first run still works (it is stored, as a digest), and logging in
        # again issues another one.
        status, body = _call(f"{base}/api/v1/auth/token/", {"username": "aaa", "password": "demo-pass-for-tests"})
        assert status == 200
        assert body["token"] != token
        assert _call(f"{base}/api/v1/roles/kept-role/", token=token)[0] == 200
        users = _call(f"{base}/api/v1/users/", token=token)[1]
        assert users["count"] == len(DEMO_USERS)
    finally:
        _stop(proc)


def test_serve_refuses_a_busy_web_port(serve_env):
    with psutil.Popen([sys.executable, "-m", "http.server", serve_env["PORT"], "--bind", "127.0.0.1"]) as blocker:
        try:
            deadline = time.monotonic() + 10
            while not embedded.port_is_open(int(serve_env["PORT"])) and time.monotonic() < deadline:
                time.sleep(0.1)
            result = subprocess.run(
                [sys.executable, "manage.py", "serve"], cwd=BASE_DIR, env=serve_env, capture_output=True, text=True
            )
        finally:
            blocker.terminate()
    assert result.returncode != 0
    assert f"port {serve_env['PORT']} is already in use" in result.stderr


def _child(proc, word: str, timeout: float = 60) -> psutil.Process:
    """serve's running child whose command line has ``word`` (waits for it, e.g. while it restarts)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for child in psutil.Process(proc.pid).children():
            try:
                if word in child.cmdline() and _running(child):
                    return child
            except (psutil.NoSuchProcess, psutil.ZombieProcess):
                continue
        time.sleep(0.2)
    pytest.fail(f"no running {word} child")


def _replaced(proc, word: str, old_pid: int, timeout: float = 60) -> psutil.Process:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        child = _child(proc, word, timeout=timeout)
        if child.pid != old_pid:
            return child
        time.sleep(0.2)
    pytest.fail(f"the killed {word} child was not started again")


def test_serve_starts_a_killed_worker_and_scheduler_again_and_the_web_server_keeps_answering(serve_env):
    base = f"http://127.0.0.1:{serve_env['PORT']}"
    proc = _start(serve_env)
    try:
        _wait_until_ready(proc, base)
        for word in ("provisioning", "rqcron", "provisioning"):  # the worker twice: the backoff grows
            child = _child(proc, word)
            child.send_signal(signal.SIGKILL)
            assert _call(f"{base}/health") == (200, {"status": "ok"})  # the web server did not go down with it
            new = _replaced(proc, word, child.pid)
            assert word in new.cmdline()
        assert _call(f"{base}/health") == (200, {"status": "ok"})
        connection = redis.Redis.from_url(f"redis://127.0.0.1:{serve_env['EMBEDDED_REDIS_PORT']}/0")
        # The new worker works (a job enqueued now finishes) and serves its metrics on the same port.
        job = Queue("default", connection=connection).enqueue("configs.jobs.purge_expired")
        deadline = time.monotonic() + 60
        while job.get_status() != "finished" and time.monotonic() < deadline:
            time.sleep(0.2)
        assert job.get_status() == "finished"
        while not embedded.port_is_open(int(serve_env["WORKER_METRICS_PORT"])) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert _finished_jobs(f"http://127.0.0.1:{serve_env['WORKER_METRICS_PORT']}/metrics") >= 1
    finally:
        tree, output = _stop(proc)  # Ctrl-C still stops everything, the restarted children included
    assert [name for name, child in tree if _running(child)] == []
    assert "worker (provisioning default) exited with code -9; starting it again in 1 s" in output
    assert "worker (provisioning default) exited with code -9; starting it again in 2 s" in output
    assert "scheduler (rqcron) exited with code -9; starting it again in 1 s" in output
    assert "worker (provisioning default) started again (pid " in output
