from cloudassist import roles
from cloudassist.apps import PeriodicJob, ProjectAppConfig

# The config server's entries and their history: DevOps see them; admins also add, change, delete
# and roll back (rollback is an admin view that checks roles.is_admin; writes go through configs.services).
VIEW = ("view_config", "view_configversion")


class ConfigsConfig(ProjectAppConfig):
    name = "configs"
    role_permissions = {
        roles.ADMIN: (*VIEW, "add_config", "change_config", "delete_config"),
        roles.DEVOPS: VIEW,
    }
    periodic_jobs = (PeriodicJob("configs.jobs.purge_expired", "configs-ttl"),)
    worker_preload = ("configs.jobs",)

    def ready(self):
        from configs import (
            cache,
            metrics,  # noqa: F401  (the import defines the app's metrics, in prometheus_client's registry)
        )

        cache.subscribe()  # GET /configs/{name} reads from memory, kept true by the change feed
