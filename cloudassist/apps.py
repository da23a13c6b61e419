"""AppConfigs: Django's contrib apps on ObjectId primary keys, the base of the project's apps
(what each app declares for the core to collect), and the core app."""

from __future__ import annotations

from dataclasses import dataclass

from django.apps import AppConfig, apps
from django.contrib.admin.apps import AdminConfig
from django.contrib.auth.apps import AuthConfig
from django.contrib.contenttypes.apps import ContentTypesConfig
from django.utils.module_loading import import_string
from django_rq.apps import DjangoRqAdminConfig

from cloudassist import roles

OBJECT_ID_AUTO_FIELD = "django_mongodb_backend.fields.ObjectIdAutoField"


class MongoAdminConfig(AdminConfig):
    default_auto_field = OBJECT_ID_AUTO_FIELD
    default_site = "cloudassist.admin.CloudAssistAdminSite"


class MongoAuthConfig(AuthConfig):
    default_auto_field = OBJECT_ID_AUTO_FIELD


class MongoContentTypesConfig(ContentTypesConfig):
    default_auto_field = OBJECT_ID_AUTO_FIELD


@dataclass(frozen=True)
class PeriodicJob:
    """A job rq's cron scheduler enqueues every ``interval_setting`` seconds (cloudassist/cron.py)."""

    func: str  # dotted path of the job function
    name: str
    queue: str = "default"
    interval_setting: str = "SWEEP_INTERVAL_SECONDS"  # the setting naming its interval, in seconds


class ProjectAppConfig(AppConfig):
    """An app of CloudAssist. The core never imports an app; it collects what the apps declare here
    (dotted paths rather than objects, so declaring imports nothing):

    - ``role_permissions``: Django-admin permission codenames each built-in role is granted
      (``cloudassist.services.ensure_roles``), by role name (``cloudassist.roles``);
    - ``periodic_jobs``: the app's sweeps, for the cron schedule;
    - ``worker_preload``: modules (or functions, called) the rq worker imports before it forks its
      work horses, so that no job pays for an import;
    - ``demo_seed``: ``fn(report, *, password)`` adding the app's demo data (``manage.py seed_demo``);
    - ``provider_check``: ``fn(provider) -> str | None``, why a template of that provider cannot be
      requested now (naming the setting to set), None when it can (``unavailable_reason``);
    - ``banner_lines``: ``fn() -> list[str]``, lines for `make run`'s banner (``banner_lines``).
    """

    default_auto_field = OBJECT_ID_AUTO_FIELD
    role_permissions: dict[str, tuple[str, ...]] = {}
    periodic_jobs: tuple[PeriodicJob, ...] = ()
    worker_preload: tuple[str, ...] = ()
    demo_seed: str = ""
    provider_check: str = ""
    banner_lines: str = ""


def project_apps() -> list[ProjectAppConfig]:
    """The installed CloudAssist apps, in INSTALLED_APPS order."""
    return [config for config in apps.get_app_configs() if isinstance(config, ProjectAppConfig)]


def unavailable_reason(provider: str) -> str | None:
    """Why templates of ``provider`` cannot be requested now, as the apps' ``provider_check`` say
    (the first reason given), or None."""
    for config in project_apps():
        if config.provider_check:
            reason = import_string(config.provider_check)(provider)
            if reason:
                return reason
    return None


def banner_lines() -> list[str]:
    """The lines the apps add to `make run`'s banner, in INSTALLED_APPS order."""
    return [line for config in project_apps() if config.banner_lines for line in import_string(config.banner_lines)()]


class CloudAssistConfig(ProjectAppConfig):
    name = "cloudassist"
    verbose_name = "CloudAssist"
    # Users and roles are managed through the API only (it guards roles and the superuser flag);
    # django-rq's dashboard (queues, workers, jobs) has one permission, `django_rq.admin`.
    role_permissions = {
        roles.ADMIN: ("view_user", "view_group", "admin"),
        roles.DEVOPS: ("view_user", "view_group", "admin"),
    }
    worker_preload = ("cloudassist.cron",)
    demo_seed = "cloudassist.seed.seed_users"

    def ready(self):
        # Tracing, when the OTEL_* variables switch it on (cloudassist/tracing.py). ready() runs inside
        # django.setup(): before the WSGI/ASGI handler builds its middleware chain, before the first
        # MongoClient, and in the rq worker before it forks its work horses.
        from pymongo import monitoring

        from cloudassist import metrics, tracing

        tracing.setup()
        # MongoDB command durations and failures: pymongo applies a registered listener to every
        # MongoClient created afterwards; the backend creates its client on the first query.
        monitoring.register(metrics.MongoCommandMetrics())

        from cloudassist import admin_users

        admin_users.register()  # usernames ASCII in the admin's user forms too


class MongoRQConfig(DjangoRqAdminConfig):
    default_auto_field = OBJECT_ID_AUTO_FIELD
