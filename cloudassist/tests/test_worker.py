"""cloudassist/worker.py: the worker imports what jobs need before it forks work horses, forks each
horse before its job arrives, and a horse that crashes fails (or retries) only its own job."""

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import django_rq
import psutil
import pytest
from django.conf import settings
from rq import Queue, Retry
from rq.job import JobStatus
from rq.registry import FailedJobRegistry

from cloudassist import worker

BASE_DIR = Path(__file__).resolve().parents[2]

PROBE = """
import json, sys
import django
django.setup()
from cloudassist import worker
from django.urls import get_resolver
def seen():
    return {**{name: name in sys.modules for name in WATCHED}, "urls": get_resolver()._populated}
before = seen()
worker.preload()
print(json.dumps({"before": before, "after": seen()}))
"""
WATCHED = ["kubernetes", "boto3", "providers.aws_eks", "providers.kubernetes.provider"]


def test_preload_imports_the_providers_a_fresh_process_lacks():
    # A fresh process, as the worker is: this test process has imported everything already.
    code = f"WATCHED = {WATCHED!r}\n{PROBE}"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=BASE_DIR, capture_output=True, text=True, check=True, timeout=120
    )
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen["before"] == dict.fromkeys([*WATCHED, "urls"], False)
    assert seen["after"] == dict.fromkeys([*WATCHED, "urls"], True)


# --- the preforking Worker: each job in a horse forked before it arrived, crashes isolated ------

CRASH_COUNTER = "cloudassist-test:worker:attempts"


def horse_pid() -> int:
    return os.getpid()


def exits_hard() -> None:
    os._exit(3)  # no exception, no clean-up: the horse is simply gone


def kills_itself_the_first_time() -> str:
    connection = django_rq.get_connection("default")
    if connection.incr(CRASH_COUNTER) == 1:
        os.kill(os.getpid(), signal.SIGKILL)
    return "second attempt"


class RecordingWorker(worker.Worker):
    """Our Worker, remembering which jobs went to a spare horse and the spares it forked."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.handed_over, self.spares = [], []

    def _ensure_spare(self):
        super()._ensure_spare()
        if self._spare and self._spare[0] not in self.spares:
            self.spares.append(self._spare[0])

    def _hand_over(self, spare, job, queue):
        handed = super()._hand_over(spare, job, queue)
        self.handed_over.append(handed)
        return handed


class DeadSpareWorker(RecordingWorker):
    """Every spare dies before a job arrives: the worker must fork a horse the ordinary way."""

    def _ensure_spare(self):
        super()._ensure_spare()
        os.kill(self._spare[0], signal.SIGKILL)
        os.waitpid(self._spare[0], 0)


@pytest.fixture
def worker_queue():
    queue = Queue("worker-test", connection=django_rq.get_connection("default"))
    queue.empty()
    queue.connection.delete(CRASH_COUNTER)
    yield queue
    queue.empty()
    queue.connection.delete(CRASH_COUNTER)


def _children() -> set[int]:
    return {child.pid for child in psutil.Process().children(recursive=True)}


def test_each_job_runs_in_its_own_preforked_horse_and_no_spare_outlives_the_worker(worker_queue):
    before = _children()
    jobs = [worker_queue.enqueue(horse_pid) for _ in range(3)]
    runner = RecordingWorker([worker_queue], connection=worker_queue.connection)
    runner.work(burst=True)
    pids = [job.latest_result(timeout=0).return_value for job in jobs]
    assert runner.handed_over == [True, True, True]  # every job went to a horse forked before it was dequeued
    assert len(set(pids)) == 3  # one process per job
    assert os.getpid() not in pids  # never the worker
    assert set(pids) <= set(runner.spares)
    assert _children() == before  # the spare forked after the last job was stopped and reaped


def test_a_horse_that_exits_hard_fails_its_job_and_the_worker_carries_on(worker_queue):
    crashed, after = worker_queue.enqueue(exits_hard), worker_queue.enqueue(horse_pid)
    runner = RecordingWorker([worker_queue], connection=worker_queue.connection)
    runner.work(burst=True)
    assert crashed.get_status(refresh=True) == JobStatus.FAILED
    assert crashed.id in FailedJobRegistry(queue=worker_queue)
    assert "Work-horse terminated unexpectedly" in crashed.latest_result(timeout=0).exc_string
    assert after.get_status(refresh=True) == JobStatus.FINISHED
    assert runner.handed_over == [True, True]


def test_a_horse_killed_by_sigkill_is_retried_as_the_job_says(worker_queue):
    job = worker_queue.enqueue(kills_itself_the_first_time, retry=Retry(max=1))
    runner = RecordingWorker([worker_queue], connection=worker_queue.connection)
    runner.work(burst=True)
    assert job.get_status(refresh=True) == JobStatus.FINISHED
    assert job.latest_result(timeout=0).return_value == "second attempt"
    assert int(worker_queue.connection.get(CRASH_COUNTER)) == 2


def test_a_spare_that_died_is_replaced_by_an_ordinary_fork(worker_queue):
    job = worker_queue.enqueue(horse_pid)
    runner = DeadSpareWorker([worker_queue], connection=worker_queue.connection)
    runner.work(burst=True)
    assert runner.handed_over == [False]
    assert job.get_status(refresh=True) == JobStatus.FINISHED
    assert job.latest_result(timeout=0).return_value != os.getpid()


def test_the_spare_exits_when_its_worker_is_killed(tmp_path):
    database = settings.DATABASES["default"]
    env = {
        **os.environ,
        "MONGODB_URI": database["HOST"],
        "MONGODB_NAME": database["NAME"],
        "REDIS_URL": settings.REDIS_URL,
        "DJANGO_SETTINGS_MODULE": "cloudassist.settings",
        "WORKER_METRICS_PORT": "0",
    }
    proc = subprocess.Popen(
        [sys.executable, "manage.py", "rqworker", "default"],
        cwd=BASE_DIR,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        spare = None
        for _ in range(600):  # the spare is forked once the worker listens (no scheduler: its only child)
            spare = next(iter(psutil.Process(proc.pid).children()), None)
            if spare is not None:
                break
            time.sleep(0.1)
        assert spare is not None, "the worker forked no spare horse"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        _gone, alive = psutil.wait_procs([spare], timeout=30)
        assert not alive, "the spare horse outlived its worker"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
