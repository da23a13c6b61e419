"""`manage.py serve` (what `make run` runs) in a child process, on MongoDB and Redis servers of the
test module's own (never the session's), with small HTTP helpers; for the outage and failover tests.

No timing assertions: each wait has a generous limit that only guards against hanging.
"""

from __future__ import annotations

import http.cookiejar
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import boto3
import psutil
import pytest
from pymongo import MongoClient

from cloudassist import embedded

BASE_DIR = Path(__file__).resolve().parents[2]
PASSWORD = "outage-demo-pass"
REQUEST_GUARD = 30  # seconds: a request that takes longer than this hangs (the 503 comes after ~2 s)
RECOVERY_GUARD = 240  # seconds: a recovery that takes longer than this is stuck
PARAMETERS = {"region": "us-east-1", "instance_type": "t2.micro", "desired_capacity": 1, "volume_size": 20}


class Answer:
    def __init__(self, status: int, headers, body: bytes):
        self.status, self.headers, self.body = status, headers, body

    def json(self) -> dict:
        return json.loads(self.body)


def call(
    opener,
    url: str,
    data: dict | None = None,
    token: str | None = None,
    *,
    form: dict | None = None,
    method: str | None = None,
) -> Answer:
    if form is not None:
        body, kind = urllib.parse.urlencode(form).encode(), "application/x-www-form-urlencoded"
    else:
        body, kind = (json.dumps(data).encode() if data is not None else None), "application/json"
    request = urllib.request.Request(url, data=body, method=method)
    request.add_header("Content-Type", kind)
    if token:
        request.add_header("Authorization", f"Token {token}")
    try:
        with opener.open(request, timeout=REQUEST_GUARD) as response:
            return Answer(response.status, response.headers, response.read())
    except urllib.error.HTTPError as exc:
        return Answer(exc.code, exc.headers, exc.read())


def api(url: str, data: dict | None = None, token: str | None = None, method: str | None = None) -> Answer:
    return call(urllib.request.build_opener(), url, data, token, method=method)


def until(check, *, what: str, guard: float = RECOVERY_GUARD):
    deadline = time.monotonic() + guard
    while time.monotonic() < deadline:
        try:
            found = check()
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            found = None
        if found:
            return found
        time.sleep(0.5)
    pytest.fail(f"{what}: not within {guard} s")


class Stack:
    """`manage.py serve` on this module's MongoDB and Redis."""

    def __init__(self, tmp: Path, *, mongo=None, env: dict[str, str] | None = None):
        """``mongo``: a started server with ``url``, ``start()`` and ``stop()`` (default: one of its
        own); ``env``: settings for serve on top of the defaults here."""
        self.mongo = mongo or embedded.EmbeddedMongo(data_dir=tmp / "mongodb").start()
        self.redis = embedded.EmbeddedRedis(data_dir=tmp / "redis")
        self.redis.persist = False  # restarted empty: whatever was queued is lost
        self.redis.start()
        self.port = embedded.free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.env = {
            key: value
            for key, value in os.environ.items()
            if key not in ("MONGODB_URI", "REDIS_URL") and not key.startswith("AWS_")
        }
        self.env.update(
            MONGODB_URI=self.mongo.url,
            REDIS_URL=self.redis.url,
            CLOUDASSIST_VAR_DIR=str(tmp / "var"),
            EMBEDDED_MOTO_PORT=str(embedded.free_port()),
            PORT=str(self.port),
            WORKER_METRICS_PORT="0",
            DEBUG="true",  # the admin and portal 503 page must not depend on DEBUG being off
            DEMO_PASSWORD=PASSWORD,
            PYTHONUNBUFFERED="1",
        )
        self.env.update(env or {})
        self.log = tmp / "serve.log"
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "manage.py", "serve"], cwd=BASE_DIR, env=self.env, stdout=out, stderr=subprocess.STDOUT
            )
        until(lambda: self._alive() and api(f"{self.base}/ready").status == 200, what="serve ready", guard=180)
        self.tokens = {user: self.token(user) for user in ("bbb", "jjj")}

    def _alive(self) -> bool:
        assert self.proc.poll() is None, self.log.read_text()[-5000:]
        return True

    def token(self, username: str) -> str:
        answer = api(f"{self.base}/api/v1/auth/token/", {"username": username, "password": PASSWORD})
        assert answer.status == 200, answer.body
        return answer.json()["token"]

    def session(self, username: str, login_path: str = "/api-auth/login/"):
        """A browser's cookie session, logged in through a login form."""
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
        page = call(opener, f"{self.base}{login_path}")
        csrf = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page.body).group(1).decode()
        form = {"username": username, "password": PASSWORD, "csrfmiddlewaretoken": csrf, "next": "/api/v1/"}
        answer = call(opener, f"{self.base}{login_path}", form=form)
        assert answer.status == 200, answer.body[:500]
        return opener

    def children(self, word: str) -> list[psutil.Process]:
        found = []
        for child in psutil.Process(self.proc.pid).children():
            try:
                if any(word in part for part in child.cmdline()):
                    found.append(child)
            except psutil.Error:
                continue
        return found

    def moto(self) -> psutil.Process:
        (moto,) = self.children("moto")
        return moto

    def eks(self):
        return boto3.client(
            "eks",
            region_name="us-east-1",
            endpoint_url=f"http://127.0.0.1:{self.env['EMBEDDED_MOTO_PORT']}",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    def db(self):
        return MongoClient(self.mongo.url, serverSelectionTimeoutMS=5000)["cloudassist"]

    def submit(self, name: str) -> str:
        body = {
            "template": "basic-eks-cluster",
            "description": name,
            "parameters": {"cluster_name": name, **PARAMETERS},
        }
        answer = api(f"{self.base}/api/v1/provision-requests/", body, self.tokens["bbb"])
        assert answer.status == 201, answer.body
        return answer.json()["id"]

    def approve(self, pk: str) -> Answer:
        return api(f"{self.base}/api/v1/provision-requests/{pk}/approve/", {"note": "ok"}, self.tokens["jjj"])

    def status(self, pk: str) -> str:
        return api(f"{self.base}/api/v1/provision-requests/{pk}/", token=self.tokens["bbb"]).json()["status"]

    def stop(self) -> str:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=90)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        if not self.redis.is_running():
            self.redis.start()  # serve is gone; just so that stop() below has something to stop
        self.redis.stop()
        self.mongo.stop()
        return self.log.read_text()
