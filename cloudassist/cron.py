"""The periodic schedule, run by `manage.py rqcron cloudassist.cron` (rq's cron scheduler;
`make run` starts it). No system cron. Each app declares its sweeps (``periodic_jobs`` on its
AppConfig, cloudassist/apps.py), each run every SWEEP_INTERVAL_SECONDS unless it names another setting."""

from django.conf import settings
from django.utils.module_loading import import_string
from rq import cron

from cloudassist.apps import project_apps

for _app in project_apps():
    for _job in _app.periodic_jobs:
        _interval = getattr(settings, _job.interval_setting)
        cron.register(import_string(_job.func), _job.queue, interval=_interval, name=_job.name)
