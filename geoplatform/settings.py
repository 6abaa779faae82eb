"""Django settings: every knob is an environment variable, documented in README.md (Configuration)."""

import os
import secrets
from pathlib import Path

import psycopg.conninfo

from geoplatform import localdb

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = localdb.data_dir()


def _env_bool(name: str, default: bool = False) -> bool:
    return os.environ.get(name, str(int(default))).strip().lower() in {"1", "true", "yes", "on"}


def _secret_key() -> str:
    """GEOPLATFORM_SECRET_KEY, or a random key kept in the data folder (one per installation)."""
    if os.environ.get("GEOPLATFORM_SECRET_KEY"):
        return os.environ["GEOPLATFORM_SECRET_KEY"]
    path = DATA_DIR / "secret_key"
    if not path.exists():
        DATA_DIR.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


def _database() -> dict:
    """DATABASE_URL when set, else the project-local cluster (see geoplatform.localdb)."""
    params = psycopg.conninfo.conninfo_to_dict(localdb.database_url())
    return {
        "ENGINE": "django.contrib.gis.db.backends.postgis",
        "NAME": params.get("dbname", ""),
        "USER": params.get("user", ""),
        "PASSWORD": params.get("password", ""),
        "HOST": params.get("host", ""),
        "PORT": params.get("port", ""),
        "CONN_MAX_AGE": int(os.environ.get("GEOPLATFORM_DB_CONN_MAX_AGE", "60")),
        # GEOPLATFORM_TEST_DB_SUFFIX lets two test runs share one cluster without sharing a test database.
        "TEST": {"NAME": "test_" + params.get("dbname", "geoplatform") + os.environ.get("GEOPLATFORM_TEST_DB_SUFFIX", "")},
    }


SECRET_KEY = _secret_key()
DEBUG = _env_bool("GEOPLATFORM_DEBUG")
ALLOWED_HOSTS = os.environ.get("GEOPLATFORM_ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]").split(",")
CSRF_TRUSTED_ORIGINS = [o for o in os.environ.get("GEOPLATFORM_CSRF_TRUSTED_ORIGINS", "").split(",") if o]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.gis",
    "rest_framework",
    "rest_framework_gis",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "catalog",
    "geoplatform.web",
    "geoplatform.layers",
    "geoplatform.geocoding",
    "geoplatform.jobs",
    "tiles",
    "geoplatform.demo",
]

MIDDLEWARE = [
    "geoplatform.limits.RequestLimitsMiddleware",  # first: URL length, body size, NUL (see geoplatform/limits.py)
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "geoplatform.web.middleware.LanguageMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "geoplatform.urls"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]
WSGI_APPLICATION = "geoplatform.wsgi.application"
ASGI_APPLICATION = "geoplatform.asgi.application"

DATABASES = {"default": _database()}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "catalog.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "home"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = os.environ.get("GEOPLATFORM_TIME_ZONE", "Asia/Shanghai")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
WHITENOISE_USE_FINDERS = True  # serve straight from the apps' static folders when collectstatic has not run

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "catalog.auth.ApiKeyAuthentication",
        "catalog.auth.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "geoplatform.errors.exception_handler",
    # JSON nested too deeply is a 400 (geoplatform.limits), not a RecursionError
    "DEFAULT_PARSER_CLASSES": ["geoplatform.limits.JSONParser", "rest_framework.parsers.FormParser",
                               "rest_framework.parsers.MultiPartParser"],
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Geoplatform API",
    "DESCRIPTION": "Shared layers, imagery tiles, geocoding, catalog and sharing governance of a city's departments.",
    "VERSION": "0.1.0",
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
}

# Django 5.2 warns (gis.W001) that GDAL < 3.9 cannot be told to refuse file/network access
# while parsing user-supplied CRS strings. User input only ever names EPSG codes from the
# platform's allow-list, never a free CRS string, so the warning is silenced here.
SILENCED_SYSTEM_CHECKS = ["gis.W001"]

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    # No credential reaches a log line: API keys sent as ?token=, tile tokens, Authorization values.
    "filters": {"redact": {"()": "catalog.redact.RedactingFilter"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "filters": ["redact"]}},
    "root": {"handlers": ["console"], "level": os.environ.get("GEOPLATFORM_LOG_LEVEL", "INFO").upper()},
    "loggers": {"numexpr": {"level": "WARNING"}},
}

if not DEBUG:
    SESSION_COOKIE_HTTPONLY = True
    SECURE_CONTENT_TYPE_NOSNIFF = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if _env_bool("GEOPLATFORM_BEHIND_TLS_PROXY") else None

# Sharing workflow deadlines, in working days (国发〔2016〕51号 and provincial rules).
GEOPLATFORM_CONFORMITY_DAYS = int(os.environ.get("GEOPLATFORM_CONFORMITY_DAYS", "2"))
GEOPLATFORM_ANSWER_DAYS = int(os.environ.get("GEOPLATFORM_ANSWER_DAYS", "10"))
# Audit the client address from X-Forwarded-For (only behind a proxy that sets it).
GEOPLATFORM_TRUST_FORWARDED_FOR = _env_bool("GEOPLATFORM_TRUST_FORWARDED_FOR")
# Seconds a tile access decision is reused for the same credential and entry (see catalog.access).
GEOPLATFORM_TILE_DECISION_SECONDS = float(os.environ.get("GEOPLATFORM_TILE_DECISION_SECONDS", "2"))
# Largest JSON or form body (files sent as multipart uploads have their own limits): a larger one is a 413.
DATA_UPLOAD_MAX_MEMORY_SIZE = int(os.environ.get("GEOPLATFORM_MAX_BODY_BYTES", str(5 * 2**19)))
# Largest CSV accepted by the batch geocoding API.
GEOPLATFORM_GEOCODE_MAX_UPLOAD_BYTES = int(os.environ.get("GEOPLATFORM_GEOCODE_MAX_UPLOAD_BYTES", str(1 << 30)))

# One cache shared by every web process and machine (the per-key geocoding rate limit counts
# there), kept in PostgreSQL so there is no other service to run; the table is created by the
# jobs app's migrations.
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "geoplatform_cache",
                "OPTIONS": {"MAX_ENTRIES": 100_000}},
}
