"""The admin site: every registered changelist, for every role that may see it, with facets asked
for (``?_facets=True``) and with page numbers that are no page, is a page or a 4xx, never a 500;
usernames are ASCII in the user forms as in the API."""

from __future__ import annotations

from decimal import Decimal

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


# --- what the console's pages share: short ids, side-by-side diffs -------------------------------


def test_a_short_id_is_the_last_8_characters_with_the_whole_id_on_hover():
    from cloudassist.admin import short_id

    assert (
        short_id("6b175b6a6b10f046008e5ed8")
        == '<span class="short-id" title="6b175b6a6b10f046008e5ed8">008e5ed8</span>'
    )
    linked = short_id("6b175b6a6b10f046008e5ed8", url="/admin/x/")
    assert linked == '<a class="short-id" href="/admin/x/" title="6b175b6a6b10f046008e5ed8">008e5ed8</a>'
    assert short_id(None) == "-"


def test_side_by_side_marks_what_changed_escapes_and_counts_what_it_leaves_out():
    from cloudassist.admin import side_by_side

    old = "\n".join([f"line {n}" for n in range(1, 21)] + ["name: <old>", "gone: yes", "tail"])
    new = "\n".join([f"line {n}" for n in range(1, 21)] + ["name: <new>", "tail", "added: 1"])
    table = side_by_side(old, new, old_label="Version 1", new_label="Current (version 2)")
    assert table.startswith('<table class="version-diff">')
    assert '<th scope="col" colspan="2">Version 1</th>' in table
    assert '<tr class="diff-skipped"><td colspan="4">17 unchanged lines</td></tr>' in table
    assert "line 17" not in table
    assert "line 18" in table
    # The changed line, what differs marked within it, escaped.
    assert '<td class="diff-old">name: &lt;<del>old</del>&gt;</td>' in table
    assert '<td class="diff-new">name: &lt;<ins>new</ins>&gt;</td>' in table
    assert '<td class="diff-old"><del>gone: yes</del></td>' in table
    assert '<td class="line-number">23</td><td class="diff-new"><ins>added: 1</ins></td>' in table
    assert "<old>" not in table

    assert side_by_side("same\n", "same\n", old_label="a", new_label="b") == '<p class="diff-same">No difference.</p>'


# --- the users: roles, not groups, and quota use -------------------------------------------------


@pytest.fixture
def root(make_user):
    return make_user("root", roles.ADMIN, is_superuser=True)  # only superusers edit users here


@pytest.mark.django_db
def test_the_users_list_shows_roles_and_quota_use_in_queries_that_do_not_grow_with_the_page(
    world, root, make_user, mongo_commands
):
    from django.contrib.auth.models import Group

    from quotas import services as quota_services
    from quotas.choices import QuotaType

    dev = make_user("dev-x", roles.DEV)
    quota_services.create_quota(
        actor=root,
        role=Group.objects.get(name=roles.DEV),
        quota_type=QuotaType.PERMANENT,
        usd_budget=Decimal("100.00"),
        max_live_environments=5,
    )
    client = client_for(root)
    page = client.get("/admin/auth/user/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "By groups" not in text
    assert "By role" in text
    cells = {row.username: row for row in page.context["cl"].result_list}
    assert cells["dev-x"]._role_names == {roles.DEV}
    assert "$0.00 of $100.00" in cells["dev-x"]._console_cells["quota_use"]
    assert "0 of 5 live" in cells["dev-x"]._console_cells["quota_use"]
    assert "no limit" in cells["root"]._console_cells["quota_use"]
    assert '<span class="role-list">admin (superuser)</span>' in text

    with mongo_commands() as few:
        client.get("/admin/auth/user/")
    for index in range(6):
        make_user(f"more-{index}", roles.DEV)
    with mongo_commands() as many:
        assert client.get("/admin/auth/user/").status_code == 200
    assert len(many.commands) == len(few.commands), many.summary()

    filtered = client.get("/admin/auth/user/", {"role": str(Group.objects.get(name=roles.DEVOPS).pk)})
    assert [user.username for user in filtered.context["cl"].result_list] == ["devops-user"]
    assert dev.username not in [user.username for user in filtered.context["cl"].result_list]


@pytest.mark.django_db
def test_a_users_page_shows_roles_and_quota_use_and_saving_roles_sets_the_staff_flag(world, root, make_user):
    from django.contrib.auth.models import Group

    dev = make_user("dev-y", roles.DEV)
    client = client_for(root)
    page = client.get(f"/admin/auth/user/{dev.pk}/change/")
    text = page.content.decode()
    form = page.context["adminform"].form
    assert form.fields["groups"].label == "Roles"
    assert "is_staff" not in form.fields
    assert "user_permissions" not in form.fields
    assert "Quota use" in text
    assert '<table class="quota-use-table">' in text
    assert "Developers: request environments" in text  # what the role allows, in words

    data = {name: form[name].value() for name in form.fields if form[name].value() is not None}
    data.update(
        groups=[str(Group.objects.get(name=roles.DEVOPS).pk)], date_joined_0="2025-01-01", date_joined_1="00:00:00"
    )
    data.pop("last_login", None)
    data.pop("password", None)
    saved = client.post(f"/admin/auth/user/{dev.pk}/change/", data)
    assert saved.status_code == 302, saved.context["adminform"].form.errors
    dev.refresh_from_db()
    assert dev.is_staff  # DevOps sign in to the console: the flag follows the role
    assert roles.names_by_user([dev.pk])[dev.pk] == {roles.DEVOPS}
