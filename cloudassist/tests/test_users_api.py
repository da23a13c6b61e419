import pytest
from bson import ObjectId
from django.contrib.auth import get_user_model

from cloudassist import roles
from conftest import PASSWORD

User = get_user_model()


@pytest.mark.django_db
def test_admin_creates_a_user_with_roles_and_password(admin_client_api):
    response = admin_client_api.post(
        "/api/v1/users/",
        {"username": "newops", "email": "n@example.com", "password": "a-Long-enough-pass-42", "roles": ["devops"]},
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["roles"] == ["devops"]
    assert body["is_staff"] is True  # devops log in to the admin
    assert "password" not in body
    assert ObjectId(body["id"])
    assert body["url"].endswith(f"/api/v1/users/{body['id']}/")
    user = User.objects.get(username="newops")
    assert user.check_password("a-Long-enough-pass-42")


@pytest.mark.django_db
def test_weak_password_is_refused_naming_the_field(admin_client_api):
    response = admin_client_api.post("/api/v1/users/", {"username": "weak", "password": "123"}, format="json")
    assert response.status_code == 400
    assert "password" in response.json()["fields"]
    assert not User.objects.filter(username="weak").exists()


@pytest.mark.django_db
def test_unknown_role_is_refused(admin_client_api):
    response = admin_client_api.post("/api/v1/users/", {"username": "x1", "roles": ["wizard"]}, format="json")
    assert response.status_code == 400
    assert response.json()["fields"] == {"roles": ["Unknown role(s): wizard."]}


@pytest.mark.django_db
def test_duplicate_username_is_a_400(admin_client_api, dev_user):
    response = admin_client_api.post("/api/v1/users/", {"username": "dev1"}, format="json")
    assert response.status_code == 400
    assert "username" in response.json()["fields"]


@pytest.mark.django_db
@pytest.mark.parametrize("username", ["üu677085152", "\uff46\uff55\uff4c\uff4c", "naïve", "a b", "x\u0660"])
def test_usernames_are_ascii_as_the_schema_publishes(admin_client_api, dev_user, username):
    # The published pattern ^[\w.@+-]+$ is ASCII in JSON Schema: what the list returns must match it.
    created = admin_client_api.post("/api/v1/users/", {"username": username}, format="json")
    renamed = admin_client_api.patch(f"/api/v1/users/{dev_user.pk}/", {"username": username}, format="json")
    for response in (created, renamed):
        assert response.status_code == 400, response.json()
        assert list(response.json()["fields"]) == ["username"]
        message = " ".join(response.json()["fields"]["username"])
        assert "letters" in message  # words, not the regex
        assert "[" not in message
    assert not User.objects.filter(username=username).exists()
    dev_user.refresh_from_db()
    assert dev_user.username == "dev1"


@pytest.mark.django_db
def test_the_published_username_pattern_matches_every_listed_username(admin_client_api, make_user):
    import re

    schema = admin_client_api.get("/api/schema/", {"format": "json"}).json()
    pattern = schema["components"]["schemas"]["User"]["properties"]["username"]["pattern"]
    make_user("a.b@c+d-e_f9")
    usernames = [row["username"] for row in admin_client_api.get("/api/v1/users/").json()["results"]]
    assert len(usernames) == 2
    assert all(re.fullmatch(pattern, name, re.ASCII) for name in usernames)


@pytest.mark.django_db
@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_developers_and_devops_cannot_manage_users(dev_client, devops_client, other_dev, method):
    for client in (dev_client, devops_client):
        url = "/api/v1/users/" if method == "post" else f"/api/v1/users/{other_dev.pk}/"
        response = getattr(client, method)(url, {"username": "zz"}, format="json")
        assert response.status_code in (403, 404)
    other_dev.refresh_from_db()
    assert other_dev.username == "dev2"


@pytest.mark.django_db
def test_developer_sees_only_themself(dev_client, dev_user, other_dev):
    listing = dev_client.get("/api/v1/users/").json()
    assert [user["username"] for user in listing["results"]] == ["dev1"]
    assert dev_client.get(f"/api/v1/users/{other_dev.pk}/").status_code == 404


@pytest.mark.django_db
def test_me_reads_and_updates_own_profile_only(dev_client, dev_user):
    response = dev_client.patch("/api/v1/users/me/", {"first_name": "Dee"})
    assert response.status_code == 200
    assert response.json()["first_name"] == "Dee"
    dev_user.refresh_from_db()
    assert dev_user.first_name == "Dee"


@pytest.mark.django_db
def test_me_refuses_read_only_and_unknown_fields_naming_them(dev_client, dev_user):
    response = dev_client.patch(
        "/api/v1/users/me/", {"first_name": "Dee", "is_staff": True, "roles": ["admin"], "shoe": 9}, format="json"
    )
    assert response.status_code == 400
    fields = response.json()["fields"]
    assert fields["roles"] == ["This field is read-only."]
    assert fields["is_staff"] == ["This field is read-only."]
    assert fields["shoe"][0].startswith("Unknown field; expected one of: ")
    dev_user.refresh_from_db()
    assert dev_user.first_name != "Dee"  # nothing was written
    assert not dev_user.is_staff
    assert not roles.is_admin(User.objects.get(pk=dev_user.pk))


@pytest.mark.django_db
def test_admin_changes_roles_and_staff_follows(admin_client_api, dev_user):
    response = admin_client_api.patch(f"/api/v1/users/{dev_user.pk}/", {"roles": ["devops"]}, format="json")
    assert response.status_code == 200
    assert response.json()["roles"] == ["devops"]
    assert response.json()["is_staff"] is True
    response = admin_client_api.patch(f"/api/v1/users/{dev_user.pk}/", {"roles": ["dev"]}, format="json")
    assert response.json()["is_staff"] is False


@pytest.mark.django_db
def test_admin_cannot_delete_or_deactivate_themself(admin_client_api, admin_user):
    assert admin_client_api.delete(f"/api/v1/users/{admin_user.pk}/").status_code == 409
    response = admin_client_api.patch(f"/api/v1/users/{admin_user.pk}/", {"is_active": False}, format="json")
    assert response.status_code == 409
    assert response.json()["code"] == "conflict"
    admin_user.refresh_from_db()
    assert admin_user.is_active


@pytest.mark.django_db
def test_admin_deletes_a_user(admin_client_api, dev_user):
    assert admin_client_api.delete(f"/api/v1/users/{dev_user.pk}/").status_code == 204
    assert not User.objects.filter(pk=dev_user.pk).exists()


@pytest.mark.django_db
@pytest.mark.parametrize("bad_id", ["zzz", "123", "6b01714c3a0c17179820bexx", "%00"])
def test_malformed_ids_are_404_not_500(admin_client_api, bad_id):
    response = admin_client_api.get(f"/api/v1/users/{bad_id}/")
    assert response.status_code == 404
    assert response.json()["error"] == "Not found"


@pytest.mark.django_db
def test_user_list_filters_orders_and_paginates(admin_client_api, make_user):
    for name in ("u3", "u1", "u2"):
        make_user(name, roles.DEV)
    make_user("o1", roles.DEVOPS)
    body = admin_client_api.get("/api/v1/users/?role=dev&ordering=-username&page_size=2").json()
    assert body["count"] == 3
    assert [user["username"] for user in body["results"]] == ["u3", "u2"]
    assert body["next"] is not None
    assert body["previous"] is None
    assert admin_client_api.get(body["next"]).json()["results"][0]["username"] == "u1"


@pytest.mark.django_db
def test_page_size_is_bounded(admin_client_api, settings):
    settings.API_MAX_PAGE_SIZE = 3
    for index in range(5):
        User.objects.create(username=f"bulk{index}")
    body = admin_client_api.get("/api/v1/users/?page_size=1000").json()
    assert len(body["results"]) == 3


@pytest.mark.django_db
def test_user_list_query_count_does_not_grow_with_users(admin_client_api, make_user, django_assert_max_num_queries):
    for index in range(3):
        make_user(f"few{index}", roles.DEV)
    with django_assert_max_num_queries(6) as few:
        admin_client_api.get("/api/v1/users/")
    for index in range(20):
        make_user(f"many{index}", roles.DEV, roles.DEVOPS)
    with django_assert_max_num_queries(len(few.captured_queries)):
        body = admin_client_api.get("/api/v1/users/").json()
    assert body["count"] == 24
    assert ["dev", "devops"] in [user["roles"] for user in body["results"]]


@pytest.mark.django_db
def test_login_with_created_password(admin_client_api, client):
    admin_client_api.post("/api/v1/users/", {"username": "ops9", "password": PASSWORD, "roles": ["devops"]})
    assert client.login(username="ops9", password=PASSWORD)


@pytest.mark.django_db
def test_a_password_set_through_the_api_revokes_the_users_tokens_and_says_so(admin_client_api, dev_user):
    from rest_framework.test import APIClient

    from cloudassist import services

    _, raw = services.issue_token(user=dev_user)
    services.issue_token(user=dev_user)
    renamed = admin_client_api.patch(f"/api/v1/users/{dev_user.pk}/", {"first_name": "Dee"}, format="json")
    assert renamed.status_code == 200
    assert "X-Tokens-Revoked" not in renamed  # no new password, tokens kept
    response = admin_client_api.patch(
        f"/api/v1/users/{dev_user.pk}/", {"password": "a-Long-enough-pass-43"}, format="json"
    )
    assert response.status_code == 200
    assert response["X-Tokens-Revoked"] == "2"
    assert APIClient().get("/api/v1/users/me/", HTTP_AUTHORIZATION=f"Token {raw}").status_code == 401
