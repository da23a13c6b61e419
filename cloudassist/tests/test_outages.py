"""Outages and crashes, with real servers: `manage.py serve` (what `make run` runs) on a MongoDB and a
Redis of this module's own, which the tests stop and start again (the session's servers, which the
other tests use, are never touched); the local AWS emulator (moto) that serve starts.

- MongoDB down: the API answers 503 with Retry-After and its JSON error shape, the admin and the
  portal a plain 503 page, never a 500; all is well again once MongoDB is back.
- Redis down: submissions and reviews still succeed; once Redis is back (empty: it kept nothing), the
  sweep enqueues the lost jobs and deliveries, and the request is provisioned.
- A work horse killed mid-job, or the whole worker: the request is resumed and DEPLOYED, one cluster.

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


def _call(opener, url: str, data: dict | None = None, token: str | None = None, form: dict | None = None) -> Answer:
    if form is not None:
        body, kind = urllib.parse.urlencode(form).encode(), "application/x-www-form-urlencoded"
    else:
        body, kind = (json.dumps(data).encode() if data is not None else None), "application/json"
    request = urllib.request.Request(url, data=body)
    request.add_header("Content-Type", kind)
    if token:
        request.add_header("Authorization", f"Token {token}")
    try:
        with opener.open(request, timeout=REQUEST_GUARD) as response:
            return Answer(response.status, response.headers, response.read())
    except urllib.error.HTTPError as exc:
        return Answer(exc.code, exc.headers, exc.read())


def _api(url: str, data: dict | None = None, token: str | None = None) -> Answer:
    return _call(urllib.request.build_opener(), url, data, token)


def _until(check, *, what: str, guard: float = RECOVERY_GUARD):
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

    def __init__(self, tmp: Path):
        self.mongo = embedded.EmbeddedMongo(data_dir=tmp / "mongodb").start()
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
        self.log = tmp / "serve.log"
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "manage.py", "serve"], cwd=BASE_DIR, env=self.env, stdout=out, stderr=subprocess.STDOUT
            )
        _until(lambda: self._alive() and _api(f"{self.base}/ready").status == 200, what="serve ready", guard=180)
        self.tokens = {user: self.token(user) for user in ("bbb", "jjj")}

    def _alive(self) -> bool:
        assert self.proc.poll() is None, self.log.read_text()[-5000:]
        return True

    def token(self, username: str) -> str:
        answer = _api(f"{self.base}/api/v1/auth/token/", {"username": username, "password": PASSWORD})
        assert answer.status == 200, answer.body
        return answer.json()["token"]

    def session(self, username: str, login_path: str = "/api-auth/login/"):
        """A browser's cookie session, logged in through a login form."""
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
        page = _call(opener, f"{self.base}{login_path}")
        csrf = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page.body).group(1).decode()
        form = {"username": username, "password": PASSWORD, "csrfmiddlewaretoken": csrf, "next": "/api/v1/"}
        answer = _call(opener, f"{self.base}{login_path}", form=form)
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
        answer = _api(f"{self.base}/api/v1/provision-requests/", body, self.tokens["bbb"])
        assert answer.status == 201, answer.body
        return answer.json()["id"]

    def approve(self, pk: str) -> Answer:
        return _api(f"{self.base}/api/v1/provision-requests/{pk}/approve/", {"note": "ok"}, self.tokens["jjj"])

    def status(self, pk: str) -> str:
        return _api(f"{self.base}/api/v1/provision-requests/{pk}/", token=self.tokens["bbb"]).json()["status"]

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


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    started = Stack(tmp_path_factory.mktemp("outages"))
    try:
        yield started
    finally:
        started.stop()


def _assert_503_json(answer: Answer) -> None:
    assert answer.status == 503, answer.body[:500]
    assert int(answer.headers["Retry-After"]) > 0
    body = answer.json()
    assert body == {"error": body["error"], "code": "unavailable", "status": 503}
    assert "database" in body["error"]


def test_mongodb_down_is_a_503_with_retry_after_everywhere_and_recovers(stack):
    bbb, jjj = stack.tokens["bbb"], stack.tokens["jjj"]
    admin = stack.session("jjj")
    portal = stack.session("bbb")
    assert _call(admin, f"{stack.base}/admin/").status == 200
    stack.mongo.stop()
    try:
        _assert_503_json(_api(f"{stack.base}/api/v1/templates/", token=bbb))
        _assert_503_json(_api(f"{stack.base}/api/v1/provision-requests/", {"template": "x"}, bbb))
        _assert_503_json(_api(f"{stack.base}/api/v1/users/me/", token=jjj))
        _assert_503_json(_api(f"{stack.base}/api/v1/auth/token/", {"username": "bbb", "password": PASSWORD}))
        _assert_503_json(_api(f"{stack.base}/configs", token=bbb))
        for opener, path in (
            (admin, "/admin/"),
            (admin, "/admin/provisioning/provisionrequest/"),
            (portal, "/portal/environments/"),
        ):
            page = _call(opener, f"{stack.base}{path}")
            assert page.status == 503, (path, page.status, page.body[:300])
            assert page.headers["Content-Type"].startswith("text/html")
            assert int(page.headers["Retry-After"]) > 0
            assert b"Service unavailable" in page.body
        assert _api(f"{stack.base}/ready").status == 503
        assert _api(f"{stack.base}/health").status == 200  # alive: nothing to restart
    finally:
        stack.mongo.start()
    _until(lambda: _api(f"{stack.base}/api/v1/templates/", token=bbb).status == 200, what="API back")
    assert _call(admin, f"{stack.base}/admin/").status == 200
    assert _api(f"{stack.base}/ready").status == 200


def test_redis_down_submissions_and_reviews_succeed_and_everything_is_delivered_after(stack):
    db = stack.db()
    since = db.command("hello")["localTime"]
    stack.redis.stop()
    try:
        pk = stack.submit("redis-outage")
        approved = stack.approve(pk)
        assert approved.status == 200, approved.body
        assert approved.json()["status"] == "APPROVED"
        ready = _api(f"{stack.base}/ready")  # still serving writes: the web pods stay in service
        assert (ready.status, ready.json()["status"], ready.json()["checks"]["redis"]["status"]) == (
            200,
            "degraded",
            "error",
        )
        assert db.notifications_delivery.count_documents({"created_at": {"$gte": since}}) >= 1
    finally:
        stack.redis.start()  # empty: the jobs were never enqueued
    _until(lambda: stack.status(pk) == "DEPLOYED", what="provisioned after Redis came back")
    assert len([c for c in stack.eks().list_clusters()["clusters"] if "redis-outage" in c]) == 1
    # Every email written while Redis was down (approval, review request) is sent once it is back.
    _until(
        lambda: db.notifications_delivery.count_documents({"created_at": {"$gte": since}, "status": "PENDING"}) == 0,
        what="deliveries sent",
    )
    assert db.notifications_delivery.count_documents({"created_at": {"$gte": since}, "status": "SENT"}) >= 1
    assert db.notifications_delivery.count_documents({"created_at": {"$gte": since}, "status": "FAILED"}) == 0


def _horse_talking_to_aws(stack) -> psutil.Process:
    """The work horse of the provisioning worker that has a connection open to the AWS emulator."""
    moto_port = int(stack.env["EMBEDDED_MOTO_PORT"])

    def find():
        for worker in stack.children("provisioning"):
            for child in worker.children(recursive=True):
                try:
                    if any(c.raddr and c.raddr.port == moto_port for c in child.net_connections(kind="tcp")):
                        return child
                except psutil.Error:
                    continue
        return None

    return _until(find, what="a horse calling AWS", guard=120)


def _provision_and_kill(stack, name: str, kill) -> tuple[str, float]:
    """Approve a request while the AWS emulator is frozen (so that its job hangs in mid-call), kill
    (``kill(horse)``), let the emulator go on; returns the request and the seconds it took from the
    kill to DEPLOYED."""
    pk = stack.submit(name)
    moto = stack.moto()
    moto.suspend()
    try:
        assert stack.approve(pk).status == 200
        horse = _horse_talking_to_aws(stack)
        assert stack.status(pk) == "INITIATED"
        kill(horse)
        killed_at = time.monotonic()
    finally:
        moto.resume()
    _until(lambda: stack.status(pk) == "DEPLOYED", what=f"{name} resumed and deployed")
    return pk, time.monotonic() - killed_at


def test_a_killed_work_horse_is_noticed_and_its_request_resumed(stack):
    _pk, seconds = _provision_and_kill(stack, "horse-killed", lambda horse: horse.send_signal(signal.SIGKILL))
    print(f"\nkilled work horse: DEPLOYED {seconds:.1f} s after the kill")  # the README's figure
    assert len([c for c in stack.eks().list_clusters()["clusters"] if "horse-killed" in c]) == 1
    assert stack.children("provisioning")  # the worker carried on


def test_a_killed_worker_is_started_again_and_its_request_resumed(stack):
    def kill_worker(horse: psutil.Process) -> None:
        worker = horse.parent()
        assert "rqworker" in worker.cmdline()
        worker.send_signal(signal.SIGKILL)  # its horse dies with it (cloudassist/worker.py)
        psutil.wait_procs([horse], timeout=30)
        assert not horse.is_running() or horse.status() == psutil.STATUS_ZOMBIE

    pk, seconds = _provision_and_kill(stack, "worker-killed", kill_worker)
    print(f"\nkilled worker and horse: DEPLOYED {seconds:.1f} s after the kill")
    assert len([c for c in stack.eks().list_clusters()["clusters"] if "worker-killed" in c]) == 1
    events = _api(f"{stack.base}/api/v1/provision-requests/{pk}/events/?page_size=200", token=stack.tokens["bbb"])
    actions = [event["action"] for event in events.json()["results"]]
    assert actions.count("start_provisioning") == 1
    assert actions.count("mark_deployed") == 1
