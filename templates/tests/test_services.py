import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import connections

from cloudassist.exceptions import Conflict
from cloudassist.seed import seed_demo
from templates import services
from templates.models import Template


@pytest.fixture
def namespace_template(db):
    seed_demo(password="irrelevant-password")
    return Template.objects.get(pk="dev-namespace")


def test_metadata_changes_keep_the_version(namespace_template):
    services.update_template(template=namespace_template, name="Renamed", is_active=False)
    stored = Template.objects.get(pk="dev-namespace")
    assert (stored.name, stored.is_active, stored.version) == ("Renamed", False, 1)


def test_definition_change_from_a_stale_read_is_a_conflict(namespace_template):
    stale = Template.objects.get(pk="dev-namespace")
    services.update_template(template=namespace_template, body=namespace_template.body + "# first\n")
    with pytest.raises(Conflict):
        services.update_template(template=stale, body=stale.body + "# second\n")
    stored = Template.objects.get(pk="dev-namespace")
    assert stored.version == 2
    assert stored.body.endswith("# first\n")


@pytest.mark.django_db(transaction=True)
def test_concurrent_definition_changes_exactly_one_wins():
    seed_demo(password="irrelevant-password")
    copies = [Template.objects.get(pk="dev-namespace") for _ in range(8)]
    outcomes: list[str] = []
    barrier = threading.Barrier(len(copies))

    def change(index: int, template: Template) -> None:
        barrier.wait()
        try:
            services.update_template(template=template, body=template.body + f"# writer {index}\n")
            outcomes.append("won")
        except Conflict:
            outcomes.append("conflict")
        finally:
            connections.close_all()

    threads = [threading.Thread(target=change, args=(i, t)) for i, t in enumerate(copies)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["conflict"] * 7 + ["won"]
    assert Template.objects.get(pk="dev-namespace").version == 2


def test_duplicate_id_is_refused(namespace_template):
    with pytest.raises(ValidationError, match="already exists"):
        services.create_template(
            actor=None,
            id="dev-namespace",
            name="x",
            resource_type="S3_BUCKET",
            provider="aws-s3",
            body="a: 1",
            parameters_schema={"type": "object"},
        )


@pytest.mark.django_db
def test_every_definition_is_kept_and_a_rollback_is_a_new_version(namespace_template):
    from cloudassist.exceptions import Conflict
    from templates.models import TemplateVersion

    original = namespace_template.body
    services.update_template(template=namespace_template, name="Renamed")  # not a definition change
    assert list(TemplateVersion.objects.filter(template=namespace_template).values_list("version", flat=True)) == [1]
    services.update_template(template=namespace_template, body=original + "# two\n")
    rolled = services.roll_back(template=namespace_template, version=1, actor=None)
    assert (rolled.version, rolled.body) == (3, original)
    rows = TemplateVersion.objects.filter(template=namespace_template)
    assert [(row.version, row.action) for row in rows] == [(3, "rollback to 1"), (2, "update"), (1, "create")]
    with pytest.raises(Conflict):
        services.roll_back(template=namespace_template, version=3, actor=None)  # already current


@pytest.mark.django_db
def test_a_template_from_before_the_history_keeps_the_definition_it_replaces(namespace_template):
    from templates.models import TemplateVersion

    TemplateVersion.objects.filter(template=namespace_template).delete()
    original = namespace_template.body
    services.update_template(template=namespace_template, body=original + "# two\n")
    rows = TemplateVersion.objects.filter(template=namespace_template)
    assert [(row.version, row.action, row.body == original) for row in rows] == [
        (2, "update", False),
        (1, "recorded", True),
    ]


@pytest.mark.django_db
def test_a_policy_change_alone_is_a_version_and_a_rollback_restores_it(namespace_template):
    from decimal import Decimal

    from templates.models import TemplateVersion, policy_of

    before = (namespace_template.max_lifetime_hours, namespace_template.required_approvals)
    services.update_template(template=namespace_template, max_lifetime_hours=200, required_approvals=2)
    services.update_template(template=namespace_template, auto_approve=True, auto_approve_max_usd=Decimal("12.50"))
    stored = Template.objects.get(pk="dev-namespace")
    assert (stored.version, stored.max_lifetime_hours, stored.required_approvals) == (3, 200, 2)
    rows = {row.version: row for row in TemplateVersion.objects.filter(template=namespace_template)}
    assert rows[2].policy["max_lifetime_hours"] == 200
    assert rows[2].policy["required_approvals"] == 2
    assert rows[3].policy["auto_approve_max_usd"] == "12.50"
    assert rows[1].body == rows[3].body  # the body did not change: the policy alone made the versions

    rolled = services.roll_back(template=stored, version=1, actor=None)
    stored = Template.objects.get(pk="dev-namespace")
    assert rolled.version == stored.version == 4
    assert (stored.max_lifetime_hours, stored.required_approvals) == before
    assert policy_of(stored) == rows[1].policy
    assert TemplateVersion.objects.get(template=namespace_template, version=4).policy == rows[1].policy
    rolled = services.roll_back(template=stored, version=3, actor=None)
    stored = Template.objects.get(pk="dev-namespace")
    assert (stored.auto_approve, stored.auto_approve_max_usd, stored.max_lifetime_hours) == (
        True,
        Decimal("12.50"),
        200,
    )
