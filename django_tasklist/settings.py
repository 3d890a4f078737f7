"""Settings for django_tasklist.

Every value that differs between a laptop and production is read from the
environment here and nowhere else. The variables are listed in the README.
Development defaults exist only where they are safe: outside development mode
a missing secret key or database URL stops the app at start.
"""

import os
import sys
from datetime import timedelta
from pathlib import Path

from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

from django_tasklist.database import database_from_url
from django_tasklist.environment import env_bool, env_choice, env_list, env_number, env_text
from django_tasklist.logs import logging_settings
from mc_tasklist.caching import keys as caching_keys
from mc_tasklist.connections import DeadlineConnection

BASE_DIR = Path(__file__).resolve().parent.parent


# The tutorial's default: a fresh checkout runs on SQLite without configuration.
DEVELOPMENT_MODE = env_bool("DEVELOPMENT_MODE", True)
DEBUG = env_bool("DEBUG", DEVELOPMENT_MODE)

# The build step collects static files; it needs neither the database nor the secret key,
# so the spec gives the key to the running app only.
BUILDING = sys.argv[1:2] == ["collectstatic"]

SECRET_KEY = env_text("DJANGO_SECRET_KEY")
if not SECRET_KEY:
    if BUILDING:
        SECRET_KEY = "collectstatic-only-" + os.urandom(16).hex()
    elif not DEVELOPMENT_MODE:
        # The tutorial falls back to a random key, which differs in every gunicorn
        # worker: sessions and CSRF tokens made by one worker fail in the others.
        raise ImproperlyConfigured("DJANGO_SECRET_KEY must be set when DEVELOPMENT_MODE is False")
    else:
        SECRET_KEY = "django-insecure-development-only-key-do-not-deploy"
elif not DEVELOPMENT_MODE and (
    SECRET_KEY.startswith("django-insecure") or len(SECRET_KEY) < 50 or len(set(SECRET_KEY)) < 5
):
    # Django's own test for a weak key (check --deploy, security.W009), enforced at start.
    raise ImproperlyConfigured(
        "DJANGO_SECRET_KEY is too weak for production: use 50 or more random characters, "
        "e.g. python3 -c 'import secrets; print(secrets.token_urlsafe(50))'"
    )

ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    # Before staticfiles, so runserver serves static files the way production does.
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "sasl_memcached",
    # Throttles guessing at the admin's login (see AXES_ below).
    "axes",
    "mc_tasklist",
]

MIDDLEWARE = [
    "django_tasklist.health.HealthCheckMiddleware",
    # Outside everything that sets headers, so that HEAD gets all of them.
    "django_tasklist.head.HeadWithoutBodyMiddleware",
    "mc_tasklist.middleware.RequestDurationMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Before anything reads the body (CSRF does).
    "django_tasklist.limits.RequestBodyLimitMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_permissions_policy.PermissionsPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    # On, unlike the tutorial: the page cache stores pages without a token and
    # each response gets the visitor's own (see mc_tasklist/rendering.py).
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes requires: it answers a locked-out login with the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "django_tasklist.urls"
WSGI_APPLICATION = "django_tasklist.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        # The error pages are the project's; each app keeps its own templates.
        "DIRS": [BASE_DIR / "django_tasklist" / "templates"],
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

# Database
if DEVELOPMENT_MODE:
    DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": BASE_DIR / "db.sqlite3"}}
elif os.environ.get("DATABASE_URL"):
    # Each worker shares a small pool of connections among its threads (django_tasklist/database.py).
    DATABASES = database_from_url(
        env_text("DATABASE_URL"),
        pool_size=int(env_number("DATABASE_POOL_SIZE", 4)),
        connection_class=DeadlineConnection,
        conn_max_age=int(env_number("DATABASE_CONN_MAX_AGE", 0)),
        # migrate in the pre-deploy job, shell, cachestats: one connection's work, no pool.
        one_off_command=Path(sys.argv[0]).name in ("manage.py", "django-admin"),
    )
elif BUILDING:
    DATABASES = {}
else:
    raise ImproperlyConfigured("DATABASE_URL must be set when DEVELOPMENT_MODE is False")

# How long a request's statement may wait for PostgreSQL before it gets the 503 page; enforced on our
# side (mc_tasklist/connections.py), because a hung server never enforces its own statement_timeout.
# A write on a hung server pays at worst the pool's 0.5 s wait, the pool's check of the connection and
# its own statement: 1.5 s. The slowest statement a request makes, an old numbered link's index scan
# deep into a million tasks, takes about 0.2 s.
DATABASE_QUERY_TIMEOUT = env_number("DATABASE_QUERY_TIMEOUT", 0.5, minimum=0.01)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Cache. MEMCACHIER_SERVERS selects memcached; without it the cache lives in the
# process, which is right for one developer and wrong for several workers.
MEMCACHIER_SERVERS = env_list("MEMCACHIER_SERVERS", "", refuse_placeholder=True)
MEMCACHIER_USERNAME = env_text("MEMCACHIER_USERNAME")
MEMCACHIER_PASSWORD = env_text("MEMCACHIER_PASSWORD")
# TLS to memcached, for a server that offers it (memcached -Z): SASL PLAIN sends the
# password in the clear otherwise. The CA file is for a server with a private certificate.
TASKLIST_CACHE_TLS = env_bool("TASKLIST_CACHE_TLS", False)
TASKLIST_CACHE_TLS_CA_FILE = os.environ.get("TASKLIST_CACHE_TLS_CA_FILE", "").strip() or None

if MEMCACHIER_SERVERS:
    if bool(MEMCACHIER_USERNAME) != bool(MEMCACHIER_PASSWORD):
        raise ImproperlyConfigured(
            "Set both MEMCACHIER_USERNAME and MEMCACHIER_PASSWORD, or neither (memcached without SASL)"
        )
    CACHES = {
        "default": {
            "BACKEND": "sasl_memcached.backend.BinaryMemcachedCache",
            "LOCATION": MEMCACHIER_SERVERS,
            # Every entry expires: the caching layers pass their own timeouts,
            # and this bounds whatever else lands in the cache.
            "TIMEOUT": 24 * 60 * 60,
            "OPTIONS": {
                "username": MEMCACHIER_USERNAME or None,
                "password": MEMCACHIER_PASSWORD or None,
                # A hung server must cost a request at most this long, once;
                # then the server is skipped for retry_delay seconds.
                "socket_timeout": 0.2,
                "retry_delay": 3,
                "tls": TASKLIST_CACHE_TLS,
                "tls_ca_file": TASKLIST_CACHE_TLS_CA_FILE,
            },
        }
    }
elif MEMCACHIER_USERNAME or MEMCACHIER_PASSWORD:
    raise ImproperlyConfigured("MEMCACHIER_USERNAME or MEMCACHIER_PASSWORD is set but MEMCACHIER_SERVERS is not")
else:
    CACHES = {"default": {"BACKEND": "sasl_memcached.locmem.LocMemLeaseCache", "TIMEOUT": 24 * 60 * 60}}

# The task list's caching policy (mc_tasklist/caching/ reads these; mc_tasklist/checks.py checks them).
TASKLIST_CACHE_LAYERS = frozenset(env_list("TASKLIST_CACHE_LAYERS", ",".join(caching_keys.LAYERS)))
TASKLIST_INVALIDATION = env_choice("TASKLIST_INVALIDATION", "update", set(caching_keys.STRATEGIES))
TASKLIST_CACHE_TTL = int(env_number("TASKLIST_CACHE_TTL", 60, minimum=1))
# How long a process trusts the list's version it read from the database, and how long after its
# commit every write answers: so a read that starts after a write's answer uses a version read after
# its commit, whichever process serves it (docs/caching.md). Each process reads the version at most
# once per window: longer windows cost fewer reads and a slower redirect after each write.
TASKLIST_VERSION_WINDOW = env_number("TASKLIST_VERSION_WINDOW_MS", 5, minimum=0.1) / 1000
TASKLIST_QUERY_DELAY = env_number("TASKLIST_QUERY_DELAY", 0)
TASKLIST_PAGE_SIZE = int(env_number("TASKLIST_PAGE_SIZE", 50, minimum=1))
# The X-Cache header says how each page was served (page=hit, page=miss...). A miss right
# after a hit tells anyone watching that someone just wrote, so production keeps it in the
# request log line only, unless this turns it on.
TASKLIST_X_CACHE_HEADER = env_bool("TASKLIST_X_CACHE_HEADER", DEBUG)
# Warm page hits answered before Django's middleware (mc_tasklist/page_hits.py); False sends
# every request through Django, as the benchmark's comparison does.
TASKLIST_FAST_PAGE_HITS = env_bool("TASKLIST_FAST_PAGE_HITS", True)
# Additions and deletions a minute from one anonymous client; more get a 429. 0: no limit.
TASKLIST_ANON_WRITES_PER_MINUTE = int(env_number("TASKLIST_ANON_WRITES_PER_MINUTE", 30))
# The header in which the proxy in front of the app names the client's address (App Platform:
# DO-Connecting-IP). Empty: the address of the connection itself, for an app with no proxy.
TASKLIST_CLIENT_IP_HEADER = os.environ.get("TASKLIST_CLIENT_IP_HEADER", "").strip()
# How often each process adds its cache counters to the shared ones (mc_tasklist/stats.py).
TASKLIST_STATS_FLUSH_SECONDS = env_number("TASKLIST_STATS_FLUSH_SECONDS", 5, minimum=0.1)
# /metrics answers only a scraper sending this as its bearer token; unset, there is no /metrics.
TASKLIST_METRICS_TOKEN = os.environ.get("TASKLIST_METRICS_TOKEN", "").strip()

# Sessions in the cache, as the tutorial shows. cached_db survives a cache
# restart; cache is faster and loses every session when the cache is flushed.
SESSION_ENGINE = "django.contrib.sessions.backends." + env_choice(
    "TASKLIST_SESSION_ENGINE", "cached_db", {"cache", "cached_db"}
)
# Flash messages travel in a signed cookie, so they follow the visitor to any worker and
# an anonymous write stores no session row (nor reads one on the next page).
MESSAGE_STORAGE = "mc_tasklist.message_storage.VisitorMessageCookie"
TASKLIST_MESSAGES_COOKIE_NAME = "messages" if DEVELOPMENT_MODE else "__Host-messages"

# Logins: after AXES_FAILURE_LIMIT wrong passwords for one username from one client, that
# pair is locked out for the cool-off time (a 429 page), then may try again; a right
# password resets the count. By the pair, not the username alone, so that nobody can
# lock the staff out of their own admin from elsewhere.
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
AXES_FAILURE_LIMIT = int(env_number("TASKLIST_LOGIN_FAILURE_LIMIT", 5, minimum=1))
AXES_COOLOFF_TIME = timedelta(seconds=env_number("TASKLIST_LOGIN_COOLOFF_SECONDS", 15 * 60, minimum=1))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_CLIENT_IP_CALLABLE = "mc_tasklist.clients.client_address"
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "locked_out.html"

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
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEVELOPMENT_MODE
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

# Production security. App Platform ends TLS at its load balancer and forwards
# plain HTTP with X-Forwarded-Proto.
if not DEVELOPMENT_MODE:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    # The __Host- prefix: browsers accept these cookies only over HTTPS, for this host alone
    # (no Domain) and the whole site, so a sibling subdomain cannot set or shadow them.
    SESSION_COOKIE_NAME = "__Host-sessionid"
    CSRF_COOKIE_NAME = "__Host-csrftoken"
    # Start HSTS low and raise it once HTTPS is known to work everywhere.
    SECURE_HSTS_SECONDS = int(env_number("DJANGO_HSTS_SECONDS", 3600))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = env_bool("DJANGO_HSTS_PRELOAD", False)
    # Preloading is a promise about a domain you own; an *.ondigitalocean.app
    # name is not yours to preload, so it stays opt-in.
    SILENCED_SYSTEM_CHECKS = [] if SECURE_HSTS_PRELOAD else ["security.W021"]
SESSION_COOKIE_HTTPONLY = True
# The token reaches forms in the page; no script needs to read the cookie.
CSRF_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Everything the pages use comes from the app itself: no inline script or style,
# no CDN. Bootstrap's CSS draws a few icons from data: URIs.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "img-src": [SELF, "data:"],
        "object-src": [NONE],
        "base-uri": [NONE],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

# The page uses no browser feature beyond the page itself: deny them all, for it and any frame.
_DENIED_FEATURES = "accelerometer camera display-capture geolocation gyroscope magnetometer microphone payment"
PERMISSIONS_POLICY = {feature: [] for feature in f"{_DENIED_FEATURES} publickey-credentials-get usb".split()}

# Request bodies: the forms send a name or an id; the admin's bulk actions a list of ids.
# No form takes a file: a file part is refused as it begins (django_tasklist/limits.py).
DATA_UPLOAD_MAX_MEMORY_SIZE = 64 * 1024
FILE_UPLOAD_HANDLERS = ["django_tasklist.limits.RefuseFileUploads"]

LOGGING = logging_settings(env_choice("TASKLIST_LOG_LEVEL", "INFO", {"DEBUG", "INFO", "WARNING", "ERROR"}))
