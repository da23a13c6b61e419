"""The seed's /configs contract and the config server's additions, over the API."""

from __future__ import annotations

import json
import threading
from collections import Counter
from datetime import timedelta

import pytest
from django.db import connections
from django.utils import timezone
from rest_framework.test import APIClient

from cloudassist.testing.concurrency import race
from configs import services
from configs.models import Config, ConfigVersion

SEED = "/configs"
API = "/api/v1/configs"


@pytest.fixture
def created(dev_client):
    response = dev_client.post(SEED, {"name": "feature.flags", "data": {"dark_mode": True, "beta": {"a": 1}}})
    assert response.status_code == 201, response.json()
    return response


# --- the seed's contract --------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("base", [SEED, API])
def test_create_read_replace_delete(dev_client, base):
    created = dev_client.post(base, {"name": "app:prod", "data": {"retries": 3}}, format="json")
    assert created.status_code == 201
    assert created.json()["name"] == "app:prod"
    assert created.json()["data"] == {"retries": 3}
    assert created["ETag"] == '"1"'
    assert dev_client.get(f"{base}/app:prod").json()["data"] == {"retries": 3}
    replaced = dev_client.put(f"{base}/app:prod", {"name": "app:prod", "data": {"retries": 5}}, format="json")
    assert (replaced.json()["data"], replaced.json()["version"], replaced["ETag"]) == ({"retries": 5}, 2, '"2"')
    assert dev_client.delete(f"{base}/app:prod").status_code == 204
    gone = dev_client.get(f"{base}/app:prod")
    assert (gone.status_code, gone.json()["error"]) == (404, "Not found")


@pytest.mark.django_db
def test_the_seeds_error_bodies(dev_client, created):
    again = dev_client.post(SEED, {"name": "feature.flags", "data": 1}, format="json")
    assert (again.status_code, again.json()["error"]) == (409, "Already exists")
    for missing in ("name", "data"):
        body = {"name": "x1", "data": 1}
        del body[missing]
        response = dev_client.post(SEED, body, format="json")
        assert response.status_code == 400
        assert missing in response.json()["fields"]
        assert missing in response.json()["error"]
    unknown = dev_client.get(f"{SEED}/nothing-here")
    assert (unknown.status_code, unknown.json()) == (404, {"error": "Not found", "code": "not_found", "status": 404})


@pytest.mark.django_db
@pytest.mark.parametrize("value", [{"a": [1, {"b": None}]}, [1, "two", 3.5], "text", 42, 4.2, True, False, None])
def test_data_may_be_any_json_value(dev_client, value):
    response = dev_client.post(SEED, {"name": "any", "data": value}, format="json")
    assert response.status_code == 201, response.json()
    assert dev_client.get(f"{SEED}/any").json()["data"] == value


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["", "-leading-dash", "has space", "slash/inside", "x" * 129, "ünicode"])
def test_names_are_validated(dev_client, name):
    response = dev_client.post(SEED, {"name": name, "data": 1}, format="json")
    assert response.status_code == 400
    assert "name" in response.json()["fields"]


@pytest.mark.django_db
def test_data_over_the_size_limit_is_a_413(dev_client, settings):
    settings.CONFIG_MAX_BYTES = 100
    response = dev_client.post(SEED, {"name": "big", "data": "x" * 200}, format="json")
    assert response.status_code == 413
    assert "100 bytes" in response.json()["error"]
    assert not Config.objects.filter(name="big").exists()


@pytest.mark.django_db
def test_unknown_fields_are_refused(dev_client):
    response = dev_client.post(SEED, {"name": "x", "data": 1, "colour": "blue"}, format="json")
    assert response.status_code == 400
    assert "colour" in response.json()["fields"]


# --- patch ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_merge_patch_semantics(dev_client, created):
    patched = dev_client.patch(
        f"{SEED}/feature.flags", {"beta": {"a": None, "b": 2}, "dark_mode": None, "new": [1]}, format="json"
    )
    assert patched.status_code == 200
    assert patched.json()["data"] == {"beta": {"b": 2}, "new": [1]}  # null removes a key
    merge = dev_client.generic(
        "PATCH", f"{SEED}/feature.flags", '{"new": "replaced"}', content_type="application/merge-patch+json"
    )
    assert merge.json()["data"] == {"beta": {"b": 2}, "new": "replaced"}


@pytest.mark.django_db
def test_json_patch(dev_client, created):
    operations = '[{"op": "add", "path": "/beta/b", "value": 2}, {"op": "remove", "path": "/dark_mode"}]'
    patched = dev_client.generic(
        "PATCH", f"{SEED}/feature.flags", operations, content_type="application/json-patch+json"
    )
    assert patched.json()["data"] == {"beta": {"a": 1, "b": 2}}
    bad = dev_client.generic(
        "PATCH",
        f"{SEED}/feature.flags",
        '[{"op": "remove", "path": "/nope"}]',
        content_type="application/json-patch+json",
    )
    assert bad.status_code == 400
    assert "patch" in bad.json()["fields"]
    assert Config.objects.get(name="feature.flags").version == 2


# --- concurrency: ETags and compare-and-set -------------------------------------------------------


@pytest.mark.django_db
def test_if_match_and_if_none_match(dev_client, created):
    stale = dev_client.put(
        f"{SEED}/feature.flags", {"name": "feature.flags", "data": 1}, format="json", HTTP_IF_MATCH='"7"'
    )
    assert (stale.status_code, stale.json()["current_version"]) == (412, 1)
    fresh = dev_client.put(
        f"{SEED}/feature.flags", {"name": "feature.flags", "data": 2}, format="json", HTTP_IF_MATCH='"1"'
    )
    assert fresh.status_code == 200
    assert dev_client.patch(f"{SEED}/feature.flags", {"x": 1}, format="json", HTTP_IF_MATCH='W/"1"').status_code == 412
    assert dev_client.delete(f"{SEED}/feature.flags", HTTP_IF_MATCH='"1"').status_code == 412
    assert dev_client.get(f"{SEED}/feature.flags", HTTP_IF_NONE_MATCH='"2"').status_code == 304
    assert dev_client.get(f"{SEED}/feature.flags", HTTP_IF_NONE_MATCH='"1"').status_code == 200
    assert dev_client.delete(f"{SEED}/feature.flags", HTTP_IF_MATCH='"2"').status_code == 204


@pytest.mark.django_db(transaction=True)
def test_concurrent_puts_with_the_same_if_match_exactly_one_wins(dev_user):
    services.create(actor=dev_user, name="shared", data=0)
    barrier = threading.Barrier(20)
    outcomes: Counter = Counter()
    lock = threading.Lock()

    def put(index: int) -> None:
        client = APIClient()
        client.force_authenticate(dev_user)
        barrier.wait()
        response = client.put(f"{SEED}/shared", {"name": "shared", "data": index}, format="json", HTTP_IF_MATCH='"1"')
        connections.close_all()
        with lock:
            outcomes[response.status_code] += 1

    threads = [threading.Thread(target=put, args=(i,)) for i in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes == {200: 1, 412: 19}
    config = Config.objects.get(name="shared")
    assert config.version == 2
    assert ConfigVersion.objects.filter(config=config).count() == 2


# --- history, rollback, schema ---------------------------------------------------------------


@pytest.mark.django_db
def test_history_and_rollback(dev_client, created):
    dev_client.put(f"{SEED}/feature.flags", {"name": "feature.flags", "data": {"v": 2}}, format="json")
    dev_client.put(f"{SEED}/feature.flags", {"name": "feature.flags", "data": {"v": 3}}, format="json")
    versions = dev_client.get(f"{SEED}/feature.flags/versions/").json()
    assert [(row["version"], row["action"]) for row in versions["results"]] == [
        (3, "replace"),
        (2, "replace"),
        (1, "create"),
    ]
    assert dev_client.get(f"{API}/feature.flags/versions/1/").json()["data"] == {"dark_mode": True, "beta": {"a": 1}}
    assert dev_client.get(f"{API}/feature.flags/versions/9/").status_code == 404
    rolled = dev_client.post(f"{SEED}/feature.flags/rollback/", {"version": 1}, format="json")
    assert (rolled.json()["version"], rolled.json()["data"]) == (4, {"dark_mode": True, "beta": {"a": 1}})
    assert dev_client.get(f"{SEED}/feature.flags/versions/").json()["results"][0]["action"] == "rollback"
    missing = dev_client.post(f"{SEED}/feature.flags/rollback/", {"version": 99}, format="json")
    assert (missing.status_code, "version" in missing.json()["fields"]) == (400, True)


@pytest.mark.django_db
def test_schema_rejects_invalid_data_listing_the_paths(dev_client):
    schema = {
        "type": "object",
        "properties": {"retries": {"type": "integer", "minimum": 0}, "mode": {"enum": ["a", "b"]}},
        "required": ["retries"],
    }
    created = dev_client.post(SEED, {"name": "svc", "data": {"retries": 1}, "schema": schema}, format="json")
    assert created.status_code == 201
    bad = dev_client.put(f"{SEED}/svc", {"name": "svc", "data": {"retries": -1, "mode": "c"}}, format="json")
    assert bad.status_code == 422
    assert [error["path"] for error in bad.json()["errors"]] == ["/mode", "/retries"]
    assert "/mode" in bad.json()["error"]
    assert dev_client.patch(f"{SEED}/svc", {"retries": None}, format="json").status_code == 422
    assert Config.objects.get(name="svc").version == 1
    invalid_schema = dev_client.post(SEED, {"name": "s2", "data": 1, "schema": {"type": "nonsense"}}, format="json")
    assert (invalid_schema.status_code, "schema" in invalid_schema.json()["fields"]) == (400, True)


# --- access, listing, TTL ----------------------------------------------------------------------


@pytest.mark.django_db
def test_access_owner_roles_and_admins(dev_client, created, make_user, admin_client_api, anon_client):
    stranger = APIClient()
    stranger.force_authenticate(make_user("dev7", "dev"))
    assert stranger.get(f"{SEED}/feature.flags").status_code == 404
    assert stranger.get(SEED).json()["count"] == 0
    assert anon_client.get(SEED).status_code == 401

    ops = APIClient()
    ops.force_authenticate(make_user("ops7", "devops"))
    assert (
        dev_client.put(
            f"{SEED}/feature.flags", {"name": "feature.flags", "data": 1, "read_roles": ["devops"]}, format="json"
        ).status_code
        == 200
    )
    assert ops.get(f"{SEED}/feature.flags").status_code == 200
    refused = ops.put(f"{SEED}/feature.flags", {"name": "feature.flags", "data": 2}, format="json")
    assert refused.status_code == 403
    assert (
        admin_client_api.put(f"{SEED}/feature.flags", {"name": "feature.flags", "data": 3}, format="json").status_code
        == 200
    )
    assert admin_client_api.delete(f"{SEED}/feature.flags").status_code == 204


@pytest.mark.django_db
def test_prefix_and_label_filters(dev_client):
    for name, labels in (("app.web", {"env": "prod"}), ("app.worker", {"env": "dev"}), ("other", {"env": "prod"})):
        assert dev_client.post(SEED, {"name": name, "data": 1, "labels": labels}, format="json").status_code == 201
    names = lambda response: [row["name"] for row in response.json()["results"]]  # noqa: E731
    assert names(dev_client.get(SEED, {"prefix": "app."})) == ["app.web", "app.worker"]
    assert names(dev_client.get(SEED, {"label": "env:prod"})) == ["app.web", "other"]
    assert names(dev_client.get(f"{SEED}?prefix=app.&label=env:prod")) == ["app.web"]
    assert dev_client.get(SEED, {"label": "nocolon"}).status_code == 400


@pytest.mark.django_db
def test_a_label_filter_matches_a_key_exactly_never_a_lookup(dev_client):
    labels = {"a__range": "x", "app.kubernetes.io/name": "web", "a": "x"}
    assert dev_client.post(SEED, {"name": "odd", "data": 1, "labels": labels}, format="json").status_code == 201
    assert dev_client.post(SEED, {"name": "plain", "data": 1, "labels": {"a": "y"}}, format="json").status_code == 201
    names = lambda query: [row["name"] for row in dev_client.get(SEED, {"label": query}).json()["results"]]  # noqa: E731
    assert names("a__range:x") == ["odd"]  # the label called "a__range", not a range lookup on "a"
    assert names("a__in:x") == []
    assert names("app.kubernetes.io/name:web") == ["odd"]  # a dotted key is one key, not a path
    assert names("a:y") == ["plain"]
    for bad in ("$where:1", ":x", "a b:c"):
        refused = dev_client.get(SEED, {"label": bad})
        assert (refused.status_code, "label" in refused.json()["fields"]) == (400, True), bad
    for key in ("$set", "a b", "", "x" * 129):
        refused = dev_client.post(SEED, {"name": "k", "data": 1, "labels": {key: "v"}}, format="json")
        assert (refused.status_code, "labels" in refused.json()["fields"]) == (400, True), key


@pytest.mark.django_db
def test_session_data_is_gone_after_its_ttl(dev_client):
    assert (
        dev_client.post(SEED, {"name": "session:42", "data": {"cart": [1]}, "ttl": 60}, format="json").status_code
        == 201
    )
    assert dev_client.get(f"{SEED}/session:42").json()["expires_at"] is not None
    Config.objects.filter(name="session:42").update(expires_at=timezone.now() - timedelta(seconds=1))
    assert dev_client.get(f"{SEED}/session:42").status_code == 404
    assert dev_client.get(SEED).json()["count"] == 0
    again = dev_client.post(SEED, {"name": "session:42", "data": {"cart": []}, "ttl": 60}, format="json")
    assert again.status_code == 201  # the expired one made room
    Config.objects.filter(name="session:42").update(expires_at=timezone.now() - timedelta(seconds=1))
    assert services.purge_expired() == 1
    for ttl in (0, -5, 10**12, "soon"):
        refused = dev_client.post(SEED, {"name": "s", "data": 1, "ttl": ttl}, format="json")
        assert (refused.status_code, "ttl" in refused.json()["fields"]) == (400, True)
    bad_labels = dev_client.post(SEED, {"name": "s", "data": 1, "labels": []}, format="json")
    assert (bad_labels.status_code, "labels" in bad_labels.json()["fields"]) == (400, True)


# --- issue 17: JSON Patch bounded as it goes; writes without If-Match are last-write-wins ---------


def _json_patch(client, name: str, operations: list, **headers):
    return client.generic(
        "PATCH", f"{SEED}/{name}", json.dumps(operations), content_type="application/json-patch+json", **headers
    )


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("operations", "status"),
    [
        # the document copied into itself 17 times: 2**17 copies, refused at the first one past the
        # limit (the answer names that operation: nothing after it was applied)
        ([{"op": "copy", "from": "", "path": f"/c{i}"} for i in range(17)], (413, 1)),
        ([{"op": "copy", "from": "", "path": f"/c{i}"} for i in range(60)], (413, 1)),
        ([{"op": "copy", "from": "/blob", "path": f"/c{i}"} for i in range(10_000)], (413, 1)),
        ([{"op": "add", "path": "/new", "value": "y" * 2_000}], (413, 0)),
        # within the limit: copies that are removed again, replacing a big value with another
        (
            [
                op
                for i in range(50)
                for op in ({"op": "copy", "from": "/blob", "path": "/c"}, {"op": "remove", "path": "/c"})
            ],
            200,
        ),
        ([{"op": "replace", "path": "/blob", "value": "z" * 1_000} for _ in range(20)], 200),
        ([{"op": "copy", "from": "/blob", "path": "/c"}, {"op": "test", "path": "/c", "value": "x" * 1_000}], 200),
        ([{"op": "copy", "from": "/nothing", "path": "/c"}], 400),
        (["not an operation"], 400),
    ],
)
def test_json_patch_is_bounded_by_the_size_limit_as_it_goes(dev_client, settings, operations, status):
    settings.CONFIG_MAX_BYTES = 3_000
    assert dev_client.post(SEED, {"name": "doc", "data": {"blob": "x" * 1_000}}, format="json").status_code == 201
    response = _json_patch(dev_client, "doc", operations)
    status, stops_at = status if isinstance(status, tuple) else (status, None)
    assert response.status_code == status, response.json()
    if status == 413:
        assert "3000 bytes" in response.json()["error"]
        assert f"(at operation {stops_at})" in response.json()["error"]
    config = Config.objects.get(name="doc")
    assert config.version == (2 if status == 200 else 1)


def _concurrently(workers: int, request) -> Counter:
    """Run ``request(client, index)`` from ``workers`` threads released together; count the statuses."""
    owner = Config.objects.get(name="shared").owner

    def send(index: int) -> int:
        client = APIClient()
        client.force_authenticate(owner)
        return request(client, index).status_code

    return race(workers, send, count_results=True)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "write",
    [
        lambda client, i: client.patch(f"{SEED}/shared", {f"k{i}": i}, format="json"),
        lambda client, i: client.generic(
            "PATCH",
            f"{SEED}/shared",
            json.dumps([{"op": "add", "path": f"/k{i}", "value": i}]),
            content_type="application/json-patch+json",
        ),
        lambda client, i: client.generic(
            "PATCH",
            f"{SEED}/shared",
            json.dumps({f"k{i}": i}),
            content_type="application/merge-patch+json",
            HTTP_IF_MATCH="*",
        ),
    ],
    ids=["merge-patch", "json-patch", "if-match-any"],
)
def test_concurrent_patches_without_if_match_all_win_and_none_is_lost(dev_user, write):
    services.create(actor=dev_user, name="shared", data={})
    assert _concurrently(20, write) == {200: 20}
    config = Config.objects.get(name="shared")
    assert config.data == {f"k{i}": i for i in range(20)}  # each re-applied on what the others wrote
    assert config.version == 21
    assert ConfigVersion.objects.filter(config=config).count() == 21


@pytest.mark.django_db(transaction=True)
def test_concurrent_puts_without_if_match_are_last_write_wins(dev_user):
    services.create(actor=dev_user, name="shared", data=0)
    outcomes = _concurrently(
        20, lambda client, i: client.put(f"{SEED}/shared", {"name": "shared", "data": i}, format="json")
    )
    assert outcomes == {200: 20}
    config = Config.objects.get(name="shared")
    assert config.version == 21
    assert config.data in range(20)


@pytest.mark.django_db(transaction=True)
def test_concurrent_patches_with_the_same_if_match_exactly_one_wins(dev_user):
    services.create(actor=dev_user, name="shared", data={})
    outcomes = _concurrently(
        20, lambda client, i: client.patch(f"{SEED}/shared", {f"k{i}": i}, format="json", HTTP_IF_MATCH='"1"')
    )
    assert outcomes == {200: 1, 412: 19}
    assert Config.objects.get(name="shared").version == 2
