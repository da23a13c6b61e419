"""configs/cache.py: GET /configs/{name} from memory, kept true by the change feed (cloudassist/changes.py)
against the suite's real MongoDB. No timing assertions: foreign writes are polled for with a generous
guard; what must never happen (a stale read after the writer's own 2xx) is made deterministic by
holding the feed."""

from __future__ import annotations

import dataclasses
import json
import threading
import time
import urllib.error
import urllib.request
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from cloudassist import changes, roles
from cloudassist import services as core_services
from cloudassist.testing.server import running_server
from configs import services
from configs.cache import Entry, cache
from configs.models import Config

CONFIGS = "configs_config"
GUARD_SECONDS = 20  # generous: the machine is shared; the feed normally answers in milliseconds


def fresh_client(user) -> APIClient:
    """A client for a freshly loaded user (nothing cached on it, as with a real request)."""
    client = APIClient()
    client.force_authenticate(get_user_model().objects.get(pk=user.pk))
    return client


def eventually(check, what: str):
    deadline = time.monotonic() + GUARD_SECONDS
    while not (found := check()):
        assert time.monotonic() < deadline, f"not within {GUARD_SECONDS} s: {what}"
        time.sleep(0.02)
    return found


@pytest.fixture
def feed(db):
    # Every cache subscribed first (the token cache does on its first import), as after a server's
    # first request: a new subscription reopens the stream, and nothing is cached while it reopens.
    from cloudassist.api import authentication  # noqa: F401

    assert changes.wait_started(GUARD_SECONDS), "the change feed did not start"


@pytest.fixture
def entries(feed, dev_user, other_dev):
    services.create(actor=dev_user, name="app", data={"retries": 3}, labels={"env": "prod"})
    services.create(actor=other_dev, name="shared", data={"a": 1}, read_roles=[roles.DEV])
    services.create(actor=other_dev, name="private", data={"secret": 1})
    _caught_up(other_dev)


def _caught_up(actor) -> None:
    """Wait until the feed has delivered every write made so far (events come in order: once a
    marker written now arrives, the earlier ones have), so that none drops an entry cached later."""
    seen, keys = threading.Event(), []

    def note(change: changes.Change) -> None:
        keys.append(change.key)
        if marker and change.key == marker[0]:
            seen.set()

    marker: list = []
    changes.subscribe(CONFIGS, note)
    try:
        marker.append(services.create(actor=actor, name="zz.feed-marker", data=0).pk)
        if marker[0] in keys:
            seen.set()
        assert seen.wait(GUARD_SECONDS), "the feed did not deliver the marker"
    finally:
        changes.unsubscribe(CONFIGS, note)


@pytest.mark.django_db
def test_a_cached_get_sends_no_command_for_the_entry(entries, dev_user, mongo_commands):
    client = fresh_client(dev_user)
    with mongo_commands() as first:
        loaded = client.get("/configs/shared")
    assert loaded.status_code == 200
    assert len(first.on(CONFIGS)) == 1  # the load
    assert "shared" in cache()
    for base in ("/configs", "/api/v1/configs"):
        with mongo_commands() as seen:
            response = client.get(f"{base}/shared")
        assert seen.commands == []  # the entry, its owner's name and the reader's roles: all in memory
        assert (response.status_code, response.content, response["ETag"]) == (200, loaded.content, '"1"')
        assert response.json()["owner"] == "dev2"


@pytest.mark.django_db
def test_the_cached_answer_is_the_uncached_one(entries, dev_user, settings):
    settings.CONFIG_CACHE_ENTRIES = 0  # off: every GET reads the database and renders
    uncached = fresh_client(dev_user).get("/configs/app")
    assert "app" not in cache()
    settings.CONFIG_CACHE_ENTRIES = 10
    client = fresh_client(dev_user)
    client.get("/configs/app")
    assert "app" in cache()
    cached = client.get("/configs/app")
    assert cached.content == uncached.content
    for header in ("Content-Type", "ETag", "Allow", "Vary"):
        assert cached.get(header) == uncached.get(header), header
    # If-None-Match from the cache, as from the database.
    assert client.get("/configs/app", HTTP_IF_NONE_MATCH='"1"').status_code == 304
    assert client.get("/configs/app", HTTP_IF_NONE_MATCH='W/"1"')["ETag"] == '"1"'
    assert client.get("/configs/app", HTTP_IF_NONE_MATCH='"0"').status_code == 200
    # The browsable API is rendered per request, as before.
    html = client.get("/configs/app", HTTP_ACCEPT="text/html")
    assert (html.status_code, html["Content-Type"].split(";")[0]) == (200, "text/html")


@pytest.mark.django_db
def test_access_is_checked_on_every_cached_read(entries, dev_user, other_dev, make_user, mongo_commands):
    # Every user exists first: a user written in the test process resets the caches (LocalWrites).
    reader, stranger = fresh_client(dev_user), fresh_client(make_user("ops9", roles.DEVOPS))
    owner = fresh_client(other_dev)
    assert owner.get("/configs/private").status_code == 200
    assert owner.get("/configs/shared").status_code == 200
    assert "private" in cache()
    assert "shared" in cache()

    with mongo_commands() as seen:
        assert reader.get("/configs/private").status_code == 404  # cached, not theirs
        assert stranger.get("/configs/shared").status_code == 404  # cached, not their role
        assert reader.get("/configs/shared").status_code == 200
    assert not seen.on(CONFIGS)
    assert fresh_client(make_user("root", roles.ADMIN)).get("/configs/private").status_code == 200

    # The owner takes the role away: the reader gets a 404 at once (the write dropped the entry here).
    body = {"name": "shared", "data": {"a": 2}, "read_roles": []}
    assert owner.put("/configs/shared", body, format="json").status_code == 200
    assert reader.get("/configs/shared").status_code == 404
    assert owner.get("/configs/shared").json()["data"] == {"a": 2}


@pytest.mark.django_db
def test_a_write_from_another_process_is_seen_through_the_feed(entries, dev_user, other_client):
    client = fresh_client(dev_user)
    assert client.get("/configs/app").json()["version"] == 1
    assert "app" in cache()
    other_client[CONFIGS].update_one({"name": "app"}, {"$set": {"data": {"retries": 9}, "version": 2}})
    fresh = eventually(lambda: (r := client.get("/configs/app")).json()["version"] == 2 and r, "the new version")
    assert (fresh.json()["data"], fresh["ETag"]) == ({"retries": 9}, '"2"')

    other_client[CONFIGS].delete_one({"name": "app"})
    eventually(lambda: client.get("/configs/app").status_code == 404, "the delete")


@pytest.mark.django_db
def test_the_owners_new_name_is_seen_through_the_feed(entries, dev_user, other_dev, other_client):
    client = fresh_client(dev_user)
    assert client.get("/configs/shared").json()["owner"] == "dev2"
    other_client["auth_user"].update_one({"_id": other_dev.pk}, {"$set": {"username": "dev2b"}})
    eventually(lambda: client.get("/configs/shared").json()["owner"] == "dev2b", "the owner's new name")


class FeedGate:
    """Holds this process's change feed: its thread blocks in a subscriber of a collection of its own
    until released, so nothing behind that event is delivered meanwhile."""

    COLLECTION = "configs_test_feed_gate"

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()

    def __call__(self, change: changes.Change) -> None:
        if change.operation != "reset":
            self.entered.set()
            self.release.wait(GUARD_SECONDS)

    def __enter__(self):
        changes.subscribe(self.COLLECTION, self)
        assert changes.wait_started(GUARD_SECONDS)
        connection.get_collection(self.COLLECTION).insert_one({"hold": True})
        assert self.entered.wait(GUARD_SECONDS), "the feed did not reach the gate"
        return self

    def __exit__(self, *exc) -> None:
        self.release.set()
        changes.unsubscribe(self.COLLECTION, self)


@pytest.mark.django_db
@pytest.mark.parametrize("base", ["/configs", "/api/v1/configs"])
def test_a_writer_never_reads_stale_on_its_own_process(entries, dev_user, base):
    client = fresh_client(dev_user)
    assert client.get(f"{base}/app").json()["version"] == 1
    with FeedGate():  # the feed delivers nothing now: only the write itself can drop the entry
        for version, data in enumerate([{"retries": 4}, {"retries": 5}], start=2):
            assert client.put(f"{base}/app", {"name": "app", "data": data}, format="json").status_code == 200
            response = client.get(f"{base}/app")
            assert (response.json()["data"], response["ETag"]) == (data, f'"{version}"')
        assert client.patch(f"{base}/app", {"x": 1}, format="json").status_code == 200
        assert client.get(f"{base}/app").json()["data"] == {"retries": 5, "x": 1}
        assert client.post(f"{base}/app/rollback", {"version": 1}, format="json").status_code == 200
        assert client.get(f"{base}/app").json()["data"] == {"retries": 3}
        assert client.delete(f"{base}/app").status_code == 204
        assert client.get(f"{base}/app").status_code == 404
        assert client.post(base, {"name": "app", "data": "new"}, format="json").status_code == 201
        created = client.get(f"{base}/app")
        assert (created.json()["data"], created["ETag"]) == ("new", '"1"')


@pytest.mark.django_db
def test_a_feed_reset_drops_everything(entries, dev_user):
    client = fresh_client(dev_user)
    for name in ("app", "shared"):
        client.get(f"/configs/{name}")
    assert len(cache()) == 2
    changes.restart()  # as after an error: events may have been missed
    eventually(lambda: len(cache()) == 0, "the reset")
    assert cache().bytes == 0
    assert changes.wait_started(GUARD_SECONDS)
    assert client.get("/configs/app").status_code == 200
    assert "app" in cache()


@pytest.mark.django_db
def test_nothing_is_cached_while_the_feed_is_down(entries, dev_user, monkeypatch):
    monkeypatch.setattr(changes, "ensure_started", lambda: False)
    client = fresh_client(dev_user)
    assert client.get("/configs/app").json()["data"] == {"retries": 3}
    assert len(cache()) == 0


@pytest.mark.django_db
def test_bounds_evict_the_least_recently_read(feed, dev_user, settings):
    for index in range(5):
        services.create(actor=dev_user, name=f"e{index}", data="x" * 100)
    client = fresh_client(dev_user)
    settings.CONFIG_CACHE_ENTRIES = 3
    for name in ("e0", "e1", "e2", "e0", "e3"):  # e0 read again: e1 is the least recent
        assert client.get(f"/configs/{name}").status_code == 200
    assert [name for name in ("e0", "e1", "e2", "e3") if name in cache()] == ["e0", "e2", "e3"]

    size = next(iter(cache()._entries.values())).size
    settings.CONFIG_CACHE_ENTRIES, settings.CONFIG_CACHE_BYTES = 100, 2 * size
    client.get("/configs/e4")
    assert len(cache()) == 2
    assert cache().bytes <= 2 * size
    services.create(actor=dev_user, name="big", data="x" * 3 * size)
    assert client.get("/configs/big").status_code == 200
    assert "big" not in cache()  # larger than the whole bound alone: never kept
    assert cache().bytes <= 2 * size


@pytest.mark.django_db
def test_an_expired_cached_entry_is_gone(entries, dev_user):
    client = fresh_client(dev_user)
    client.get("/configs/app")
    held = cache().get("app")
    Config.objects.filter(name="app").update(expires_at=timezone.now() - timedelta(seconds=1))
    past = dataclasses.replace(held, expires_at=timezone.now() - timedelta(seconds=1))
    assert cache().put(past, generation=cache().generation())  # as if it had expired while cached
    assert client.get("/configs/app").status_code == 404
    assert "app" not in cache()


def test_a_load_that_raced_a_change_is_not_kept(settings):
    entry = Entry(pk=1, name="n", version=1, owner_id=None, read_roles=(), write_roles=(), expires_at=None, body=b"{}")
    store = type(cache())()
    before = store.generation()
    store.discard(1)  # a change arrived while the entry was being loaded
    assert not store.put(entry, generation=before)
    assert store.put(entry, generation=store.generation())
    store.discard(1)
    assert len(store) == 0
    assert store.bytes == 0


# --- the production server: two worker processes ---------------------------------------------------


def _call(url: str, *, token: str, method: str = "GET", data=None) -> tuple[int, dict, dict | None]:
    body = json.dumps(data).encode() if data is not None else None
    request = urllib.request.Request(url, method=method, data=body)
    request.add_header("Authorization", f"Token {token}")
    request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers), json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), json.loads(exc.read() or b"null")


def _hits(server) -> float:
    """Config GETs this server answered from memory (cloudassist_cache_gets_total, backend="configs")."""
    return server.metric("cloudassist_cache_gets_total", backend="configs", result="hit")


@pytest.mark.django_db(transaction=True)
def test_a_write_on_one_worker_reaches_the_other_and_never_reads_stale_on_its_own(dev_user):
    token = core_services.issue_token(user=dev_user)[1]
    services.create(actor=dev_user, name="app", data={"v": 1})
    # Two servers of one worker each: which process answers is certain (one server's two workers
    # share a socket, and the kernel picks).
    with running_server() as writer, running_server() as reader:
        # The reader holds version 1 in memory (its feed starts on its first request).
        eventually(lambda: _call(f"{reader.url}/configs/app", token=token)[0] == 200 and _hits(reader) > 0, "a hit")
        assert _call(f"{writer.url}/configs/app", token=token)[2]["version"] == 1
        for version in (2, 3, 4):
            data = {"name": "app", "data": {"v": version}}
            status, headers, _ = _call(f"{writer.url}/configs/app", token=token, method="PUT", data=data)
            assert (status, headers["ETag"]) == (200, f'"{version}"')
            status, headers, body = _call(f"{writer.url}/configs/app", token=token)  # the writer: at once
            assert (status, headers["ETag"], body["data"]) == (200, f'"{version}"', {"v": version})
            eventually(
                lambda version=version: _call(f"{reader.url}/configs/app", token=token)[2]["version"] == version,
                f"version {version} on the other worker",
            )
        assert _call(f"{writer.url}/configs/app", token=token, method="DELETE")[0] == 204
        eventually(lambda: _call(f"{reader.url}/configs/app", token=token)[0] == 404, "the delete on the other worker")
