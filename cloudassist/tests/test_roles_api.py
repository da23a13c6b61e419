import pytest


@pytest.mark.django_db
def test_everyone_reads_roles(dev_client, dev_user):
    body = dev_client.get("/api/v1/roles/").json()
    assert [role["name"] for role in body["results"]] == ["admin", "dev", "devops"]
    dev = body["results"][1]
    assert dev["url"].endswith("/api/v1/roles/dev/")
    assert dev["users"].endswith("/api/v1/users/?role=dev")
    assert dev["description"]


@pytest.mark.django_db
def test_only_admins_add_roles(dev_client, admin_client_api):
    assert dev_client.post("/api/v1/roles/", {"name": "qa"}, format="json").status_code == 403
    response = admin_client_api.post("/api/v1/roles/", {"name": "qa"}, format="json")
    assert response.status_code == 201
    assert admin_client_api.get("/api/v1/roles/qa/").json()["name"] == "qa"
    assert admin_client_api.delete("/api/v1/roles/qa/").status_code == 204


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["admin", "dev", "devops"])
def test_built_in_roles_cannot_be_deleted_or_renamed(admin_client_api, name):
    assert admin_client_api.delete(f"/api/v1/roles/{name}/").status_code == 409
    response = admin_client_api.patch(f"/api/v1/roles/{name}/", {"name": "renamed"}, format="json")
    assert response.status_code == 409
    assert admin_client_api.get(f"/api/v1/roles/{name}/").status_code == 200


@pytest.mark.django_db
def test_duplicate_role_name_is_a_400(admin_client_api, dev_user):
    response = admin_client_api.post("/api/v1/roles/", {"name": "dev"}, format="json")
    assert response.status_code == 400
    assert "name" in response.json()["fields"]
