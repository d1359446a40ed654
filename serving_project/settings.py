"""Django settings, read once from the environment (twelve-factor).

Every variable has a default that works on a laptop (SQLite, local memory cache,
model server at 127.0.0.1:8500). DJANGO_ENV=production switches the defaults to
the hardened ones and refuses to start with the development secret key or DEBUG on.
The README lists every variable; the comment beside each read gives its meaning.
"""

from __future__ import annotations

import ipaddress
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from serving_project.environment import Environment
from tfserving.batch_limits import DEFAULT_MAX_BATCH_SIZE, parse_per_model_limits
from tfserving.batching_parameters import BatchingParametersError, read_batching_parameters

BASE_DIR = Path(__file__).resolve().parent.parent
env = Environment()

# --- mode -------------------------------------------------------------------

ENVIRONMENT = env.mode  # DJANGO_ENV: local | production
PRODUCTION = env.production

# Locally a development key (its "django-insecure-" prefix makes `manage.py check
# --deploy` flag it); production refuses to start without a strong one (environment.py).
SECRET_KEY = env.secret_key
# Off by default, locally too: Django's debug pages show tracebacks and settings to
# whoever calls, and the API promises never to. DJANGO_DEBUG=1 is for a developer.
DEBUG = env.bool("DJANGO_DEBUG", False)
if PRODUCTION and DEBUG:
    raise ImproperlyConfigured("DJANGO_ENV=production refuses DJANGO_DEBUG=1")

ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],testserver")
# Origins (scheme://host[:port]) allowed to POST forms (admin, login) behind a proxy.
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", "")

# --- applications -------------------------------------------------------------

INSTALLED_APPS = [
    # First, so its templates (admin header, browsable API) override the packaged ones.
    "predictions",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "corsheaders",
    "rest_framework",
    "rest_framework_simplejwt.token_blacklist",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI's files, served locally (no CDN)
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "serving_project.content_security.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "predictions.api.middleware.RequestIdMiddleware",
    "predictions.tracing.middleware.TracingMiddleware",  # only while tracing is on
    "predictions.operations.middleware.MetricsMiddleware",
    "predictions.audit.middleware.AuditMiddleware",
    "predictions.api.body_budget.BodyBudgetMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

# Admin messages live in the session rather than in a signed cookie: the cookie
# backend builds a signer on every request, API calls included (about 0.19 ms of a
# worker's CPU per predict, measured by bench/).
MESSAGE_STORAGE = "django.contrib.messages.storage.session.SessionStorage"

ROOT_URLCONF = "serving_project.urls"
WSGI_APPLICATION = "serving_project.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
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

# --- database and cache -------------------------------------------------------


def _database(url: str) -> dict:
    config = dj_database_url.parse(url, conn_max_age=60, conn_health_checks=True)
    if config["ENGINE"] == "django.db.backends.sqlite3":
        name = config["NAME"]
        if name and name != ":memory:":
            path = Path(name) if Path(name).is_absolute() else BASE_DIR / name
            path.parent.mkdir(parents=True, exist_ok=True)  # var/ does not exist in a fresh clone
            config["NAME"] = str(path)
        config["CONN_MAX_AGE"] = 0
        # WAL lets readers run beside the audit writer; IMMEDIATE avoids "database is
        # locked" on lock upgrades when several gunicorn workers write at once.
        config["OPTIONS"] = {
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    return config


# sqlite:///var/db.sqlite3 (relative to the project) or postgres://user:pass@host:5432/db
DATABASES = {
    "default": _database(
        env.url(
            "DATABASE_URL",
            "sqlite:///var/db.sqlite3",
            schemes=("sqlite", "postgres", "postgresql", "pgsql"),
        )
    )
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Cache and throttles, shared by every worker and replica; empty: a local memory cache.
REDIS_URL = env.url("REDIS_URL", "", schemes=("redis", "rediss", "unix"))
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "gateway",
            "OPTIONS": {
                # A Redis outage degrades (cache misses fall back to the database,
                # throttles let requests through) instead of failing every request;
                # /readyz reports it.
                "IGNORE_EXCEPTIONS": True,
                "SOCKET_CONNECT_TIMEOUT": 1,
                "SOCKET_TIMEOUT": 1,
            },
        }
    }
    DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS = True
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- model server -------------------------------------------------------------

# gRPC target: host:port, dns:///headless-service:8500 or ipv4:h1:8500,h2:8500
TFSERVING_ADDRESS = env.str("TFSERVING_ADDRESS", "127.0.0.1:8500")
TFSERVING_TIMEOUT_SECONDS = env.float("TFSERVING_TIMEOUT_SECONDS", 10.0, minimum=0.001)
TFSERVING_RETRIES = env.int("TFSERVING_RETRIES", 2)  # retries on UNAVAILABLE only
TFSERVING_MAX_MESSAGE_BYTES = env.int("TFSERVING_MAX_MESSAGE_BYTES", 64 * 1024 * 1024, minimum=1)
# The catalogue of model names for GET /v1/models and /readyz (TF Serving model_config_list).
MODEL_CONFIG_FILE = str(BASE_DIR / env.str("MODEL_CONFIG_FILE", "models/models.config"))
SIGNATURE_CACHE_SECONDS = env.float("SIGNATURE_CACHE_SECONDS", 30.0)

# --- isolation: bounds on model server calls in flight (predictions/inference/upstream.py)
# A hung model holds the threads calling it. Per worker, at most MODEL_SERVER_CONCURRENCY
# calls run at once (default: two fewer than GUNICORN_THREADS, so /healthz, /readyz and
# /metrics always find a thread), and at most MODEL_SERVER_CONCURRENCY_PER_MODEL of them
# for one model (default: two thirds of that, so one slow model leaves slots for the
# others). A call that finds no slot within MODEL_SERVER_QUEUE_SECONDS gets 503
# (code "overloaded", Retry-After) rather than a thread to wait in. The wait is long
# enough for a busy but healthy model server to free a slot through its pauses (a tiny
# predict holds one for milliseconds, but at concurrency 32 on 2 cores, 3,000 calls drew
# 26 refusals at 0.05 s and still 2 at 0.25 s) and short enough that /healthz, which may
# queue behind waiting threads, answers well within an orchestrator's 3 s probe timeout.
MODEL_SERVER_CONCURRENCY = env.int(
    "MODEL_SERVER_CONCURRENCY", max(1, env.gunicorn_threads - 2), minimum=1
)
MODEL_SERVER_CONCURRENCY_PER_MODEL = env.int(
    "MODEL_SERVER_CONCURRENCY_PER_MODEL",
    max(1, MODEL_SERVER_CONCURRENCY * 2 // 3),
    minimum=1,
    maximum=MODEL_SERVER_CONCURRENCY,
)
MODEL_SERVER_QUEUE_SECONDS = env.float("MODEL_SERVER_QUEUE_SECONDS", 1.0)

# --- deployments ----------------------------------------------------------------

# The model repository: one folder per model with numbered version folders (TF Serving's
# layout), shared with the model server (a compose volume, a Kubernetes volume claim).
# MODEL_REPOSITORY is where this gateway reads and writes it; MODEL_SERVER_REPOSITORY is
# the same folder as the model server sees it, the prefix of the base paths pushed to it
# (relative: resolved against the model server's working directory, as the embedded one does).
MODEL_REPOSITORY = str(BASE_DIR / env.str("MODEL_REPOSITORY", "models"))
MODEL_SERVER_REPOSITORY = env.str("MODEL_SERVER_REPOSITORY", "models")
# A published archive: its size, its unpacked size and its number of entries.
PUBLISH_MAX_ARCHIVE_BYTES = env.int("PUBLISH_MAX_ARCHIVE_BYTES", 1024**3, minimum=1)
PUBLISH_MAX_UNPACKED_BYTES = env.int("PUBLISH_MAX_UNPACKED_BYTES", 4 * 1024**3, minimum=1)
PUBLISH_MAX_FILES = env.int("PUBLISH_MAX_FILES", 10_000, minimum=1)
# How long a publish waits for the new version to be AVAILABLE (and the deadline of
# a config reload, which loads new models before it answers).
PUBLISH_WAIT_SECONDS = env.float("PUBLISH_WAIT_SECONDS", 60.0, minimum=0.001)
# Seconds between reconciliations of the model servers with the deployment tables (0: never).
RECONCILE_SECONDS = env.float("RECONCILE_SECONDS", 30.0)
# How long each worker keeps the traffic policies and the model list (changes made in
# this process apply at once; other workers and replicas see them within this time).
DEPLOYMENT_CACHE_SECONDS = env.float("DEPLOYMENT_CACHE_SECONDS", 5.0)
# Shadow copies of requests: threads per worker and copies waiting (more are dropped).
SHADOW_THREADS = env.int("SHADOW_THREADS", 2, minimum=1)
SHADOW_QUEUE_SIZE = env.int("SHADOW_QUEUE_SIZE", 16, minimum=1)

# --- bounded work per request ---------------------------------------------------

# The most rows (instances, columnar outer dimension, examples) one request may carry;
# more get 400 before the model server is called. The default is max_batch_size of the
# model server's batching parameters file when the gateway is told about it (the same
# file as TF Serving's --batching_parameters_file), else 1000 (TF Serving's default
# max_batch_size); MAX_BATCH_SIZE_PER_MODEL ("sentiment=500,digits=64") overrides it per
# model; 0 means no limit.
TFSERVING_BATCHING_PARAMETERS_FILE = env.str("TFSERVING_BATCHING_PARAMETERS_FILE", "")
if TFSERVING_BATCHING_PARAMETERS_FILE:
    try:
        _batching = read_batching_parameters(BASE_DIR / TFSERVING_BATCHING_PARAMETERS_FILE)
    except BatchingParametersError as error:
        raise ImproperlyConfigured(f"TFSERVING_BATCHING_PARAMETERS_FILE: {error}") from None
    _default_max_batch_size = _batching.max_batch_size
else:
    _default_max_batch_size = DEFAULT_MAX_BATCH_SIZE
MAX_BATCH_SIZE = env.int("MAX_BATCH_SIZE", _default_max_batch_size)
try:
    MAX_BATCH_SIZE_PER_MODEL = parse_per_model_limits(env.list("MAX_BATCH_SIZE_PER_MODEL", ""))
except ValueError as error:
    raise ImproperlyConfigured(f"MAX_BATCH_SIZE_PER_MODEL: {error}") from None

# --- requests, auth, throttles, audit ---------------------------------------

MAX_REQUEST_BYTES = env.int("MAX_REQUEST_BYTES", 32 * 1024 * 1024, minimum=1)
DATA_UPLOAD_MAX_MEMORY_SIZE = MAX_REQUEST_BYTES
# Bodies of 1 MiB or more share this many bytes per worker at once (more wait, then
# get 503 overloaded; one alone always fits): predictions/api/body_budget.py.
MAX_BODY_BYTES_IN_FLIGHT = env.int("MAX_BODY_BYTES_IN_FLIGHT", MAX_REQUEST_BYTES, minimum=1)
# JSON bodies are measured before parsing (tfserving/json_limits.py): arrays
# and objects nested deeper, or more values and object keys, are refused with 400. A
# 224x224x3 float32 image is 3.15 MB of JSON and 200,929 elements, so at that density
# MAX_REQUEST_BYTES admits about 2.1 million; denser bodies ("0,", "[],") would reach
# 8-16 million elements and 0.5-1.1 GB of Python objects, which this limit caps at ~240 MB.
MAX_JSON_DEPTH = env.int("MAX_JSON_DEPTH", 32, minimum=1)
MAX_JSON_ELEMENTS = env.int("MAX_JSON_ELEMENTS", 2_000_000, minimum=1)

# How long grants and API key lookups are cached. Changes invalidate the cache at
# once through signals; with the local memory cache (no REDIS_URL) other worker
# processes see a change only after this many seconds.
AUTH_CACHE_SECONDS = env.int("AUTH_CACHE_SECONDS", 30)

# Rates "N/period" (period s, min, hour, day); empty = unlimited.
THROTTLE_PREDICT_RATE = env.str("THROTTLE_PREDICT_RATE", "")  # per user or API key, all models
THROTTLE_MODEL_RATE = env.str("THROTTLE_MODEL_RATE", "")  # per user or API key and model
THROTTLE_TOKEN_RATE = env.str("THROTTLE_TOKEN_RATE", "20/min")  # token endpoints, per client IP

# Audit records are written by a background thread every AUDIT_FLUSH_SECONDS (at
# most that long a window of records is lost if a worker is killed with SIGKILL);
# AUDIT_SYNC=1 writes each one before the response is returned.
AUDIT_SYNC = env.bool("AUDIT_SYNC", False)
AUDIT_FLUSH_SECONDS = env.float("AUDIT_FLUSH_SECONDS", 0.1, minimum=0.001)
AUDIT_QUEUE_SIZE = env.int("AUDIT_QUEUE_SIZE", 10_000, minimum=1)

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # Stateless: the token's signature is checked (once per token and worker), the
        # user is not loaded, so a predict call with a JWT needs no database query.
        "predictions.access.authentication.VerifiedJWTAuthentication",
        "predictions.access.authentication.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": [
        "predictions.api.renderers.TFServingJSONRenderer",
        "predictions.api.renderers.GatewayBrowsableAPIRenderer",
    ],
    "DEFAULT_PARSER_CLASSES": ["predictions.api.parsers.TFServingJSONParser"],
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "predictions.api.negotiation.JSONFirstNegotiation",
    "EXCEPTION_HANDLER": "predictions.api.exceptions.handle_exception",
    "DEFAULT_SCHEMA_CLASS": "predictions.api.openapi.hooks.GatewayAutoSchema",
    # Client address for the token throttle: the number of proxies in front of the
    # gateway whose X-Forwarded-For entries are trusted (0 = use the socket address).
    "NUM_PROXIES": env.int("NUM_PROXIES", 0),
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}

# OpenAPI schema at /v1/schema, Swagger UI at /v1/docs (see predictions/api/openapi/).
SPECTACULAR_SETTINGS = {
    "TITLE": "TensorFlow Serving gateway",
    "DESCRIPTION": (
        "TF Serving's REST API with authentication, per-model grants, validation and an "
        "audit trail. Authenticate with a JWT (POST /v1/auth/token, then "
        "`Authorization: Bearer <access>`) or an API key (`X-API-Key: <key>`)."
    ),
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "SWAGGER_UI_SETTINGS": {
        "persistAuthorization": True,
        "displayRequestDuration": True,
        "defaultModelsExpandDepth": 0,
    },
    "SCHEMA_PATH_PREFIX": r"/v1",
    "SORT_OPERATIONS": False,  # in the URLconf's order: latest, version, label
    "PREPROCESSING_HOOKS": ["predictions.api.openapi.hooks.public_endpoints"],
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "predictions.api.openapi.hooks.add_components",
    ],
    "TAGS": [
        {"name": "inference", "description": "Predict, classify and regress, as TF Serving."},
        {"name": "models", "description": "What is served: models, versions, signatures."},
        {
            "name": "deployments",
            "description": "Publish versions, move labels, split and mirror traffic, roll back "
            "(needs the deploy permission for the model).",
        },
        {"name": "auth", "description": "JSON Web Tokens for API clients."},
        {"name": "operations", "description": "Probes and metrics."},
        {"name": "payload logging", "description": "Per-model payload logs, for staff."},
    ],
}

SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(seconds=env.int("JWT_ACCESS_TOKEN_SECONDS", 300, minimum=1)),
    "REFRESH_TOKEN_LIFETIME": timedelta(
        seconds=env.int("JWT_REFRESH_TOKEN_SECONDS", 86_400, minimum=1)
    ),
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "UPDATE_LAST_LOGIN": False,
    "AUTH_HEADER_TYPES": ("Bearer",),
    "TOKEN_OBTAIN_SERIALIZER": "predictions.access.tokens.GatewayTokenObtainPairSerializer",
    "TOKEN_REFRESH_SERIALIZER": "predictions.access.tokens.GatewayTokenRefreshSerializer",
    "TOKEN_VERIFY_SERIALIZER": "predictions.access.tokens.GatewayTokenVerifySerializer",
    "TOKEN_USER_CLASS": "predictions.access.tokens.GatewayTokenUser",
}

# --- login guessing (django-axes; see predictions/access/logins.py) --------------------
# Failed logins are counted per username and, separately, per client address on every
# login path (admin, browsable API login, POST /v1/auth/token); at the limit further
# attempts are refused (429 with Retry-After) until LOGIN_LOCKOUT_SECONDS have passed
# since the last failure. Attempts live in the database, shared by all workers.
INSTALLED_APPS += ["axes"]
AUTHENTICATION_BACKENDS = [
    "predictions.access.logins.LoginGuardBackend",  # first: refuses a locked-out login
    "django.contrib.auth.backends.ModelBackend",
]
MIDDLEWARE += ["axes.middleware.AxesMiddleware"]  # last, as axes asks
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = timedelta(seconds=env.int("LOGIN_LOCKOUT_SECONDS", 900, minimum=1))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_HANDLER = "axes.handlers.database.AxesDatabaseHandler"
AXES_CLIENT_IP_CALLABLE = "predictions.access.logins.client_address"
AXES_LOCKOUT_CALLABLE = "predictions.access.logins.lockout_response"
AXES_DISABLE_ACCESS_LOG = True  # successful logins: the audit trail has them
AXES_VERBOSE = False  # no start-up banner in every manage.py output; failures are audited

# --- payload logging ------------------------------------------------------------------

# Which exchanges of which model are logged is each model's policy (API or admin, off
# by default); these settings say where logged exchanges may go and how they are kept.
# The file sink: JSON Lines at this path (relative: to the project), rotated by size.
_payload_log_file = env.str("PAYLOAD_LOG_FILE", "")
PAYLOAD_LOG_FILE = str(BASE_DIR / _payload_log_file) if _payload_log_file else ""
PAYLOAD_LOG_FILE_MAX_BYTES = env.int("PAYLOAD_LOG_FILE_MAX_BYTES", 100 * 1024 * 1024, minimum=1)
PAYLOAD_LOG_FILE_BACKUPS = env.int("PAYLOAD_LOG_FILE_BACKUPS", 5)
# The CloudEvents sink (KServe's logger format): the receiver's URL; ce-source, ce-namespace.
PAYLOAD_CLOUDEVENTS_URL = env.url("PAYLOAD_CLOUDEVENTS_URL", "", schemes=("http", "https"))
PAYLOAD_CLOUDEVENTS_SOURCE = env.str("PAYLOAD_CLOUDEVENTS_SOURCE", "tfserving-gateway")
PAYLOAD_CLOUDEVENTS_NAMESPACE = env.str("PAYLOAD_CLOUDEVENTS_NAMESPACE", "default")
PAYLOAD_CLOUDEVENTS_TIMEOUT_SECONDS = env.float(
    "PAYLOAD_CLOUDEVENTS_TIMEOUT_SECONDS", 2.0, minimum=0.001
)
# Retries of a failed sink write (a batch; for CloudEvents, each event), with backoff.
PAYLOAD_SINK_RETRIES = env.int("PAYLOAD_SINK_RETRIES", 3)
# Per sink and worker: records waiting to be written, in bytes (more are dropped, counted).
PAYLOAD_QUEUE_BYTES = env.int("PAYLOAD_QUEUE_BYTES", 16 * 1024 * 1024, minimum=1)
PAYLOAD_FLUSH_SECONDS = env.float("PAYLOAD_FLUSH_SECONDS", 0.2, minimum=0.001)
# How soon other workers see a policy change (the changing worker sees it at once).
PAYLOAD_POLICY_CACHE_SECONDS = env.float("PAYLOAD_POLICY_CACHE_SECONDS", 5.0)
# What `manage.py prune_payloads` deletes without --older-than (run it daily, e.g. by cron).
PAYLOAD_RETENTION_DAYS = env.int("PAYLOAD_RETENTION_DAYS", 30, minimum=1)

# --- tracing ------------------------------------------------------------------------

# OpenTelemetry tracing is off unless OTEL_TRACES_EXPORTER names an exporter (otlp,
# console; the SDK's default would be otlp, the gateway's is none). The SDK itself reads
# every other OTEL_* variable: OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_SERVICE_NAME, ...
TRACING_EXPORTERS = [name for name in env.list("OTEL_TRACES_EXPORTER", "none") if name != "none"]

# --- metrics ------------------------------------------------------------------------

# /metrics is open to staff sessions, to `Authorization: Bearer <METRICS_TOKEN>` (empty:
# no token works) and to these client addresses or CIDR networks, comma-separated (the
# socket address, never X-Forwarded-For). Locally: this machine. In production: none
# by default, since behind a proxy on the same host every client would be 127.0.0.1.
METRICS_TOKEN = env.str("METRICS_TOKEN", "")
METRICS_ALLOWED_IPS = env.list("METRICS_ALLOWED_IPS", "" if PRODUCTION else "127.0.0.1,::1")
for _network in METRICS_ALLOWED_IPS:
    try:
        ipaddress.ip_network(_network, strict=False)
    except ValueError:
        raise ImproperlyConfigured(
            f"METRICS_ALLOWED_IPS must list addresses or networks (got {_network!r})"
        ) from None

# Where each gunicorn worker keeps its metric files (prometheus_client's multiprocess
# mode); gunicorn.conf.py sets a fresh temporary directory when this is empty.
PROMETHEUS_MULTIPROC_DIR = env.str("PROMETHEUS_MULTIPROC_DIR", "")

# --- HTTP security --------------------------------------------------------------

CORS_ALLOWED_ORIGINS = env.list("CORS_ALLOWED_ORIGINS", "")  # closed unless listed
CORS_URLS_REGEX = r"^/v1/.*$"
CORS_ALLOW_HEADERS = (
    "accept",
    "authorization",
    "content-type",
    "x-api-key",
    "x-request-id",
)
CORS_EXPOSE_HEADERS = ("x-request-id", "x-client-request-id", "x-model-version", "retry-after")

SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
# TLS ends at the load balancer / ingress, which says so in X-Forwarded-Proto.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if PRODUCTION else None
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", PRODUCTION)
# Probes and scrapers speak plain HTTP inside the cluster.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", 31_536_000 if PRODUCTION else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_HSTS_SECONDS > 0
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", False)
SESSION_COOKIE_SECURE = PRODUCTION
CSRF_COOKIE_SECURE = PRODUCTION
# Preload lists are an opt-in commitment for the whole domain (SECURE_HSTS_PRELOAD=1).
SILENCED_SYSTEM_CHECKS = [] if SECURE_HSTS_PRELOAD else ["security.W021"]

# --- static files, i18n -----------------------------------------------------------

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if PRODUCTION
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}
# Locally, static files are served from the apps without `collectstatic`.
WHITENOISE_USE_FINDERS = not PRODUCTION
WHITENOISE_AUTOREFRESH = not PRODUCTION  # re-read the apps' files locally

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

LOGIN_URL = "rest_framework:login"
LOGIN_REDIRECT_URL = "/v1/models"

# --- the local run (manage.py runstack) ---------------------------------------------

GATEWAY_BIND = env.gateway_bind  # gunicorn's address (gunicorn.conf.py reads it too)

# --- logging ----------------------------------------------------------------------

LOG_FORMAT = env.log_format  # text | json
LOG_LEVEL = env.log_level

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "serving_project.log_format.RequestIdFilter"}},
    "formatters": {
        "text": {
            # While tracing: "[request-id trace-id]".
            "format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s"
            + (" %(trace_id)s" if TRACING_EXPORTERS else "")
            + "] %(message)s",
        },
        "json": {"()": "serving_project.log_format.JsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["request_id"],
        },
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        # Every 4xx would otherwise be logged as a warning with the full request line.
        "django.request": {"level": "ERROR"},
    },
}
