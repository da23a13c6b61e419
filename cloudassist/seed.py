"""Idempotent demo data: roles, users, templates and prices. Existing rows are left as they are."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from cloudassist import roles, services
from quotas.pricing_seed import seed_pricing
from templates import services as template_services
from templates.models import Template
from templates.seed import TEMPLATES

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
    """Create what is missing; passwords are set only when a user is created."""
    password = password or settings.DEMO_PASSWORD
    report = SeedReport()
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
    for definition in TEMPLATES:
        if Template.objects.filter(pk=definition["id"]).exists():
            report.existing.append(f"template {definition['id']}")
            continue
        template_services.create_template(actor=None, **definition)
        report.created.append(f"template {definition['id']}")
    prices = seed_pricing()
    if prices:
        report.created.append(f"{prices} seed prices (instances, disks, EKS control plane)")
    else:
        report.existing.append("prices")
    return report
