"""Idempotent demo data: roles, users, templates and prices. Existing rows are left as they are."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.utils.module_loading import import_string

from cloudassist import roles, services
from cloudassist.apps import project_apps

DEMO_USERS = {
    "aaa": roles.ADMIN,
    "bbb": roles.DEV,
    "ccc": roles.DEV,
    "ddd": roles.DEV,
    "eee": roles.DEV,
    "jjj": roles.DEVOPS,
    "kkk": roles.DEVOPS,
    "lll": roles.DEVOPS,
}
SUPERUSERS = {"aaa"}


@dataclass
class SeedReport:
    created: list[str] = field(default_factory=list)
    existing: list[str] = field(default_factory=list)


def seed_demo(*, password: str | None = None) -> SeedReport:
    """Create what is missing, app by app (each app's ``demo_seed``, in INSTALLED_APPS order: the
    users and roles, the prices, then the templates, which are priced when saved); passwords are set
    only when a user is created."""
    password = password or settings.DEMO_PASSWORD
    report = SeedReport()
    for config in project_apps():
        if config.demo_seed:
            import_string(config.demo_seed)(report, password=password)
    return report


def seed_users(report: SeedReport, *, password: str) -> None:
    """The built-in roles and the demo users."""
    services.ensure_roles()
    groups = {group.name: group for group in Group.objects.filter(name__in=roles.ALL)}
    User = get_user_model()
    existing_users = set(User.objects.filter(username__in=DEMO_USERS).values_list("username", flat=True))
    for username, role in DEMO_USERS.items():
        if username in existing_users:
            report.existing.append(f"user {username}")
            continue
        services.create_user(
            username=username,
            password=password,
            email=f"{username}@example.com",
            groups=[groups[role]],
            is_superuser=username in SUPERUSERS,
            validate_password=False,  # demo accounts share one configurable password
        )
        report.created.append(f"user {username} ({role})")
