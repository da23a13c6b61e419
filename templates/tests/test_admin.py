import json

import pytest

from cloudassist.seed import seed_demo
from templates.models import Template, TemplateVersion

PASSWORD = "admin-password-for-tests"


@pytest.fixture
def admin_browser(client, db):
    seed_demo(password=PASSWORD)
    assert client.login(username="aaa", password=PASSWORD)
    return client


@pytest.mark.django_db
def test_template_admin_pages_load(admin_browser):
    assert admin_browser.get("/admin/templates/template/").status_code == 200
    assert admin_browser.get("/admin/templates/template/basic-eks-cluster/change/").status_code == 200
    assert admin_browser.get("/admin/templates/template/add/").status_code == 200


def _form(**overrides):
    data = {
        "id": "admin-made",
        "name": "Admin made",
        "description": "",
        "resource_type": "EC2_INSTANCE",
        "provider": "noop",
        "is_active": "on",
        "body": "instance: {{ size }}\n",
        "parameters_schema": json.dumps(
            {"type": "object", "properties": {"size": {"type": "string", "default": "small"}}}
        ),
        "default_lifetime_hours": "4",
        "max_lifetime_hours": "8",
        "review_timeout_hours": "72",
        "purge_grace_hours": "0",
        "required_approvals": "1",
    }
    data.update(overrides)
    return data


@pytest.mark.django_db
def test_admin_adds_a_template_through_the_service(admin_browser):
    response = admin_browser.post("/admin/templates/template/add/", _form())
    assert response.status_code == 302
    template = Template.objects.get(pk="admin-made")
    assert template.created_by.username == "aaa"


@pytest.mark.django_db
def test_admin_form_shows_definition_errors(admin_browser):
    response = admin_browser.post("/admin/templates/template/add/", _form(body="instance: {{ other }}"))
    assert response.status_code == 200
    assert "Placeholders not declared" in response.content.decode()
    assert not Template.objects.filter(pk="admin-made").exists()


@pytest.mark.django_db
def test_admin_change_bumps_version_and_deactivate_action(admin_browser):
    template = Template.objects.get(pk="dev-namespace")
    data = _form(
        id="dev-namespace",
        resource_type=template.resource_type,
        provider=template.provider,
        body=template.body + "# changed\n",
        parameters_schema=json.dumps(template.parameters_schema),
        default_lifetime_hours="24",
        max_lifetime_hours="336",
    )
    response = admin_browser.post("/admin/templates/template/dev-namespace/change/", data)
    assert response.status_code == 302
    assert Template.objects.get(pk="dev-namespace").version == 2
    admin_browser.post("/admin/templates/template/", {"action": "deactivate", "_selected_action": ["dev-namespace"]})
    assert not Template.objects.get(pk="dev-namespace").is_active


@pytest.mark.django_db
def test_admin_list_and_change_page_say_which_templates_cannot_be_requested(admin_browser, settings):
    assert "Yes" in admin_browser.get("/admin/templates/template/").content.decode()
    settings.SHARED_CLUSTER_KUBECONFIG_DATA = ""
    listing = admin_browser.get("/admin/templates/template/").content.decode()
    assert "No: No shared cluster is configured: set SHARED_CLUSTER_KUBECONFIG" in listing
    page = admin_browser.get("/admin/templates/template/dev-namespace/change/").content.decode()
    assert "No shared cluster is configured" in page


@pytest.mark.django_db
def test_admin_sets_the_policy_and_names_the_field_in_errors(admin_browser):
    response = admin_browser.post("/admin/templates/template/add/", _form(max_total_lifetime_hours="4"))
    assert response.status_code == 200
    assert "max_lifetime_hours (8)" in response.content.decode()
    assert not Template.objects.filter(pk="admin-made").exists()
    policy = {"max_total_lifetime_hours": "48", "purge_grace_hours": "6", "required_approvals": "2"}
    response = admin_browser.post(
        "/admin/templates/template/add/", _form(**policy, required_approvals_above_usd="25.00")
    )
    assert response.status_code == 302
    template = Template.objects.get(pk="admin-made")
    assert (template.max_total_lifetime_hours, template.purge_grace_hours, template.required_approvals) == (48, 6, 2)
    assert str(template.required_approvals_above_usd) == "25.00"
    assert (
        "Review, lease and purge policy"
        in admin_browser.get("/admin/templates/template/admin-made/change/").content.decode()
    )


# --- the definition editor, the form preview, versions: history, diff, rollback -----------------------


@pytest.mark.django_db
def test_the_schema_is_edited_pretty_printed_in_a_large_monospace_editor_with_a_form_preview(admin_browser):
    page = admin_browser.get("/admin/templates/template/basic-eks-cluster/change/").content.decode()
    editor = (
        page.split('name="parameters_schema"', 1)[0].rsplit("<textarea", 1)[1]
        + page.split('name="parameters_schema"', 1)[1].split("</textarea>", 1)[0]
    )
    assert 'rows="28"' in editor
    assert "monospace" in editor
    assert "\n  &quot;type&quot;: &quot;object&quot;" in editor  # indented, one key a line
    preview = page.split('class="form-preview"', 1)[1].split("</table>", 1)[0]
    assert '<select name="region" disabled>' in preview
    assert 'title="required"' in preview


@pytest.mark.django_db
def test_a_schema_that_is_not_a_json_schema_is_refused_on_the_field(admin_browser):
    response = admin_browser.post(
        "/admin/templates/template/add/", _form(parameters_schema=json.dumps({"type": "objekt"}))
    )
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["parameters_schema"]


@pytest.mark.django_db
def test_versions_are_kept_diffed_and_rolled_back_through_the_service(admin_browser):
    template = Template.objects.get(pk="dev-namespace")
    original_body = template.body
    data = _form(
        id="dev-namespace",
        resource_type=template.resource_type,
        provider=template.provider,
        body=template.body + "# changed\n",
        parameters_schema=json.dumps(template.parameters_schema),
        default_lifetime_hours="24",
        max_lifetime_hours="336",
    )
    assert admin_browser.post("/admin/templates/template/dev-namespace/change/", data).status_code == 302
    versions = list(TemplateVersion.objects.filter(template_id="dev-namespace").values_list("version", "action"))
    assert versions == [(2, "update"), (1, "create")]

    page = admin_browser.get("/admin/templates/template/dev-namespace/change/").content.decode()
    assert "history (newest first" in page.lower()
    assert "/admin/templates/template/dev-namespace/versions/1/" in page

    diff = admin_browser.get("/admin/templates/template/dev-namespace/versions/1/").content.decode()
    assert '<table class="version-diff">' in diff
    assert '<tr class="diff-added">' in diff
    assert "<ins># changed</ins>" in diff  # the added line, marked (not only coloured)
    assert "cloudassist/console.css" in diff  # styled by the console's stylesheet, no inline style
    assert "<style" not in diff
    assert 'value="Roll back to version 1"' in diff

    response = admin_browser.post("/admin/templates/template/dev-namespace/versions/1/", {"current_version": "2"})
    assert response.status_code == 302
    rolled = Template.objects.get(pk="dev-namespace")
    assert (rolled.version, rolled.body) == (3, original_body)
    assert TemplateVersion.objects.get(template_id="dev-namespace", version=3).action == "rollback to 1"

    stale = admin_browser.post("/admin/templates/template/dev-namespace/versions/1/", {"current_version": "2"})
    assert stale.status_code == 302
    assert Template.objects.get(pk="dev-namespace").version == 3  # a stale page does not roll back again


@pytest.mark.django_db
def test_a_policy_change_is_a_version_its_diff_shows_and_a_rollback_restores(admin_browser):
    from templates import services

    template = Template.objects.get(pk="dev-namespace")
    before = template.required_approvals
    services.update_template(template=template, required_approvals=before + 1, actor=None)
    assert Template.objects.get(pk="dev-namespace").version == 2

    diff = admin_browser.get("/admin/templates/template/dev-namespace/versions/1/")
    rows = {row["name"]: row for row in diff.context["policy_rows"]}
    assert rows["required_approvals"]["changed"]
    assert (rows["required_approvals"]["old"], rows["required_approvals"]["current"]) == (str(before), str(before + 1))
    assert not rows["max_lifetime_hours"]["changed"]
    page = diff.content.decode()
    assert "<h2>Policy</h2>" in page
    assert 'data-field="required_approvals"' in page
    assert "Required approvals <strong>(changed)</strong>" in page
    assert 'value="Roll back to version 1"' in page

    assert (
        admin_browser.post("/admin/templates/template/dev-namespace/versions/1/", {"current_version": "2"}).status_code
        == 302
    )
    rolled = Template.objects.get(pk="dev-namespace")
    assert (rolled.version, rolled.required_approvals) == (3, before)


def _deep_schema(depth: int) -> str:
    schema = '{"type": "object"}'
    for _ in range(depth):
        schema = '{"type": "object", "properties": {"a": ' + schema + "}}"
    return schema


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("field", "value", "says"),
    [
        ("parameters_schema", "[" * 10_000 + "]" * 10_000, "nested too deeply"),
        ("parameters_schema", _deep_schema(200), "nested more than"),
        ("parameters_schema", _deep_schema(5_000), "nested too deeply"),
        ("body", "instance: {{ " + "(" * 10_000 + "size" + ")" * 10_000 + " }}", "too deeply"),
    ],
)
def test_definitions_nested_too_deeply_are_form_errors(admin_browser, field, value, says):
    response = admin_browser.post("/admin/templates/template/add/", _form(**{field: value}))
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert says in " ".join(errors[field]), errors
    assert not Template.objects.filter(pk="admin-made").exists()


@pytest.mark.django_db
def test_the_template_page_shows_the_plan_and_estimate_of_the_default_render(admin_browser):
    from django.utils.html import escape

    from templates import planning

    template = Template.objects.get(pk="basic-eks-cluster")
    planned, estimate = planning.check_template(
        provider=template.provider,
        body=template.body,
        schema=template.parameters_schema,
        lifetime_hours=template.default_lifetime_hours,
    )
    page = admin_browser.get("/admin/templates/template/basic-eks-cluster/change/").content.decode()
    assert "Plan and estimate of the default render" in page
    assert '<ul class="plan">' in page
    assert planned.plan.lines
    for line in planned.plan.lines:
        assert f"<li>{escape(line)}</li>" in page
    priced = estimate.as_dict()
    assert f"Total for {priced['hours']} hours" in page
    assert f'<td class="num total">${priced["usd"]}</td>' in page
    for item in priced["line_items"]:
        assert escape(item["description"]) in page


@pytest.mark.django_db
def test_the_template_page_says_why_a_template_cannot_be_planned(admin_browser):
    Template.objects.create(  # written behind the service's back: the page still opens
        id="broken",
        name="Broken",
        resource_type="EC2_INSTANCE",
        provider="noop",
        body="instance: {{ size }}\n",
        parameters_schema={"type": "object", "properties": {"size": {"type": "integer", "minimum": 5}}},
    )
    page = admin_browser.get("/admin/templates/template/broken/change/").content.decode()
    assert "It cannot be planned with its default parameters:" in page
    assert "<li>body: Undefined value in template: &#x27;size&#x27; is undefined" in page


def _change_form(template: Template, **overrides) -> dict:
    """The change page's form as the admin posts it, from the template's stored values."""
    from templates.admin import TemplateForm

    data = {}
    for name in TemplateForm.Meta.fields:
        value = getattr(template, name)
        if name == "parameters_schema":
            data[name] = json.dumps(value)
        elif isinstance(value, bool):
            if value:
                data[name] = "on"
        else:
            data[name] = "" if value is None else str(value)
    data.update(overrides)
    return data


@pytest.mark.django_db
def test_a_policy_change_on_the_change_page_over_a_history_from_before_policies(admin_browser):
    """A database from before versions kept policies (their `policy` is null): raising
    required_approvals from 1 to 2 on the change page is a version in the history, the version
    page shows it, and rolling back to the version before it restores 1."""
    TemplateVersion.objects.filter(template_id="dev-namespace").update(policy=None)
    template = Template.objects.get(pk="dev-namespace")
    assert (template.version, template.required_approvals) == (1, 1)

    url = "/admin/templates/template/dev-namespace/change/"
    saved = admin_browser.post(url, _change_form(template, required_approvals="2"))
    assert saved.status_code == 302, saved.context["adminform"].form.errors if saved.context else saved
    assert (
        Template.objects.get(pk="dev-namespace").version,
        Template.objects.get(pk="dev-namespace").required_approvals,
    ) == (2, 2)
    versions = {v.version: v for v in TemplateVersion.objects.filter(template_id="dev-namespace")}
    assert versions[2].policy["required_approvals"] == 2
    assert versions[1].policy["required_approvals"] == 1  # the policy it replaced, kept with it

    history = admin_browser.get(url).content.decode()
    assert "/admin/templates/template/dev-namespace/versions/1/" in history

    diff = admin_browser.get("/admin/templates/template/dev-namespace/versions/1/")
    rows = {row["name"]: row for row in diff.context["policy_rows"]}
    assert (
        rows["required_approvals"]["old"],
        rows["required_approvals"]["current"],
        rows["required_approvals"]["changed"],
    ) == ("1", "2", True)
    assert not diff.context["same"]

    rolled_back = admin_browser.post("/admin/templates/template/dev-namespace/versions/1/", {"current_version": "2"})
    assert rolled_back.status_code == 302
    rolled = Template.objects.get(pk="dev-namespace")
    assert (rolled.version, rolled.required_approvals) == (3, 1)


@pytest.mark.django_db
def test_deleting_a_template_says_what_it_costs_first(admin_browser):
    url = "/admin/templates/template/basic-eks-cluster/delete/"
    page = admin_browser.get(url).content.decode()
    assert "Deleting “basic-eks-cluster” takes it out of the catalog" in page
    assert "deactivate it instead" in page
    asked = admin_browser.post(
        "/admin/templates/template/",
        {"action": "delete_selected", "_selected_action": ["basic-eks-cluster", "s3-bucket"]},
    )
    assert asked.status_code == 200
    assert (
        "Deleting “basic-eks-cluster”, “s3-bucket”" in asked.content.decode()
        or "“s3-bucket”, “basic-eks-cluster”" in (asked.content.decode())
    )
    assert Template.objects.filter(pk="basic-eks-cluster").exists()
    admin_browser.post(url, {"post": "yes"})
    assert not Template.objects.filter(pk="basic-eks-cluster").exists()
    assert not TemplateVersion.objects.filter(template_id="basic-eks-cluster").exists()
