"""The production web server: ``python -m cloudassist.serving`` (the image's CMD, the chart, ``make run``).

gunicorn with gevent workers on the WSGI application (``cloudassist.wsgi``), chosen by measurement
(README, "Serving"): Django's sync views run natively, with no ``sync_to_async`` hop onto one thread
per process as under ASGI, and every request is a greenlet, so a config watch (a long poll) waits
cooperatively and holds no OS thread. gevent monkey-patches the worker after the fork, before
Django is imported (the application is not preloaded), so pymongo, redis-py, rq and the OpenTelemetry
exporter's thread all become cooperative.

Run as a script, it execs gunicorn (``os.execvp``: gunicorn replaces this process, so in the container
it is PID 1 and gets SIGTERM) with this same file as its configuration file: the module-level names
below are gunicorn settings and hooks. Nothing here imports the project's settings, so any
DJANGO_SETTINGS_MODULE works (``DJANGO_SETTINGS_MODULE=benchmarks.bare_settings python -m cloudassist.serving``).
Extra arguments are passed to gunicorn (``python -m cloudassist.serving --log-level debug``).

Environment:
  HOST (0.0.0.0), PORT (8000), WEB_CONCURRENCY (2)  where to listen, how many worker processes
  WEB_WORKER_CONNECTIONS (1000)   concurrent connections (requests and waiting watches) per process
  WEB_GRACEFUL_TIMEOUT (20)       seconds a stopping worker lets requests finish before cutting them;
                                  waiting watches are answered at once at SIGTERM (their current entry)
  WEB_KEEPALIVE (5)               seconds an idle keep-alive connection stays open
  WEB_ACCESS_LOG (off)            "-" logs every request to stdout (gunicorn's access log)
  FORWARDED_ALLOW_IPS (127.0.0.1,::1)  peers whose X-Forwarded-Proto/-For gunicorn trusts ("*": any)
  PROMETHEUS_MULTIPROC_DIR        when set, a dead worker's live gauges are removed (mark_process_dead)
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
APPLICATION = "cloudassist.wsgi:application"


def _bind(host: str, port: str) -> str:
    return f"[{host}]:{port}" if ":" in host and not host.startswith("[") else f"{host}:{port}"


# --- gunicorn settings (read when gunicorn loads this file with --config) --------------------------

wsgi_app = APPLICATION
chdir = str(BASE_DIR)
bind = [_bind(os.environ.get("HOST", "0.0.0.0"), os.environ.get("PORT", "8000"))]  # noqa: S104 (a container)
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
worker_class = "gevent"
worker_connections = int(os.environ.get("WEB_WORKER_CONNECTIONS", "1000"))
graceful_timeout = int(os.environ.get("WEB_GRACEFUL_TIMEOUT", "20"))
keepalive = int(os.environ.get("WEB_KEEPALIVE", "5"))
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")
accesslog = os.environ.get("WEB_ACCESS_LOG") or None
errorlog = "-"
# Never preload: Django (and with it pymongo, redis-py, the tracer) must be imported after gevent's
# monkey-patching, which the gevent worker does after the fork.
preload_app = False
# No control socket (gunicorn 25+ puts one under $HOME; the image's root filesystem is read-only).
control_socket_disable = True


def post_worker_init(worker) -> None:
    """At SIGTERM, answer the waiting config watches now (with their current entry), so that the
    worker stops within a moment instead of holding long polls until graceful_timeout."""
    import gevent

    stop = worker.handle_exit

    def handle_exit(sig, frame):
        stop(sig, frame)
        gevent.spawn(_release_watches)  # out of the signal handler (it runs in gevent's event loop)

    signal.signal(signal.SIGTERM, handle_exit)


def pre_request(worker, req) -> None:
    """Yield to gevent's hub before each request. gevent never preempts: a greenlet whose sockets
    answer at once (a keep-alive client, a fast MongoDB reply) runs request after request while
    the other connections' greenlets wait; measured with 2 workers and 16 connections, p99 went
    to seconds at a 3 ms p50. One cooperative yield per request puts them in turn."""
    import gevent

    gevent.sleep(0)


def _release_watches() -> None:
    watch = sys.modules.get("configs.watch")  # only if this project's watch is loaded (not a bare view)
    if watch is not None:
        watch.release_all()


def child_exit(server, worker) -> None:
    """Prometheus multiprocess mode: drop the dead worker's live gauges (its counters stay summed)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)


# --- the entry point -------------------------------------------------------------------------------


def command(extra: list[str] | None = None) -> list[str]:
    """The gunicorn command line: this file as its configuration, with ``extra`` arguments."""
    return [sys.executable, "-m", "gunicorn", "--config", str(Path(__file__).resolve()), *(extra or [])]


def main(argv: list[str] | None = None) -> None:
    args = command(sys.argv[1:] if argv is None else argv)
    os.execvp(args[0], args)  # noqa: S606 (our own interpreter running gunicorn; replaces this process)


if __name__ == "__main__":
    main()
