"""The config server in the Django admin: list, add, change (compare-and-set), history, rollback, delete."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.contrib.admin.models import DELETION, LogEntry
from django.contrib.auth.models import Group
from django.contrib.messages import get_messages
from django.utils import timezone

from cloudassist import roles
from cloudassist.services import ensure_roles
from configs import services, watch
from configs.models import Config, ConfigVersion
from conftest import PASSWORD

CONFIGS = "/admin/configs/config/"
ADD = f"{CONFIGS}add/"
SCHEMA = {
    "type": "object",
    "properties": {"port": {"type": "integer"}, "host": {"type": "string"}},
    "required": ["port"],
}


def change_url(config) -> str:
    return f"{CONFIGS}{config.pk}/change/"


def rollback_url(config, version: int) -> str:
    return f"{CONFIGS}{config.pk}/rollback/{version}/"


def login(client, user):
    assert client.login(username=user.username, password=PASSWORD)
    return client


def texts(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def form_data(response, **changes) -> dict:
    """What a browser posts back from the change/add page, with ``changes`` applied (None drops a field)."""
    form = response.context["adminform"].form
    data = {}
    for name in form.fields:
        value = form[name].value()
        if value is not None:
            data[name] = value
    for name, value in changes.items():
        if value is None:
            data.pop(name, None)
        else:
            data[name] = json.dumps(value) if name in {"data", "schema", "labels"} else value
    data["_save"] = "Save"
    return data


def errors_of(response) -> str:
    form = response.context["adminform"].form
    return " ".join(str(error) for errors in form.errors.values() for error in errors)


@pytest.fixture
def admin_browser(client, admin_user):
    return login(client, admin_user)


@pytest.fixture
def entry(admin_user):
    return services.create(
        actor=admin_user, name="app.settings", data={"port": 8080, "host": "a"}, labels={"env": "prod"}
    )


@pytest.mark.django_db
def test_roles_carry_the_config_permissions():
    ensure_roles()
    devops = set(Group.objects.get(name=roles.DEVOPS).permissions.values_list("codename", flat=True))
    admins = set(Group.objects.get(name=roles.ADMIN).permissions.values_list("codename", flat=True))
    assert {"view_config", "view_configversion"} <= devops
    assert not {"add_config", "change_config", "delete_config"} & devops
    assert {"view_config", "add_config", "change_config", "delete_config", "view_configversion"} <= admins
    assert not {"add_configversion", "change_configversion", "delete_configversion"} & (admins | devops)


# --- the list -----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_changelist_columns_search_and_filters(admin_browser, admin_user, devops_user, entry):
    services.create(actor=devops_user, name="ops.toggles", data={"beta": True}, schema={"type": "object"})
    session = services.create(actor=admin_user, name="session.42", data={"u": 1}, ttl=60)
    Config.objects.filter(pk=session.pk).update(expires_at=timezone.now() - timedelta(seconds=1))

    def names(**params) -> set[str]:
        response = admin_browser.get(CONFIGS, params)
        assert response.status_code == 200
        return {config.name for config in response.context["cl"].result_list}

    page = admin_browser.get(CONFIGS).content.decode()
    assert "env=prod" in page
    assert names() == {"app.settings", "ops.toggles", "session.42"}
    assert names(q="toggles") == {"ops.toggles"}
    assert names(has_schema="yes") == {"ops.toggles"}
    assert names(has_schema="no") == {"app.settings", "session.42"}
    assert names(expiry="expired") == {"session.42"}
    assert names(expiry="live") == {"app.settings", "ops.toggles"}
    assert names(owner__id__exact=str(devops_user.pk)) == {"ops.toggles"}


@pytest.mark.django_db
def test_changelist_queries_do_not_grow_with_rows(admin_browser, admin_user, django_assert_max_num_queries):
    for index in range(3):
        services.create(actor=admin_user, name=f"entry-{index}", data=index)
    admin_browser.get(CONFIGS)  # warm the session and content types
    with django_assert_max_num_queries(12) as few:
        admin_browser.get(CONFIGS)
    for index in range(3, 12):
        services.create(actor=admin_user, name=f"entry-{index}", data=index)
    with django_assert_max_num_queries(len(few.captured_queries)):
        admin_browser.get(CONFIGS)


# --- adding and changing ------------------------------------------------------------------------


@pytest.mark.django_db
def test_add_through_the_form_creates_version_1_with_history(admin_browser, admin_user):
    page = admin_browser.get(ADD)
    assert page.status_code == 200
    data = {
        "name": "feature.flags",
        "data": json.dumps({"dark_mode": True}),
        "schema": json.dumps({"type": "object"}),
        "labels": json.dumps({"team": "web"}),
        "read_roles": [roles.DEV],
        "write_roles": [roles.DEVOPS],
        "ttl": "3600",
        "_save": "Save",
    }
    response = admin_browser.post(ADD, data)
    assert response.status_code == 302, errors_of(response)
    config = Config.objects.get(name="feature.flags")
    assert (config.version, config.data) == (1, {"dark_mode": True})
    assert config.owner == config.updated_by == admin_user
    assert config.schema == {"type": "object"}
    assert config.labels == {"team": "web"}
    assert (config.read_roles, config.write_roles) == ([roles.DEV], [roles.DEVOPS])
    assert timedelta(minutes=59) < config.expires_at - timezone.now() <= timedelta(hours=1)
    assert list(config.versions.values_list("version", "action", "author")) == [(1, "create", admin_user.pk)]


@pytest.mark.django_db
def test_add_reports_service_errors_on_the_form(admin_browser, entry, settings):
    base = {"data": "{}", "schema": "", "labels": "{}", "_save": "Save"}
    taken = admin_browser.post(ADD, {**base, "name": "app.settings"})
    assert taken.status_code == 200
    assert "already exists" in errors_of(taken)
    bad_name = admin_browser.post(ADD, {**base, "name": "has space"})
    assert "Names are" in errors_of(bad_name)
    bad_json = admin_browser.post(ADD, {**base, "name": "x", "data": "{not json"})
    assert "Enter a valid JSON" in errors_of(bad_json)
    bad_schema = admin_browser.post(ADD, {**base, "name": "x", "schema": json.dumps({"type": "nope"})})
    assert "Not a valid JSON Schema" in errors_of(bad_schema)
    violates = admin_browser.post(ADD, {**base, "name": "x", "schema": json.dumps(SCHEMA), "data": '{"port": "80"}'})
    assert "/port" in errors_of(violates)
    bad_labels = admin_browser.post(ADD, {**base, "name": "x", "labels": '{"env": 1}'})
    assert "string labels" in errors_of(bad_labels)
    forever = admin_browser.post(ADD, {**base, "name": "x", "ttl": str(10**12)})
    assert "less than or equal to" in errors_of(forever)
    settings.CONFIG_MAX_BYTES = 10
    too_large = admin_browser.post(ADD, {**base, "name": "x", "data": json.dumps({"long": "x" * 20})})
    assert "the limit is 10 bytes" in errors_of(too_large)
    assert set(Config.objects.values_list("name", flat=True)) == {"app.settings"}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("field", "typed", "says"),
    [
        ("data", f'{{"n": [{2**63}]}}', "n.0: is an integer outside the 64-bit range"),
        ("data", '{"a\\u0000": 1}', "the key contains a NUL"),
        ("data", '"\\ud800"', "lone surrogate"),
        ("labels", '{"env": "\\udfff"}', "env: contains a lone surrogate"),
        ("labels", '{"$where": "x"}', "is not 1 to 128 letters"),
        ("schema", '{"$ref": "http://127.0.0.1:9/x.json"}', "only references inside the schema"),
    ],
)
def test_what_mongodb_cannot_store_is_a_form_error_not_a_500(admin_browser, field, typed, says):
    base = {"name": "x", "data": "{}", "schema": "", "labels": "{}", "_save": "Save"}
    response = admin_browser.post(ADD, {**base, field: typed})
    assert response.status_code == 200
    assert says in errors_of(response)
    assert not Config.objects.filter(name="x").exists()


@pytest.mark.django_db
def test_change_page_shows_the_history_newest_first_escaped(admin_browser, admin_user, entry):
    services.replace(actor=admin_user, name=entry.name, data={"port": 1, "note": "<script>alert(1)</script>"})
    response = admin_browser.get(change_url(entry))
    assert response.status_code == 200
    page = response.content.decode()
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    history = response.context["inline_admin_formsets"][0].formset
    assert [form.instance.version for form in history.forms] == [2, 1]
    assert [form.instance.action for form in history.forms] == ["replace", "create"]
    assert f'href="{rollback_url(entry, 1)}"' in page
    assert "Roll back to version 1" in page
    assert rollback_url(entry, 2) not in page  # the current version
    assert 'name="loaded_version" value="2"' in page


@pytest.mark.django_db
def test_change_creates_version_2_through_the_service(admin_browser, admin_user, entry):
    page = admin_browser.get(change_url(entry))
    response = admin_browser.post(
        change_url(entry), form_data(page, data={"port": 9090}, labels={"env": "staging"}, ttl="120")
    )
    assert response.status_code == 302, errors_of(response)
    entry.refresh_from_db()
    assert (entry.version, entry.data, entry.labels) == (2, {"port": 9090}, {"env": "staging"})
    assert entry.expires_at is not None
    assert entry.updated_by == admin_user
    assert list(entry.versions.values_list("version", "action")) == [(2, "replace"), (1, "create")]
    assert any("was changed successfully" in text for text in texts(response))

    # ttl 0 removes the expiry; a form without edits writes no version
    page = admin_browser.get(change_url(entry))
    assert admin_browser.post(change_url(entry), form_data(page, ttl="0")).status_code == 302
    entry.refresh_from_db()
    assert (entry.version, entry.expires_at) == (3, None)
    page = admin_browser.get(change_url(entry))
    assert admin_browser.post(change_url(entry), form_data(page)).status_code == 302
    assert Config.objects.get(pk=entry.pk).version == 3


@pytest.mark.django_db
def test_stale_form_shows_changed_meanwhile_and_changes_nothing(admin_browser, admin_user, make_user, entry):
    page = admin_browser.get(change_url(entry))  # loaded at version 1
    other = make_user("admin2", roles.ADMIN)
    services.replace(actor=other, name=entry.name, data={"port": 1111}, if_match=1)

    response = admin_browser.post(change_url(entry), form_data(page, data={"port": 2222}))
    assert response.status_code == 200
    assert "changed meanwhile: now at version 2" in errors_of(response)
    assert "reload" in response.content.decode()
    entry.refresh_from_db()
    assert (entry.version, entry.data, entry.updated_by) == (2, {"port": 1111}, other)
    assert entry.versions.count() == 2
    assert not LogEntry.objects.filter(object_id=str(entry.pk)).exists()


@pytest.mark.django_db
def test_schema_violation_shows_the_failing_path(admin_browser, admin_user):
    config = services.create(actor=admin_user, name="svc", data={"port": 80}, schema=SCHEMA)
    page = admin_browser.get(change_url(config))
    response = admin_browser.post(change_url(config), form_data(page, data={"port": "eighty", "host": 3}))
    assert response.status_code == 200
    errors = errors_of(response)
    assert "/port" in errors
    assert "/host" in errors
    assert "'eighty' is not of type 'integer'" in errors
    assert Config.objects.get(pk=config.pk).version == 1


@pytest.mark.django_db
def test_a_form_that_lost_its_version_is_refused(admin_browser, entry):
    page = admin_browser.get(change_url(entry))
    response = admin_browser.post(change_url(entry), form_data(page, data={"port": 1}, loaded_version=None))
    assert response.status_code == 200
    assert "reload the page" in errors_of(response)
    assert Config.objects.get(pk=entry.pk).version == 1


@pytest.mark.django_db
def test_save_and_continue_and_add_another_redirect_as_django_does(admin_browser, entry):
    page = admin_browser.get(change_url(entry))
    response = admin_browser.post(change_url(entry), {**form_data(page, data={"port": 1}), "_continue": "1"})
    assert response.status_code == 302
    assert response["Location"] == change_url(entry)
    assert any("You may edit it again below" in text for text in texts(response))
    page = admin_browser.get(ADD)
    data = {"name": "second", "data": "1", "labels": "{}", "_addanother": "1"}
    response = admin_browser.post(ADD, data)
    assert response.status_code == 302
    assert response["Location"] == ADD
    assert Config.objects.get(name="second").version == 1


@pytest.mark.django_db
def test_an_empty_labels_box_means_no_labels(admin_browser, entry):
    added = admin_browser.post(ADD, {"name": "bare", "data": "1", "labels": "", "_save": "Save"})
    assert added.status_code == 302, errors_of(added)
    assert Config.objects.get(name="bare").labels == {}
    page = admin_browser.get(change_url(entry))
    response = admin_browser.post(change_url(entry), {**form_data(page), "labels": ""})
    assert response.status_code == 302, errors_of(response)
    entry.refresh_from_db()
    assert (entry.version, entry.labels) == (2, {})


@pytest.mark.django_db
def test_adding_the_name_of_an_expired_entry_replaces_it(admin_browser, admin_user):
    old = services.create(actor=admin_user, name="session.7", data={"old": True}, ttl=60)
    Config.objects.filter(pk=old.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    response = admin_browser.post(ADD, {"name": "session.7", "data": '{"new": true}', "labels": "{}", "_save": "Save"})
    assert response.status_code == 302, errors_of(response)
    config = Config.objects.get(name="session.7")
    assert (config.version, config.data) == (1, {"new": True})
    assert not Config.objects.filter(pk=old.pk).exists()


@pytest.mark.django_db
def test_changing_an_entry_deleted_meanwhile_saves_nothing(admin_browser, admin_user, entry):
    page = admin_browser.get(change_url(entry))
    services.delete(actor=admin_user, name=entry.name)
    response = admin_browser.post(change_url(entry), form_data(page, data={"port": 1}))
    assert response.status_code == 302  # the entry is gone: Django's "doesn't exist" redirect
    assert any("Perhaps it was deleted?" in text for text in texts(response))
    assert not Config.objects.exists()


@pytest.mark.django_db
def test_admin_writes_announce_each_new_version_to_watches(admin_browser, admin_user, entry, monkeypatch):
    announced = []
    monkeypatch.setattr(watch, "changed", lambda name, version: announced.append((name, version)))
    page = admin_browser.get(change_url(entry))
    assert admin_browser.post(change_url(entry), form_data(page, data={"port": 2})).status_code == 302
    assert admin_browser.post(rollback_url(entry, 1), {"current_version": "2"}).status_code == 302
    assert admin_browser.post(f"{CONFIGS}{entry.pk}/delete/", {"post": "yes"}).status_code == 302
    added = admin_browser.post(ADD, {"name": "new", "data": "1", "labels": "{}", "_save": "Save"})
    assert added.status_code == 302
    assert announced == [("app.settings", 2), ("app.settings", 3), ("app.settings", 0), ("new", 1)]


# --- rollback -----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_rollback_confirms_then_writes_the_old_data_as_a_new_version(admin_browser, admin_user, entry):
    services.replace(actor=admin_user, name=entry.name, data={"port": 2, "secret": "<b>now</b>"})
    confirm = admin_browser.get(rollback_url(entry, 1))
    assert confirm.status_code == 200
    page = confirm.content.decode()
    assert "csrfmiddlewaretoken" in page
    assert "&quot;port&quot;: 8080" in page  # the old data, escaped
    assert "&lt;b&gt;now&lt;/b&gt;" in page  # the current data, escaped
    assert 'name="current_version" value="2"' in page
    assert Config.objects.get(pk=entry.pk).version == 2  # a GET changes nothing

    response = admin_browser.post(rollback_url(entry, 1), {"current_version": "2"})
    assert response.status_code == 302
    assert response["Location"] == change_url(entry)
    assert any("now at version 3" in text for text in texts(response))
    entry.refresh_from_db()
    assert (entry.version, entry.data) == (3, {"port": 8080, "host": "a"})
    newest = entry.versions.first()
    assert (newest.version, newest.action, newest.author) == (3, "rollback", admin_user)
    assert LogEntry.objects.filter(object_id=str(entry.pk), change_message__contains="Rolled back").exists()


@pytest.mark.django_db
def test_rollback_after_a_concurrent_write_is_refused(admin_browser, admin_user, entry):
    services.replace(actor=admin_user, name=entry.name, data={"port": 2})
    admin_browser.get(rollback_url(entry, 1))  # confirmation loaded at version 2
    services.replace(actor=admin_user, name=entry.name, data={"port": 3})
    response = admin_browser.post(rollback_url(entry, 1), {"current_version": "2"})
    assert response.status_code == 302
    assert response["Location"] == change_url(entry)
    assert any("changed meanwhile: now at version 3" in text for text in texts(response))
    entry.refresh_from_db()
    assert (entry.version, entry.data) == (3, {"port": 3})


@pytest.mark.django_db
def test_rollback_to_a_version_the_schema_now_refuses(admin_browser, admin_user):
    config = services.create(actor=admin_user, name="svc", data={"port": "80"})
    services.replace(actor=admin_user, name="svc", data={"port": 80}, schema=SCHEMA)
    response = admin_browser.post(rollback_url(config, 1), {"current_version": "2"})
    assert response.status_code == 302
    assert texts(response) == ["Not rolled back: version 1 does not match the current schema at /port."]
    assert Config.objects.get(pk=config.pk).version == 2
    assert not LogEntry.objects.filter(object_id=str(config.pk)).exists()


@pytest.mark.django_db
def test_rollback_of_a_missing_version_or_entry(admin_browser, entry):
    assert admin_browser.get(rollback_url(entry, 7)).status_code == 404
    missing = admin_browser.get(f"{CONFIGS}{'0' * 24}/rollback/1/")
    assert missing.status_code == 302
    assert admin_browser.get(f"{CONFIGS}not-an-id/rollback/1/").status_code == 302


# --- deleting -----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_delete_goes_through_the_service(admin_browser, entry):
    confirm = admin_browser.get(f"{CONFIGS}{entry.pk}/delete/")
    assert confirm.status_code == 200
    page = confirm.content.decode()
    assert "Deleting “app.settings” removes the data and every version of its history now" in page
    assert "cannot be rolled back" in page
    assert 'name="post" value="yes"' in page  # Django's own confirmation, below what it costs
    response = admin_browser.post(f"{CONFIGS}{entry.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not Config.objects.filter(pk=entry.pk).exists()
    assert not ConfigVersion.objects.filter(config_id=entry.pk).exists()
    assert LogEntry.objects.filter(object_id=str(entry.pk), action_flag=DELETION).count() == 1


@pytest.mark.django_db
def test_a_refused_delete_is_reported_not_logged(admin_browser, entry, monkeypatch):
    def lost_race(**kwargs):
        raise services.PreconditionFailed(current=2)  # a write between the read and the delete

    monkeypatch.setattr(services, "delete", lost_race)
    response = admin_browser.post(f"{CONFIGS}{entry.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert response["Location"] == change_url(entry)
    assert texts(response) == ["Could not delete “app.settings”: it changed meanwhile (now at version 2)."]
    assert Config.objects.filter(pk=entry.pk).exists()
    assert not LogEntry.objects.filter(object_id=str(entry.pk), action_flag=DELETION).exists()


@pytest.mark.django_db
def test_deleting_an_entry_gone_meanwhile(admin_browser, admin_user, entry, monkeypatch):
    confirm = admin_browser.get(f"{CONFIGS}{entry.pk}/delete/")
    assert confirm.status_code == 200
    real_delete = services.delete

    def deleted_first(**kwargs):
        real_delete(**kwargs)  # someone else deletes it between the admin's read and its delete
        real_delete(**kwargs)

    monkeypatch.setattr(services, "delete", deleted_first)
    response = admin_browser.post(f"{CONFIGS}{entry.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert response["Location"] == CONFIGS
    assert texts(response) == ["Could not delete “app.settings”: it no longer exists or has expired."]
    assert not LogEntry.objects.filter(object_id=str(entry.pk), action_flag=DELETION).exists()
    missing = admin_browser.post(f"{CONFIGS}{entry.pk}/delete/", {"post": "yes"})
    assert missing.status_code == 302
    assert any("Perhaps it was deleted?" in text for text in texts(missing))


@pytest.mark.django_db
def test_bulk_delete_goes_through_the_service(admin_browser, admin_user, entry):
    other = services.create(actor=admin_user, name="other", data=1)
    asked = admin_browser.post(
        CONFIGS, {"action": "delete_selected", "_selected_action": [str(entry.pk), str(other.pk)]}
    )
    assert "Deleting “app.settings”, “other” removes the data" in asked.content.decode()
    assert Config.objects.count() == 2
    data = {"action": "delete_selected", "_selected_action": [str(entry.pk), str(other.pk)], "post": "yes"}
    assert admin_browser.post(CONFIGS, data).status_code == 302
    assert not Config.objects.exists()
    assert not ConfigVersion.objects.exists()


@pytest.mark.django_db
def test_bulk_delete_counts_only_the_entries_it_deleted(admin_browser, admin_user, entry, monkeypatch):
    other = services.create(actor=admin_user, name="other", data=1)
    real_delete = services.delete

    def refuse_app_settings(*, actor, name, **kwargs):
        if name == entry.name:
            raise services.PreconditionFailed(current=2)
        return real_delete(actor=actor, name=name, **kwargs)

    monkeypatch.setattr(services, "delete", refuse_app_settings)
    data = {"action": "delete_selected", "_selected_action": [str(entry.pk), str(other.pk)], "post": "yes"}
    response = admin_browser.post(CONFIGS, data)
    assert response.status_code == 302
    assert texts(response) == [
        "Could not delete “app.settings”: it changed meanwhile (now at version 2).",
        "Successfully deleted 1 config.",
    ]
    assert list(Config.objects.values_list("name", flat=True)) == ["app.settings"]
    deletions = LogEntry.objects.filter(action_flag=DELETION)
    assert list(deletions.values_list("object_id", flat=True)) == [str(other.pk)]

    admin_browser.get(CONFIGS)  # shows (and so clears) those messages
    data["_selected_action"] = [str(entry.pk)]
    response = admin_browser.post(CONFIGS, data)  # nothing deleted: no success message
    assert texts(response) == ["Could not delete “app.settings”: it changed meanwhile (now at version 2)."]


# --- who may do what ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_devops_view_entries_and_history_but_cannot_change(client, devops_user, admin_user, entry):
    # DevOps see the entries their role may read, as in the API (cloudassist/tests/test_access_matrix.py).
    services.replace(actor=admin_user, name=entry.name, data={"port": 1}, read_roles=[roles.DEVOPS])
    ops = login(client, devops_user)
    assert ops.get(CONFIGS).status_code == 200
    view = ops.get(change_url(entry))
    assert view.status_code == 200
    page = view.content.decode()
    assert "&quot;port&quot;: 1" in page
    assert [form.instance.version for form in view.context["inline_admin_formsets"][0].formset.forms] == [2, 1]
    assert "Roll back to version" not in page
    assert 'name="_save"' not in page
    assert ops.get(ADD).status_code == 403
    assert ops.post(change_url(entry), {"data": "{}", "loaded_version": "2"}).status_code == 403
    assert ops.get(rollback_url(entry, 1)).status_code == 403
    assert ops.post(rollback_url(entry, 1), {"current_version": "2"}).status_code == 403
    assert ops.post(f"{CONFIGS}{entry.pk}/delete/", {"post": "yes"}).status_code == 403
    entry.refresh_from_db()
    assert entry.version == 2


@pytest.mark.django_db
def test_developers_are_refused(client, dev_user, entry):
    dev = login(client, dev_user)
    for url in (CONFIGS, ADD, change_url(entry), rollback_url(entry, 1)):
        response = dev.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/admin/login/")
    assert dev.post(rollback_url(entry, 1), {"current_version": "1"}).status_code == 302
    assert Config.objects.get(pk=entry.pk).version == 1


@pytest.mark.django_db
def test_an_expired_entry_is_view_only(admin_browser, admin_user):
    config = services.create(actor=admin_user, name="session.1", data={"a": 1}, ttl=60)
    services.replace(actor=admin_user, name=config.name, data={"a": 2})
    Config.objects.filter(pk=config.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    page = admin_browser.get(change_url(config))
    assert page.status_code == 200
    assert 'name="_save"' not in page.content.decode()
    assert "Roll back to version" not in page.content.decode()
    assert admin_browser.get(rollback_url(config, 1)).status_code == 403
    confirm = admin_browser.post(CONFIGS, {"action": "delete_selected", "_selected_action": [str(config.pk)]})
    assert "have permission to delete" in confirm.content.decode()
    assert Config.objects.filter(pk=config.pk).exists()  # the purge sweep deletes it
