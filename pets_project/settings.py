"""Settings, read once from the environment (`.env.example` lists them all).

Development (`DJANGO_DEBUG=true`, which `make run` sets) works with no variables at all: a random
secret key is made once in `.run/secret_key`.
Production (`DJANGO_DEBUG` unset or false) needs a secret key: `DJANGO_SECRET_KEY`, or a file named
by `DJANGO_SECRET_KEY_FILE` (the API container's entrypoint generates one in a volume).
"""

from __future__ import annotations

import os
import secrets
import time
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from contracts import history, tasks
from infra.environment import ConfigError, Environment, unset_if_blank
from infra.redis_url import redis_url_from_env

BASE_DIR = Path(__file__).resolve().parent.parent
env = Environment(error=ImproperlyConfigured)  # infra/environment.py: errors name the variable


def development_secret_key(path: Path) -> str:
    """A random key made once for this checkout and kept in `path` (never a published one).

    Every process of `make run` reads the same file, so tokens signed by one are accepted by the
    others and survive restarts; `make clean` removes it.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass  # made earlier, or by a process starting beside this one
    else:
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(50))
    for _ in range(50):  # a process that just created it may still be writing it
        key = path.read_text().strip()
        if key:
            return key
        time.sleep(0.01)
    raise ImproperlyConfigured(f"{path} is empty: delete it to have a new development key made.")


def read_secret_key(*, debug: bool, production: bool) -> str:
    key = env.text("DJANGO_SECRET_KEY")
    key_file = env.text("DJANGO_SECRET_KEY_FILE")
    if not key and key_file and Path(key_file).is_file():
        key = Path(key_file).read_text().strip()
    if not key and debug:
        return development_secret_key(BASE_DIR / ".run" / "secret_key")
    if not key:
        raise ImproperlyConfigured(
            "DJANGO_SECRET_KEY (or DJANGO_SECRET_KEY_FILE) must be set when DJANGO_DEBUG is off."
        )
    if key.startswith("django-insecure") and not debug:
        raise ImproperlyConfigured("A development secret key must not be used with DJANGO_DEBUG off.")
    if production and len(key) < 32:
        raise ImproperlyConfigured("Production needs a random DJANGO_SECRET_KEY of at least 32 characters.")
    return key


DEBUG = env.flag("DJANGO_DEBUG", False)
# "production" (docker compose sets it) adds the checks a deployment must pass.
ENVIRONMENT = env.choice("DJANGO_ENV", "development", ("development", "production"))
PRODUCTION = ENVIRONMENT == "production"
if PRODUCTION and DEBUG:
    raise ImproperlyConfigured("DJANGO_DEBUG must be off when DJANGO_ENV is production.")
SECRET_KEY = read_secret_key(debug=DEBUG, production=PRODUCTION)
ALLOWED_HOSTS = env.items("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",  # the operations panel's staff login (/ops/)
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework_simplejwt.token_blacklist",
    "corsheaders",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "pets",
    "ops",
]

MIDDLEWARE = [
    "pets.metrics.MetricsMiddleware",  # first: it times everything below it
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # corsheaders.middleware.CorsMiddleware goes here when origins are allowed (CORS_ALLOWED_ORIGINS).
    "django.middleware.common.CommonMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Sessions, CSRF, request.user and messages: only the staff panel has them (ops/sessions.py).
]
LOGIN_URL = "/ops/login/"
CSRF_FAILURE_VIEW = "pets.errors.json_csrf_failure"
MESSAGE_STORAGE = "django.contrib.messages.storage.session.SessionStorage"

ROOT_URLCONF = "pets_project.urls"
WSGI_APPLICATION = "pets_project.wsgi.application"

TEMPLATES = [
    {  # the public page (pets/jinja2.py says why Jinja2)
        "BACKEND": "django.template.backends.jinja2.Jinja2",
        "DIRS": [BASE_DIR / "templates" / "jinja2"],
        "APP_DIRS": False,
        "OPTIONS": {"environment": "pets.jinja2.environment"},
    },
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    },
]

# Django's own tables only (users, the refresh-token blacklist, panel sessions); pets live in
# MongoDB. DATABASE_URL (e.g. postgres://user:pass@host:5432/pets) puts them in PostgreSQL, which
# every API replica shares: any replica accepts any token, a logout anywhere revokes everywhere.
# Unset: a SQLite file, for one API process tree (make run, compose).
DATABASE_URL = env.text("DATABASE_URL")
if DATABASE_URL:
    try:
        DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60, conn_health_checks=True)}
    except ValueError as exc:
        raise ImproperlyConfigured(f"DATABASE_URL is not a database URL Django knows: {exc}") from None
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": env.text("DJANGO_SQLITE_PATH") or str(BASE_DIR / "db.sqlite3"),
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
# WhiteNoise serves static files straight from the apps: there is no collectstatic step in any of
# the run modes, so no STATIC_ROOT either.
WHITENOISE_USE_FINDERS = True

# Pet bodies are tiny: refuse anything large before parsing it.
DATA_UPLOAD_MAX_MEMORY_SIZE = 64 * 1024

# --- Services ---------------------------------------------------------------------------------
MONGODB_URI = env.text("MONGODB_URI", "mongodb://127.0.0.1:27017/pets_database")
MONGODB_DB = "pets_database"  # used when the URI names no database
MONGODB_TIMEOUT_MS = env.integer("MONGODB_TIMEOUT_MS", 3000, minimum=1)
try:
    REDIS_URL = redis_url_from_env(env.source)
except ConfigError as exc:
    raise ImproperlyConfigured(str(exc)) from None
# The bearer token a Prometheus scrape of /metrics must carry; unset: /metrics answers 404.
METRICS_TOKEN = env.text("METRICS_TOKEN")
# Threads per API worker process running Django (pets_project/asgi.py, threaded_wsgi.py).
API_THREADS = env.integer("API_THREADS", 2, minimum=1)
# Idempotency-Key on creates (pets/idempotency.py): how long an answer is replayed, and how long a
# key stays "in progress" at most (longer than any create can take).
IDEMPOTENCY_KEY_TTL_SECONDS = env.integer("IDEMPOTENCY_KEY_TTL_SECONDS", 24 * 3600, minimum=1)
IDEMPOTENCY_LOCK_SECONDS = env.integer("IDEMPOTENCY_LOCK_SECONDS", 60, minimum=1)
# Open live event streams (GET /api/events/) one API process holds at most; past it, 503.
LIVE_MAX_STREAMS = env.integer("LIVE_MAX_STREAMS", 1000, minimum=1)
# Read by prometheus-client itself (gunicorn.conf.py sets it for the API's workers). Settings load
# before any app imports prometheus-client, which would take a blank value as the working directory.
unset_if_blank("PROMETHEUS_MULTIPROC_DIR")
REDIS_TIMEOUT_SECONDS = env.number("REDIS_TIMEOUT_SECONDS", 1, minimum=0.01)
PROCESSED_DIR = Path(env.text("PROCESSED_DIR") or BASE_DIR / "processed_data")
OUTBOX_RELAY_INTERVAL_SECONDS = env.number("OUTBOX_RELAY_INTERVAL_SECONDS", 5, minimum=0.01)
OUTBOX_GRACE_SECONDS = env.number("OUTBOX_GRACE_SECONDS", 10, minimum=0)
# How long a delivered marker is kept at most (pets/outbox.py): the relay must run within it.
OUTBOX_MARKER_SECONDS = env.integer("OUTBOX_MARKER_SECONDS", 3600, minimum=1)
# Tasks whose history is kept (contracts/history.py): each new one past it drops the oldest.
TASK_HISTORY_KEPT = env.integer("TASK_HISTORY_KEPT", history.TASK_HISTORY_KEPT, minimum=1)
# How long a cancelled task's id is kept for consumers to drop it (seconds): longer than any task waits.
CANCELLED_MARKER_SECONDS = env.integer("CANCELLED_MARKER_SECONDS", tasks.CANCELLED_MARKER_SECONDS, minimum=1)
# Touched by the relay every round, for a health check (pets/heartbeat_file.py); unset: none.
OUTBOX_RELAY_HEARTBEAT_FILE = env.text("OUTBOX_RELAY_HEARTBEAT_FILE")

# --- First admin (manage.py ensure_admin) -----------------------------------------------------
SUPERUSER_USERNAME = env.text("DJANGO_SUPERUSER_USERNAME", "admin" if DEBUG else "")
SUPERUSER_PASSWORD = env.text("DJANGO_SUPERUSER_PASSWORD", "admin123" if DEBUG else "")
SUPERUSER_EMAIL = env.text("DJANGO_SUPERUSER_EMAIL", "admin@example.com")

# --- API --------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["pets.authentication.CachedUserJWTAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["pets.renderers.FastJSONRenderer"],
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "pets.renderers.JSONFirstNegotiation",
    "DEFAULT_PARSER_CLASSES": ["pets.parsers.StrictJSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "pets.errors.api_exception_handler",
    "UNAUTHENTICATED_USER": None,
}

SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=env.integer("JWT_ACCESS_MINUTES", 60, minimum=1)),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=env.integer("JWT_REFRESH_DAYS", 1, minimum=1)),
    "AUTH_HEADER_TYPES": ("Bearer",),
    # Each refresh gives a new refresh token and revokes the old one: a stolen one works once.
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "UPDATE_LAST_LOGIN": False,
    # Tokens carry a hash of the password: changing it revokes every token issued before.
    "CHECK_REVOKE_TOKEN": True,
    "TOKEN_REFRESH_SERIALIZER": "pets.tokens.RefreshSerializer",
}

# Failed logins (pets/tokens.py): per username and per client address, within a window.
LOGIN_MAX_FAILURES_PER_USER = env.integer("LOGIN_MAX_FAILURES_PER_USER", 5, minimum=1)
LOGIN_MAX_FAILURES_PER_CLIENT = env.integer("LOGIN_MAX_FAILURES_PER_CLIENT", 20, minimum=1)
LOGIN_FAILURE_WINDOW_SECONDS = env.integer("LOGIN_FAILURE_WINDOW_SECONDS", 900, minimum=1)

SPECTACULAR_SETTINGS = {
    "TITLE": "Pet App API",
    "DESCRIPTION": "Pets stored in MongoDB; each create or relevant update queues an enrichment task in Redis.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
}

# --- Security ---------------------------------------------------------------------------------
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# The API authenticates with bearer tokens, not cookies; any cookie Django sets stays HTTPS-only.
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = not DEBUG
SESSION_COOKIE_HTTPONLY = True
CSRF_TRUSTED_ORIGINS = env.items("DJANGO_CSRF_TRUSTED_ORIGINS")
# Behind a TLS-terminating proxy: trust its X-Forwarded-Proto, redirect to HTTPS, send HSTS.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if env.flag("DJANGO_BEHIND_TLS_PROXY", False) else None
SECURE_SSL_REDIRECT = env.flag("DJANGO_SSL_REDIRECT", False)
SECURE_HSTS_SECONDS = env.integer("DJANGO_HSTS_SECONDS", 0, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_HSTS_SECONDS > 0
# Cross-origin browser calls to the API are refused unless origins are listed here. With none
# listed the middleware is left out: it would only add `Vary: Origin` to every response, for 3 %
# of a create's CPU (cProfile).
CORS_ALLOWED_ORIGINS = env.items("DJANGO_CORS_ALLOWED_ORIGINS")
CORS_URLS_REGEX = r"^/api/.*$"
if CORS_ALLOWED_ORIGINS:
    MIDDLEWARE.insert(
        MIDDLEWARE.index("django.middleware.common.CommonMiddleware"), "corsheaders.middleware.CorsMiddleware"
    )

LOG_LEVEL = env.choice("DJANGO_LOG_LEVEL", "info", ("debug", "info", "warning", "error", "critical")).upper()
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "[%(asctime)s] [API] [%(levelname)s] %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {
        "handlers": ["console"],
        "level": LOG_LEVEL,
    },
}
