"""Use cases for users, roles and API tokens (writes). Views and commands call these, nothing else."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model, password_validation
from django.contrib.auth.models import Group, Permission
from django.contrib.auth.validators import ASCIIUsernameValidator
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import ProtectedError
from django.utils import timezone

from cloudassist import changes, roles
from cloudassist.apps import project_apps
from cloudassist.db import run_atomic
from cloudassist.exceptions import Conflict, NotFound
from cloudassist.models import ApiToken, new_raw_token, token_digest

User = get_user_model()
logger = logging.getLogger(__name__)

TOKENS_REVOKED_MESSAGE = "Your API tokens were revoked: sign in again for a new one."

# Usernames are ASCII letters, digits and @.+-_: the API publishes the pattern ^[\w.@+-]+$, whose
# \w is ASCII in JSON Schema (the model's own validator would also take any Unicode letter).
username_validator = ASCIIUsernameValidator()


# This process's caches of who a token is (cloudassist/api/token_cache.py) learn of a change at once;
# the other processes learn it from MongoDB's change stream (cloudassist/changes.py).
def _user_changed(user) -> None:
    changes.publish_local(User._meta.db_table, user.pk)


def _role_changed(group: Group) -> None:
    changes.publish_local(Group._meta.db_table, group.pk)  # every cached role set goes


def validate_username(username: str) -> None:
    """ValidationError naming ``username``, in words, unless it is ASCII as published."""
    try:
        username_validator(username)
    except ValidationError as exc:
        raise ValidationError({"username": exc.messages}) from exc


def admin_permissions() -> dict[str, set[str]]:
    """The Django-admin permission codenames each built-in role is granted (superusers need none),
    as the apps declare them (``role_permissions`` on their AppConfig, cloudassist/apps.py)."""
    granted: dict[str, set[str]] = {name: set() for name in roles.ALL}
    for config in project_apps():
        for role, codenames in config.role_permissions.items():
            granted[role].update(codenames)
    return granted


def ensure_roles() -> list[Group]:
    """Create the built-in roles if they are missing and give them their admin permissions (idempotent)."""
    granted = admin_permissions()
    groups = [Group.objects.get_or_create(name=name)[0] for name in roles.ALL]
    for group in groups:
        codenames = granted.get(group.name)
        if codenames:
            group.permissions.add(*Permission.objects.filter(codename__in=codenames))
    return groups


def _apply_roles(user, groups: Iterable[Group] | None) -> None:
    if groups is None:
        return
    groups = list(groups)
    user.groups.set(groups)
    user._role_names = {group.name for group in groups}


def _sync_staff(user) -> None:
    """Admins and DevOps log in to the Django admin; developers use the API."""
    staff = roles.signs_in_to_console(roles.role_names(user), is_superuser=user.is_superuser)
    if user.is_staff != staff:
        user.is_staff = staff
        user.save(update_fields=["is_staff"])


def _set_password(user, password: str | None) -> None:
    if password is None:
        return
    try:
        password_validation.validate_password(password, user)
    except ValidationError as exc:
        raise ValidationError({"password": exc.messages}) from exc
    user.set_password(password)


def create_user(
    *,
    username: str,
    password: str | None = None,
    email: str = "",
    first_name: str = "",
    last_name: str = "",
    groups: Iterable[Group] = (),
    is_active: bool = True,
    is_superuser: bool = False,
    validate_password: bool = True,
):
    validate_username(username)
    user = User(
        username=username,
        email=email,
        first_name=first_name,
        last_name=last_name,
        is_active=is_active,
        is_superuser=is_superuser,
    )
    if password is None:
        user.set_unusable_password()
    elif validate_password:
        _set_password(user, password)
    else:
        user.set_password(password)
    user.save()
    _apply_roles(user, groups)
    _sync_staff(user)
    return user


def update_user(
    *,
    user,
    actor,
    groups: Iterable[Group] | None = None,
    password: str | None = None,
    **fields,
):
    """Change a user's profile, roles or password; an admin cannot demote or lock out themself."""
    if user.pk == actor.pk:
        if fields.get("is_active") is False:
            raise Conflict("You cannot deactivate your own account.")
        drops_admin = groups is not None and roles.ADMIN not in {group.name for group in groups}
        if drops_admin and roles.ADMIN in roles.role_names(actor) and not actor.is_superuser:
            raise Conflict("You cannot remove the admin role from yourself.")
    if "username" in fields:
        validate_username(fields["username"])
    for name, value in fields.items():
        setattr(user, name, value)
    if password is not None:
        user.tokens_revoked = change_password(user=user, password=password, reason=f"password set by {actor}")
    else:
        user.save()
    _apply_roles(user, groups)
    _sync_staff(user)
    _user_changed(user)
    return user


def change_password(*, user, password: str, reason: str, validate: bool = True) -> int:
    """Set ``user``'s password (validated for strength unless a form did already) and revoke their API
    tokens, which were issued under the old one, in one transaction: the one way a password changes
    (portal, admin, API). Saves ``user`` (with any other changed field). Returns the tokens revoked."""
    if validate:
        _set_password(user, password)
    else:
        user.set_password(password)

    def unit() -> int:
        user.save()
        return revoke_tokens(user, reason)

    revoked = run_atomic(unit)
    _user_changed(user)
    return revoked


def delete_user(*, user, actor) -> None:
    if user.pk == actor.pk:
        raise Conflict("You cannot delete your own account.")
    if user.is_superuser and not actor.is_superuser:
        raise PermissionDenied("Only a superuser may delete a superuser.")
    pk = user.pk  # delete() forgets it
    try:
        user.delete()
    except ProtectedError as exc:
        raise Conflict(
            f"User '{user.get_username()}' has provision or extension requests, which the audit trail keeps; "
            "deactivate the account instead (PATCH is_active=false)."
        ) from exc
    changes.publish_local(User._meta.db_table, pk)


def delete_role(*, group: Group) -> None:
    if group.name in roles.ALL:
        raise Conflict(f"The built-in role '{group.name}' cannot be deleted.")
    pk = group.pk  # delete() forgets it
    group.delete()
    changes.publish_local(Group._meta.db_table, pk)


def rename_role(*, group: Group, name: str) -> Group:
    if group.name in roles.ALL and name != group.name:
        raise Conflict(f"The built-in role '{group.name}' cannot be renamed.")
    group.name = name
    group.save()
    _role_changed(group)
    return group


def issue_token(*, user) -> tuple[ApiToken, str]:
    """A new API token for ``user``, valid API_TOKEN_TTL_HOURS: the stored token (its digest only)
    and the raw token, which exists only in this return value (shown once to the caller)."""
    raw = new_raw_token()
    now = timezone.now()
    token = ApiToken.objects.create(
        digest=token_digest(raw),
        user=user,
        created_at=now,
        expires_at=now + timedelta(hours=settings.API_TOKEN_TTL_HOURS),
    )
    return token, raw


def revoke_token(*, user, token_id) -> None:
    """Delete one of ``user``'s tokens; someone else's token, or none by that id, is a NotFound."""
    deleted, _ = ApiToken.objects.filter(pk=token_id, user=user).delete()
    _user_changed(user)  # (the token's id may be a string here)
    if not deleted:
        raise NotFound("No such token among yours.")


def revoke_tokens(user, reason: str) -> int:
    """Delete every API token of ``user`` (a changed password, ...); logs how many and why."""
    revoked, _ = ApiToken.objects.filter(user=user).delete()
    _user_changed(user)  # every token of the user's goes
    logger.info("Revoked %s API token(s) of %s: %s", revoked, user.get_username(), reason)
    return revoked


def note_token_used(*, token: ApiToken, now=None) -> None:
    """Record that ``token`` authenticated a request, at most once every
    API_TOKEN_LAST_USED_EVERY_SECONDS (one conditional update, not a write per request)."""
    now = now or timezone.now()
    every = timedelta(seconds=settings.API_TOKEN_LAST_USED_EVERY_SECONDS)
    if token.last_used_at is not None and now - token.last_used_at < every:
        return
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    token.last_used_at = now
    changes.publish_local(ApiToken._meta.db_table, token.pk)  # a cached copy would write again
