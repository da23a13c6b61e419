"""The admin site: every registered changelist, for every role that may see it, with facets asked
for (``?_facets=True``) and with page numbers that are no page, is a page or a 4xx, never a 500;
usernames are ASCII in the user forms as in the API."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.test import Client
from django.urls import reverse

from cloudassist import roles
from configs import services as config_services

CHANGELISTS = sorted(
    reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist") for model in admin.site._registry
)


@pytest.fixture
def world(make_user, make_request):
    users = {role: make_user(f"{role}-user", role) for role in (roles.ADMIN, roles.DEVOPS)}
    make_request()  # a request, its audit trail and quota rows: lists with something to count
    config_services.create(actor=users[roles.ADMIN], name="facets", data={"a": 1}, labels={"env": "x"})
    return users


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.django_db
@pytest.mark.parametrize("role", [roles.ADMIN, roles.DEVOPS])
def test_every_changelist_with_facets_asked_for_renders(world, role):
    client = client_for(world[role])
    failures = {}
    for url in CHANGELISTS:
        response = client.get(url, {"_facets": "True"})
        if response.status_code not in (200, 302, 403):
            failures[url] = response.status_code
        elif response.status_code == 200:
            # No counts where the backend cannot count them, and no link offering them.
            text = response.content.decode()
            if "Show counts" in text or "Hide counts" in text:
                failures[url] = "offers counts"
    assert not failures


@pytest.mark.django_db
def test_devops_see_the_configs_list_without_counts_when_facets_are_asked_for(world):
    response = client_for(world[roles.DEVOPS]).get("/admin/configs/config/", {"_facets": "True"})
    assert response.status_code == 200
    assert "facets" in response.content.decode()  # the config the list shows, without a count beside its filters
    assert not response.context["cl"].add_facets


@pytest.mark.django_db
@pytest.mark.parametrize("page", [str(10**25), "-1", "x"])
def test_every_changelist_answers_a_page_that_is_no_page(world, page):
    client = client_for(world[roles.ADMIN])
    failures = {}
    for url in CHANGELISTS:
        response = client.get(url, {"p": page})
        if response.status_code not in (200, 302, 404):
            failures[url] = response.status_code
    assert not failures


@pytest.mark.django_db
def test_the_user_forms_refuse_a_username_that_is_not_ascii(world, make_user):
    from django.contrib.auth import get_user_model

    client = client_for(make_user("root", roles.ADMIN, is_superuser=True))  # only superusers edit users here
    password = "a-Long-pass-42"
    added = client.post(
        "/admin/auth/user/add/",
        {"username": "üu677085152", "usable_password": "true", "password1": password, "password2": password},
    )
    assert added.status_code == 200  # the form again, with the error
    assert added.context["adminform"].form.errors["username"][0].startswith("Enter a valid username.")
    assert not get_user_model().objects.filter(username="üu677085152").exists()

    user = make_user("plain")
    form = client.get(f"/admin/auth/user/{user.pk}/change/").context["adminform"].form
    data = {name: form[name].value() for name in form.fields if form[name].value() is not None}
    data.update(username="plaiñ", date_joined_0="2025-01-01", date_joined_1="00:00:00", groups=[])
    data.pop("last_login", None)
    changed = client.post(f"/admin/auth/user/{user.pk}/change/", data)
    assert changed.status_code == 200
    assert "username" in changed.context["adminform"].form.errors
    user.refresh_from_db()
    assert user.username == "plain"
