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


def signs_in_to_console(names: set[str], *, is_superuser: bool) -> bool:
    """The staff flag: admins and DevOps (and superusers) use the console; developers the portal and API."""
    return is_superuser or bool(names & {ADMIN, DEVOPS})


def is_admin(user) -> bool:
    return bool(user and user.is_authenticated and (user.is_superuser or ADMIN in role_names(user)))


def is_devops(user) -> bool:
    return bool(user and user.is_authenticated and DEVOPS in role_names(user))


def is_reviewer(user) -> bool:
    """DevOps and admins review requests (never their own) and see everyone's."""
    return is_admin(user) or is_devops(user)
