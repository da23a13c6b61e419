import pytest
from django.test import Client
from rest_framework.test import APIClient

from cloudassist import services
from cloudassist.models import ApiToken
from conftest import PASSWORD

NEW_PASSWORD = "a-new-long-password-42"


def _token_works(raw: str) -> bool:
    return APIClient().get("/api/v1/users/me/", HTTP_AUTHORIZATION=f"Token {raw}").status_code == 200


def _login(username: str) -> tuple[Client, str]:
    client = Client()
    response = client.post("/login/", {"username": username, "password": PASSWORD})
    assert response.status_code == 302, response.content
    return client, response["Location"]


@pytest.mark.django_db
def test_one_login_page_developers_land_on_their_environments(dev_user):
    page = Client().get("/login/")
    assert page.status_code == 200
    assert b'name="username"' in page.content
    client, landing = _login("dev1")
    assert landing == "/portal/environments/"
    assert client.get(landing).status_code == 200


@pytest.mark.django_db
def test_reviewers_land_on_the_review_inbox(devops_user):
    client, landing = _login(devops_user.username)
    assert landing == "/admin/provisioning/provisionrequest/"
    assert client.get(landing).status_code == 200


@pytest.mark.django_db
def test_bad_password_stays_on_the_login_page_with_an_error(dev_user):
    response = Client().post("/login/", {"username": "dev1", "password": "nope"})
    assert response.status_code == 200
    assert b"correct username and password" in response.content


@pytest.mark.django_db
def test_pages_need_a_login_and_logout_ends_the_session(dev_user):
    anonymous = Client().get("/portal/environments/")
    assert anonymous.status_code == 302
    assert anonymous["Location"].startswith("/login/?next=/portal/environments/")
    assert Client().get("/")["Location"] == "/portal/"
    client, _ = _login("dev1")
    assert client.post("/logout/")["Location"] == "/login/"
    assert client.get("/portal/environments/").status_code == 302


@pytest.mark.django_db
def test_browsable_api_login_lands_in_the_portal_not_a_404(dev_user):
    response = Client().post("/api-auth/login/", {"username": "dev1", "password": PASSWORD})
    assert response.status_code == 302
    assert response["Location"] == "/portal/"


@pytest.mark.django_db
def test_password_change(dev_user):
    client, _ = _login("dev1")
    assert client.get("/password/").status_code == 200
    new = "a-new-long-password-42"
    response = client.post("/password/", {"old_password": PASSWORD, "new_password1": new, "new_password2": new})
    assert response["Location"] == "/password/done/"
    assert Client().login(username="dev1", password=new)


@pytest.mark.django_db
def test_a_password_change_revokes_the_users_api_tokens_and_says_so(dev_user, other_dev):
    _, raw = services.issue_token(user=dev_user)
    _, others = services.issue_token(user=other_dev)
    assert _token_works(raw)
    client, _ = _login("dev1")
    answer = "/password/", {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}
    done = client.post(*answer, follow=True)
    assert done.redirect_chain == [("/password/done/", 302)]
    assert "Your API tokens were revoked" in done.content.decode()
    assert not _token_works(raw)
    assert not ApiToken.objects.filter(user=dev_user).exists()
    assert _token_works(others)  # only the user's own
    assert client.get("/portal/environments/").status_code == 200  # this session stays signed in


@pytest.mark.django_db
def test_the_admins_password_change_revokes_the_users_api_tokens(devops_user):
    _, raw = services.issue_token(user=devops_user)
    client, _ = _login(devops_user.username)
    form = {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}
    done = client.post("/admin/password_change/", form, follow=True)
    assert done.redirect_chain == [("/admin/password_change/done/", 302)]
    assert "Your API tokens were revoked" in done.content.decode()
    assert not _token_works(raw)
    assert Client().login(username=devops_user.username, password=NEW_PASSWORD)


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/portal/environments/", "/portal/notifications/", "/password/", "/admin/"])
def test_signed_in_pages_are_private_and_not_stored(path, devops_user):
    client, _ = _login(devops_user.username)
    response = client.get(path)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    assert set(response["Cache-Control"].replace(" ", "").split(",")) >= {"private", "no-store"}


@pytest.mark.django_db
def test_json_keeps_its_own_caching(devops_user):
    client, _ = _login(devops_user.username)
    response = client.get("/api/v1/users/me/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    assert "no-store" not in response.get("Cache-Control", "")
