from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from provisioning import services
from provisioning.choices import RequestStatus, RequestType
from provisioning.models import Event, ExtensionRequest, ProvisionRequest
from provisioning.tests.conftest import EKS_PARAMETERS
from templates import services as template_services

URL = "/api/v1/provision-requests/"
EXT_URL = "/api/v1/extension-requests/"


@pytest.fixture
def clients(dev_user, other_dev, devops_user, admin_user):
    def client_for(user):
        client = APIClient()
        if user is not None:
            client.force_authenticate(user)
        return client

    return {
        "anonymous": client_for(None),
        "owner": client_for(dev_user),
        "other_dev": client_for(other_dev),
        "devops": client_for(devops_user),
        "admin": client_for(admin_user),
    }


def _submit(client, **overrides):
    body = {"template": "basic-eks-cluster", "parameters": EKS_PARAMETERS, "description": "demo", **overrides}
    return client.post(URL, body, format="json")


# --- the flow -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_request_review_extend_and_read_the_trail(clients, eks, provisioning_queue):
    created = _submit(clients["owner"])
    assert created.status_code == 201, created.json()
    body = created.json()
    assert created["Location"] == body["url"]
    assert type(created.headers["Location"]) is str  # WSGI servers refuse str subclasses (DRF's Hyperlink)
    assert (body["status"], body["request_type"], body["extension"]) == ("REQUESTED", "TEMPORARY", "AVAILABLE")
    assert body["template"].endswith("/api/v1/templates/basic-eks-cluster/")
    assert body["parameters"]["desired_capacity"] == 2
    assert body["actions"] == ["revoke"]

    approved = clients["devops"].post(f"{URL}{body['id']}/approve/", {"note": "go"}, format="json")
    assert approved.status_code == 200, approved.json()
    assert approved.json()["status"] == "APPROVED"
    assert approved.json()["reviewed_by"].endswith(f"/users/{ProvisionRequest.objects.get().reviewed_by_id}/")
    assert provisioning_queue.count == 1

    again = clients["admin"].post(f"{URL}{body['id']}/approve/", {}, format="json")
    assert again.status_code == 409
    assert again.json()["current_status"] == "APPROVED"
    assert "APPROVED" in again.json()["error"]

    extension = clients["owner"].post(
        EXT_URL, {"provision_request": body["id"], "reason": "demo day moved", "extend_by_hours": 24}, format="json"
    )
    assert extension.status_code == 201, extension.json()
    ext_id = extension.json()["id"]
    assert clients["devops"].post(f"{EXT_URL}{ext_id}/approve/", {}, format="json").status_code == 200
    detail = clients["owner"].get(f"{URL}{body['id']}/").json()
    assert detail["extension"] == "USED"
    assert detail["expires_at"] > body["expires_at"]

    trail = clients["owner"].get(detail["events"]).json()
    assert [(e["subject"], e["action"], e["actor"]) for e in trail["results"]] == [
        ("provision_request", "submit", "dev1"),
        ("provision_request", "approve", "ops1"),
        ("extension_request", "submit", "dev1"),
        ("extension_request", "approve", "ops1"),
        ("provision_request", "extend", "ops1"),
    ]
    ext_trail = clients["owner"].get(f"{EXT_URL}{ext_id}/events/").json()
    assert [e["action"] for e in ext_trail["results"]] == ["submit", "approve"]


# --- the permissions matrix ----------------------------------------------------------------

REQUEST_MATRIX = {
    # endpoint: expected status for anonymous, owner, other_dev, devops, admin
    "list": (401, 200, 200, 200, 200),
    "retrieve": (401, 200, 404, 200, 200),
    "create": (401, 201, 201, 201, 201),
    "edit": (401, 200, 404, 403, 403),
    "approve": (401, 403, 404, 200, 200),
    "reject": (401, 403, 404, 200, 200),
    "revoke": (401, 200, 404, 403, 403),
    "events": (401, 200, 404, 200, 200),
    "put": (401, 405, 405, 405, 405),
    "delete": (401, 405, 405, 405, 405),
}
ACTORS = ("anonymous", "owner", "other_dev", "devops", "admin")


def _call(client, endpoint: str, base: str, pk: str, create_body: dict):
    detail = f"{base}{pk}/"
    return {
        "list": lambda: client.get(base),
        "retrieve": lambda: client.get(detail),
        "create": lambda: client.post(base, create_body, format="json"),
        "edit": lambda: client.patch(detail, {"description": "reworded"}, format="json"),
        "approve": lambda: client.post(f"{detail}approve/", {"note": "n"}, format="json"),
        "reject": lambda: client.post(f"{detail}reject/", {"note": "n"}, format="json"),
        "revoke": lambda: client.post(f"{detail}revoke/", {}, format="json"),
        "events": lambda: client.get(f"{detail}events/"),
        "put": lambda: client.put(detail, {"description": "x"}, format="json"),
        "delete": lambda: client.delete(detail),
    }[endpoint]()


@pytest.mark.django_db
@pytest.mark.parametrize("endpoint", REQUEST_MATRIX)
@pytest.mark.parametrize("actor", ACTORS)
def test_provision_request_permissions(endpoint, actor, clients, make_request):
    request = make_request()
    body = {"template": "basic-eks-cluster", "parameters": EKS_PARAMETERS}
    response = _call(clients[actor], endpoint, URL, str(request.pk), body)
    expected = REQUEST_MATRIX[endpoint][ACTORS.index(actor)]
    assert response.status_code == expected, response.content
    assert set(response.json()) >= ({"error", "code", "status"} if expected >= 400 else set())
    if endpoint == "list" and expected == 200:
        ids = [row["id"] for row in response.json()["results"]]
        assert ids == ([] if actor == "other_dev" else [str(request.pk)])


EXTENSION_MATRIX = {
    "list": (401, 200, 200, 200, 200),
    "retrieve": (401, 200, 404, 200, 200),
    "create": (401, 201, 400, 403, 403),  # another developer cannot even see the provision request
    "approve": (401, 403, 404, 200, 200),
    "reject": (401, 403, 404, 200, 200),
    "revoke": (401, 200, 404, 403, 403),
    "events": (401, 200, 404, 200, 200),
    "put": (401, 405, 405, 405, 405),
    "delete": (401, 405, 405, 405, 405),
}


@pytest.mark.django_db
@pytest.mark.parametrize("endpoint", EXTENSION_MATRIX)
@pytest.mark.parametrize("actor", ACTORS)
def test_extension_request_permissions(endpoint, actor, clients, make_request, dev_user):
    live = make_request(status=RequestStatus.DEPLOYED)
    extension = services.request_extension(actor=dev_user, request=live, extend_by_hours=2, reason="r")
    target = live if endpoint != "create" else make_request(status=RequestStatus.DEPLOYED)
    body = {"provision_request": str(target.pk), "reason": "more time", "extend_by_hours": 5}
    response = _call(clients[actor], endpoint, EXT_URL, str(extension.pk), body)
    expected = EXTENSION_MATRIX[endpoint][ACTORS.index(actor)]
    assert response.status_code == expected, response.content
    if endpoint == "create" and actor == "other_dev":
        assert response.json()["fields"] == {"provision_request": [f"Unknown provision request '{target.pk}'."]}


# --- bad input ------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"template": "no-such-template"}, "template"),
        ({"template": 42}, "template"),
        ({"parameters": {**EKS_PARAMETERS, "desired_capacity": "two"}}, "parameters.desired_capacity"),
        ({"parameters": {**EKS_PARAMETERS, "volume_size": 5}}, "parameters.volume_size"),
        ({"parameters": {"region": "eu-west-1"}}, "parameters.cluster_name"),
        ({"parameters": {**EKS_PARAMETERS, "colour": "blue"}}, "parameters.colour"),
        ({"expires_at": "2001-01-01T00:00:00Z"}, "expires_at"),
        ({"expires_at": "tomorrow"}, "expires_at"),
        ({"request_type": "FOREVER"}, "request_type"),
        ({"request_type": "PERMANENT", "expires_at": "2099-01-01T00:00:00Z"}, "expires_at"),
        ({"colour": "blue"}, "colour"),
        ({"status": "APPROVED"}, "status"),
        ({"description": "x" * 5001}, "description"),
    ],
)
def test_bad_submissions_name_the_field(clients, eks, overrides, field):
    response = _submit(clients["owner"], **overrides)
    assert response.status_code == 400, response.content
    body = response.json()
    assert field in body["fields"], body
    assert field in body["error"]
    assert not ProvisionRequest.objects.exists()


@pytest.mark.django_db
def test_inactive_template_and_expiry_beyond_the_maximum(clients, eks):
    too_late = (timezone.now() + timedelta(hours=eks.max_lifetime_hours + 1)).isoformat()
    response = _submit(clients["owner"], expires_at=too_late)
    assert response.status_code == 400
    assert "168 hours" in response.json()["fields"]["expires_at"][0]
    template_services.set_active(template=eks, active=False)
    response = _submit(clients["owner"])
    assert response.status_code == 400
    assert "inactive" in response.json()["fields"]["template"][0]


@pytest.mark.django_db
def test_submission_accepts_the_template_url_and_permanent_requests(clients, eks):
    response = _submit(clients["owner"], template="http://testserver/api/v1/templates/basic-eks-cluster/")
    assert response.status_code == 201
    permanent = _submit(clients["owner"], request_type=RequestType.PERMANENT)
    assert permanent.status_code == 201
    assert permanent.json()["expires_at"] is None


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"extend_by_hours": 0}, "extend_by_hours"),
        ({"extend_by_hours": 10000}, "extend_by_hours"),
        ({"extend_by_hours": "lots"}, "extend_by_hours"),
        ({"provision_request": "not-an-id"}, "provision_request"),
        ({"provision_request": "ffffffffffffffffffffffff"}, "provision_request"),
        ({"reason": ""}, "reason"),
        ({"status": "APPROVED"}, "status"),
        ({"extra": 1}, "extra"),
    ],
)
def test_bad_extension_requests_name_the_field(clients, live_request, body, field):
    payload = {"provision_request": str(live_request.pk), "reason": "r", "extend_by_hours": 5, **body}
    response = clients["owner"].post(EXT_URL, payload, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()["fields"]
    assert not ExtensionRequest.objects.exists()


@pytest.mark.django_db
def test_second_extension_is_a_409_and_extensions_need_a_live_environment(clients, live_request, make_request):
    payload = {"provision_request": str(live_request.pk), "reason": "r", "extend_by_hours": 5}
    assert clients["owner"].post(EXT_URL, payload, format="json").status_code == 201
    pending = clients["owner"].post(EXT_URL, payload, format="json")
    assert pending.status_code == 409
    assert "pending" in pending.json()["error"]
    requested = make_request()
    refused = clients["owner"].post(EXT_URL, {**payload, "provision_request": str(requested.pk)}, format="json")
    assert refused.status_code == 409
    assert refused.json()["current_status"] == "REQUESTED"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "not-an-id/"),
        ("get", "ffffffffffffffffffffffff/"),
        ("post", "not-an-id/approve/"),
        ("get", "xyz/events/"),
    ],
)
def test_malformed_and_unknown_ids_are_404(clients, method, path):
    response = getattr(clients["devops"], method)(f"{URL}{path}", {}, format="json")
    assert response.status_code == 404
    assert response.json()["error"] == "Not found"


@pytest.mark.django_db
def test_review_input_is_checked(clients, make_request):
    request = make_request()
    no_note = clients["devops"].post(f"{URL}{request.pk}/reject/", {}, format="json")
    assert no_note.status_code == 400
    assert "note" in no_note.json()["fields"]
    unknown = clients["devops"].post(f"{URL}{request.pk}/approve/", {"notes": "typo"}, format="json")
    assert unknown.status_code == 400
    assert "notes" in unknown.json()["fields"]
    assert ProvisionRequest.objects.get(pk=request.pk).status == RequestStatus.REQUESTED
    not_json = clients["devops"].post(f"{URL}{request.pk}/approve/", "{oops", content_type="application/json")
    assert not_json.status_code == 400


@pytest.mark.django_db
def test_only_the_description_is_editable_and_only_while_requested(clients, make_request, devops_user):
    request = make_request()
    detail = f"{URL}{request.pk}/"
    read_only = clients["owner"].patch(detail, {"status": "APPROVED"}, format="json")
    assert read_only.status_code == 400
    assert read_only.json()["fields"] == {"status": ["This field is read-only."]}
    edited = clients["owner"].patch(detail, {"description": "reworded"}, format="json")
    assert edited.json()["description"] == "reworded"
    services.approve_request(actor=devops_user, request=request)
    late = clients["owner"].patch(detail, {"description": "too late"}, format="json")
    assert late.status_code == 409
    assert late.json()["current_status"] == "APPROVED"


# --- filters, ordering, pagination, expansion, query counts --------------------------------


@pytest.fixture
def several(make_request, make_user, dev_user, templates):
    other = make_user("dev3", "dev")
    now = timezone.now()
    made = [
        make_request(expires_at=now + timedelta(hours=5)),
        make_request(expires_at=now + timedelta(hours=1), status=RequestStatus.APPROVED),
        make_request(user=other, expires_at=now + timedelta(hours=3), status=RequestStatus.DEPLOYED),
        make_request(
            user=other,
            template=templates["dev-namespace"],
            parameters={"namespace": "team-b"},
            expires_at=now + timedelta(hours=2),
        ),
    ]
    for age, request in enumerate(reversed(made)):  # distinct creation times, oldest first
        ProvisionRequest.objects.filter(pk=request.pk).update(created_at=now - timedelta(minutes=age + 1))
    return made, other


def _ids(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [row["id"] for row in response.json()["results"]]


@pytest.mark.django_db
def test_filters(clients, several, dev_user):
    (first, second, third, fourth), other = several
    get = clients["devops"].get
    assert set(_ids(get(URL, {"status": "REQUESTED"}))) == {str(first.pk), str(fourth.pk)}
    assert set(_ids(get(f"{URL}?status=APPROVED&status=DEPLOYED"))) == {str(second.pk), str(third.pk)}
    assert _ids(get(URL, {"template": "dev-namespace"})) == [str(fourth.pk)]
    assert set(_ids(get(URL, {"requested_by": str(other.pk)}))) == {str(third.pk), str(fourth.pk)}
    assert set(_ids(get(URL, {"requested_by_username": "dev1"}))) == {str(first.pk), str(second.pk)}
    soon = (timezone.now() + timedelta(hours=2, minutes=30)).isoformat()
    assert set(_ids(get(URL, {"expires_before": soon}))) == {str(second.pk), str(fourth.pk)}
    assert set(_ids(get(URL, {"expires_after": soon}))) == {str(first.pk), str(third.pk)}
    created = ProvisionRequest.objects.get(pk=third.pk).created_at.isoformat()
    assert set(_ids(get(URL, {"created_after": created}))) == {str(third.pk), str(fourth.pk)}
    assert set(_ids(get(URL, {"created_before": created}))) == {str(first.pk), str(second.pk), str(third.pk)}

    bad = get(URL, {"requested_by": "nope", "status": "SLEEPING"})
    assert bad.status_code == 400
    assert set(bad.json()["fields"]) == {"requested_by", "status"}
    # Developers filter within their own requests only.
    assert _ids(clients["owner"].get(URL, {"requested_by": str(other.pk)})) == []


@pytest.mark.django_db
def test_ordering_and_pagination(clients, several):
    (first, second, third, fourth), _ = several
    get = clients["devops"].get
    assert _ids(get(URL)) == [str(r.pk) for r in (fourth, third, second, first)]  # newest first
    by_expiry = [str(r.pk) for r in (second, fourth, third, first)]
    assert _ids(get(URL, {"ordering": "expires_at"})) == by_expiry
    assert _ids(get(URL, {"ordering": "-expires_at"})) == by_expiry[::-1]
    bad = get(URL, {"ordering": "parameters"})
    assert bad.status_code == 400
    assert "parameters" in bad.json()["error"]

    page1 = get(URL, {"page_size": 3}).json()
    assert page1["count"] == 4
    page2 = get(page1["next"]).json()
    assert page2["next"] is None
    assert [r["id"] for r in page1["results"] + page2["results"]] == [str(r.pk) for r in (fourth, third, second, first)]
    assert "template_snapshot" not in page1["results"][0]


@pytest.mark.django_db
def test_expand_embeds_related_objects(clients, several):
    body = clients["devops"].get(URL, {"expand": "requested_by,template,reviewed_by"}).json()
    row = body["results"][0]
    assert row["requested_by"]["username"] == "dev3"
    assert row["template"]["id"] == "dev-namespace"
    assert row["reviewed_by"] is None
    bad = clients["devops"].get(URL, {"expand": "secrets"})
    assert bad.status_code == 400
    assert "expand" in bad.json()["fields"]


@pytest.mark.django_db
@pytest.mark.parametrize("how_many", [2, 12])
def test_list_query_count_does_not_grow_with_rows(
    clients, make_request, devops_user, dev_user, how_many, django_assert_num_queries
):
    for _ in range(how_many):
        request = make_request()
        services.approve_request(actor=devops_user, request=request)
        services.request_extension(actor=dev_user, request=request, extend_by_hours=1, reason="r")
    client = clients["devops"]
    client.get(URL)  # the reviewer's roles are read once and cached on the user
    # count + one page + the page's users (requesters and reviewers) + its templates, by pk (no joins)
    with django_assert_num_queries(4):
        assert len(_ids(client.get(URL, {"expand": "requested_by,template,reviewed_by"}))) == how_many
    with django_assert_num_queries(4):  # count, page, users, provision requests
        assert len(_ids(client.get(EXT_URL, {"expand": "provision_request,requested_by,reviewed_by"}))) == how_many
    events_url = f"{URL}{request.pk}/events/"
    expected_events = Event.objects.filter(provision_request=request).count()
    with django_assert_num_queries(3):  # the request, count, one page
        assert len(_ids(client.get(events_url))) == expected_events


@pytest.mark.django_db
def test_extension_filters(clients, live_request, make_request, dev_user, devops_user):
    first = services.request_extension(actor=dev_user, request=live_request, extend_by_hours=2, reason="r")
    services.reject_extension(actor=devops_user, extension=first, note="no")
    second = services.request_extension(actor=dev_user, request=live_request, extend_by_hours=3, reason="r")
    other = make_request(status=RequestStatus.APPROVED)
    third = services.request_extension(actor=dev_user, request=other, extend_by_hours=4, reason="r")
    get = clients["devops"].get
    assert set(_ids(get(EXT_URL, {"status": "REQUESTED"}))) == {str(second.pk), str(third.pk)}
    assert set(_ids(get(EXT_URL, {"provision_request": str(live_request.pk)}))) == {str(first.pk), str(second.pk)}
    assert _ids(get(EXT_URL, {"ordering": "-extend_by_hours"})) == [str(third.pk), str(second.pk), str(first.pk)]
    assert get(EXT_URL, {"provision_request": "zzz"}).status_code == 400


@pytest.mark.django_db
def test_a_template_with_requests_cannot_be_deleted(admin_client_api, make_request):
    make_request()
    response = admin_client_api.delete("/api/v1/templates/basic-eks-cluster/")
    assert response.status_code == 409
    assert response.json()["error"] == "It cannot be deleted: provision requests refer to it."
    assert response.json()["code"] == "protected"


# --- no dead ends: retry, mark cleaned up, failure_reason, unavailable providers -------------


@pytest.mark.django_db
def test_retry_and_mark_cleaned_up_endpoints(clients, make_request, provisioning_queue, settings):
    settings.FAILED_PURGE_DELAY_MINUTES = 60
    failed = make_request(status=RequestStatus.FAILED)
    ProvisionRequest.objects.filter(pk=failed.pk).update(failure_reason="the cloud said no")
    body = clients["owner"].get(f"{URL}{failed.pk}/").json()
    assert (body["failure_reason"], body["extension"]) == ("the cloud said no", "UNAVAILABLE")
    assert body["actions"] == ["start_purge"]  # the template does not let the requester retry
    assert "retry" in clients["devops"].get(f"{URL}{failed.pk}/").json()["actions"]

    refused = clients["owner"].post(f"{URL}{failed.pk}/retry/", {}, format="json")
    assert refused.status_code == 403
    retried = clients["devops"].post(f"{URL}{failed.pk}/retry/", {"note": "fixed"}, format="json")
    assert retried.status_code == 200, retried.json()
    assert retried.json()["status"] == "APPROVED"
    assert [job.id for job in provisioning_queue.jobs] == [f"provision-{failed.pk}"]
    again = clients["devops"].post(f"{URL}{failed.pk}/retry/", {}, format="json")
    assert again.status_code == 409
    assert (again.json()["code"], again.json()["current_status"]) == ("invalid_transition", "APPROVED")

    stuck = make_request(status=RequestStatus.PURGE_FAILED)
    assert "mark_cleaned_up" in clients["devops"].get(f"{URL}{stuck.pk}/").json()["actions"]
    no_note = clients["devops"].post(f"{URL}{stuck.pk}/mark-cleaned-up/", {}, format="json")
    assert no_note.status_code == 400
    assert "note" in no_note.json()["fields"]
    assert clients["owner"].post(f"{URL}{stuck.pk}/mark-cleaned-up/", {"note": "x"}, format="json").status_code == 403
    done = clients["devops"].post(f"{URL}{stuck.pk}/mark-cleaned-up/", {"note": "deleted by hand"}, format="json")
    assert done.status_code == 200, done.json()
    assert (done.json()["status"], done.json()["extension"]) == ("PURGED", "UNAVAILABLE")


@pytest.mark.django_db
def test_submitting_a_template_whose_provider_is_not_configured_is_a_409_naming_the_setting(
    clients, templates, settings
):
    from provisioning.tests.conftest import namespace_request_body

    settings.SHARED_CLUSTER_KUBECONFIG_DATA = ""
    response = clients["owner"].post(URL, namespace_request_body(), format="json")
    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "provider_not_configured"
    assert "SHARED_CLUSTER_KUBECONFIG" in body["error"]
    assert (body["template"], body["provider"]) == ("dev-namespace", "kubernetes")
    assert not ProvisionRequest.objects.exists()


@pytest.mark.django_db
def test_a_patch_with_read_only_or_unknown_fields_is_a_400_naming_them(clients, make_request):
    pending = make_request(description="keep me")
    response = clients["owner"].patch(
        f"{URL}{pending.pk}/", {"description": "new", "status": "APPROVED", "colour": "red"}, format="json"
    )
    assert response.status_code == 400
    fields = response.json()["fields"]
    assert fields["status"] == ["This field is read-only."]
    assert fields["colour"][0].startswith("Unknown field")
    pending.refresh_from_db()
    assert (pending.description, pending.status) == ("keep me", RequestStatus.REQUESTED)


@pytest.mark.django_db
def test_the_plan_stored_at_submission_is_on_the_detail_and_without_its_spec_in_the_list(clients, eks):
    created = _submit(clients["owner"])
    assert created.status_code == 201, created.json()
    stored = ProvisionRequest.objects.get(pk=created.json()["id"]).plan
    assert stored["resources"]
    expected_resources = [
        {key: resource[key] for key in ("kind", "name", "summary", "attributes")} for resource in stored["resources"]
    ]
    assert created.json()["plan"] == {
        "provider": stored["provider"],
        "resources": expected_resources,
        "spec": stored["spec"],
    }

    detail = clients["owner"].get(f"{URL}{created.json()['id']}/").json()
    assert detail["plan"]["provider"] == "aws-eks"
    assert [resource["summary"] for resource in detail["plan"]["resources"]] == [
        resource["summary"] for resource in stored["resources"]
    ]
    assert detail["plan"]["spec"] == stored["spec"]

    listed = clients["owner"].get(URL).json()["results"][0]
    assert listed["plan"] == {"provider": stored["provider"], "resources": expected_resources}

    ProvisionRequest.objects.filter(pk=created.json()["id"]).update(plan=None)  # from before plans were stored
    assert clients["owner"].get(f"{URL}{created.json()['id']}/").json()["plan"] is None
