"""rq's worker internals that ``cloudassist/worker.py`` relies on.

The worker subclasses rq's ``Worker``: it overrides the job hooks (metrics per outcome), forks its
work horse ahead of the job (``fork_work_horse``, ``dequeue_job_and_maintain_ttl``, ``teardown``,
setting ``_horse_pid`` as rq's own fork does) and tells a stopped job from a failed one by
``_stopped_job_id``. The hooks are public methods but not a documented extension API: their
parameters are checked too.
"""

from __future__ import annotations

from cloudassist.internals import Internal

DISTRIBUTION = "rq"


def _worker_class():
    import rq

    return rq.Worker


def _worker():
    import django_rq
    import rq

    return rq.Worker(["default"], connection=django_rq.get_connection("default"))


GUARDED = (
    Internal(DISTRIBUTION, _worker, "_stopped_job_id", "a stopped job is counted as stopped, not failed"),
    Internal(DISTRIBUTION, _worker, "_horse_pid", "the preforked spare is the horse rq monitors"),
    Internal(
        DISTRIBUTION, _worker_class, "fork_work_horse", "overridden: hands the job to a spare", ("self", "job", "queue")
    ),
    Internal(
        DISTRIBUTION, _worker_class, "main_work_horse", "overridden and run in the spare", ("self", "job", "queue")
    ),
    Internal(DISTRIBUTION, _worker_class, "perform_job", "overridden: job duration", ("self", "job", "queue")),
    Internal(
        DISTRIBUTION,
        _worker_class,
        "handle_job_success",
        "overridden: outcome metric",
        ("self", "job", "queue", "started_job_registry"),
    ),
    Internal(
        DISTRIBUTION,
        _worker_class,
        "handle_job_retry",
        "overridden: outcome metric",
        ("self", "job", "queue", "retry", "started_job_registry", "execution"),
    ),
    Internal(
        DISTRIBUTION,
        _worker_class,
        "handle_job_failure",
        "overridden: outcome metric",
        ("self", "job", "queue", "started_job_registry", "exc_string"),
    ),
    Internal(
        DISTRIBUTION,
        _worker_class,
        "dequeue_job_and_maintain_ttl",
        "overridden: forks the spare while waiting",
        ("self", "timeout", "max_idle_time"),
    ),
    Internal(DISTRIBUTION, _worker_class, "dequeue_timeout", "overridden: capped at RQ_MAINTENANCE_SECONDS"),
    Internal(DISTRIBUTION, _worker_class, "teardown", "overridden: discards the spare", ("self",)),
    Internal(DISTRIBUTION, _worker_class, "setup_work_horse_signals", "called in the spare horse", ("self",)),
)


def stopped_job_id(worker) -> str | None:
    """The id of the job a ``stop-job`` command stopped (rq sets it before the failure hook)."""
    return worker._stopped_job_id


def set_horse_pid(worker, pid: int) -> None:
    """Make ``pid`` the work horse rq monitors, kills on timeout and waits for."""
    worker._horse_pid = pid
