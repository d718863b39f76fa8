"""Deal Desk settings: one module, every value read from the environment.

Development needs no configuration at all: SQLite files, the local-memory cache and the sandbox
portal. Production (PRODUCTION=1) refuses to start without its secrets, with DEBUG on, or with a
FERNET_KEYS entry that is not a Fernet key.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP

from b24app.crypto import fernet_keys_problem
from b24app.env import env_bool, env_float, env_int, env_list, env_proxy_ssl_header, env_secret, env_str

BASE_DIR = Path(__file__).resolve().parent.parent

DEBUG = env_bool("DEBUG", False)
PRODUCTION = env_bool("PRODUCTION", False)
if PRODUCTION and DEBUG:
    # DEBUG would show tracebacks and settings to anyone; it never quietly turns production off.
    raise ImproperlyConfigured("PRODUCTION=1 cannot run with DEBUG=1: unset DEBUG (or PRODUCTION, off production)")

SECRET_KEY = env_secret(
    "SECRET_KEY", required=PRODUCTION, dev_default="dev-only-secret-key-not-for-production-use-0123456789"
)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])

# --- Bitrix24 -----------------------------------------------------------------------------------
B24_CLIENT_ID = env_str("B24_CLIENT_ID")
# The sandbox portal is on by default whenever no real marketplace app is configured, except in
# production, where only an explicit B24_SANDBOX=1 serves it (and start-up logs a warning).
B24_SANDBOX = env_bool("B24_SANDBOX", not B24_CLIENT_ID and not PRODUCTION)
if B24_SANDBOX and not B24_CLIENT_ID:
    B24_CLIENT_ID = "local.dealdesk00000000.00000001"
B24_CLIENT_SECRET = env_secret(
    "B24_CLIENT_SECRET", required=PRODUCTION and not B24_SANDBOX, dev_default="sandbox-client-secret-dev-only"
)
# Where the app itself is reached by the portal (install handler, placement handler, events).
APP_PUBLIC_URL = env_str("APP_PUBLIC_URL", "http://127.0.0.1:8000/")
# The OAuth server: tokens are issued and refreshed only there, and only there does the client
# secret go (bitrix24-protocol.md §2). In sandbox mode the sandbox portal plays it.
B24_OAUTH_SERVER = env_str("B24_OAUTH_SERVER", "")  # default: oauth.bitrix.info, or the sandbox
# Hosts a portal may live on: Bitrix24 cloud domains, plus any listed here (on-premise portals).
B24_EXTRA_PORTAL_HOSTS = env_list("B24_EXTRA_PORTAL_HOSTS", [])
# The app's own pacing, under the portal's 2 requests/s with a burst of 50 (with a margin).
B24_RATE_LIMIT = env_float("B24_RATE_LIMIT", 2.0)
B24_RATE_BURST = env_int("B24_RATE_BURST", 40)
# The portal's own bucket: clean answers let the burst above grow towards it, a QUERY_LIMIT_EXCEEDED
# sends it back (b24app.limiter). 0: the documented one for B24_RATE_LIMIT (2/s: 50, 5/s: 250), none
# for another rate; set it to B24_RATE_BURST to keep the burst fixed.
B24_RATE_BUCKET = env_int("B24_RATE_BUCKET", 0)
B24_OPERATING_LIMIT = env_float("B24_OPERATING_LIMIT", 480.0)
# Seconds to wait for a portal's (or the OAuth server's) answer; 0 keeps the client's 30 s.
# Lower it where a person is waiting on a slow portal (a tab shows Retry sooner), or in tests.
B24_HTTP_TIMEOUT = env_float("B24_HTTP_TIMEOUT", 0.0)
# Encryption keys for tokens at rest, newest first (Fernet keys, comma-separated).
FERNET_KEYS = env_list("FERNET_KEYS", [])
if PRODUCTION and not FERNET_KEYS:
    raise ImproperlyConfigured("FERNET_KEYS must be set in production")
if _fernet_problem := fernet_keys_problem(FERNET_KEYS):
    # At start, not at the first encryption: a typo must not wait for the first install to show.
    raise ImproperlyConfigured(_fernet_problem)
# The script the app pages load as BX24.js; production uses the official library.
BX24_JS_URL = env_str("BX24_JS_URL", "")  # default: the official script, or the sandbox's copy

# --- The sandbox portal ----------------------------------------------------------------------------
# The portal's own public address: a different site from APP_PUBLIC_URL, as in production.
SANDBOX_PORTAL_URL = env_str("SANDBOX_PORTAL_URL", "http://localhost:8000/sandbox/")
SANDBOX_RATE_LIMIT = env_float("SANDBOX_RATE_LIMIT", 2.0)  # requests drained per second
SANDBOX_RATE_BURST = env_int("SANDBOX_RATE_BURST", 50)  # bucket size
SANDBOX_LIMITS_ENABLED = env_bool("SANDBOX_LIMITS_ENABLED", True)
SANDBOX_OPERATING_LIMIT = env_float("SANDBOX_OPERATING_LIMIT", 480.0)  # seconds per method per 10 min
SANDBOX_ACCESS_TOKEN_TTL = env_int("SANDBOX_ACCESS_TOKEN_TTL", 3600)
SANDBOX_REFRESH_TOKEN_TTL = env_int("SANDBOX_REFRESH_TOKEN_TTL", 180 * 24 * 3600)
SANDBOX_EVENTS_SYNC = env_bool("SANDBOX_EVENTS_SYNC", False)  # deliver events inline (debugging)
# The portal also served the way Bitrix24 serves one: https://<host>/rest/… (sandbox/https.py).
# Requests over TLS to this URL's host[:port] (or a loopback name on its port) see the portal at
# the root; empty turns that off.
SANDBOX_HTTPS_URL = env_str("SANDBOX_HTTPS_URL", "https://localhost:8443/")
# The local CA and the server certificate it signs, made by `manage.py sandbox_tls` (gitignored).
SANDBOX_TLS_DIR = env_str("SANDBOX_TLS_DIR", str(BASE_DIR / ".sandbox-tls"))

# --- Django ------------------------------------------------------------------------------------------
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_htmx",
    "b24app",
    "widgets",
]
if B24_SANDBOX:
    INSTALLED_APPS.append("sandbox")

MIDDLEWARE = [
    "b24app.logs.RequestContextMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "b24app.csp.AppPolicyMiddleware",  # SECURE_CSP completed per answer (see b24app/csp.py)
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "widgets.common.i18n.PortalLanguageMiddleware",  # the Bitrix24 user's LANG (widgets/common/i18n.py)
]
if B24_SANDBOX:
    # Before CommonMiddleware, whose slash redirects resolve against the chosen URLconf.
    MIDDLEWARE.insert(1, "sandbox.https.PortalHostMiddleware")

ROOT_URLCONF = "b24app.urls"
WSGI_APPLICATION = "b24app.wsgi.application"

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
                "django.template.context_processors.csp",
                "widgets.common.theme.theme_context",
            ],
        },
    },
]


def _sqlite(path: Path, test_name: str) -> dict[str, Any]:
    # WAL and IMMEDIATE transactions let the threaded dev/test server run the app and the
    # sandbox side by side without "database is locked" on concurrent writers.
    return {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": path,
        "OPTIONS": {
            "timeout": 30,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        },
        # Kept open between requests, as PostgreSQL's are below: a new SQLite connection (open,
        # PRAGMAs, Django's SQL functions) cost about a third of a millisecond of CPU per request.
        "CONN_MAX_AGE": 60,
        "CONN_HEALTH_CHECKS": True,
        # A file, not ":memory:", so that every live-server thread gets its own connection.
        "TEST": {"NAME": str(Path(tempfile.gettempdir()) / f"dealdesk-test-{os.getpid()}-{test_name}.sqlite3")},
    }


def _database(url_env: str, sqlite_file: str, test_name: str) -> dict[str, Any]:
    url = env_str(url_env)
    if not url:
        return _sqlite(BASE_DIR / sqlite_file, test_name)
    config: dict[str, Any] = dict(dj_database_url.parse(url, conn_max_age=60, conn_health_checks=True))
    if config["ENGINE"].endswith("sqlite3"):
        return _sqlite(Path(config["NAME"]), test_name)
    return config


DATABASES: dict[str, dict[str, Any]] = {"default": _database("DATABASE_URL", "db.sqlite3", "default")}
if B24_SANDBOX:
    # The sandbox portal keeps its data in its own database, never mixed with the app's tables.
    DATABASES["sandbox"] = _database("SANDBOX_DATABASE_URL", "sandbox.sqlite3", "sandbox")
DATABASE_ROUTERS = ["b24app.dbrouters.SandboxRouter"]
DATA_UPLOAD_MAX_NUMBER_FIELDS = 10000  # a 500-row product table posts about 7,000 fields
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env_str("REDIS_URL")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "b24app.cache.RedisCache",  # Django's, with one client per pool (b24app/cache.py)
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "dealdesk",
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

AUTH_PASSWORD_VALIDATORS: list[dict[str, str]] = []
LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("ru", "Русский")]
TIME_ZONE = "UTC"
USE_I18N = True
# One catalogue for the templates and the code (compiled by `make setup`/`make test`).
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_TZ = True

STATIC_URL = "static/"
# collectstatic's target; only set where static files are collected (production, or on request),
# so development serves straight from the apps' folders without a warning about a missing root.
STATIC_ROOT = BASE_DIR / "staticfiles" if PRODUCTION or env_bool("COLLECT_STATIC", False) else None
STATICFILES_DIRS = [BASE_DIR / "static"]
# Outside production whitenoise serves straight from the apps' static folders (no collectstatic),
# also when DEBUG is off, as it is by default under `make run`.
WHITENOISE_USE_FINDERS = not PRODUCTION
WHITENOISE_AUTOREFRESH = not PRODUCTION
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

# Cookies are never relied on inside the Bitrix24 iframe (a signed token travels instead), so
# the defaults stay strict.
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SAMESITE = "Lax"
# Only a proxy that sets (and overwrites) this header may say a request came over HTTPS; trusted
# by default, any client could claim it.
if _proxy_header := env_proxy_ssl_header("SECURE_PROXY_SSL_HEADER"):
    SECURE_PROXY_SSL_HEADER = _proxy_header
if PRODUCTION:
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)
    SECURE_CONTENT_TYPE_NOSNIFF = True
    # Widget pages are framed cross-site by the portal; their cookies are never relied on.
    SESSION_COOKIE_SAMESITE = "Lax"

# Content-Security-Policy on every answer of the app (b24app/csp.py adds the BX24.js origin to
# script-src, and the portal's origin as frame-ancestors on the pages a portal frames). No inline
# scripts, styles or handlers: the app's own files only, and a nonce if a page ever needs one.
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF, CSP.NONCE],
    "img-src": [CSP.SELF, "data:"],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.NONE],
    "frame-ancestors": [CSP.NONE],
}

# JSON lines in production (with request_id and member_id), plain text in development.
LOG_FORMAT = env_str("LOG_FORMAT", "json" if PRODUCTION else "plain")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"context": {"()": "b24app.logs.ContextFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json": {"()": "b24app.logs.JsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "json" if LOG_FORMAT == "json" else "plain",
            "filters": ["context"],
        }
    },
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"django.server": {"level": "WARNING"}},
}
