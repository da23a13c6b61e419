"""The MongoDB commands the provisioning hot paths send, pinned (no timing): the page is cut first
($match on an index, $sort on an index including the pk tiebreaker, $limit), related rows are
loaded for that page only by primary key, counts are answered by an index."""

from datetime import timedelta

import pytest
from rest_framework.test import APIClient

from cloudassist import services as core_services
from cloudassist.models import ApiToken, token_digest
from cloudassist.testing.mongo import (
    assert_index_count,
    assert_no_joins,
    assert_page_pipeline,
    assert_uses_index,
    stage_names,
)
from provisioning import announcements, services
from provisioning.choices import RequestStatus

URL = "/api/v1/provision-requests/"
EXT_URL = "/api/v1/extension-requests/"
REQUESTS = "provisioning_provisionrequest"
TOKENS = ApiToken._meta.db_table


@pytest.fixture
def stored(make_request, dev_user, devops_user):
    rows = [make_request() for _ in range(4)]
    for row in rows[:2]:
        services.approve_request(actor=devops_user, request=row)
        services.request_extension(actor=dev_user, request=row, extend_by_hours=1, reason="r")
    return rows


def _page_and_count(seen, collection=REQUESTS):
    pages = [c for c in seen.named("aggregate", collection) if any("$limit" in stage for stage in c["pipeline"])]
    assert len(pages) == 1, seen.summary()
    counts = [c for c in seen.on(collection) if c["name"] in ("count", "aggregate") and c not in pages]
    return pages[0], counts


def _no_joins_but_the_token(seen, counts):
    """The token's one aggregate looks up its own user after matching the key; nothing else joins."""
    for command in seen.commands:
        if command["collection"] != TOKENS and command not in counts:
            assert_no_joins(command["pipeline"])


def _token_client(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {core_services.issue_token(user=user)[1]}")
    # A token's first request also notes when it was used (an update at most once a minute);
    # make it here, so that the commands recorded below are those of every other request.
    assert client.get("/api/v1/users/me/").status_code == 200
    return client


@pytest.mark.django_db
@pytest.mark.parametrize(
    "params",
    [
        {},
        {"status": "REQUESTED"},
        {"status": ["REQUESTED", "APPROVED"], "ordering": "-created_at"},
        {"requested_by_username": "dev1"},
        {"template": "basic-eks-cluster"},
        {"expand": "requested_by,template,reviewed_by"},
    ],
    ids=["plain", "status", "statuses-newest-first", "requester", "template", "expanded"],
)
def test_request_list_cuts_the_page_on_an_index_then_loads_related_by_pk(stored, devops_user, mongo_commands, params):
    client = _token_client(devops_user)
    with mongo_commands() as seen:
        response = client.get(URL, {**params, "page_size": 2})
    assert response.status_code == 200, response.json()
    assert response.json()["count"] >= 2
    page, counts = _page_and_count(seen)
    assert_page_pipeline(page["pipeline"])
    assert_uses_index(page, sorted_by_index=True)
    assert len(counts) == 1, seen.summary()
    assert_index_count(counts[0])
    _no_joins_but_the_token(seen, counts)
    if "expand" in params:  # one query per related model, for that page's ids only
        assert len(seen.named("aggregate", "auth_user")) == 1
        assert len(seen.named("aggregate", "templates_template")) == 1
        users = seen.one("aggregate", "auth_user")
        assert_uses_index(users)


@pytest.mark.django_db
def test_a_developers_list_is_their_own_on_the_requester_index(stored, dev_user, mongo_commands):
    client = _token_client(dev_user)
    with mongo_commands() as seen:
        response = client.get(URL, {"status": "REQUESTED"})
    assert response.status_code == 200
    page, counts = _page_and_count(seen)
    assert {"requested_by_id": dev_user.pk} in page["pipeline"][0]["$match"]["$and"]
    assert_page_pipeline(page["pipeline"])
    assert_uses_index(page)
    assert_index_count(counts[0])


@pytest.mark.django_db
def test_request_detail_is_one_query_by_id(stored, devops_user, mongo_commands):
    client = _token_client(devops_user)
    with mongo_commands() as seen:
        response = client.get(f"{URL}{stored[0].pk}/", {"expand": "requested_by"})
    assert response.status_code == 200
    found = seen.one("aggregate", REQUESTS)
    assert found["pipeline"][0] == {"$match": {"_id": stored[0].pk}}
    assert_no_joins(found["pipeline"])
    assert_uses_index(found)
    assert_uses_index(seen.one("aggregate", "auth_user"))


@pytest.mark.django_db
@pytest.mark.parametrize("params", [{}, {"status": "REQUESTED"}, {"expand": "provision_request,requested_by"}])
def test_extension_list(stored, devops_user, mongo_commands, params):
    client = _token_client(devops_user)
    with mongo_commands() as seen:
        response = client.get(EXT_URL, {**params, "page_size": 1})
    assert response.status_code == 200
    page, counts = _page_and_count(seen, "provisioning_extensionrequest")
    assert_page_pipeline(page["pipeline"])
    assert_uses_index(page, sorted_by_index=True)
    assert_index_count(counts[0])
    _no_joins_but_the_token(seen, counts)


@pytest.mark.django_db
def test_events_of_a_request(stored, devops_user, mongo_commands):
    client = _token_client(devops_user)
    with mongo_commands() as seen:
        response = client.get(f"{URL}{stored[0].pk}/events/", {"page_size": 2})
    assert response.status_code == 200
    page, counts = _page_and_count(seen, "provisioning_event")
    assert page["pipeline"][0]["$match"] == {"provision_request_id": stored[0].pk}
    assert_page_pipeline(page["pipeline"])
    assert_uses_index(page, sorted_by_index=True)
    assert_index_count(counts[0])


@pytest.mark.django_db
def test_token_authentication_is_one_aggregate_matching_the_digest_first(dev_user, mongo_commands):
    client = APIClient()
    raw = core_services.issue_token(user=dev_user)[1]
    client.credentials(HTTP_AUTHORIZATION=f"Token {raw}")
    with mongo_commands() as first:
        assert client.get("/api/v1/users/me/").status_code == 200
    # The first use notes the time: one update by primary key, never a filter on the token.
    assert first.summary() == [f"aggregate {TOKENS}", f"update {TOKENS}"]
    with mongo_commands() as seen:
        response = client.get("/api/v1/users/me/")
    assert response.status_code == 200
    assert response.json()["roles"] == ["dev"]
    token = seen.one("aggregate", TOKENS)
    assert list(token["pipeline"][0]) == ["$match"]
    assert token["pipeline"][0]["$match"] == {"digest": token_digest(raw)}, "matched by digest, never the raw token"
    assert list(token["pipeline"][1]) == ["$limit"]
    assert_uses_index(token)
    assert seen.summary() == [f"aggregate {TOKENS}"], "the user and roles come with the token"
    assert raw not in repr(first.commands + seen.commands), "no command carries the raw token"


@pytest.mark.django_db
def test_bad_and_inactive_tokens_are_refused(dev_user):
    client = _token_client(dev_user)
    assert client.get("/api/v1/users/me/").status_code == 200
    dev_user.is_active = False
    dev_user.save()
    assert client.get("/api/v1/users/me/").status_code == 401
    client.credentials(HTTP_AUTHORIZATION="Token not-a-token")
    response = client.get("/api/v1/users/me/")
    assert response.status_code == 401
    assert response.json()["error"] == "Invalid token."


@pytest.mark.django_db
def test_unfiltered_count_comes_from_collection_metadata(stored, devops_user, mongo_commands):
    client = _token_client(devops_user)
    with mongo_commands() as seen:
        body = client.get(URL, {"page_size": 1}).json()
    assert body["count"] == len(stored)
    _, counts = _page_and_count(seen)
    assert counts[0]["name"] == "count"
    assert not counts[0]["command"].get("query")


@pytest.mark.django_db
def test_sweep_queries_use_indexes(make_request, mongo_commands):
    from provisioning import provisioner

    make_request(status=RequestStatus.DEPLOYED)
    with mongo_commands() as seen:
        provisioner.sweep()
    scans = [c for c in seen.commands if c["collection"] == REQUESTS and c["name"] in ("aggregate", "find")]
    assert scans, seen.summary()
    for command in scans:
        assert_no_joins(command["pipeline"])
        assert_uses_index(command)


@pytest.mark.django_db
def test_expiry_warning_sweep_has_no_join(live_request, mongo_commands, settings):
    settings.NOTIFY_EXPIRY_LEAD_HOURS = [24, 1]
    with mongo_commands() as seen:
        # 20 min before the end of its 4 h lease: a tenth of it.
        assert announcements.warn_expiring(now=live_request.expires_at - timedelta(minutes=20)) == 1
    due = seen.named("aggregate", "provisioning_provisionrequest")[0]
    assert stage_names(due["pipeline"]) == ["$match"]
    assert_uses_index(due)
    for command in seen.commands:
        assert_no_joins(command["pipeline"])


def _projection(command) -> dict:
    projections = [stage["$project"] for stage in command["pipeline"] if "$project" in stage]
    assert projections, command["pipeline"]
    return projections[-1]


@pytest.mark.django_db
@pytest.mark.parametrize("as_devops", [True, False], ids=["devops", "developer"])
def test_the_request_list_does_not_load_the_template_snapshot_nor_the_outputs(
    stored, dev_user, devops_user, mongo_commands, as_devops
):
    client = _token_client(devops_user if as_devops else dev_user)
    with mongo_commands() as seen:
        response = client.get(URL)
    assert response.status_code == 200
    page, _ = _page_and_count(seen)
    projection = _projection(page)
    assert "template_snapshot" not in projection, projection
    assert "outputs" not in projection, projection
    assert {"status", "parameters", "plan", "cost_estimate", "created_at"} <= set(projection), projection
    rows = response.json()["results"]
    assert rows
    assert not [row for row in rows if "template_snapshot" in row or "outputs" in row]
    assert len(seen.on(REQUESTS)) == 2, seen.summary()  # the page and its count: no per-row reload


@pytest.mark.django_db
def test_the_portal_environments_page_does_not_load_the_template_snapshot_nor_the_outputs(
    stored, dev_user, mongo_commands, client
):
    client.force_login(dev_user)
    with mongo_commands() as seen:
        response = client.get("/portal/environments/")
    assert response.status_code == 200
    pages = [c for c in seen.named("aggregate", REQUESTS) if any("$limit" in stage for stage in c["pipeline"])]
    assert len(pages) == 1, seen.summary()
    projection = _projection(pages[0])
    assert "template_snapshot" not in projection, projection
    assert "outputs" not in projection, projection
    assert stored[0].template_snapshot["name"] in response.content.decode()  # the name at submission, shown
    # The page, then the snapshot's name and policy of its rows (one query, two subfields): no
    # per-row reload of a deferred field.
    _, parts = seen.on(REQUESTS)
    assert parts["name"] == "find"
    assert parts["command"]["projection"] == {"template_snapshot.name": 1, "template_snapshot.policy": 1}


@pytest.mark.django_db
def test_the_console_request_list_does_not_load_the_template_snapshot_nor_the_outputs(
    stored, devops_user, mongo_commands, client
):
    client.force_login(devops_user)
    with mongo_commands() as seen:
        response = client.get("/admin/provisioning/provisionrequest/")
    assert response.status_code == 200
    pages = [c for c in seen.named("aggregate", REQUESTS) if any("$project" in stage for stage in c["pipeline"])]
    assert len(pages) == 1, seen.summary()  # the page (the status filter's values: a distinct)
    projection = _projection(pages[0])
    assert "template_snapshot" not in projection, projection
    assert "outputs" not in projection, projection
    assert stage_names(pages[0]["pipeline"])[-1] == "$project"  # after the sort: an index still sorts
    assert stored[0].description in response.content.decode()
