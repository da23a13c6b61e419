"""The periodic schedule, run by `manage.py rqcron cloudassist.cron` (rq's cron scheduler;
`make run` starts it). No system cron. Each app declares its sweeps (``periodic_jobs`` on its
AppConfig, cloudassist/apps.py); they all run every SWEEP_INTERVAL_SECONDS."""

from django.conf import settings
from django.utils.module_loading import import_string
from rq import cron

from cloudassist.apps import project_apps

for _app in project_apps():
    for _job in _app.periodic_jobs:
        cron.register(import_string(_job.func), _job.queue, interval=settings.SWEEP_INTERVAL_SECONDS, name=_job.name)
