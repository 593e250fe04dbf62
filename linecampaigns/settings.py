"""Settings, all read from the environment (see .env.example for every variable)."""

import os
import secrets
from pathlib import Path

import environ
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
if (BASE_DIR / ".env").is_file():
    environ.Env.read_env(BASE_DIR / ".env")
# docker-compose passes each variable through as ${NAME:-}: empty means "not set, use the default".
for _name in [n for n, v in os.environ.items() if v == ""]:
    del os.environ[_name]

VAR_DIR = Path(env.str("VAR_DIR", default=str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = env.bool("DEBUG", default=False)


def _secret_key() -> str:
    key = env.str("SECRET_KEY", default="")
    if key:
        return key
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is false (see .env.example).")
    # Local runs: generate once and keep it, so sessions survive restarts.
    path = VAR_DIR / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = _secret_key()

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "axes",
    "csp",
    "ninja",  # serves Swagger UI (/api/v1/docs) from its own static files: no CDN, no inline JS
    "kit",
    "linecampaigns",
    "connections",
    "audiences",
    "campaigns",
    "journeys",
    "analytics",
]

MIDDLEWARE = [
    "linecampaigns.middleware.HealthzMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "kit.middleware.PermissionsPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "kit.input_guard.RefuseNulMiddleware",
    "kit.middleware.UserTimezoneMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",
    "kit.middleware.ProductNotFoundMiddleware",
]

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

ROOT_URLCONF = "linecampaigns.urls"
WSGI_APPLICATION = "linecampaigns.wsgi.application"
ASGI_APPLICATION = "linecampaigns.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "linecampaigns.context_processors.navigation",
            ],
        },
    },
]


def _database() -> dict:
    default = f"sqlite:///{VAR_DIR / 'db.sqlite3'}"
    url = env.str("DATABASE_URL", default=default)
    try:
        config = environ.Env.db_url_config(url)
    except Exception as exc:  # django-environ raises several types for bad URLs
        raise ImproperlyConfigured(
            f"DATABASE_URL is not a valid database URL ({exc}). "
            "Use postgres://USER:PASSWORD@HOST:PORT/NAME or sqlite:///PATH."
        ) from exc
    engine = config.get("ENGINE", "")
    if engine not in {"django.db.backends.postgresql", "django.db.backends.sqlite3"}:
        raise ImproperlyConfigured(
            f"DATABASE_URL scheme is not supported: {url.split(':', 1)[0]!r}. "
            "Use postgres:// (production) or sqlite:/// (local)."
        )
    if engine == "django.db.backends.sqlite3":
        if not config.get("NAME"):
            raise ImproperlyConfigured("DATABASE_URL for SQLite needs a path: sqlite:///PATH.")
        # WAL and immediate transactions let the web server and worker write side by side.
        config["OPTIONS"] = {
            "timeout": 30,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    else:
        config["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
        config["CONN_HEALTH_CHECKS"] = True
    return config


DATABASES = {"default": _database()}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env.str("REDIS_URL", default="")

if REDIS_URL:
    # Timeouts, so that a Redis that stopped answering is a quick miss (kit.cache).
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
else:
    # File-based so the web server and the worker see the same entries (worker heartbeat).
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
        }
    }

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/accounts/login/"

# Reverse proxies in front of the dashboard that append to X-Forwarded-For (0: none, the client
# connects directly and X-Forwarded-For is ignored). See kit.proxy.client_ip.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)

# Failed-login throttling (django-axes): lock a username+address pair after repeated failures;
# the address is the client's, found through TRUSTED_PROXY_COUNT proxies.
AXES_CLIENT_IP_CALLABLE = "kit.proxy.client_ip"
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = env.float("AXES_COOLOFF_HOURS", default=0.25)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_VERBOSE = False

LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "staticfiles"
STATIC_ROOT.mkdir(exist_ok=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
MEDIA_ROOT = VAR_DIR / "media"
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
# Request bodies other than file uploads. 32 MB so that POST /api/v1/contacts/bulk takes its
# 10,000 contacts with about 1 KB of attributes each (plus JSON overhead); larger API bodies get
# a JSON 413 naming this limit. CSV files go through the upload path (CONTACT_IMPORT_MAX_MB).
DATA_UPLOAD_MAX_MEMORY_SIZE = 32 * 1024 * 1024

# Secrets at rest: Fernet key(s), comma-separated, newest first (rotation: prepend a new key,
# run `manage.py rotate_secrets`, then drop the old key).
FIELD_ENCRYPTION_KEY = env.list("FIELD_ENCRYPTION_KEY", default=[])
if not FIELD_ENCRYPTION_KEY and DEBUG:
    # Local runs: generate one key and keep it, like SECRET_KEY.
    _key_path = VAR_DIR / "field_encryption_key"
    if not _key_path.exists():
        from cryptography.fernet import Fernet

        _key_path.write_text(Fernet.generate_key().decode())
        _key_path.chmod(0o600)
    FIELD_ENCRYPTION_KEY = [_key_path.read_text().strip()]

LINE_API_BASE_URL = env.str("LINE_API_BASE_URL", default="https://api.line.me")
# Base URLs a connection may use besides LINE's own and LINE_API_BASE_URL: the channel token is
# sent there. `*` as the port allows any port (the tests' emulators). With DEBUG (make run), the
# bundled emulator's address is allowed by default.
LINE_API_BASE_URL_ALLOWLIST = env.list(
    "LINE_API_BASE_URL_ALLOWLIST",
    default=[f"http://127.0.0.1:{env.int('EMULATOR_PORT', default=8765)}"] if DEBUG else [],
)
PUBLIC_BASE_URL = env.str("PUBLIC_BASE_URL", default="")
CONTACT_IMPORT_MAX_MB = env.int("CONTACT_IMPORT_MAX_MB", default=200)

# Celery. The default broker keeps its queue in files under var/, so no server is needed.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://")
if CELERY_BROKER_URL.startswith("filesystem://"):
    _broker_dir = VAR_DIR / "broker"
    for _sub in ("queue", "processed", "control"):
        (_broker_dir / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=600)
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=660)
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
# Celery closes the database connection around every task unless told to reuse it; campaign
# batches are thousands of short tasks and a new PostgreSQL connection costs more than most of
# them. Reused connections are still recycled every N tasks.
CELERY_DB_REUSE_MAX = env.int("CELERY_DB_REUSE_MAX", default=100)

# Production hardening: on by default when DEBUG is false; the SECURE_* switches can be turned
# off for a plain-HTTP intranet.
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not DEBUG)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=not DEBUG)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_REFERRER_POLICY = "same-origin"
# Scripts and styles come from this site only: no inline script, style attribute or eval
# (htmx runs with allowEval off, see base.html). Images may also be LINE's (https) and the
# allowed emulators' (bot pictures, previews); Bootstrap draws some icons from data: URIs.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:", "https:", *LINE_API_BASE_URL_ALLOWLIST],
        "connect-src": [SELF],
        "font-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}
# Browser features the dashboard never uses, switched off for it and anything it embeds.
PERMISSIONS_POLICY = (
    "accelerometer=(), camera=(), geolocation=(), gyroscope=(), magnetometer=(), "
    "microphone=(), payment=(), usb=()"
)
SECURE_CONTENT_TYPE_NOSNIFF = True
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]

# Error pages and reports never show local variables named like secrets, in DEBUG too.
DEFAULT_EXCEPTION_REPORTER_FILTER = "kit.logging.SecretsExceptionReporterFilter"

# LOG_FILE: every record goes to that file and only warnings and errors to the console, request
# lines of runserver included (`make run` gives the web server and the worker one each in var/log/).
LOG_FILE = env.str("LOG_FILE", default="")
_log_handlers: dict[str, dict] = {
    "console": {"class": "logging.StreamHandler", "filters": ["redact"]},
}
_loggers: dict[str, dict] = {"httpx": {"level": "WARNING"}, "httpcore": {"level": "WARNING"}}
if LOG_FILE:
    _log_handlers["console"]["level"] = "WARNING"
    _log_handlers["file"] = {
        "class": "logging.FileHandler",
        "filename": LOG_FILE,
        "filters": ["redact"],
        "formatter": "file",
    }
    _loggers["django.server"] = {"handlers": ["file"], "level": "INFO", "propagate": False}
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact": {"()": "kit.logging.RedactSecretsFilter"}},
    "formatters": {
        "file": {"format": "[{asctime}: {levelname}/{processName}] {name}: {message}", "style": "{"}
    },
    "handlers": _log_handlers,
    "root": {"handlers": list(_log_handlers), "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": _loggers,
}
