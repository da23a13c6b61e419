import pytest
from django.test import Client

from conftest import PASSWORD


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
