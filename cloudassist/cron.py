"""The periodic schedule, run by `manage.py rqcron cloudassist.cron` (rq's cron scheduler;
`make run` starts it). No system cron."""

from django.conf import settings
from rq import cron

from configs import jobs as config_jobs
from notifications import jobs as notification_jobs
from provisioning import jobs as provisioning_jobs

cron.register(provisioning_jobs.sweep, "default", interval=settings.SWEEP_INTERVAL_SECONDS, name="provisioning-sweep")
cron.register(notification_jobs.sweep, "default", interval=settings.SWEEP_INTERVAL_SECONDS, name="notifications-sweep")
cron.register(config_jobs.purge_expired, "default", interval=settings.SWEEP_INTERVAL_SECONDS, name="configs-ttl")
