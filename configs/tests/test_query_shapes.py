"""The MongoDB commands the config server's hot paths send (shapes and index use, no timing).

Pages are cut first ([$match, $sort, $limit], no $lookup/$group/$addFields before the sort) on an
index that gives the order; related rows are loaded for the page only; GET and PUT send a pinned
number of commands.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone
from rest_framework.test import APIClient

from cloudassist import roles
from cloudassist.testing.mongo import (
    assert_no_joins,
    assert_page_pipeline,
    assert_sorted_by_index,
    assert_uses_index,
    stage_names,
)
from configs import services
from configs.models import Config

CONFIGS = "configs_config"
VERSIONS = "configs_configversion"


def fresh_client(user) -> APIClient:
    """A client for a freshly loaded user (nothing cached on it, as with a real request)."""
    client = APIClient()
    client.force_authenticate(get_user_model().objects.get(pk=user.pk))
    return client


@pytest.fixture
def entries(dev_user, other_dev):
    for index in range(6):
        services.create(actor=dev_user, name=f"app.{index}", data={"i": index}, labels={"env": "prod"})
    services.create(actor=other_dev, name="shared", data=1, read_roles=[roles.DEV])
    services.create(actor=other_dev, name="private", data=1)
    services.create(actor=dev_user, name="session", data=1, ttl=60)


@pytest.mark.django_db
def test_get_by_name_is_one_indexed_lookup(entries, dev_user, mongo_commands):
    client = fresh_client(dev_user)
    with mongo_commands() as seen:
        response = client.get("/configs/app.1")
    assert response.status_code == 200
    assert response.json()["owner"] == dev_user.username
    assert seen.summary() == [f"aggregate {CONFIGS}"]  # the owner reads it: no role or user lookup
    lookup = seen.one("aggregate", CONFIGS)
    assert lookup["pipeline"] == [{"$match": {"name": "app.1"}}, {"$limit": 1}]
    assert_uses_index(lookup)


@pytest.mark.django_db
def test_get_by_a_reader_loads_the_owner_by_primary_key(entries, dev_user, mongo_commands):
    client = fresh_client(dev_user)
    with mongo_commands() as seen:
        response = client.get("/configs/shared")
    assert response.status_code == 200
    assert response.json()["owner"] == "dev2"
    assert len(seen.on(CONFIGS)) == 1
    users = seen.named("aggregate", "auth_user")
    assert len(users) == 1  # the owner, by _id
    assert_uses_index(users[0])
    for command in seen.on(CONFIGS) + users:
        assert_no_joins(command["pipeline"])  # (the reader's roles come from cloudassist.roles)


@pytest.mark.django_db
def test_expired_entries_are_not_found(entries, dev_user):
    Config.objects.filter(name="session").update(expires_at=timezone.now() - timedelta(seconds=1))
    assert fresh_client(dev_user).get("/configs/session").status_code == 404


@pytest.mark.django_db
def test_put_sends_four_commands(entries, dev_user, mongo_commands):
    client = fresh_client(dev_user)
    with mongo_commands() as seen:
        response = client.put(
            "/configs/app.1", {"name": "app.1", "data": {"i": 10}}, format="json", HTTP_IF_MATCH='"1"'
        )
    assert response.status_code == 200
    assert response.json()["version"] == 2
    # Read by name; compare-and-set on the version and the history row in one transaction; commit.
    assert seen.summary() == [
        f"aggregate {CONFIGS}",
        f"update {CONFIGS}",
        f"insert {VERSIONS}",
        "commitTransaction ",
    ]
    assert_uses_index(seen.one("aggregate", CONFIGS))
    update = seen.one("update", CONFIGS)["command"]["updates"][0]["q"]
    assert update == {"$and": [{"_id": Config.objects.get(name="app.1").pk}, {"version": 1}]}
    stale = client.put("/configs/app.1", {"name": "app.1", "data": 0}, format="json", HTTP_IF_MATCH='"1"')
    assert stale.status_code == 412


@pytest.mark.django_db
@pytest.mark.parametrize("user", ["admin", "dev"])
@pytest.mark.parametrize("query", [{}, {"prefix": "app."}, {"prefix": "app", "label": "env:prod"}])
def test_list_cuts_the_page_on_an_index(entries, admin_user, dev_user, mongo_commands, user, query):
    client = fresh_client(admin_user if user == "admin" else dev_user)
    with mongo_commands() as seen:
        response = client.get("/configs", {**query, "page_size": 3})
    assert response.status_code == 200
    assert len(response.json()["results"]) == 3
    count, page = seen.named("aggregate", CONFIGS)
    assert_page_pipeline(page["pipeline"])
    assert stage_names(page["pipeline"]) == ["$match", "$sort", "$limit"]
    assert page["pipeline"][1] == {"$sort": {"name": 1}}
    assert_uses_index(page)
    assert_uses_index(count)
    if user == "admin" or query:
        assert_sorted_by_index(page)
    owners = seen.named("aggregate", "auth_user")
    assert len(owners) <= 1  # the page's other owners, one $in query
    assert stage_names(count["pipeline"])[0] == "$match"  # the same filter, counted on its index
    for command in [page, *owners]:
        assert_no_joins(command["pipeline"])  # (the reader's roles come from cloudassist.roles)


@pytest.mark.django_db
def test_list_renders_the_owners(entries, dev_user):
    rows = fresh_client(dev_user).get("/configs", {"page_size": 50}).json()["results"]
    assert [(row["name"], row["owner"]) for row in rows] == [
        *[(f"app.{index}", "dev1") for index in range(6)],
        ("session", "dev1"),
        ("shared", "dev2"),
    ]


@pytest.mark.django_db
def test_versions_list_is_a_page_of_the_history_index(entries, dev_user, mongo_commands):
    for value in range(4):
        services.replace(actor=dev_user, name="app.1", data=value)
    client = fresh_client(dev_user)
    with mongo_commands() as seen:
        response = client.get("/configs/app.1/versions", {"page_size": 2})
    assert response.status_code == 200
    assert [row["version"] for row in response.json()["results"]] == [5, 4]
    assert response.json()["count"] == 5
    assert {row["author"] for row in response.json()["results"]} == {"dev1"}
    count, page = seen.named("aggregate", VERSIONS)
    assert stage_names(page["pipeline"]) == ["$match", "$sort", "$limit"]
    assert page["pipeline"][1] == {"$sort": {"version": -1}}
    assert_sorted_by_index(page)
    assert_uses_index(count)
    assert not seen.named("aggregate", "auth_user")  # the author is the reader
    assert len(seen.commands) == 3


@pytest.mark.django_db
def test_one_version_by_config_and_number(entries, dev_user, mongo_commands):
    client = fresh_client(dev_user)
    with mongo_commands() as seen:
        response = client.get("/configs/app.1/versions/1")
    assert response.status_code == 200
    lookup = seen.one("aggregate", VERSIONS)
    assert stage_names(lookup["pipeline"]) == ["$match", "$limit"]
    assert_uses_index(lookup)


@pytest.mark.django_db
def test_ttl_sweep_uses_the_expiry_index(entries, mongo_commands):
    with mongo_commands() as seen:
        assert services.purge_expired(now=timezone.now() + timedelta(hours=1)) == 1
    found = seen.one("aggregate", CONFIGS)
    assert_no_joins(found["pipeline"])
    assert_uses_index(found)
    assert [command["name"] for command in seen.commands] == ["aggregate", "delete", "delete"]
