from cloudassist import roles
from cloudassist.apps import PeriodicJob, ProjectAppConfig

VIEW = ("view_notification", "view_delivery", "view_notificationsettings", "view_rolewebhook")


class NotificationsConfig(ProjectAppConfig):
    name = "notifications"
    role_permissions = {
        roles.ADMIN: (*VIEW, "add_rolewebhook", "change_rolewebhook", "delete_rolewebhook"),
        roles.DEVOPS: VIEW,
    }
    periodic_jobs = (PeriodicJob("notifications.jobs.sweep", "notifications-sweep"),)
    worker_preload = ("notifications.jobs",)

    def ready(self):
        from notifications import metrics  # noqa: F401  (the import defines the app's metrics, in prometheus_client's registry)
