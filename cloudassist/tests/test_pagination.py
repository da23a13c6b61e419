"""Every paginated API list (each GET with a ``page`` parameter in the published schema): a page
number that is no page, however big, is a 404 naming ``page``, never a 500."""

from __future__ import annotations

import pytest

from cloudassist import roles


@pytest.mark.django_db
def test_every_paginated_list_answers_a_404_for_a_page_that_is_no_page(admin_client_api, make_user):
    schema = admin_client_api.get("/api/schema/", {"format": "json"}).json()
    lists = sorted(
        path
        for path, operations in schema["paths"].items()
        if "{" not in path and any(p["name"] == "page" for p in operations.get("get", {}).get("parameters", []))
    )
    assert {"/api/v1/users/", "/api/v1/configs/", "/api/v1/provision-requests/"} <= set(lists), lists
    make_user("ops9", roles.DEVOPS)
    failures = {}
    for path in lists:
        for page in (str(10**25), "1000000000000000000", "-1", "0", "x", "1e400", "9" * 5000):
            response = admin_client_api.get(path, {"page": page})
            if response.status_code != 404 or "page" not in response.json()["error"].lower():
                failures[f"{path}?page={page[:30]}"] = (response.status_code, response.content[:200])
    assert not failures
