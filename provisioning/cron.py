"""The periodic schedule, run by `manage.py rqcron provisioning.cron` (rq's cron scheduler;
`make run` starts it, the Helm chart runs it as the scheduler Deployment). No system cron."""

from django.conf import settings
from rq import cron

from provisioning import jobs

cron.register(jobs.sweep, "default", interval=settings.SWEEP_INTERVAL_SECONDS, name="provisioning-sweep")
