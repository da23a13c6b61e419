"""The roles of CloudAssist (Django groups) and who counts as what."""

from __future__ import annotations

ADMIN = "admin"
DEV = "dev"
DEVOPS = "devops"
ALL = (ADMIN, DEV, DEVOPS)

DESCRIPTIONS = {
    ADMIN: "Manages users, roles and templates; sees and reviews everything.",
    DEV: "Developers: request environments from templates and ask for extensions.",
    DEVOPS: "Reviews requests and extensions in the admin and the API; owns quotas and the cloud bill.",
}

# Django-admin permissions each built-in role is granted by `ensure_roles` (superusers need none).
# Users are managed through the API only, which guards roles and the superuser flag. Requests
# are only viewed in the admin: approve/reject are admin actions that call the services, which
# decide who may review (see provisioning/transitions.py), never a model permission.
REVIEW_PERMISSIONS = ("view_provisionrequest", "view_extensionrequest", "view_event")
# Pricing tables: DevOps see them; admins also correct them (sync_pricing refreshes them from AWS).
PRICING_VIEW_PERMISSIONS = ("view_instanceprice", "view_diskprice", "view_serviceprice")
PRICING_EDIT_PERMISSIONS = (
    "add_instanceprice",
    "change_instanceprice",
    "add_diskprice",
    "change_diskprice",
    "add_serviceprice",
    "change_serviceprice",
)
QUOTA_VIEW_PERMISSIONS = ("view_quota", "view_usageledger")
# django-rq's dashboard (queues, workers, jobs) in the admin: its one permission is `django_rq.admin`.
JOBS_DASHBOARD_PERMISSIONS = ("admin",)
NOTIFICATION_VIEW_PERMISSIONS = ("view_notification", "view_delivery", "view_notificationsettings", "view_rolewebhook")
# The config server's entries and their history: DevOps see them; admins also add, change, delete
# and roll back (rollback is an admin view that checks roles.is_admin; writes go through configs.services).
CONFIG_VIEW_PERMISSIONS = ("view_config", "view_configversion")
CONFIG_EDIT_PERMISSIONS = ("add_config", "change_config", "delete_config")
ADMIN_PERMISSIONS = {
    ADMIN: (
        "view_user",
        "view_group",
        "view_template",
        "add_template",
        "change_template",
        *REVIEW_PERMISSIONS,
        *PRICING_VIEW_PERMISSIONS,
        *PRICING_EDIT_PERMISSIONS,
        *QUOTA_VIEW_PERMISSIONS,
        *JOBS_DASHBOARD_PERMISSIONS,
        *NOTIFICATION_VIEW_PERMISSIONS,
        "add_rolewebhook",
        "change_rolewebhook",
        "delete_rolewebhook",
        "add_quota",
        "change_quota",
        *CONFIG_VIEW_PERMISSIONS,
        *CONFIG_EDIT_PERMISSIONS,
    ),
    DEVOPS: (
        "view_template",
        "view_user",
        "view_group",
        *REVIEW_PERMISSIONS,
        *PRICING_VIEW_PERMISSIONS,
        *QUOTA_VIEW_PERMISSIONS,
        *JOBS_DASHBOARD_PERMISSIONS,
        *NOTIFICATION_VIEW_PERMISSIONS,
        *CONFIG_VIEW_PERMISSIONS,
    ),
}


def role_names(user) -> set[str]:
    if not user or not user.is_authenticated:
        return set()
    cached = getattr(user, "_role_names", None)
    if cached is None:
        cached = names_by_user([user.pk])[user.pk]
        user._role_names = cached
    return cached


def names_by_user(user_ids) -> dict:
    """Role names per user id, in two indexed queries (memberships by user, roles by id) rather
    than the join ``user.groups`` is on MongoDB (a $lookup over every role before the $match)."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    memberships = list(
        get_user_model().groups.through.objects.filter(user_id__in=list(user_ids)).values_list("user_id", "group_id")
    )
    names = dict(Group.objects.filter(pk__in={group for _, group in memberships}).values_list("pk", "name"))
    found: dict = {user_id: set() for user_id in user_ids}
    for user_id, group_id in memberships:
        if group_id in names:
            found[user_id].add(names[group_id])
    return found


def is_admin(user) -> bool:
    return bool(user and user.is_authenticated and (user.is_superuser or ADMIN in role_names(user)))


def is_devops(user) -> bool:
    return bool(user and user.is_authenticated and DEVOPS in role_names(user))


def is_reviewer(user) -> bool:
    """DevOps and admins review requests (never their own) and see everyone's."""
    return is_admin(user) or is_devops(user)
