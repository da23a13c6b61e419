"""Access is the same everywhere: who sees what in the admin, against the API's answers.

Two matrices, for a developer, a DevOps engineer and an admin: every registered admin changelist
(developers are sent to the login page, the others get the page their view permission allows,
never a server error), and each config entry, private or shared, in the API (200 or 404), the
admin's changelist (listed or not) and its change page (shown or not) -- which must agree.
"""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.test import Client

from cloudassist import roles
from configs import services as config_services
from conftest import PASSWORD


@pytest.fixture
def people(make_user):
    return {
        "dev": make_user("dev1", roles.DEV),
        "other_dev": make_user("dev2", roles.DEV),
        "devops": make_user("ops1", roles.DEVOPS),
        "admin": make_user("admin1", roles.ADMIN),
    }


def browser(user) -> Client:
    client = Client()
    assert client.login(username=user.username, password=PASSWORD)
    return client


def changelists() -> list[str]:
    return sorted(f"/admin/{model._meta.app_label}/{model._meta.model_name}/" for model in admin.site._registry)


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["dev", "devops", "admin"])
def test_every_admin_changelist_answers_as_the_role_allows(people, who):
    user = people[who]
    client = browser(user)
    seen = {}
    for model in admin.site._registry:
        url = f"/admin/{model._meta.app_label}/{model._meta.model_name}/"
        status = client.get(url).status_code
        if who == "dev":
            expected = 302  # not staff: the admin's login page
        elif model._meta.app_label == "django_rq":
            expected = 200  # django-rq's queue dashboard (a placeholder model): any staff user
        elif user.has_perm(f"{model._meta.app_label}.view_{model._meta.model_name}") or user.has_perm(
            f"{model._meta.app_label}.change_{model._meta.model_name}"
        ):
            expected = 200
        else:
            expected = 403
        seen[url] = (status, expected)
    assert {url: got for url, (got, expected) in seen.items() if got != expected} == {}
    assert len(seen) == len(changelists())


# name: (owner, read_roles, write_roles)
ENTRIES = {
    "private.dev": ("dev", [], []),
    "private.other": ("other_dev", [], []),
    "shared.with-devops": ("dev", [roles.DEVOPS], []),
    "written.by-devs": ("other_dev", [], [roles.DEV]),
    "private.devops": ("devops", [], []),
    "private.admin": ("admin", [], []),
}

# Who may see each entry (the API's rule, configs.services.visible), spelled out.
SEES = {
    "dev": {"private.dev", "shared.with-devops", "written.by-devs"},
    "other_dev": {"private.other", "written.by-devs"},
    "devops": {"shared.with-devops", "private.devops"},
    "admin": set(ENTRIES),
}


@pytest.fixture
def entries(people):
    return {
        name: config_services.create(
            actor=people[owner], name=name, data={"secret": name}, read_roles=read, write_roles=write
        )
        for name, (owner, read, write) in ENTRIES.items()
    }


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["dev", "other_dev", "devops", "admin"])
def test_config_entries_the_api_hides_the_admin_hides(people, entries, who):
    from rest_framework.test import APIClient

    api = APIClient()
    api.force_authenticate(people[who])
    by_api = {name for name in ENTRIES if api.get(f"/api/v1/configs/{name}").status_code == 200}
    listed = {row["name"] for row in api.get("/api/v1/configs/").json()["results"]}
    assert by_api == listed == SEES[who]

    client = browser(people[who])
    changelist = client.get("/admin/configs/config/")
    if who in ("dev", "other_dev"):
        assert changelist.status_code == 302  # developers use the API, never the admin
        return
    assert changelist.status_code == 200
    in_admin = {config.name for config in changelist.context["cl"].result_list}
    assert in_admin == SEES[who]
    assert changelist.context["cl"].result_count == len(SEES[who])
    for name, config in entries.items():
        page = client.get(f"/admin/configs/config/{config.pk}/change/")
        if name in SEES[who]:
            assert page.status_code == 200, name
            assert "secret" in page.content.decode()
        else:
            # The admin's answer for an object outside the queryset: back to the index, "doesn't exist".
            assert page.status_code == 302, name
            assert config.name not in client.get(page["Location"]).content.decode(), name
        history = client.get(f"/admin/configs/config/{config.pk}/history/")
        assert history.status_code == (200 if name in SEES[who] else 302), name
    # Search and the owner filter cannot bring a hidden entry back.
    searched = client.get("/admin/configs/config/", {"q": "private"})
    assert {c.name for c in searched.context["cl"].result_list} == {n for n in SEES[who] if "private" in n}
