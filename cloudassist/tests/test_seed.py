import pytest
from django.contrib.auth import get_user_model
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
    assert sorted(Template.objects.values_list("id", flat=True)) == ["basic-eks-cluster", "dev-namespace"]
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
