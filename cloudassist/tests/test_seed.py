import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import call_command

from cloudassist import roles
from cloudassist.seed import DEMO_USERS
from templates.models import Template

User = get_user_model()


@pytest.mark.django_db
def test_seed_demo_is_idempotent_and_uses_demo_password(settings, client):
    settings.DEMO_PASSWORD = "seeded-password"
    call_command("seed_demo")
    call_command("seed_demo")
    assert User.objects.count() == len(DEMO_USERS)
    assert sorted(Template.objects.values_list("id", flat=True)) == [
        "basic-eks-cluster",
        "dev-namespace",
        "ec2-instance",
        "s3-bucket",
    ]
    for username, role in DEMO_USERS.items():
        user = User.objects.get(username=username)
        assert roles.role_names(user) == {role}
        assert user.check_password("seeded-password")
        assert user.is_staff == (role in (roles.ADMIN, roles.DEVOPS))
    assert User.objects.get(username="aaa").is_superuser
    assert not User.objects.filter(is_superuser=True).exclude(username="aaa").exists()


@pytest.mark.django_db
def test_seed_leaves_changed_rows_alone(settings):
    call_command("seed_demo")
    Template.objects.filter(pk="dev-namespace").update(name="Renamed by an admin")
    user = User.objects.get(username="bbb")
    user.set_password("changed-by-bbb")
    user.save()
    call_command("seed_demo")
    assert Template.objects.get(pk="dev-namespace").name == "Renamed by an admin"
    assert User.objects.get(username="bbb").check_password("changed-by-bbb")


@pytest.mark.django_db
def test_devops_see_templates_in_the_admin_but_cannot_change_them(client):
    call_command("seed_demo", "--password", "a-demo-password")
    assert client.login(username="jjj", password="a-demo-password")
    assert client.get("/admin/templates/template/").status_code == 200
    assert client.get("/admin/templates/template/add/").status_code == 403


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path",
    ["/admin/", "/admin/auth/user/", "/admin/auth/user/?role={dev}", "/admin/auth/group/", "/admin/rq/"],
)
def test_admin_screens_load_for_the_superuser(client, path):
    call_command("seed_demo", "--password", "a-demo-password")
    assert client.login(username="aaa", password="a-demo-password")
    response = client.get(path.format(dev=Group.objects.get(name="dev").pk))
    assert response.status_code == 200
    user = User.objects.get(username="bbb")
    assert client.get(f"/admin/auth/user/{user.pk}/change/").status_code == 200
