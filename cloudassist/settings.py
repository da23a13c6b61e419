"""CloudAssist settings: everything comes from environment variables and an optional ``.env``.

The README's configuration table lists every variable read here.
"""

import os
from pathlib import Path

import environ
from csp import constants as csp
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
# Variables already in the environment win over the file.
environ.Env.read_env(os.environ.get("CLOUDASSIST_ENV_FILE", str(BASE_DIR / ".env")), overwrite=False)

DEBUG = env.bool("DEBUG", default=False)

_INSECURE_DEV_KEY = "django-insecure-cloudassist-development-key-do-not-use-in-production"
SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is false (see README, Configuration)")
    SECRET_KEY = _INSECURE_DEV_KEY

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# Where embedded servers keep their data when MONGODB_URI / REDIS_URL are not set.
VAR_DIR = Path(env.str("CLOUDASSIST_VAR_DIR", default=str(BASE_DIR / "var")))
EMBEDDED_MONGO_PORT = env.int("EMBEDDED_MONGO_PORT", default=27117)
EMBEDDED_REDIS_PORT = env.int("EMBEDDED_REDIS_PORT", default=6479)

# An unset MONGODB_URI / REDIS_URL means "the embedded server": `manage.py serve` starts it.
MONGODB_URI = env.str("MONGODB_URI", default="") or f"mongodb://127.0.0.1:{EMBEDDED_MONGO_PORT}/?directConnection=true"
MONGODB_NAME = env.str("MONGODB_NAME", default="cloudassist")
REDIS_URL = env.str("REDIS_URL", default="") or f"redis://127.0.0.1:{EMBEDDED_REDIS_PORT}/0"

DEMO_PASSWORD = env.str("DEMO_PASSWORD", default="cloudassist")

INSTALLED_APPS = [
    "cloudassist.apps.MongoAdminConfig",
    "cloudassist.apps.MongoAuthConfig",
    "cloudassist.apps.MongoContentTypesConfig",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_mongodb_backend",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "csp",  # django-csp: the Content-Security-Policy header (its system checks)
    "cloudassist.apps.MongoRQConfig",
    "cloudassist.apps.CloudAssistConfig",
    # The project's apps bottom layer first: demo data is seeded in this order (templates are
    # priced when saved, so the prices come before them).
    "quotas.apps.QuotasConfig",
    "providers.apps.ProvidersConfig",
    "templates.apps.TemplatesConfig",
    "provisioning.apps.ProvisioningConfig",
    "notifications.apps.NotificationsConfig",
    "configs.apps.ConfigsConfig",
    "portal.apps.PortalConfig",
]

# Django's contrib apps ship migrations with integer AutoFields; these are generated for
# ObjectIdAutoField and kept in the repository.
MIGRATION_MODULES = {
    "admin": "cloudassist.mongo_migrations.admin",
    "auth": "cloudassist.mongo_migrations.auth",
    "contenttypes": "cloudassist.mongo_migrations.contenttypes",
    "django_rq": "cloudassist.mongo_migrations.django_rq",
}

MIDDLEWARE = [
    "django_prometheus.middleware.PrometheusBeforeMiddleware",  # first: latency including middlewares
    "django.middleware.security.SecurityMiddleware",
    "cloudassist.middleware.CSPMiddleware",  # Content-Security-Policy on every response (django-csp)
    "cloudassist.logs.RequestIdMiddleware",  # request id for logs and jobs, echoed in X-Request-ID
    "cloudassist.middleware.WhiteNoiseMiddleware",  # WhiteNoise, async-capable (ASGI)
    "cloudassist.api.middleware.refuse_nul_in_query",  # a NUL in a query parameter is a 400 naming it
    # Sessions, the session user and messages: skipped by token API and /configs requests
    # (cloudassist/middleware.py token_api_request); the admin, the portal and the browsable API get them.
    # CSRF stays Django's own (check --deploy looks for it by name); DRF's views are exempt from it.
    "cloudassist.middleware.BrowserSessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "cloudassist.api.throttling.LoginThrottleMiddleware",  # password forms: the token endpoint's budget
    "cloudassist.api.errors.json_not_found_middleware",  # JSON 404s for the API with DEBUG on too
    "django.middleware.csrf.CsrfViewMiddleware",
    "cloudassist.middleware.BrowserAuthenticationMiddleware",
    "cloudassist.middleware.private_pages",  # HTML pages with a session: Cache-Control: private, no-store
    "cloudassist.middleware.BrowserMessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "cloudassist.outages.DatabaseUnavailableMiddleware",  # MongoDB unreachable: 503, not 500
    "django_prometheus.middleware.PrometheusAfterMiddleware",  # last: per-view requests, statuses, latency
]

ROOT_URLCONF = "cloudassist.urls"
WSGI_APPLICATION = "cloudassist.wsgi.application"
ASGI_APPLICATION = "cloudassist.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        # First, so that its admin/ templates override Django's (base_site.html, search_form.html: accessibility)
        "DIRS": [BASE_DIR / "cloudassist" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": {
        "ENGINE": "cloudassist.mongodb",  # django-mongodb-backend, sorting on indexes (see the package)
        "HOST": MONGODB_URI,
        "NAME": MONGODB_NAME,
        "OPTIONS": {
            # An unreachable MongoDB answers 503 (cloudassist/outages.py) after about this long.
            "serverSelectionTimeoutMS": env.int("MONGODB_TIMEOUT_MS", default=2000),
            "connectTimeoutMS": env.int("MONGODB_TIMEOUT_MS", default=2000),
        },
    },
}
DEFAULT_AUTO_FIELD = "django_mongodb_backend.fields.ObjectIdAutoField"

# A down or hung Redis costs a request one try of at most this long (connect, and each read): the rest
# of the request leaves it alone (cloudassist/queues.py) and the sweep enqueues later. rq's worker
# raises the read timeout for its own blocking dequeue.
REDIS_TIMEOUT_SECONDS = env.float("REDIS_TIMEOUT_SECONDS", default=1.0)
_RQ_URL = (
    f"{REDIS_URL}{'&' if '?' in REDIS_URL else '?'}"
    f"socket_connect_timeout={REDIS_TIMEOUT_SECONDS}&socket_timeout={REDIS_TIMEOUT_SECONDS}"
)
RQ_QUEUES = {
    "default": {"URL": _RQ_URL, "DEFAULT_TIMEOUT": 300},
    "provisioning": {"URL": _RQ_URL, "DEFAULT_TIMEOUT": 3600},
    # Email and webhook deliveries, on a worker of their own (make run, the chart's notifier).
    "notifications": {"URL": _RQ_URL, "DEFAULT_TIMEOUT": 300},
}
RQ_SHOW_ADMIN_LINK = True

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(BASE_DIR / "staticfiles")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedStaticFilesStorage"
    },
}
# Serve straight from the apps' static folders until `collectstatic` has run (the image runs it).
WHITENOISE_USE_FINDERS = DEBUG or not STATIC_ROOT.is_dir()

# How many reverse proxies you run in front of CloudAssist (a load balancer, an ingress): each
# appends the address it saw to X-Forwarded-For. 0 (default): X-Forwarded-For is ignored and the
# login and token throttles count per connecting address; N: per the Nth address from the right,
# the one your outermost proxy saw (a client cannot forge it). Set it to exactly what you run.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # Token first: its WWW-Authenticate header makes anonymous requests a 401, not a 403.
        "cloudassist.api.authentication.IndexedTokenAuthentication",  # one indexed aggregate per request
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "cloudassist.api.pagination.StandardPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "cloudassist.api.filters.StableOrderingFilter",
    ],
    "DEFAULT_SCHEMA_CLASS": "cloudassist.api.schema.CloudAssistAutoSchema",  # tags per app, readable summaries
    "EXCEPTION_HANDLER": "cloudassist.api.errors.exception_handler",
    "DEFAULT_PARSER_CLASSES": [
        "cloudassist.api.parsers.JSONParser",  # DRF's, with too-deep nesting a 400
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_RENDERER_CLASSES": [
        "drf_orjson_renderer.renderers.ORJSONRenderer",  # orjson: same JSON, a fraction of the time
        "cloudassist.api.renderers.CloudAssistBrowsableAPIRenderer",  # Extra Actions: only what you may do
    ],
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
    "DEFAULT_THROTTLE_RATES": {"auth-token": env.str("AUTH_TOKEN_RATE", default="30/minute")},
    # The client address throttles key on (and the login throttle's: cloudassist/api/throttling.py):
    # with 0, the connection's own address, X-Forwarded-For ignored; with N trusted proxies in front,
    # the Nth address from the right of X-Forwarded-For.
    "NUM_PROXIES": TRUSTED_PROXY_COUNT,
}
# API tokens (cloudassist/models.py): stored as SHA-256 digests, valid this long after they are
# issued (an expired one is a 401 saying so), then deleted by MongoDB a week later (a TTL index).
API_TOKEN_TTL_HOURS = env.int("API_TOKEN_TTL_HOURS", default=720)
# A token's last_used_at is written at most this often (not a write per request).
API_TOKEN_LAST_USED_EVERY_SECONDS = 60
# Each web process keeps who a token is (user, roles) in memory, this many tokens for at most this
# many seconds; a revoked or expired token, a deactivated user or a changed password or role drops
# it at once on every process (MongoDB change streams: cloudassist/changes.py). 0 turns it off.
API_TOKEN_CACHE_SIZE = env.int("API_TOKEN_CACHE_SIZE", default=10_000)
API_TOKEN_CACHE_SECONDS = env.int("API_TOKEN_CACHE_SECONDS", default=60)
API_MAX_PAGE_SIZE = 200

SPECTACULAR_SETTINGS = {
    "TITLE": "CloudAssist API",
    "DESCRIPTION": "Self-service cloud provisioning: templates, requests, reviews, quotas and configs.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Fully offline: no validator badge (validator.swagger.io); Redoc in system fonts (its default
    # page loads Google Fonts) from a bundle without the Redocly logo's CDN image (cloudassist/api/docs.py).
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
    "REDOC_UI_SETTINGS": {
        "theme": {
            "typography": {
                "fontFamily": "system-ui, -apple-system, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif",
                "headings": {
                    "fontFamily": "system-ui, -apple-system, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif"
                },
                "code": {"fontFamily": "ui-monospace, SFMono-Regular, Menlo, Consolas, monospace"},
            }
        }
    },
    # One tag per app (cloudassist/api/schema.py derives each operation's tag from its view's app).
    "TAGS": [
        {"name": "users", "description": "Users, roles and API tokens."},
        {"name": "templates", "description": "Parameterised resource templates; render one as a dry run."},
        {"name": "provisioning", "description": "Provision and extension requests, their review, secrets and costs."},
        {"name": "quotas", "description": "Quotas, usage and pricing tables."},
        {"name": "notifications", "description": "Your notifications and notification settings."},
        {"name": "configs", "description": "The config server: JSON documents by name, with versions."},
        {"name": "health", "description": "Liveness and readiness probes."},
    ],
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {},
    "SECURITY": [{"tokenAuth": []}, {"cookieAuth": []}],
}

# One login page for everyone (the portal's); after it, developers land on their environments and
# reviewers on the admin's review inbox (portal/views/accounts.py). The admin keeps its own login.
LOGIN_URL = "portal:login"
LOGIN_REDIRECT_URL = "portal:home"
LOGOUT_REDIRECT_URL = "portal:login"

# Production hardening: on unless DEBUG. `manage.py check --deploy` is clean with these
# (see README, "Production checklist", for the one warning we leave on purpose).
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if env.bool("BEHIND_TLS_PROXY", default=False) else None
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
# Probes and the metrics scrape speak plain HTTP inside the cluster.
SECURE_REDIRECT_EXEMPT = [r"^health$", r"^ready$", r"^metrics$"]
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not DEBUG)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

# Content-Security-Policy (django-csp) on every page: the admin, the browsable API, the portal,
# Swagger UI and Redoc. Scripts only from this server (no inline script, no eval), except an
# inline script carrying the response's nonce (Redoc's init, cloudassist/templates/cloudassist/
# redoc.html); Swagger UI's init script is a separate request (SpectacularSwaggerSplitView).
# Styles allow 'unsafe-inline': Django's admin, DRF's browsable API and the portal use style
# attributes, and Redoc injects its styles at run time. Images and fonts may be data: URIs
# (Swagger UI's icons), Redoc's search runs in a blob: worker. Nothing may frame the pages.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [csp.SELF],
        "script-src": [csp.SELF, csp.NONCE],
        "style-src": [csp.SELF, csp.UNSAFE_INLINE],
        "img-src": [csp.SELF, "data:"],
        "font-src": [csp.SELF, "data:"],
        "connect-src": [csp.SELF],
        "worker-src": [csp.SELF, "blob:"],
        "object-src": [csp.NONE],
        "base-uri": [csp.SELF],
        "form-action": [csp.SELF],
        "frame-ancestors": [csp.NONE],
    },
}
# django-rq's dashboard pages (under /admin/rq/) carry small inline scripts (their job lists'
# select-all actions): there, and only there, script-src also allows 'unsafe-inline'
# (cloudassist/middleware.py, CSPMiddleware).
CSP_INLINE_SCRIPT_PATH_PREFIXES = ("/admin/rq/",)

LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
# JSON lines (timestamp, level, logger, request id, user id) unless DEBUG; `make run` is human-readable
# unless LOG_FORMAT=json. See cloudassist/logs.py.
LOG_FORMAT = env.str("LOG_FORMAT", default="human" if DEBUG else "json")
if LOG_FORMAT not in ("json", "human"):
    raise ImproperlyConfigured(f"LOG_FORMAT must be json or human, not '{LOG_FORMAT}'")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"context": {"()": "cloudassist.logs.ContextFilter"}},
    "formatters": {
        "json": {"()": "cloudassist.logs.JsonFormatter"},
        "human": {"()": "cloudassist.logs.HumanFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "stream": "ext://sys.stdout",
            "formatter": LOG_FORMAT,
            "filters": ["context"],
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    # Never below WARNING, whatever LOG_LEVEL says: at DEBUG these log what must not reach a log, the
    # query filters (a token lookup), request targets (a Slack webhook's path is its secret), request
    # and response bodies (a TokenRequest's token) and signed headers.
    "loggers": {
        name: {"level": "WARNING"}
        for name in ("django.db.backends", "pymongo", "urllib3", "botocore", "boto3", "s3transfer", "kubernetes")
    },
}

# Secrets at rest (cloudassist/crypto.py): comma-separated Fernet keys, the first encrypts.
# Required unless DEBUG; in DEBUG a key derived from SECRET_KEY is used when unset.
SECRETS_KEYS = [key for key in env.list("SECRETS_KEYS", default=[]) if key.strip()]
if not SECRETS_KEYS:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRETS_KEYS is required when DEBUG is false (generate one: "
            'python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())")'
        )
    from cloudassist.crypto import development_key

    SECRETS_KEYS = [development_key(SECRET_KEY)]

# Template renders (templates/sandbox.py): the wall-clock budget of one render, in seconds.
TEMPLATE_RENDER_TIMEOUT_SECONDS = env.float("TEMPLATE_RENDER_TIMEOUT_SECONDS", default=1.0)

# Provisioning jobs and sweeps (provisioning/provisioner.py).
PROVISION_TIMEOUT_MINUTES = env.int("PROVISION_TIMEOUT_MINUTES", default=30)
PURGE_RETRY_MINUTES = env.int("PURGE_RETRY_MINUTES", default=10)
# A failed provisioning keeps what it created this long, for a retry to carry on from; then the
# sweep purges it (0: purge at once).
FAILED_PURGE_DELAY_MINUTES = env.int("FAILED_PURGE_DELAY_MINUTES", default=60)
# Approval refuses a request with less than this left before it expires (provisioning/policies.py).
MIN_USEFUL_LIFETIME_MINUTES = env.int("MIN_USEFUL_LIFETIME_MINUTES", default=60)
# The Retry-After of a 503 while MongoDB is unreachable (cloudassist/outages.py).
RETRY_AFTER_SECONDS = env.int("RETRY_AFTER_SECONDS", default=5)
SWEEP_INTERVAL_SECONDS = env.int("SWEEP_INTERVAL_SECONDS", default=30)
# Reconciliation (provisioning/reconciliation.py): every RECONCILE_INTERVAL_SECONDS each provider lists what it
# has tagged managed-by: cloudassist; what no live request owns is an orphan, removed once it has been
# orphaned ORPHAN_PURGE_AFTER_HOURS (0: never automatically, only from the console or `manage.py reconcile --purge`).
RECONCILE_INTERVAL_SECONDS = env.int("RECONCILE_INTERVAL_SECONDS", default=600)
ORPHAN_PURGE_AFTER_HOURS = env.float("ORPHAN_PURGE_AFTER_HOURS", default=24)
# Crash recovery (provisioning/provisioner.py ``reconcile``): the worker renews a running job's heartbeat
# every RQ_JOB_MONITORING_SECONDS; a job whose heartbeat is older than STALE_JOB_SECONDS lost its worker.
# A request whose job is gone (Redis down or emptied, a worker killed) is enqueued again by the sweep
# once it has waited REQUEUE_AFTER_SECONDS.
RQ_JOB_MONITORING_SECONDS = env.int("RQ_JOB_MONITORING_SECONDS", default=10)
# How often an rq worker runs its maintenance (starting its scheduler again if it died, cleaning registries).
RQ_MAINTENANCE_SECONDS = env.int("RQ_MAINTENANCE_SECONDS", default=30)
STALE_JOB_SECONDS = env.int("STALE_JOB_SECONDS", default=30)
REQUEUE_AFTER_SECONDS = env.int("REQUEUE_AFTER_SECONDS", default=20)
JOB_RETRY_INTERVALS = [int(v) for v in env.list("JOB_RETRY_INTERVALS", default=["10", "30", "60", "120", "300"])]

# Notifications (notifications/services.py): first retry delay of a failed delivery (doubling,
# at most an hour), attempts before a delivery is FAILED, expiry warning lead times in hours.
# The public base URL used for links in notifications (never links to secrets themselves).
# Unset: the host and port served (HOST, PORT; `manage.py serve` passes its own), a wildcard host as
# localhost. Production sets it to the public address (the Helm chart does).
_SERVED_HOST = env.str("HOST", default="127.0.0.1")
SITE_URL = env.str(
    "SITE_URL",
    default=f"http://{'localhost' if _SERVED_HOST in ('0.0.0.0', '::', '[::]') else _SERVED_HOST}:"  # noqa: S104
    f"{env.int('PORT', default=8000)}",
)
NOTIFY_RETRY_SECONDS = env.int("NOTIFY_RETRY_SECONDS", default=30)
NOTIFY_MAX_ATTEMPTS = env.int("NOTIFY_MAX_ATTEMPTS", default=8)
NOTIFY_EXPIRY_LEAD_HOURS = [float(v) for v in env.list("NOTIFY_EXPIRY_LEAD_HOURS", default=["24", "1"]) if v.strip()]

# Config server (configs/): the largest `data` accepted (413 above), and the longest watch wait.
CONFIG_MAX_BYTES = env.int("CONFIG_MAX_BYTES", default=1024 * 1024)
CONFIG_MAX_WAIT_SECONDS = env.int("CONFIG_MAX_WAIT_SECONDS", default=300)
# Watches re-read their entry this often, in case a Redis notification was lost (or Redis is down).
CONFIG_WATCH_POLL_SECONDS = env.float("CONFIG_WATCH_POLL_SECONDS", default=5.0)
# Each web process keeps up to this many entries (and bytes of their JSON) in memory for GET; 0: none.
CONFIG_CACHE_ENTRIES = env.int("CONFIG_CACHE_ENTRIES", default=10_000)
CONFIG_CACHE_BYTES = env.int("CONFIG_CACHE_BYTES", default=64 * 1024 * 1024)

# Cost estimates: the shared cluster's node type and region (the kubernetes plugin prices a namespace
# by its CPU share of that node), and the horizon over which a PERMANENT request is priced.
SHARED_CLUSTER_NODE_TYPE = env.str("SHARED_CLUSTER_NODE_TYPE", default="m5.large")
SHARED_CLUSTER_REGION = env.str("SHARED_CLUSTER_REGION", default="us-east-1")
PERMANENT_ESTIMATE_HOURS = env.int("PERMANENT_ESTIMATE_HOURS", default=730)
QUOTA_WARNING_RATIO = env.float("QUOTA_WARNING_RATIO", default=0.8)
LARGE_INSTANCE_VCPUS = env.int("LARGE_INSTANCE_VCPUS", default=8)

# --- Kubernetes namespace provider ---
# The shared cluster on which the "kubernetes" provider creates namespaces: a kubeconfig file
# (SHARED_CLUSTER_KUBECONFIG) or the kubeconfig YAML itself (SHARED_CLUSTER_KUBECONFIG_DATA), not
# both; SHARED_CLUSTER_CONTEXT picks a context (default: its current-context).
SHARED_CLUSTER_KUBECONFIG = env.str("SHARED_CLUSTER_KUBECONFIG", default="")
SHARED_CLUSTER_KUBECONFIG_DATA = env.str("SHARED_CLUSTER_KUBECONFIG_DATA", default="")
SHARED_CLUSTER_CONTEXT = env.str("SHARED_CLUSTER_CONTEXT", default="")
# The API server address written into the requesters' kubeconfigs, if it differs from the one above.
SHARED_CLUSTER_PUBLIC_SERVER = env.str("SHARED_CLUSTER_PUBLIC_SERVER", default="")
# Requesters' tokens expire with the request, capped here; PERMANENT requests get the second value.
SHARED_CLUSTER_TOKEN_MAX_SECONDS = env.int("SHARED_CLUSTER_TOKEN_MAX_SECONDS", default=30 * 24 * 3600)
SHARED_CLUSTER_PERMANENT_TOKEN_SECONDS = env.int("SHARED_CLUSTER_PERMANENT_TOKEN_SECONDS", default=30 * 24 * 3600)
SHARED_CLUSTER_API_TIMEOUT = env.int("SHARED_CLUSTER_API_TIMEOUT", default=30)  # seconds per API call
# The Pod Security Standard enforced in every namespace: privileged, baseline or restricted.
SHARED_CLUSTER_POD_SECURITY = env.str("SHARED_CLUSTER_POD_SECURITY", default="baseline")

# --- AWS providers and the local AWS emulator ---
# providers/aws.py builds every boto3 client from these. AWS_USE_EMULATOR: "auto"
# (default) uses the local emulator (moto) unless AWS_ENDPOINT_URL or AWS credentials are set in
# the environment; "true" always the emulator; "false" always AWS (boto3's credential chain).
# `manage.py serve` and the tests start the emulator on loopback when it is used without an
# AWS_ENDPOINT_URL; other processes then reach it on EMBEDDED_MOTO_PORT.
AWS_USE_EMULATOR = env.str("AWS_USE_EMULATOR", default="auto").strip().lower()
if AWS_USE_EMULATOR not in ("auto", "true", "false"):
    raise ImproperlyConfigured(f"AWS_USE_EMULATOR must be auto, true or false, not '{AWS_USE_EMULATOR}'")
AWS_ENDPOINT_URL = env.str("AWS_ENDPOINT_URL", default="")
AWS_REGION = env.str("AWS_REGION", default="us-east-1")
EMBEDDED_MOTO_PORT = env.int("EMBEDDED_MOTO_PORT", default=5117)
_AWS_CREDENTIAL_VARIABLES = (
    "AWS_ACCESS_KEY_ID",
    "AWS_PROFILE",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
)
AWS_EMULATOR = AWS_USE_EMULATOR == "true" or (
    AWS_USE_EMULATOR == "auto"
    and not AWS_ENDPOINT_URL
    and not any(env.str(name, default="") for name in _AWS_CREDENTIAL_VARIABLES)
)
# Providers wait this long for a resource to become ready (or gone), polling every AWS_POLL_SECONDS,
# then let the job retry later; botocore retries throttled calls up to AWS_MAX_ATTEMPTS times.
AWS_WAIT_SECONDS = env.int("AWS_WAIT_SECONDS", default=60)
AWS_POLL_SECONDS = env.float("AWS_POLL_SECONDS", default=5.0)
AWS_MAX_ATTEMPTS = env.int("AWS_MAX_ATTEMPTS", default=5)
# Real AWS EKS needs an IAM role for the cluster and one for the nodes (the emulator gets placeholders);
# subnets (two availability zones or more) default to the default VPC's in the cluster's region.
EKS_CLUSTER_ROLE_ARN = env.str("EKS_CLUSTER_ROLE_ARN", default="")
EKS_NODE_ROLE_ARN = env.str("EKS_NODE_ROLE_ARN", default="")
# Where the reconcile job lists the AWS plugins' resources; empty: AWS_REGION and the regions with prices.
AWS_INVENTORY_REGIONS = [region.strip() for region in env.list("AWS_INVENTORY_REGIONS", default=[]) if region.strip()]
EKS_SUBNET_IDS = [subnet.strip() for subnet in env.list("EKS_SUBNET_IDS", default=[]) if subnet.strip()]

# --- Notification channels ---
# Email goes through Django's email backend, configured by EMAIL_URL: smtp://user:pass@host:25,
# smtp+tls://user:pass@host:587 (STARTTLS), smtp+ssl://user:pass@host:465 (implicit TLS), consolemail://
# (print to the console) ... (URL-encode special characters in the user and password; `?tls=true` and
# `?ssl=true` work too). Unset: the console in DEBUG (`make run`), else an SMTP relay on localhost:25.
_EMAIL = env.email_url("EMAIL_URL", default="consolemail://" if DEBUG else "smtp://localhost:25")
_EMAIL_OPTIONS = {
    key: str(value).strip().lower() in ("1", "true", "yes", "on") for key, value in _EMAIL.get("OPTIONS", {}).items()
}
EMAIL_BACKEND = _EMAIL["EMAIL_BACKEND"]
EMAIL_HOST = _EMAIL.get("EMAIL_HOST") or "localhost"
EMAIL_PORT = _EMAIL.get("EMAIL_PORT") or 25
EMAIL_HOST_USER = _EMAIL.get("EMAIL_HOST_USER") or ""
EMAIL_HOST_PASSWORD = _EMAIL.get("EMAIL_HOST_PASSWORD") or ""
EMAIL_USE_TLS = bool(_EMAIL.get("EMAIL_USE_TLS")) or _EMAIL_OPTIONS.get("TLS", False)
EMAIL_USE_SSL = bool(_EMAIL.get("EMAIL_USE_SSL")) or _EMAIL_OPTIONS.get("SSL", False)
if EMAIL_USE_TLS and EMAIL_USE_SSL:
    raise ImproperlyConfigured("EMAIL_URL asks for both STARTTLS (tls) and implicit TLS (ssl); choose one")
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=10)  # seconds per SMTP connection/command
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="CloudAssist <cloudassist@localhost>")
SERVER_EMAIL = env.str("SERVER_EMAIL", default=DEFAULT_FROM_EMAIL)
# Webhooks (Slack-compatible JSON) are signed with HMAC-SHA256 under WEBHOOK_SIGNING_SECRET (scheme in
# notifications/channels/webhook.py). Unset: in DEBUG a value derived from SECRET_KEY; otherwise webhook
# deliveries fail (never sent unsigned) until it is set. Timeout in seconds per request (float).
WEBHOOK_SIGNING_SECRET = env.str("WEBHOOK_SIGNING_SECRET", default="")
if not WEBHOOK_SIGNING_SECRET and DEBUG:
    import hashlib

    WEBHOOK_SIGNING_SECRET = hashlib.sha256(f"cloudassist-webhook:{SECRET_KEY}".encode()).hexdigest()
WEBHOOK_TIMEOUT_SECONDS = env.float("WEBHOOK_TIMEOUT_SECONDS", default=5.0)
# Webhooks never reach loopback, private, link-local, CGNAT, unique-local, multicast or cloud metadata
# addresses (checked on the resolved address at send time and when a URL is saved:
# notifications/channels/destinations.py) unless allowed here: comma-separated CIDRs whose addresses
# may be reached (e.g. 10.20.0.0/16), and host names let through whatever they resolve to
# (".example.com" for a domain and its subdomains). Both empty by default.
WEBHOOK_ALLOWED_NETWORKS = [item.strip() for item in env.list("WEBHOOK_ALLOWED_NETWORKS", default=[]) if item.strip()]
WEBHOOK_ALLOWED_HOSTS = [item.strip() for item in env.list("WEBHOOK_ALLOWED_HOSTS", default=[]) if item.strip()]

# --- Metrics (cloudassist/metrics.py, README "Metrics") ---
# GET /metrics (Prometheus text format) needs `Authorization: Bearer <METRICS_TOKEN>`; unset, it answers
# 404 unless DEBUG. PROMETHEUS_MULTIPROC_DIR (read from the environment by prometheus_client, and
# by cloudassist.metrics, before any metric exists) turns on multiprocess mode for several gunicorn
# workers and rq's forked work horses. WORKER_METRICS_PORT: the rq worker serves its own metrics on
# 0.0.0.0:<port>/metrics (cloudassist/worker.py). MongoDB command durations and failures come from
# a pymongo command listener the core app registers when Django starts (cloudassist/apps.py).

METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
WORKER_METRICS_PORT = env.int("WORKER_METRICS_PORT", default=0)
WORKER_METRICS_ADDR = env.str("WORKER_METRICS_ADDR", default="0.0.0.0")  # noqa: S104 -- scraped in-cluster
# default: each process's own memory, instrumented (cache timings and hits/misses, cloudassist_cache_*).
# shared: Redis (REDIS_URL), for what every web process must count together: the login throttle
# (cloudassist/api/throttling.py). Its keys carry a prefix; nothing flushes the database rq uses.
CACHES = {
    "default": {"BACKEND": "cloudassist.cache.InstrumentedLocMemCache", "LOCATION": "cloudassist"},
    "shared": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "cloudassist-cache",
        # Redis that is down or unreachable fails fast (the login throttle then fails open).
        "OPTIONS": {"socket_connect_timeout": REDIS_TIMEOUT_SECONDS, "socket_timeout": REDIS_TIMEOUT_SECONDS},
    },
}
RQ = {"WORKER_CLASS": "cloudassist.worker.Worker"}
