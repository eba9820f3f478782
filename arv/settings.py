"""ARV settings: everything an operator may change is read from the environment.

The defaults are the embedded setup — SQLite, the django-q2 ORM broker and local disk — so a fresh
clone runs with no services. `.env.example` documents every variable.
"""

import ipaddress
from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

from companies.hosts import AllowedHosts
from lib.env import (
    env_bool,
    env_int,
    env_list,
    env_path,
    env_secret,
    env_str,
    env_timezone,
    env_url,
    load_dotenv,
    local_site_url,
)

BASE_DIR = Path(__file__).resolve().parent.parent
if not env_bool("ARV_IGNORE_DOTENV", False):
    load_dotenv(BASE_DIR / ".env")

DEBUG = env_bool("DEBUG", False)
SECRET_KEY = env_secret(
    "SECRET_KEY",
    required=not DEBUG,
    # Only ever used with DEBUG on; a production start without SECRET_KEY is refused above.
    default="insecure-development-key-do-not-use-in-production-0123456789",
    min_length=32,
)

# `make run` and `make dev` name the address they serve (http://HOST:PORT): the site's links
# then follow it (unless SITE_URL says otherwise) and the logs are lines for a person to read.
SERVE_URL = env_url("ARV_SERVE_URL", "")
# Public base URL of the site, used in QR codes, emails and absolute links.
SITE_URL = env_url("SITE_URL", local_site_url(SERVE_URL) if SERVE_URL else "http://127.0.0.1:8000")
SITE_NAME = env_str("SITE_NAME", "ARV")
_site_is_https = SITE_URL.startswith("https://")

# The operator's host names, plus the verified viewer domains of companies (companies/hosts.py):
# no wildcard, and a domain is served only once its owner proved control of it. The site's own host
# is always among the defaults, so a SITE_URL alone makes a working setup.
_site_host = urlsplit(SITE_URL).netloc.rsplit("@", 1)[-1]
_site_host = _site_host if _site_host.endswith("]") else _site_host.rsplit(":", 1)[0]
ALLOWED_HOSTS = AllowedHosts(
    env_list("ALLOWED_HOSTS", list(dict.fromkeys(["localhost", "127.0.0.1", "[::1]", _site_host])))
)
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [SITE_URL])

VAR_DIR = env_path("VAR_DIR", Path("var"), base=BASE_DIR)

INSTALLED_APPS = [
    "arv.apps.ArvAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_q",
    "rest_framework",
    "drf_spectacular",
    # Swagger UI's JS and CSS from PyPI, served as our own static files: no CDN.
    "drf_spectacular_sidecar",
    "arv",
    "companies",
    "content",
    "markers",
    "viewer",
    "webhooks",
]

MIDDLEWARE = [
    "lib.logging.RequestIdMiddleware",
    # Before SecurityMiddleware, so it sees (and narrows) the HSTS header on a studio's domain.
    "companies.hosts.ViewerDomainMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Before anything reads a body (CsrfViewMiddleware's process_view parses multipart POSTs).
    "lib.bodylimit.BodySizeLimitMiddleware",
    "companies.middleware.TenantMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "companies.middleware.ContentSecurityPolicyMiddleware",
]

ROOT_URLCONF = "arv.urls"
# The admin at a path of the operator's choosing keeps it out of reach of scanners of /admin/.
ADMIN_URL = env_str("ADMIN_URL", "admin/").strip("/") + "/"
if ADMIN_URL == "/":
    raise ImproperlyConfigured("ADMIN_URL must not be empty: use e.g. 'admin/' or 'backoffice-7f3a/'.")

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
                "arv.context_processors.site",
            ],
        },
    },
]

WSGI_APPLICATION = "arv.wsgi.application"


# --- Database -----------------------------------------------------------------------------------
def _database(url: str) -> dict:
    try:
        config = dj_database_url.parse(url, conn_max_age=env_int("DB_CONN_MAX_AGE", 60))
    except ValueError as exc:
        raise ImproperlyConfigured(
            f"DATABASE_URL={url!r} is not understood ({exc}). "
            "Use sqlite:///path/to/db.sqlite3 or postgres://user:password@host:5432/name."
        ) from None
    engine = config["ENGINE"]
    if engine == "django.db.backends.sqlite3":
        if config["NAME"] != ":memory:" and not Path(config["NAME"]).is_absolute():
            config["NAME"] = str(BASE_DIR / config["NAME"])
        # WAL lets readers run while the worker writes; IMMEDIATE takes the write lock at BEGIN
        # so two writers queue on the busy timeout instead of failing with "database is locked".
        config["OPTIONS"] = {
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
        }
        config["CONN_MAX_AGE"] = 0
    elif engine == "django.db.backends.postgresql":
        config["CONN_HEALTH_CHECKS"] = True
    else:
        raise ImproperlyConfigured(f"DATABASE_URL: only SQLite and PostgreSQL are supported, not {engine}.")
    return config


DATABASE_URL = env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'db.sqlite3'}")
VAR_DIR.mkdir(parents=True, exist_ok=True)
DATABASES = {"default": _database(DATABASE_URL)}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"


# --- Cache and task queue -----------------------------------------------------------------------
REDIS_URL = env_url("REDIS_URL", "", schemes=("redis", "rediss", "unix"))

if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    # A file cache is shared by every process on the machine (web workers and the qcluster), which
    # rate limits and the django-q2 ORM broker's statistics need; it needs no service.
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
        }
    }

TASK_TIMEOUT = env_int("TASK_TIMEOUT", 600, min_value=10)
Q_CLUSTER = {
    "name": "arv",
    "workers": env_int("TASK_WORKERS", 2, min_value=1, max_value=64),
    "recycle": 200,
    # A task that outlives `timeout` is killed; `retry` must be larger, or a slow task would be
    # handed to a second worker while the first is still running it.
    "timeout": TASK_TIMEOUT,
    "retry": TASK_TIMEOUT + 120,
    # Our services own retries with backoff; django-q2 only re-delivers tasks lost with a worker,
    # and gives up after a few tries instead of looping forever.
    "max_attempts": 3,
    "ack_failures": True,
    "catch_up": False,
    "save_limit": 1000,
    "label": _("Task queue"),
    "poll": 0.2,
}
if REDIS_URL:
    Q_CLUSTER["redis"] = REDIS_URL
else:
    Q_CLUSTER["orm"] = "default"
Q_CLUSTER["sync"] = env_bool("TASKS_SYNC", False)
# A job still "processing" after this long was abandoned by a dead worker; the sweeper re-queues it.
JOB_STUCK_AFTER_SECONDS = env_int("JOB_STUCK_AFTER_SECONDS", TASK_TIMEOUT + 60, min_value=1)
# A job still waiting after this long lost its task (broker down at upload time); it is queued again.
JOB_LOST_AFTER_SECONDS = env_int("JOB_LOST_AFTER_SECONDS", 120, min_value=1)


# --- Auth ---------------------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
# Failed log-ins allowed per address and per username before a lockout of LOGIN_LOCKOUT_MINUTES.
LOGIN_FAILURES_PER_IP = env_int("LOGIN_FAILURES_PER_IP", 20, min_value=1)
LOGIN_FAILURES_PER_USER = env_int("LOGIN_FAILURES_PER_USER", 8, min_value=1)
LOGIN_LOCKOUT_MINUTES = env_int("LOGIN_LOCKOUT_MINUTES", 15, min_value=1)
LOGIN_REDIRECT_URL = "portal:dashboard"
LOGOUT_REDIRECT_URL = "landing"
PASSWORD_RESET_TIMEOUT = 3 * 24 * 3600
# How long an invitation to a company can be accepted.
INVITATION_DAYS = env_int("INVITATION_DAYS", 14, min_value=1, max_value=90)


# --- REST API (/api/v1/) --------------------------------------------------------------------------
def _api_rate(name: str, default: str) -> str:
    """A throttle rate such as 600/minute, checked at start-up (DRF would fail on each request)."""
    value = env_str(name, default)
    number, _sep, period = value.partition("/")
    if not number.isdigit() or int(number) < 1 or period not in {"second", "minute", "hour", "day"}:
        raise ImproperlyConfigured(f"{name}={value!r} must look like 600/minute (per second, minute, hour or day).")
    return value


REST_FRAMEWORK = {
    # Tokens for integrations; the session for the portal's own scripts, with CSRF enforced by
    # DRF's SessionAuthentication. Token first, so a request without credentials gets 401.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "companies.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_THROTTLE_CLASSES": ["lib.api_policies.UserRateThrottle", "lib.api_policies.AnonRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {
        "user": _api_rate("API_RATE_USER", "600/minute"),
        "anon": _api_rate("API_RATE_ANON", "60/minute"),
    },
    # JSON in and out; the upload views add multipart themselves. No browsable API.
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_PAGINATION_CLASS": "lib.api_policies.Pagination",
    "PAGE_SIZE": 25,
    "EXCEPTION_HANDLER": "lib.api.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "lib.api_schema.ApiAutoSchema",
    # OPTIONS answers 405 instead of describing the serializers.
    "DEFAULT_METADATA_CLASS": None,
    "URL_FORMAT_OVERRIDE": None,
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "ARV API",
    "DESCRIPTION": (
        "Upload living photos and their videos, follow marker processing, get QR codes and view "
        "statistics.\n\n"
        "**Authentication:** `Authorization: Token <key>`; make the key in the portal under "
        "*API token* (or `python manage.py create_api_token <username>`). Logged-in portal pages "
        "may use their session cookie and must send the `X-CSRFToken` header on writes.\n\n"
        "**Company:** every request acts in one company of the user, with the user's role there: "
        "the one whose slug is in the `X-Company` header. A user of several companies must send it "
        "(without it: 400, `code` `company_required`); for a user of one company it is optional, "
        "and with session auth the company chosen in the portal is used. Viewers can read, not "
        "write; a deactivated or expired company can read, not write.\n\n"
        '**Errors** are JSON: `{"detail": ..., "code": ...}`, with `errors` '
        "(`{field: [messages]}`) when the input is invalid. Another company's objects answer 404."
    ),
    "VERSION": "1",
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "DEFAULT_GENERATOR_CLASS": "lib.api_schema.ApiSchemaGenerator",
    "SERVE_INCLUDE_SCHEMA": False,
    # Separate request and response components, so uploads show as binary and read-only fields
    # are not asked for.
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "ProjectStatusEnum": "companies.models.Project.Status",
        "PortraitStatusEnum": "content.models.Portrait.Status",
        "VideoStatusEnum": "content.models.Video.Status",
        "JobStatusEnum": "markers.models.Job.Status",
        "BatchStatusEnum": "content.models.Batch.Status",
        "BatchPrintFileStatusEnum": "content.models.BatchPrintFile.Status",
        "WebhookDeliveryStatusEnum": "webhooks.models.Delivery.Status",
        "WebhookEventTypeEnum": "webhooks.models.EventType",
    },
    "SWAGGER_UI_DIST": "SIDECAR",
    # The docs page links the site's own icon (templates/api_docs.html).
    "SWAGGER_UI_FAVICON_HREF": "",
    "REDOC_DIST": "SIDECAR",
}

# --- Internationalisation -----------------------------------------------------------------------
LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("ru", _("Russian"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env_timezone("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True


# --- Static and media files ---------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = env_path("STATIC_ROOT", Path("staticfiles"), base=BASE_DIR)
# Vendor JS (MindAR, three.js) comes from npm (package.json, installed by `make`) and is served by
# the app itself: no CDN, so a self-hosted server works without internet. Only the files the
# viewer loads are exposed.
NODE_MODULES_DIR = BASE_DIR / "node_modules"
VENDOR_STATIC = {
    "vendor/mind-ar": NODE_MODULES_DIR / "mind-ar" / "dist",
    "vendor/three/build": NODE_MODULES_DIR / "three" / "build",
    "vendor/three/addons/renderers": NODE_MODULES_DIR / "three" / "examples" / "jsm" / "renderers",
    # AR.js's three.js build (ar-threex.mjs): imports the page's three, bundles ARToolKit's wasm.
    "vendor/ar-js": NODE_MODULES_DIR / "@ar-js-org" / "ar.js" / "three.js" / "build",
}
STATICFILES_DIRS = [BASE_DIR / "static"] + [(prefix, path) for prefix, path in VENDOR_STATIC.items() if path.is_dir()]
MEDIA_URL = "/media/"
MEDIA_ROOT = env_path("MEDIA_ROOT", VAR_DIR / "media", base=BASE_DIR)
# Absolute folders, besides MEDIA_ROOT, that local-disk storage connections may use (a second
# disk, say). A connection's folder anywhere else is refused: its files would be served.
LOCAL_STORAGE_ROOTS = env_list("LOCAL_STORAGE_ROOTS", [])
for _root in LOCAL_STORAGE_ROOTS:
    if not Path(_root).is_absolute():
        raise ImproperlyConfigured(f"LOCAL_STORAGE_ROOTS: {_root!r} is not an absolute path.")

STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "arv.staticfiles.StaticFilesStorage"
        )
    },
}
WHITENOISE_MAX_AGE = 3600 if not DEBUG else 0

UPLOAD_MAX_MB = env_int("UPLOAD_MAX_MB", 20, min_value=1, max_value=2048)
VIDEO_MAX_MB = env_int("VIDEO_MAX_MB", 200, min_value=1, max_value=10240)
VIDEO_MAX_SECONDS = env_int("VIDEO_MAX_SECONDS", 300, min_value=1, max_value=24 * 3600)
# Batch intake (print shops: a ZIP or many files of photos, videos and orders.csv at once).
# The upload's size, how many files an archive may hold, how many orders one batch may have, and
# how much an archive may unpack to in all (checked while unpacking, never trusting its header).
BATCH_MAX_MB = env_int("BATCH_MAX_MB", 4096, min_value=1, max_value=1024 * 1024)
BATCH_MAX_FILES = env_int("BATCH_MAX_FILES", 2000, min_value=1, max_value=100_000)
BATCH_MAX_ROWS = env_int("BATCH_MAX_ROWS", 1000, min_value=1, max_value=100_000)
BATCH_MAX_UNPACKED_MB = env_int("BATCH_MAX_UNPACKED_MB", 8192, min_value=1, max_value=1024 * 1024)
# Days a finished batch keeps its print PDF; after that it is made again when asked for.
BATCH_OUTPUT_DAYS = env_int("BATCH_OUTPUT_DAYS", 30, min_value=1, max_value=3650)
# Private staging for batch uploads, shared by every web and worker machine and never served:
# a directory (on several machines: a shared mount), or an S3 bucket when BATCH_STAGING_S3_BUCKET
# is set. See arv/staging.py.
BATCH_STAGING_DIR = env_path("BATCH_STAGING_DIR", VAR_DIR / "staging", base=BASE_DIR)
BATCH_STAGING_S3 = {
    "bucket": env_str("BATCH_STAGING_S3_BUCKET"),
    "prefix": env_str("BATCH_STAGING_S3_PREFIX", "arv-staging"),
    "endpoint_url": env_url("BATCH_STAGING_S3_ENDPOINT_URL", ""),
    "region": env_str("BATCH_STAGING_S3_REGION"),
    "addressing_style": env_str("BATCH_STAGING_S3_ADDRESSING_STYLE", "auto"),
    "access_key_id": env_str("BATCH_STAGING_S3_ACCESS_KEY_ID"),
    "secret_access_key": env_secret("BATCH_STAGING_S3_SECRET_ACCESS_KEY", required=False),
}
if BATCH_STAGING_S3["addressing_style"] not in {"auto", "path", "virtual"}:
    raise ImproperlyConfigured("BATCH_STAGING_S3_ADDRESSING_STYLE must be auto, path or virtual.")

# Django keeps request bodies up to this size in memory; larger uploads stream to a temp file.
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024


# --- Email --------------------------------------------------------------------------------------
EMAIL_BACKEND = env_str(
    "EMAIL_BACKEND",
    "django.core.mail.backends.console.EmailBackend"
    if not env_str("EMAIL_HOST")
    else "django.core.mail.backends.smtp.EmailBackend",
)
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 587, min_value=1, max_value=65535)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_secret("EMAIL_HOST_PASSWORD", required=False)
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", True)
EMAIL_TIMEOUT = 20
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "ARV <noreply@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL


# --- Telegram (expiry reminders and monthly reports) -------------------------------------------------
TELEGRAM_BOT_TOKEN = env_secret("TELEGRAM_BOT_TOKEN", required=False)
# The Bot API base URL; tests point it at a local HTTP server.
TELEGRAM_API_URL = env_url("TELEGRAM_API_URL", "https://api.telegram.org")


# --- Security -----------------------------------------------------------------------------------
# Served over https (SITE_URL), cookies are https-only and browsers are told to stay on https;
# the embedded http://127.0.0.1 setup keeps working with each of these off.
SECURE_COOKIES = env_bool("SECURE_COOKIES", _site_is_https)
SESSION_COOKIE_SECURE = SECURE_COOKIES
CSRF_COOKIE_SECURE = SECURE_COOKIES
SESSION_COOKIE_HTTPONLY = True
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", _site_is_https)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000 if _site_is_https else 0, min_value=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", _site_is_https)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", _site_is_https)
SILENCED_SYSTEM_CHECKS = []
if _site_is_https and not SECURE_HSTS_PRELOAD:
    # Opting out of the preload list is a deliberate choice (SECURE_HSTS_PRELOAD=0), not an oversight.
    SILENCED_SYSTEM_CHECKS.append("security.W021")
# Behind reverse proxies (nginx, a load balancer, a CDN), the app trusts what the nearest one says
# about the scheme (X-Forwarded-Proto) and the NUM_PROXIES entries the proxies appended to
# X-Forwarded-For, counted from the right (arv/addresses.py); everything else a client may forge.
BEHIND_PROXY = env_bool("BEHIND_PROXY", False)
NUM_PROXIES = env_int("NUM_PROXIES", 1 if BEHIND_PROXY else 0, min_value=0, max_value=10)
if NUM_PROXIES and not BEHIND_PROXY:
    raise ImproperlyConfigured(
        f"NUM_PROXIES={NUM_PROXIES} needs BEHIND_PROXY=1: X-Forwarded-For is only trusted behind a proxy."
    )
if BEHIND_PROXY and not NUM_PROXIES:
    raise ImproperlyConfigured(
        "BEHIND_PROXY=1 needs NUM_PROXIES of at least 1 (the proxies that append to X-Forwarded-For): "
        "with 0 every visitor would share the proxy's address, and one visitor's limits would lock out all."
    )
if BEHIND_PROXY:
    # Only behind a proxy that sets this header itself; otherwise clients could spoof https.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# DRF reads X-Forwarded-For on its own in places (its throttles' get_ident, which ours replace
# with lib.addresses): it must count the same proxies.
REST_FRAMEWORK["NUM_PROXIES"] = NUM_PROXIES
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "strict-origin-when-cross-origin"
X_FRAME_OPTIONS = "DENY"


# --- Viewer and analytics -------------------------------------------------------------------------
# How visitors' IP addresses are kept in view sessions: "anonymized" (/24 or /48) or "none".
VIEWER_IP_STORAGE = env_str("VIEWER_IP_STORAGE", "anonymized")
if VIEWER_IP_STORAGE not in {"anonymized", "none"}:
    raise ImproperlyConfigured(f"VIEWER_IP_STORAGE={VIEWER_IP_STORAGE!r} must be 'anonymized' or 'none'.")
# Seconds each web process reuses a rendered viewer page (0: off); changes show up this late.
VIEWER_PAGE_CACHE_SECONDS = env_int("VIEWER_PAGE_CACHE_SECONDS", 10, min_value=0, max_value=300)
# Page loads are added up per process and written every this many seconds (0: one UPDATE per load).
VIEWS_FLUSH_SECONDS = env_int("VIEWS_FLUSH_SECONDS", 1, min_value=0, max_value=60)
# A client's repeated loads of one photo's page within this many seconds count as one view
# (0: every load counts), so a reload storm cannot inflate the views counter.
VIEW_COUNT_WINDOW_SECONDS = env_int("VIEW_COUNT_WINDOW_SECONDS", 60, min_value=0, max_value=24 * 3600)
# Beacon posts allowed per client (an IPv4 address or an IPv6 /64) per minute.
BEACON_RATE_PER_MINUTE = env_int("BEACON_RATE_PER_MINUTE", 120, min_value=1)
# Raw view sessions older than this many days are rolled up into daily totals (and the raw rows,
# with their user agents and IPs, deleted) by an hourly job; 0 keeps them forever. See
# viewer/retention.py for what stays exact.
ANALYTICS_RAW_RETENTION_DAYS = env_int("ANALYTICS_RAW_RETENTION_DAYS", 0, min_value=0, max_value=100 * 365)

# --- Studios' own viewer domains ----------------------------------------------------------------
# Proof of control is looked up with these DNS servers (empty: the system's resolver) and fetched
# over HTTP with these ports; tests point them at servers of their own.
DOMAIN_CHECK_NAMESERVERS = env_list("DOMAIN_CHECK_NAMESERVERS", [])
DOMAIN_CHECK_DNS_PORT = env_int("DOMAIN_CHECK_DNS_PORT", 53, min_value=1, max_value=65535)
DOMAIN_CHECK_HTTP_PORT = env_int("DOMAIN_CHECK_HTTP_PORT", 80, min_value=1, max_value=65535)
DOMAIN_CHECK_HTTPS_PORT = env_int("DOMAIN_CHECK_HTTPS_PORT", 443, min_value=1, max_value=65535)
# Seconds per DNS query, connection and read.
DOMAIN_CHECK_TIMEOUT = env_int("DOMAIN_CHECK_TIMEOUT", 4, min_value=1, max_value=30)
# The file check refuses names resolving to private, loopback or reserved addresses unless this is
# on (an on-premises install whose studios' domains live on the local network).
DOMAIN_CHECK_ALLOW_PRIVATE = env_bool("DOMAIN_CHECK_ALLOW_PRIVATE", False)
# A verified domain whose proof is gone this long stops being used (and served).
DOMAIN_GRACE_DAYS = env_int("DOMAIN_GRACE_DAYS", 7, min_value=1, max_value=365)
for _ns in DOMAIN_CHECK_NAMESERVERS:
    try:
        ipaddress.ip_address(_ns)
    except ValueError:
        raise ImproperlyConfigured(f"DOMAIN_CHECK_NAMESERVERS: {_ns!r} is not an IP address.") from None

# --- Webhooks ---------------------------------------------------------------------------------------
# Off: webhooks go to public addresses only. On (an on-premises install whose order system is on
# the local network): loopback and private addresses are allowed too; link-local, multicast and
# unspecified ones never are.
WEBHOOK_ALLOW_PRIVATE_TARGETS = env_bool("WEBHOOK_ALLOW_PRIVATE_TARGETS", False)
# Seconds to connect, per read, and for the whole request.
WEBHOOK_CONNECT_TIMEOUT = env_int("WEBHOOK_CONNECT_TIMEOUT", 5, min_value=1, max_value=60)
WEBHOOK_READ_TIMEOUT = env_int("WEBHOOK_READ_TIMEOUT", 10, min_value=1, max_value=120)
WEBHOOK_TOTAL_TIMEOUT = env_int("WEBHOOK_TOTAL_TIMEOUT", 30, min_value=1, max_value=300)
# Extra CA certificates (a PEM file) that receivers' https certificates may chain to, for an
# internal CA; empty: the system's trust store.
WEBHOOK_CA_FILE = env_str("WEBHOOK_CA_FILE", "")
# Days the delivery log keeps finished deliveries.
WEBHOOK_LOG_RETENTION_DAYS = env_int("WEBHOOK_LOG_RETENTION_DAYS", 30, min_value=1, max_value=3650)

# Fernet keys for stored credentials and webhook secrets, newest first (see companies/crypto.py).
FIELD_ENCRYPTION_KEYS = env_list("FIELD_ENCRYPTION_KEYS", [])

# --- Logging ------------------------------------------------------------------------------------
LOG_LEVEL = env_str("LOG_LEVEL", "INFO").upper()
if LOG_LEVEL not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
    raise ImproperlyConfigured(f"LOG_LEVEL={LOG_LEVEL!r} is not one of DEBUG, INFO, WARNING, ERROR.")
# JSON lines for a log collector in production; text for a person at `make run`/`make dev`.
LOG_FORMAT = env_str("LOG_FORMAT", "text" if DEBUG or SERVE_URL else "json")
if LOG_FORMAT not in {"text", "json"}:
    raise ImproperlyConfigured(f"LOG_FORMAT={LOG_FORMAT!r} must be 'text' or 'json'.")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "lib.logging.RequestIdFilter"}},
    "formatters": {
        "json": {"()": "lib.logging.JsonFormatter"},
        "text": {"format": "%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["request_id"],
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        # The worker's own lines (several per task, every scheduled run every minute) are for a log
        # collector; at `make run` they would bury everything else, and the jobs log what they did.
        "django-q": {
            "level": "WARNING" if SERVE_URL and LOG_LEVEL == "INFO" else LOG_LEVEL,
            "handlers": ["console"],
            "propagate": False,
        },
    },
}
