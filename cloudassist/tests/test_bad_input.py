"""Issue 17's hand-made bad input, one row each: every case is a 4xx naming the problem, never a 500.

Each row: who asks, the method and path, the body (a raw JSON text, so lone surrogates and NULs
reach the server as a client would send them) or the query, the expected status and a substring
of the answer's ``error`` that names the problem. The requests go through Django's test client to
the real MongoDB and Redis of the test plugin.
"""

# ruff: noqa: E501  (the table is one case a line)
from __future__ import annotations

import json

import pytest
from django.contrib.auth.models import Group

from configs import services as config_services
from templates import services as template_services

SCHEMA_WITH_REMOTE_REF = {"$ref": "http://127.0.0.1:9/x.json"}
SCHEMA_WITH_CYCLE = {
    "type": "object",
    "$defs": {"a": {"$ref": "#/$defs/a"}},
    "properties": {"x": {"$ref": "#/$defs/a"}},
}
TEMPLATE = {
    "id": "bad-input",
    "name": "Bad input",
    "resource_type": "S3_BUCKET",
    "provider": "noop",  # API mechanics: any document (aws-s3 checks an S3Bucket document)
    "body": "bucket: {{ bucket }}\n",
    "parameters_schema": {"type": "object", "properties": {"bucket": {"type": "string", "examples": ["b"]}}},
    "default_lifetime_hours": 4,
    "max_lifetime_hours": 48,
}

BIG = 2**63
DEEP_SCHEMA: dict = {}
for _ in range(150):
    DEEP_SCHEMA = {"not": DEEP_SCHEMA}

# (id, who, method, path, body or None, query or None, status, substring of "error")
# fmt: off
CASES = [
    # --- string content and integers, at the edge, on any endpoint ---------------------------
    ("nul-in-string", "dev", "post", "/configs", '{"name": "n1", "data": {"a": "x\\u0000y"}}', None, 400, "data.a"),
    ("nul-in-key", "dev", "post", "/configs", '{"name": "n1", "data": {"a\\u0000b": 1}}', None, 400, "NUL"),
    ("lone-surrogate", "dev", "post", "/configs", '{"name": "n1", "data": "\\ud800"}', None, 400, "surrogate"),
    ("lone-surrogate-key", "dev", "post", "/configs", '{"name": "n1", "data": {"\\udfff": 1}}', None, 400, "surrogate"),
    ("int-too-big", "dev", "post", "/configs", f'{{"name": "n1", "data": {{"n": [{BIG}]}}}}', None, 400, "data.n.0"),
    ("int-too-small", "dev", "post", "/configs", f'{{"name": "n1", "data": {-BIG - 1}}}', None, 400, "64-bit"),
    ("int-edge-ok", "dev", "post", "/configs", f'{{"name": "n1", "data": {BIG - 1}}}', None, 201, None),
    ("nul-in-label", "dev", "post", "/configs", '{"name": "n1", "data": 1, "labels": {"a\\u0000": "b"}}', None, 400, "labels"),
    ("dollar-label", "dev", "post", "/configs", '{"name": "n1", "data": 1, "labels": {"$where": "b"}}', None, 400, "labels"),
    ("dot-label", "dev", "post", "/configs", '{"name": "n1", "data": 1, "labels": {"a.b": "c"}}', None, 201, None),  # a dotted key is one key ($getField)
    ("put-surrogate", "dev", "put", "/configs/existing", '{"data": {"x": "\\ud83d"}}', None, 400, "data.x"),
    ("put-big-int", "dev", "put", "/api/v1/configs/existing", f'{{"data": {BIG}}}', None, 400, "data"),
    ("put-nul-label", "dev", "put", "/configs/existing", '{"data": 1, "labels": {"k": "v\\u0000"}}', None, 400, "labels.k"),
    ("merge-patch-nul", "dev", "patch", "/configs/existing", '{"a\\u0000": 1}', None, 400, "NUL"),
    ("merge-patch-big", "dev", "patch", "/configs/existing", f'{{"a": {{"b": {BIG}}}}}', None, 400, "a.b"),
    ("merge-patch-surrogate", "dev", "patch", "/configs/existing", '{"a": "\\udc00"}', None, 400, "surrogate"),
    ("merge-patch-dollar-key", "dev", "patch", "/configs/existing", '{"$set": 1}', None, 200, None),
    ("json-patch-big", "dev", "patch", "/configs/existing", f'[{{"op": "add", "path": "/a", "value": {BIG}}}]', None, 400, "0.value"),
    ("json-patch-bad-path", "dev", "patch", "/configs/existing", '[{"op": "add", "path": "a", "value": 1}]', None, 400, "patch"),
    ("json-patch-not-ops", "dev", "patch", "/configs/existing", "[1]", None, 400, "patch"),
    ("json-patch-move-into-itself", "dev", "patch", "/configs/existing", '[{"op": "move", "from": "/a", "path": "/a/b"}]', None, 400, "patch"),
    ("json-patch-path-not-string", "dev", "patch", "/configs/existing", '[{"op": "add", "path": 5, "value": 1}]', None, 400, "patch"),
    ("merge-patch-infinity", "dev", "patch", "/configs/existing", '{"a": 1e400}', None, 400, "too large"),
    ("token-nul", None, "post", "/api/v1/auth/token/", '{"username": "a\\u0000", "password": "x"}', None, 400, "username"),
    ("estimate-big", "dev", "post", "/api/v1/estimates/", f'{{"template": "bad-input", "lifetime_hours": {BIG}}}', None, 400, "lifetime_hours"),
    ("render-surrogate", "dev", "post", "/api/v1/templates/bad-input/render/", '{"parameters": {"bucket": "\\ud800"}}', None, 400, "parameters.bucket"),
    ("query-nul", "dev", "get", "/configs", None, {"prefix": "a\x00"}, 400, "prefix"),
    ("query-nul-filter", "devops", "get", "/api/v1/provision-requests/", None, {"template": "\x00"}, 400, "template"),
    # --- id filters --------------------------------------------------------------------------
    ("quota-user-percent", "admin", "get", "/api/v1/quotas/", None, {"user": "%"}, 400, "user"),
    ("quota-user-garbage", "admin", "get", "/api/v1/quotas/", None, {"user": "zz"}, 400, "not a valid id"),
    ("quota-role-percent", "admin", "get", "/api/v1/quotas/", None, {"role": "%"}, 200, None),
    ("quota-type-bad", "admin", "get", "/api/v1/quotas/", None, {"quota_type": "%"}, 400, "quota_type"),
    ("quota-ended-bad", "admin", "get", "/api/v1/quotas/", None, {"ended": "%"}, 200, None),  # django-filter: unknown means unset
    ("quota-user-unknown", "admin", "get", "/api/v1/quotas/", None, {"user": "0" * 24}, 200, None),
    ("quota-ordering-bad", "admin", "get", "/api/v1/quotas/", None, {"ordering": "%,-"}, 400, "ordering"),
    ("quota-page-bad", "admin", "get", "/api/v1/quotas/", None, {"page": "%"}, 404, "page"),
    ("quota-page-huge", "admin", "get", "/api/v1/quotas/", None, {"page": "9" * 30}, 404, "page"),
    ("quota-page-size-huge", "admin", "get", "/api/v1/quotas/", None, {"page_size": "9" * 30}, 200, None),
    ("quota-page-size-negative", "admin", "get", "/api/v1/quotas/", None, {"page_size": "-1"}, 200, None),
    ("requests-created-huge", "devops", "get", "/api/v1/provision-requests/", None, {"created_after": "99999-01-01"}, 400, "created"),
    ("requests-created-offset", "devops", "get", "/api/v1/provision-requests/", None, {"created_before": "2020-01-01T00:00:00+99:00"}, 400, "created"),
    ("requests-status-bad", "devops", "get", "/api/v1/provision-requests/", None, {"status": "%"}, 400, "status"),
    ("requests-expand-bad", "devops", "get", "/api/v1/provision-requests/", None, {"expand": "%"}, 200, None),
    ("notifications-kind-bad", "dev", "get", "/api/v1/notifications/", None, {"kind": "%"}, 400, "kind"),
    ("users-role-percent", "admin", "get", "/api/v1/users/", None, {"role": "%", "username": "%"}, 200, None),
    ("configs-prefix-regex", "dev", "get", "/configs", None, {"prefix": ".*(a+)+$["}, 200, None),
    ("config-wait-bad", "dev", "get", "/configs/existing", None, {"wait": "%", "version": "x"}, 400, "wait"),
    ("config-version-huge", "dev", "get", "/configs/existing/versions/" + "9" * 30, None, None, 404, None),
    ("requests-requested-by", "devops", "get", "/api/v1/provision-requests/", None, {"requested_by": "%"}, 400, "requested_by"),
    ("requests-created-bad", "devops", "get", "/api/v1/provision-requests/", None, {"created_after": "%"}, 400, "created"),
    ("extensions-provision-request", "devops", "get", "/api/v1/extension-requests/", None, {"provision_request": "%"}, 400, "provision_request"),
    ("extensions-requested-by", "devops", "get", "/api/v1/extension-requests/", None, {"requested_by": "%25"}, 400, "requested_by"),
    ("usage-user-percent", "admin", "get", "/api/v1/quotas/usage/", None, {"user": "%"}, 404, None),
    ("request-detail-percent", "devops", "get", "/api/v1/provision-requests/%25/", None, None, 404, None),
    ("user-detail-percent", "admin", "get", "/api/v1/users/%25/", None, None, 404, None),
    ("quota-detail-percent", "admin", "get", "/api/v1/quotas/%25/", None, None, 404, None),
    # --- label filters -----------------------------------------------------------------------
    ("label-lookup", "dev", "get", "/configs", None, {"label": "a__range:x"}, 200, None),  # a key, not a lookup
    ("label-nested-lookup", "dev", "get", "/configs", None, {"label": "a__b__in:x"}, 200, None),
    ("label-no-colon", "dev", "get", "/configs", None, {"label": "nocolon"}, 400, "label"),
    ("label-dollar", "dev", "get", "/configs", None, {"label": "$where:1"}, 400, "label"),
    ("label-ok", "dev", "get", "/configs", None, {"label": "env:prod"}, 200, None),
    # --- JSON Schemas: no remote $ref, no $ref cycle -----------------------------------------
    ("config-remote-ref", "dev", "post", "/configs", json.dumps({"name": "r1", "data": 1, "schema": SCHEMA_WITH_REMOTE_REF}), None, 400, "$ref"),
    ("config-remote-ref-put", "dev", "put", "/configs/existing", json.dumps({"name": "existing", "data": 1, "schema": {"properties": {"a": {"$ref": "file:///etc/passwd"}}}}), None, 400, "$ref"),
    ("config-relative-ref", "dev", "post", "/configs", json.dumps({"name": "r1", "data": 1, "schema": {"$ref": "other.json"}}), None, 400, "$ref"),
    ("config-cycle", "dev", "post", "/configs", json.dumps({"name": "r1", "data": {"x": 1}, "schema": SCHEMA_WITH_CYCLE}), None, 400, "cycle"),
    ("config-local-ref-ok", "dev", "post", "/configs", json.dumps( { "name": "r1", "data": {"x": 1}, "schema": {"$defs": {"n": {"type": "integer"}}, "properties": {"x": {"$ref": "#/$defs/n"}}}, }),
        None,
        201,
        None,
    ),
    ("config-dangling-ref", "dev", "post", "/configs", json.dumps({"name": "r1", "data": {"x": 1}, "schema": {"properties": {"x": {"$ref": "#/$defs/none"}}}}), None, 400, "$ref"),
    ("config-schema-too-deep", "dev", "post", "/configs", json.dumps({"name": "r1", "data": 1, "schema": DEEP_SCHEMA}), None, 400, "nested more than"),
    ("config-data-too-deep", "dev", "post", "/configs", '{"name": "r1", "schema": {"items": {"$ref": "#"}}, "data": ' + "[" * 600 + "]" * 600 + "}", None, 400, "nested more than 64"),
    ("config-data-64-deep-ok", "dev", "post", "/configs", '{"name": "r1", "data": ' + "[" * 63 + "]" * 63 + "}", None, 201, None),
    ("merge-patch-too-deep", "dev", "patch", "/configs/existing", '{"a": ' + '{"b": ' * 500 + "1" + "}" * 501, None, 400, "nested more than 64"),
    ("estimate-too-deep", "dev", "post", "/api/v1/estimates/", '{"template": "bad-input", "parameters": ' + "[" * 200 + "]" * 200 + "}", None, 400, "nested more than 64"),
    ("template-schema-too-deep", "admin", "post", "/api/v1/templates/", json.dumps({**TEMPLATE, "id": "t2", "parameters_schema": {"type": "object", "properties": {"bucket": DEEP_SCHEMA}}}), None, 400, "nested more than"),
    ("template-remote-ref", "admin", "post", "/api/v1/templates/", json.dumps( { **TEMPLATE, "id": "t2", "parameters_schema": {"type": "object", "properties": {"bucket": SCHEMA_WITH_REMOTE_REF}}, }),
        None,
        400,
        "$ref",
    ),
    ("template-cycle", "admin", "post", "/api/v1/templates/", json.dumps({**TEMPLATE, "id": "t2", "body": "x: {{ x }}", "parameters_schema": SCHEMA_WITH_CYCLE}), None, 400, "cycle"),
    ("template-cycle-patch", "admin", "patch", "/api/v1/templates/bad-input/", json.dumps({"body": "x: {{ x }}", "parameters_schema": SCHEMA_WITH_CYCLE}), None, 400, "cycle"),
    # --- roles -------------------------------------------------------------------------------
    ("role-patch-empty", "admin", "patch", "/api/v1/roles/qa/", "{}", None, 200, None),
    ("role-patch-nul", "admin", "patch", "/api/v1/roles/qa/", '{"name": "q\\u0000"}', None, 400, "name"),
    ("role-put-empty", "admin", "put", "/api/v1/roles/qa/", "{}", None, 400, "name"),
    # --- issue 23: facets, page numbers past any page, usernames as published -----------------
    ("admin-facets-devops", "devops", "get", "/admin/configs/config/", None, {"_facets": "True"}, 200, None),  # no counts: the backend cannot count them
    ("admin-facets-admin", "admin", "get", "/admin/provisioning/provisionrequest/", None, {"_facets": "True"}, 200, None),
    ("admin-page-huge", "admin", "get", "/admin/configs/config/", None, {"p": str(10**25)}, 200, None),  # one page: the page; past several: ?e=1
    ("portal-notifications-page-huge", "dev", "get", "/portal/notifications/", None, {"page": "1000000000000000000"}, 404, None),
    ("portal-environments-page-huge", "dev", "get", "/portal/environments/", None, {"page": "99999999999999999999999"}, 404, None),
    ("portal-environments-page-negative", "dev", "get", "/portal/environments/table/", None, {"page": "-1"}, 404, None),
    ("portal-notifications-page-garbage", "dev", "get", "/portal/notifications/", None, {"page": "x"}, 404, None),
    ("requests-page-huge", "devops", "get", "/api/v1/provision-requests/", None, {"page": str(10**25)}, 404, "page"),
    ("notifications-page-negative", "dev", "get", "/api/v1/notifications/", None, {"page": "-1"}, 404, "page"),
    ("configs-page-huge", "dev", "get", "/configs", None, {"page": str(10**25)}, 404, "page"),
    ("users-page-garbage", "admin", "get", "/api/v1/users/", None, {"page": "x"}, 404, "page"),
    ("user-non-ascii", "admin", "post", "/api/v1/users/", '{"username": "\u00fcu677085152"}', None, 400, "username"),
]
# fmt: on


@pytest.fixture
def world(make_user, db):
    from quotas.pricing_seed import seed_pricing

    users = {
        "dev": make_user("dev1", "dev"),
        "devops": make_user("ops1", "devops"),
        "admin": make_user("admin1", "admin"),
    }
    seed_pricing()
    template_services.create_template(actor=None, **TEMPLATE)
    config_services.create(actor=users["dev"], name="existing", data={"a": 1})
    Group.objects.create(name="qa")
    return users


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("who", "method", "path", "body", "query", "status", "names"),
    [case[1:] for case in CASES],
    ids=[c[0] for c in CASES],
)
def test_bad_input_is_a_4xx_naming_the_problem(world, who, method, path, body, query, status, names):
    from rest_framework.test import APIClient

    client = APIClient()
    if who:
        client.force_authenticate(world[who])
        if path.startswith(("/portal/", "/admin/")):  # Django views: a session
            client.force_login(world[who])
    if body is not None:
        kind = "application/json-patch+json" if method == "patch" and body.startswith("[") else "application/json"
        response = getattr(client, method)(path, body.encode(), content_type=kind)
    else:
        response = getattr(client, method)(path, query or {})
    assert response.status_code == status, response.content[:500]
    if names is not None:
        assert names in response.json()["error"], response.json()


@pytest.mark.django_db
def test_a_nul_in_a_query_parameter_is_refused_in_the_admin_too(world):
    from django.test import Client

    client = Client()
    client.force_login(world["admin"])
    response = client.get("/admin/configs/config/", {"q": "a\x00"})
    assert response.status_code == 400
    assert "'q'" in response.content.decode()
