"""cloudassist/api/token_cache.py: tokens authenticated from memory, dropped at once on every cause
(revocation, expiry, deactivation, a new password, a role change, a deletion), never across users.

The suite's own direct writes normally reset the caches at once (cloudassist/testing/mongo.py
``LocalWrites``); these tests turn that off, so what they see is what the services publish in this
process and what the change stream brings from other writers."""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.utils import timezone
from rest_framework.test import APIClient

from cloudassist import changes, roles, services
from cloudassist.api.token_cache import CACHE
from cloudassist.models import ApiToken, token_digest
from cloudassist.testing.mongo import LOCAL_WRITES

ME = "/api/v1/users/me/"
GUARD_SECONDS = 20  # generous: the change stream normally delivers in milliseconds


@pytest.fixture
def cache(db):
    CACHE.clear()
    assert changes.wait_started(GUARD_SECONDS), "the change feed did not start"
    with LOCAL_WRITES.feed_only():
        yield CACHE
    CACHE.clear()


def _client(raw: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {raw}")
    return client


def _cached(cache, raw: str) -> APIClient:
    """A client whose token is in the cache. Its first request writes last_used_at (which drops it
    once), and the stream may still bring the fixtures' own writes (a new role membership drops
    everything): ask until it stays."""
    client = _client(raw)
    deadline = time.monotonic() + GUARD_SECONDS
    while token_digest(raw) not in cache.entries:
        assert client.get(ME).status_code == 200
        assert time.monotonic() < deadline, "never cached"
        time.sleep(0.01)
    return client


def _until_refused(client: APIClient) -> dict:
    """Poll until the feed has dropped the token (a guard, not a timing assertion)."""
    deadline = time.monotonic() + GUARD_SECONDS
    while True:
        response = client.get(ME)
        if response.status_code == 401:
            return response.json()
        assert response.status_code == 200
        assert time.monotonic() < deadline, "still accepted"
        time.sleep(0.01)


def test_a_cached_token_sends_no_mongodb_command_to_authenticate(cache, dev_user, mongo_commands):
    raw = services.issue_token(user=dev_user)[1]
    client = _cached(cache, raw)
    with mongo_commands() as seen:
        response = client.get(ME)
    assert response.status_code == 200
    assert response.json()["username"] == "dev1"
    assert not seen.named("aggregate", ApiToken._meta.db_table), seen.summary()
    assert not seen.on(get_user_model()._meta.db_table), seen.summary()


def test_hits_build_new_instances_and_never_cross_users(cache, dev_user, other_dev):
    mine, theirs = services.issue_token(user=dev_user)[1], services.issue_token(user=other_dev)[1]
    me, them = _cached(cache, mine), _cached(cache, theirs)
    assert me.get(ME).json()["username"] == "dev1"
    assert them.get(ME).json()["username"] == "dev2"
    first = cache.get(token_digest(mine))
    second = cache.get(token_digest(mine))
    assert first[1] is not second[1]
    assert first[0] is not second[0]
    first[1].username = "changed"
    first[1]._role_names.add(roles.ADMIN)
    assert me.get(ME).json()["username"] == "dev1"
    assert roles.ADMIN not in cache.get(token_digest(mine))[1]._role_names


def test_unknown_tokens_are_never_cached(cache, dev_user):
    assert _client("x" * 40).get(ME).status_code == 401
    assert not cache.entries


# --- each cause, through the service in this process (publish_local) ------------------------------


def test_revoking_a_token_refuses_it_at_once(cache, dev_user):
    token, raw = services.issue_token(user=dev_user)
    client = _cached(cache, raw)
    services.revoke_token(user=dev_user, token_id=token.pk)
    assert client.get(ME).status_code == 401


def test_logout_refuses_the_token_at_once(cache, dev_user):
    client = _cached(cache, services.issue_token(user=dev_user)[1])
    assert client.post("/api/v1/auth/logout/").status_code == 204
    assert client.get(ME).status_code == 401


def test_deactivating_the_user_refuses_the_token_at_once(cache, dev_user, admin_user):
    client = _cached(cache, services.issue_token(user=dev_user)[1])
    services.update_user(user=dev_user, actor=admin_user, is_active=False)
    response = client.get(ME)
    assert (response.status_code, response.json()["error"]) == (401, "User inactive or deleted.")


def test_a_new_password_refuses_the_token_at_once(cache, dev_user):
    client = _cached(cache, services.issue_token(user=dev_user)[1])
    services.change_password(user=dev_user, password="another-Long-pass-42", reason="test")
    assert client.get(ME).status_code == 401


def test_a_role_change_is_seen_at_once(cache, dev_user, admin_user):
    client = _cached(cache, services.issue_token(user=dev_user)[1])
    assert client.get(ME).json()["roles"] == [roles.DEV]
    services.update_user(user=dev_user, actor=admin_user, groups=Group.objects.filter(name=roles.ADMIN))
    assert client.get(ME).json()["roles"] == [roles.ADMIN]


def test_deleting_the_user_refuses_the_token_at_once(cache, dev_user, admin_user):
    client = _cached(cache, services.issue_token(user=dev_user)[1])
    services.delete_user(user=get_user_model().objects.get(pk=dev_user.pk), actor=admin_user)
    assert client.get(ME).status_code == 401


def test_an_expired_token_is_refused_from_the_cache(cache, dev_user):
    _token, raw = services.issue_token(user=dev_user)
    client = _cached(cache, raw)
    entry = cache.entries[token_digest(raw)]
    names, values = entry.token_fields
    expired = tuple(
        timezone.now() - timedelta(seconds=1) if n == "expires_at" else v for n, v in zip(names, values, strict=True)
    )
    cache.entries[token_digest(raw)] = type(entry)(**{**entry.__dict__, "token_fields": (names, expired)})
    assert client.get(ME).json()["code"] == "token_expired"


def test_entries_live_at_most_the_configured_seconds(cache, dev_user, settings):
    _cached(cache, services.issue_token(user=dev_user)[1])
    settings.API_TOKEN_CACHE_SECONDS = 0.01  # every entry is too old now
    time.sleep(0.02)
    assert cache.get(next(iter(cache.entries))) is None


def test_the_cache_holds_at_most_the_configured_size(cache, dev_user, settings):
    settings.API_TOKEN_CACHE_SIZE = 2
    raws = [services.issue_token(user=dev_user)[1] for _ in range(3)]
    for raw in raws:
        _cached(cache, raw)
    assert list(cache.entries) == [token_digest(raw) for raw in raws[1:]]  # the least recently used went


# --- each cause, written by another process (the change stream) ------------------------------------


def test_writes_elsewhere_reach_the_cache_through_the_change_stream(cache, dev_user, make_user):
    token, raw = services.issue_token(user=dev_user)
    client = _cached(cache, raw)
    ApiToken.objects.filter(pk=token.pk).delete()  # as another process would: no publish_local here
    assert _until_refused(client)["error"] == "Invalid token."

    client = _cached(cache, services.issue_token(user=dev_user)[1])
    get_user_model().objects.filter(pk=dev_user.pk).update(is_active=False)
    assert _until_refused(client)["error"] == "User inactive or deleted."

    other = make_user("dev3", roles.DEV)
    client = _cached(cache, services.issue_token(user=other)[1])
    get_user_model().groups.through.objects.filter(user_id=other.pk).delete()
    deadline = time.monotonic() + GUARD_SECONDS
    while cache.entries:
        assert time.monotonic() < deadline, "the membership change did not drop the cache"
        time.sleep(0.01)


def test_a_reset_of_the_feed_drops_everything(cache, dev_user):
    _cached(cache, services.issue_token(user=dev_user)[1])
    changes.publish_local(ApiToken._meta.db_table, None, operation="reset")
    assert not cache.entries


def test_nothing_is_cached_from_a_read_that_raced_an_invalidation(cache, dev_user):
    token, raw = services.issue_token(user=dev_user)
    generation = cache.fill_generation()
    found = (token, dev_user)
    dev_user._role_names = {roles.DEV}
    changes.publish_local(ApiToken._meta.db_table, token.pk)  # a change while MongoDB was read
    cache.put(token_digest(raw), *found, generation)
    assert not cache.entries


def test_nothing_is_cached_while_the_feed_is_down(cache, dev_user, monkeypatch):
    monkeypatch.setattr(changes, "ensure_started", lambda: False)
    client = _client(services.issue_token(user=dev_user)[1])
    assert client.get(ME).status_code == 200
    assert not cache.entries


# --- sessions and tokens share one rule --------------------------------------------------------------


def test_a_deactivated_users_session_ends_at_once_too(cache, dev_user, admin_user, client):
    from conftest import PASSWORD

    assert client.login(username="dev1", password=PASSWORD)
    assert client.get(ME).status_code == 200
    services.update_user(user=dev_user, actor=admin_user, is_active=False)
    assert client.get(ME).status_code in (401, 403)


# --- the real server: two worker processes ---------------------------------------------------------


def _aggregates(server) -> float:
    """MongoDB aggregates sent by the server's workers so far (the token lookup is one)."""
    return server.metric("cloudassist_mongodb_command_duration_seconds_count", command="aggregate")


def _statuses(url: str, raw: str, count: int) -> list[int]:
    def get(_):
        request = urllib.request.Request(url, headers={"Authorization": f"Token {raw}"})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status
        except urllib.error.HTTPError as exc:
            return exc.code

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(get, range(count)))


@pytest.mark.django_db(transaction=True)
def test_a_revoked_token_is_refused_by_every_worker_of_the_real_server(dev_user, tmp_path):
    from cloudassist.testing.server import running_server

    _, revoker = services.issue_token(user=dev_user)
    victim, raw = services.issue_token(user=dev_user)
    with (tmp_path / "server.log").open("w") as log, running_server(workers=2, log=log) as server:
        assert len(server.workers()) == 2
        # Warm both workers: rounds of concurrent requests until a whole round sends no aggregate
        # (every worker that answered it had the token in memory).
        scrape = -_aggregates(server) + _aggregates(server)  # what reading /metrics sends itself
        deadline = time.monotonic() + 60
        while True:
            before = _aggregates(server)
            assert _statuses(f"{server.url}{ME}", raw, 40) == [200] * 40
            if _aggregates(server) - before <= scrape:
                break
            assert time.monotonic() < deadline, "the workers never answered from memory"
            time.sleep(0.2)

        # Revoke through one request, then poll through many (both workers) until all refuse.
        request = urllib.request.Request(
            f"{server.url}/api/v1/auth/tokens/{victim.pk}/",
            method="DELETE",
            headers={"Authorization": f"Token {revoker}"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            assert response.status == 204
        revoked = time.monotonic()
        while True:
            statuses = _statuses(f"{server.url}{ME}", raw, 20)
            if statuses == [401] * 20:
                break
            assert set(statuses) <= {200, 401}
            assert time.monotonic() - revoked < GUARD_SECONDS, "a worker kept accepting the revoked token"
        elapsed = time.monotonic() - revoked
        for _ in range(3):  # and it stays refused everywhere
            assert _statuses(f"{server.url}{ME}", raw, 20) == [401] * 20
        print(f"revoked token refused by every worker {elapsed * 1000:.0f} ms after the revoking request")
