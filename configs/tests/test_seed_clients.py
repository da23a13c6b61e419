"""A client written for the seed's config server, replayed against ``/configs``.

The seed's calls, with its bodies (JSON, ``Content-Type: application/json``): create
(``POST /configs`` with ``{"name", "data"}``), list (``GET /configs``), get
(``GET /configs/{name}``), replace (``PUT /configs/{name}``) and update
(``PATCH /configs/{name}``), both with the same ``{"name", "data"}`` envelope, and delete
(``DELETE /configs/{name}``). Its errors: 409 ``Already exists``, 404 ``Not found``, and a 400
in words for a body without ``name`` or naming another entry. The README's config server
section lists where CloudAssist answers otherwise (a paginated list, DELETE 204, ...).
"""

from __future__ import annotations

import json

import pytest

from configs.models import Config, ConfigVersion

SEED = "/configs"


def send(client, method: str, path: str, body=None, content_type: str = "application/json"):
    """As the seed's clients send it: a JSON text with ``Content-Type: application/json``."""
    text = "" if body is None else json.dumps(body)
    return client.generic(method, path, text, content_type=content_type)


def stored(name: str):
    return Config.objects.get(name=name).data


@pytest.mark.django_db
def test_the_seeds_calls_with_its_bodies(dev_client):
    created = send(dev_client, "POST", SEED, {"name": "app.settings", "data": {"replicas": 2, "mode": "blue"}})
    assert created.status_code == 201, created.json()
    assert (created.json()["name"], created.json()["data"]) == ("app.settings", {"replicas": 2, "mode": "blue"})

    listed = send(dev_client, "GET", SEED)
    assert listed.status_code == 200
    assert [(e["name"], e["data"]) for e in listed.json()["results"]] == [
        ("app.settings", {"replicas": 2, "mode": "blue"})
    ]

    got = send(dev_client, "GET", f"{SEED}/app.settings")
    assert (got.status_code, got.json()["name"], got.json()["data"]) == (
        200,
        "app.settings",
        {"replicas": 2, "mode": "blue"},
    )

    replaced = send(dev_client, "PUT", f"{SEED}/app.settings", {"name": "app.settings", "data": {"replicas": 3}})
    assert (replaced.status_code, replaced.json()["data"]) == (200, {"replicas": 3})
    assert stored("app.settings") == {"replicas": 3}

    # The seed's update: the same envelope. The data is replaced, never merged as keys.
    updated = send(dev_client, "PATCH", f"{SEED}/app.settings", {"name": "app.settings", "data": {"mode": "green"}})
    assert (updated.status_code, updated.json()["data"]) == (200, {"mode": "green"})
    assert stored("app.settings") == {"mode": "green"}
    assert updated.json()["version"] == 3

    deleted = send(dev_client, "DELETE", f"{SEED}/app.settings")
    assert deleted.status_code == 204
    assert not Config.objects.filter(name="app.settings").exists()
    gone = send(dev_client, "GET", f"{SEED}/app.settings")
    assert (gone.status_code, gone.json()["error"]) == (404, "Not found")


@pytest.mark.django_db
@pytest.mark.parametrize("data", [{"a": {"b": 1}}, [1, 2], "text", 7, None, {}])
def test_the_seeds_update_replaces_any_json_value(dev_client, data):
    send(dev_client, "POST", SEED, {"name": "any", "data": {"old": True, "a": {"c": 2}}})
    updated = send(dev_client, "PATCH", f"{SEED}/any", {"name": "any", "data": data})
    assert updated.status_code == 200, updated.json()
    assert stored("any") == data
    assert ConfigVersion.objects.get(config__name="any", version=2).action == "replace"


@pytest.mark.django_db
def test_merge_patches_stay_available(dev_client):
    send(dev_client, "POST", SEED, {"name": "app", "data": {"name": "web", "data": {"x": 1}, "port": 80}})
    # A merge patch of keys that happen to be called `name` and `data`: sent as a merge patch.
    merged = send(
        dev_client,
        "PATCH",
        f"{SEED}/app",
        {"name": "app", "data": {"y": 2}},
        content_type="application/merge-patch+json",
    )
    assert merged.status_code == 200
    assert stored("app") == {"name": "app", "data": {"x": 1, "y": 2}, "port": 80}
    # Any other JSON body is a merge patch too, also with Content-Type: application/json.
    for body, expected in [
        ({"port": 8080}, {"name": "app", "data": {"x": 1, "y": 2}, "port": 8080}),
        ({"name": "app", "data": {"z": 3}, "port": None}, {"name": "app", "data": {"x": 1, "y": 2, "z": 3}}),
        ({"name": "other", "data": None}, {"name": "other"}),
        ({"data": {"only": 1}}, {"name": "other", "data": {"only": 1}}),
    ]:
        response = send(dev_client, "PATCH", f"{SEED}/app", body)
        assert response.status_code == 200, response.json()
        assert stored("app") == expected, body


@pytest.mark.django_db
def test_the_seeds_update_honours_if_match(dev_client):
    send(dev_client, "POST", SEED, {"name": "app", "data": 1})
    stale = dev_client.generic(
        "PATCH", f"{SEED}/app", json.dumps({"name": "app", "data": 2}), "application/json", HTTP_IF_MATCH='"9"'
    )
    assert (stale.status_code, stale.json()["current_version"]) == (412, 1)
    assert stored("app") == 1


@pytest.mark.django_db
@pytest.mark.parametrize("base", [SEED, "/api/v1/configs"])
def test_a_put_without_the_name_or_naming_another_entry_is_refused_in_words(dev_client, base):
    send(dev_client, "POST", SEED, {"name": "app", "data": {"v": 1}})
    send(dev_client, "POST", SEED, {"name": "other", "data": {"v": 9}})
    missing = send(dev_client, "PUT", f"{base}/app", {"data": {"v": 2}})
    assert missing.status_code == 400
    assert list(missing.json()["fields"]) == ["name"]
    assert "name" in missing.json()["error"]
    assert "'app'" in missing.json()["error"]
    another = send(dev_client, "PUT", f"{base}/app", {"name": "other", "data": {"v": 2}})
    assert another.status_code == 400
    assert list(another.json()["fields"]) == ["name"]
    assert "'other'" in another.json()["error"]
    assert "'app'" in another.json()["error"]
    assert (stored("app"), stored("other")) == ({"v": 1}, {"v": 9})
    assert Config.objects.get(name="app").version == 1
