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

import signal
import time

import psutil
import pytest

from cloudassist.testing.stack import PASSWORD, Answer, Stack, api, call, until


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
    assert call(admin, f"{stack.base}/admin/").status == 200
    stack.mongo.stop()
    try:
        _assert_503_json(api(f"{stack.base}/api/v1/templates/", token=bbb))
        _assert_503_json(api(f"{stack.base}/api/v1/provision-requests/", {"template": "x"}, bbb))
        _assert_503_json(api(f"{stack.base}/api/v1/users/me/", token=jjj))
        _assert_503_json(api(f"{stack.base}/api/v1/auth/token/", {"username": "bbb", "password": PASSWORD}))
        _assert_503_json(api(f"{stack.base}/configs", token=bbb))
        for opener, path in (
            (admin, "/admin/"),
            (admin, "/admin/provisioning/provisionrequest/"),
            (portal, "/portal/environments/"),
        ):
            page = call(opener, f"{stack.base}{path}")
            assert page.status == 503, (path, page.status, page.body[:300])
            assert page.headers["Content-Type"].startswith("text/html")
            assert int(page.headers["Retry-After"]) > 0
            assert b"Service unavailable" in page.body
        assert api(f"{stack.base}/ready").status == 503
        assert api(f"{stack.base}/health").status == 200  # alive: nothing to restart
    finally:
        stack.mongo.start()
    until(lambda: api(f"{stack.base}/api/v1/templates/", token=bbb).status == 200, what="API back")
    assert call(admin, f"{stack.base}/admin/").status == 200
    assert api(f"{stack.base}/ready").status == 200


def test_redis_down_submissions_and_reviews_succeed_and_everything_is_delivered_after(stack):
    db = stack.db()
    since = db.command("hello")["localTime"]
    stack.redis.stop()
    try:
        pk = stack.submit("redis-outage")
        approved = stack.approve(pk)
        assert approved.status == 200, approved.body
        assert approved.json()["status"] == "APPROVED"
        ready = api(f"{stack.base}/ready")  # still serving writes: the web pods stay in service
        assert (ready.status, ready.json()["status"], ready.json()["checks"]["redis"]["status"]) == (
            200,
            "degraded",
            "error",
        )
        assert db.notifications_delivery.count_documents({"created_at": {"$gte": since}}) >= 1
    finally:
        stack.redis.start()  # empty: the jobs were never enqueued
    until(lambda: stack.status(pk) == "DEPLOYED", what="provisioned after Redis came back")
    assert len([c for c in stack.eks().list_clusters()["clusters"] if "redis-outage" in c]) == 1
    # Every email written while Redis was down (approval, review request) is sent once it is back.
    until(
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

    return until(find, what="a horse calling AWS", guard=120)


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
    until(lambda: stack.status(pk) == "DEPLOYED", what=f"{name} resumed and deployed")
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
    events = api(f"{stack.base}/api/v1/provision-requests/{pk}/events/?page_size=200", token=stack.tokens["bbb"])
    actions = [event["action"] for event in events.json()["results"]]
    assert actions.count("start_provisioning") == 1
    assert actions.count("mark_deployed") == 1
