"""The long-poll watch, `GET /configs/{name}?wait=...&version=N`, over real HTTP: the production
server (`python -m cloudassist.serving`, gunicorn with gevent workers) runs in a child process,
against the test run's MongoDB, Redis and test database."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.test import Client

from cloudassist import embedded
from cloudassist import services as core_services
from cloudassist.testing.server import running_server
from configs import services
from configs.api.watch import parse_wait

pytestmark = pytest.mark.django_db(transaction=True)

LONG_WAIT = 20  # seconds; X-CloudAssist-Watch says whether an answer came on a change or at the end


class Answer:
    def __init__(self, status: int, headers, body: bytes, seconds: float):
        self.status = status
        self.headers = headers
        self.body = json.loads(body) if body else None
        self.seconds = seconds
        self.finished = time.monotonic()


def call(url: str, *, token: str | None = None, method: str = "GET", data=None, headers=None) -> Answer:
    request = urllib.request.Request(url, method=method, data=json.dumps(data).encode() if data is not None else None)
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Token {token}")
    for key, value in (headers or {}).items():
        request.add_header(key, value)
    started = time.monotonic()
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return Answer(response.status, response.headers, response.read(), time.monotonic() - started)
    except urllib.error.HTTPError as exc:
        return Answer(exc.code, exc.headers, exc.read(), time.monotonic() - started)


def in_background(function, *args, **kwargs) -> dict:
    """Run ``function`` in a thread; the returned dict gets "answer" when it is done."""
    result: dict = {}

    def run():
        result["answer"] = function(*args, **kwargs)

    result["thread"] = thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return result


def waiting(server) -> int:
    """How many watches the server has waiting, past their first read (its gauge on /metrics)."""
    return int(server.metric("cloudassist_config_watches_waiting"))


def wait_for_waiters(server, count: int, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while (now := waiting(server)) < count:
        assert time.monotonic() < deadline, f"{now} of {count} watches are waiting"
        time.sleep(0.05)


@pytest.fixture(scope="module")
def running(django_db_setup):
    with running_server() as started:
        yield started


@pytest.fixture
def server(running):
    return running.url


@pytest.fixture
def token(dev_user) -> str:
    return core_services.issue_token(user=dev_user)[1]


@pytest.fixture
def entry(dev_user):
    return services.create(actor=dev_user, name="app.settings", data={"replicas": 1})


def test_a_watch_returns_as_soon_as_the_entry_changes(server, running, token, entry):
    pending = in_background(call, f"{server}/configs/app.settings?wait={LONG_WAIT}s&version=1", token=token)
    wait_for_waiters(running, 1)
    # Written over HTTP with a token, as a client would (no CSRF cookie needed).
    written = call(
        f"{server}/configs/app.settings",
        token=token,
        method="PUT",
        data={"name": "app.settings", "data": {"replicas": 2}},
    )
    assert written.status == 200, written.body
    pending["thread"].join(LONG_WAIT + 10)

    answer = pending["answer"]
    assert answer.status == 200
    assert answer.body["version"] == 2
    assert answer.body["data"] == {"replicas": 2}
    assert answer.headers["ETag"] == '"2"'
    assert answer.headers["X-CloudAssist-Watch"] == "changed"  # woken by the write, not by the end of the wait


def test_a_watch_with_nothing_changing_returns_the_current_entry_when_the_wait_ends(server, token, entry):
    answer = call(f"{server}/api/v1/configs/app.settings/?wait=1s&version=1", token=token)

    assert answer.status == 200
    assert answer.body["version"] == 1
    assert answer.body["data"] == {"replicas": 1}
    assert answer.headers["X-CloudAssist-Watch"] == "timeout"


def test_a_client_behind_gets_the_current_entry_at_once(server, token, entry, dev_user):
    services.replace(actor=dev_user, name="app.settings", data={"replicas": 3})

    answer = call(f"{server}/configs/app.settings?wait={LONG_WAIT}s&version=1", token=token)

    assert answer.status == 200
    assert answer.body["version"] == 2
    assert answer.headers["X-CloudAssist-Watch"] == "changed"


def test_without_version_it_waits_for_the_next_change_after_the_first_read(server, running, token, entry, dev_user):
    pending = in_background(call, f"{server}/configs/app.settings?wait={LONG_WAIT}s", token=token)
    wait_for_waiters(running, 1)
    services.patch(actor=dev_user, name="app.settings", document={"debug": True}, json_patch=False)
    pending["thread"].join(LONG_WAIT + 10)

    answer = pending["answer"]
    assert (answer.status, answer.body["version"]) == (200, 2)
    assert answer.body["data"] == {"replicas": 1, "debug": True}
    assert answer.headers["X-CloudAssist-Watch"] == "changed"


def test_if_none_match_gives_the_version_and_a_304_when_nothing_changed(server, token, entry, dev_user):
    unchanged = call(f"{server}/configs/app.settings?wait=500ms", token=token, headers={"If-None-Match": '"1"'})
    assert unchanged.status == 304
    assert unchanged.headers["X-CloudAssist-Watch"] == "timeout"

    services.replace(actor=dev_user, name="app.settings", data={"replicas": 5})
    behind = call(f"{server}/configs/app.settings?wait={LONG_WAIT}s", token=token, headers={"If-None-Match": '"1"'})
    assert (behind.status, behind.body["version"]) == (200, 2)
    assert behind.headers["X-CloudAssist-Watch"] == "changed"


def test_an_entry_deleted_during_the_wait_is_a_404(server, running, token, entry):
    pending = in_background(call, f"{server}/configs/app.settings?wait={LONG_WAIT}s&version=1", token=token)
    wait_for_waiters(running, 1)
    assert call(f"{server}/configs/app.settings", token=token, method="DELETE").status == 204
    pending["thread"].join(LONG_WAIT + 10)

    answer = pending["answer"]
    assert answer.status == 404
    assert answer.body["error"] == "Not found"


@pytest.mark.parametrize("wait", ["soon", "0s", "-1s", "301s", "6m", "30x", ""])
def test_a_bad_wait_is_a_400_naming_it(server, token, entry, wait):
    answer = call(f"{server}/configs/app.settings?wait={wait}&version=1", token=token)

    assert answer.status == 400
    assert answer.body["code"] == "invalid"
    assert list(answer.body["fields"]) == ["wait"]
    assert "at most 300s" in answer.body["fields"]["wait"][0]


def test_a_bad_version_is_a_400_naming_it(server, token, entry):
    answer = call(f"{server}/configs/app.settings?wait=1s&version=latest", token=token)

    assert answer.status == 400
    assert list(answer.body["fields"]) == ["version"]


def test_unknown_unreadable_and_anonymous(server, token, entry, make_user):
    unknown = call(f"{server}/configs/nope?wait=10s", token=token)
    assert (unknown.status, unknown.body["error"]) == (404, "Not found")

    stranger = core_services.issue_token(user=make_user("stranger", "dev"))[1]
    unreadable = call(f"{server}/configs/app.settings?wait=10s", token=stranger)
    assert (unreadable.status, unreadable.body["error"]) == (404, "Not found")

    anonymous = call(f"{server}/configs/app.settings?wait=10s")
    assert anonymous.status == 401
    assert anonymous.body["status"] == 401
    assert "X-CloudAssist-Watch" not in anonymous.headers


def test_many_waiting_watches_hold_no_thread(server, running, token, entry):
    """200 watches wait at once in one worker process, holding no OS thread each; a plain GET still
    answers while they wait; one write wakes them all."""
    count = 200
    url = f"{server}/configs/app.settings?wait={LONG_WAIT}s&version=1"
    call(f"{server}/configs/app.settings", token=token)  # the worker's own threads (pools) exist from here on
    (worker,) = running.workers()
    baseline = worker.num_threads()
    with ThreadPoolExecutor(max_workers=count) as pool:
        futures = [pool.submit(call, url, token=token) for _ in range(count)]
        wait_for_waiters(running, count, timeout=60)
        threads_while_waiting = worker.num_threads()
        plain = call(f"{server}/configs/app.settings", token=token)
        still_waiting = waiting(running)
        written = call(
            f"{server}/configs/app.settings",
            token=token,
            method="PUT",
            data={"name": "app.settings", "data": {"replicas": 9}},
        )
        answers = [future.result(timeout=LONG_WAIT + 30) for future in futures]

    assert threads_while_waiting - baseline < 5  # greenlets, not one OS thread per waiting client
    assert plain.status == 200
    assert plain.body["version"] == 1
    assert still_waiting == count  # the plain GET answered while all of them were still waiting
    assert written.status == 200
    assert [answer.status for answer in answers] == [200] * count
    assert {answer.body["version"] for answer in answers} == {2}
    assert {answer.headers["X-CloudAssist-Watch"] for answer in answers} == {"changed"}
    assert waiting(running) == 0
    woken = max(answer.finished for answer in answers) - (written.finished - written.seconds)
    print(
        f"\n{count} waiting watches: worker threads {baseline} -> {threads_while_waiting}; a plain GET meanwhile "
        f"{plain.seconds * 1000:.0f} ms; all {count} answered {woken * 1000:.0f} ms after the PUT was sent"
    )


def test_stopping_the_server_answers_waiting_watches_at_once(token, entry, settings):
    """SIGTERM (a rollout): waiting watches get the entry as it is (timeout), not a cut connection."""
    with running_server() as stopping:
        # The longest wait allowed, far beyond the joins below: an answer at all means the stop gave it.
        url = f"{stopping.url}/configs/app.settings?wait={settings.CONFIG_MAX_WAIT_SECONDS}s&version=1"
        pending = [in_background(call, url, token=token) for _ in range(3)]
        wait_for_waiters(stopping, 3)
        stopping.process.terminate()
        for item in pending:
            item["thread"].join(LONG_WAIT + 10)
        assert stopping.process.wait(timeout=15) == 0

    assert not any(item["thread"].is_alive() for item in pending), "a watch was still waiting after the stop"
    answers = [item["answer"] for item in pending]
    assert [answer.status for answer in answers] == [200] * 3
    assert {answer.headers["X-CloudAssist-Watch"] for answer in answers} == {"timeout"}


def test_without_redis_a_change_is_seen_by_polling(token, entry, dev_user, settings):
    dead_redis = f"redis://127.0.0.1:{embedded.free_port()}/0"  # nothing listens there
    settings.REDIS_URL = dead_redis  # this process's announcement fails too
    with running_server(env={"REDIS_URL": dead_redis, "CONFIG_WATCH_POLL_SECONDS": "0.2"}) as polling:
        url = f"{polling.url}/configs/app.settings?wait={LONG_WAIT}s&version=1"
        pending = in_background(call, url, token=token)
        wait_for_waiters(polling, 1)
        services.replace(actor=dev_user, name="app.settings", data={"replicas": 4})
        pending["thread"].join(LONG_WAIT + 10)

    answer = pending["answer"]
    assert (answer.status, answer.body["version"]) == (200, 2)
    assert answer.headers["X-CloudAssist-Watch"] == "changed"


def test_the_async_detail_view_needs_csrf_for_sessions_only(token, entry, dev_user):
    """`detail` (which dispatches to the watch) is csrf_exempt like DRF's views: token clients
    write without a CSRF token, session users still need one (DRF's SessionAuthentication)."""
    client = Client(enforce_csrf_checks=True)
    body = json.dumps({"name": "app.settings", "data": {"replicas": 2}})
    with_token = client.put(
        "/configs/app.settings", body, content_type="application/json", HTTP_AUTHORIZATION=f"Token {token}"
    )
    assert with_token.status_code == 200

    client.force_login(dev_user)
    with_session = client.put("/configs/app.settings", body, content_type="application/json")
    assert with_session.status_code == 403
    assert "CSRF" in with_session.json()["error"]


@pytest.mark.parametrize(
    ("value", "seconds"), [("30s", 30), ("2m", 120), ("500ms", 0.5), ("1.5", 1.5), ("300", 300), (" 10s ", 10)]
)
def test_wait_durations(value, seconds):
    assert parse_wait(value) == seconds
