from cloudassist import roles
from cloudassist.apps import PeriodicJob, ProjectAppConfig

# Requests are only viewed in the admin: approve/reject are admin actions that call the services,
# which decide who may review (provisioning/transitions.py), never a model permission.
REVIEW_PERMISSIONS = ("view_provisionrequest", "view_extensionrequest", "view_event", "view_orphan")


class ProvisioningConfig(ProjectAppConfig):
    name = "provisioning"
    role_permissions = {roles.ADMIN: REVIEW_PERMISSIONS, roles.DEVOPS: REVIEW_PERMISSIONS}
    periodic_jobs = (
        PeriodicJob("provisioning.jobs.sweep", "provisioning-sweep"),
        # Lists every provider's resources: less often than the sweep, on the provisioning queue
        # (its calls to the clouds must not hold back the sweeps and analyses of the default one).
        PeriodicJob(
            "provisioning.jobs.reconcile_resources",
            "provisioning-reconcile-resources",
            queue="provisioning",  # provisioning.services.PROVISIONING_QUEUE
            interval_setting="RECONCILE_INTERVAL_SECONDS",
        ),
    )
    # The job modules (the providers app preloads the plugins).
    worker_preload = ("provisioning.jobs", "provisioning.provisioner", "provisioning.reconciliation")

    def ready(self):
        # Models are loaded now (Django's app-loading order, hence the imports here).
        from cloudassist.metrics import register_scrape_collector
        from provisioning import bills, metrics
        from quotas import services as quota_services

        register_scrape_collector(metrics.ProvisionRequestCollector())  # requests per status
        # quotas reports what a user's reservations consumed so far; the reservations are
        # provision requests, so provisioning prices them (quotas cannot import it).
        quota_services.set_consumption(bills.consumed_to_date)
