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

BASE_DIR = Path(__file__).resolve().parent.parent
env = Environment()

# --- mode -------------------------------------------------------------------

ENVIRONMENT = env.str("DJANGO_ENV", "local")  # local | production
if ENVIRONMENT not in ("local", "production"):
    raise ImproperlyConfigured(f"DJANGO_ENV must be local or production (got {ENVIRONMENT!r})")
PRODUCTION = ENVIRONMENT == "production"

# The "django-insecure-" prefix makes `manage.py check --deploy` flag it too.
DEVELOPMENT_SECRET_KEY = "django-insecure-local-development-key-never-use-in-production"
SECRET_KEY = env.str("DJANGO_SECRET_KEY", DEVELOPMENT_SECRET_KEY)
DEBUG = env.bool("DJANGO_DEBUG", not PRODUCTION)
if PRODUCTION and SECRET_KEY in ("", DEVELOPMENT_SECRET_KEY):
    raise ImproperlyConfigured("DJANGO_ENV=production needs DJANGO_SECRET_KEY set to a real secret")
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
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "predictions.middleware.RequestIdMiddleware",
    "predictions.middleware.MetricsMiddleware",
    "predictions.middleware.AuditMiddleware",
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
DATABASES = {"default": _database(env.str("DATABASE_URL", "sqlite:///var/db.sqlite3"))}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env.str("REDIS_URL", "")  # cache and throttles; shared by every worker/replica
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

# --- requests, auth, throttles, audit ---------------------------------------

MAX_REQUEST_BYTES = env.int("MAX_REQUEST_BYTES", 32 * 1024 * 1024, minimum=1)
DATA_UPLOAD_MAX_MEMORY_SIZE = MAX_REQUEST_BYTES
# JSON bodies are measured before parsing (predictions/tfserving/json_limits.py): arrays
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
        # Stateless: the token's signature is checked, the user is not loaded, so
        # a predict call with a JWT needs no database query.
        "rest_framework_simplejwt.authentication.JWTStatelessUserAuthentication",
        "predictions.authentication.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": [
        "predictions.renderers.TFServingJSONRenderer",
        "predictions.renderers.GatewayBrowsableAPIRenderer",
    ],
    "DEFAULT_PARSER_CLASSES": ["predictions.parsers.TFServingJSONParser"],
    "EXCEPTION_HANDLER": "predictions.exceptions.handle_exception",
    "DEFAULT_SCHEMA_CLASS": "predictions.openapi.GatewayAutoSchema",
    # Client address for the token throttle: the number of proxies in front of the
    # gateway whose X-Forwarded-For entries are trusted (0 = use the socket address).
    "NUM_PROXIES": env.int("NUM_PROXIES", 0),
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}

# OpenAPI schema at /v1/schema, Swagger UI at /v1/docs (see predictions/openapi.py).
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
    "PREPROCESSING_HOOKS": ["predictions.openapi.public_endpoints"],
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "predictions.openapi.add_components",
    ],
    "TAGS": [
        {"name": "inference", "description": "Predict, classify and regress, as TF Serving."},
        {"name": "models", "description": "What is served: models, versions, signatures."},
        {"name": "auth", "description": "JSON Web Tokens for API clients."},
        {"name": "operations", "description": "Probes and metrics."},
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
    "TOKEN_OBTAIN_SERIALIZER": "predictions.tokens.GatewayTokenObtainPairSerializer",
    "TOKEN_REFRESH_SERIALIZER": "predictions.tokens.GatewayTokenRefreshSerializer",
}

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
CORS_EXPOSE_HEADERS = ("x-request-id", "retry-after")

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
WHITENOISE_AUTOREFRESH = DEBUG

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

LOGIN_URL = "rest_framework:login"
LOGIN_REDIRECT_URL = "/v1/models"

# --- logging ----------------------------------------------------------------------

LOG_FORMAT = env.str("LOG_FORMAT", "json" if PRODUCTION else "text")  # text | json
if LOG_FORMAT not in ("text", "json"):
    raise ImproperlyConfigured(f"LOG_FORMAT must be text or json (got {LOG_FORMAT!r})")
LOG_LEVEL = env.str("LOG_LEVEL", "INFO").upper()

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "serving_project.log_format.RequestIdFilter"}},
    "formatters": {
        "text": {
            "format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s",
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
