"""Settings shared by every environment.

Every value comes from the environment through django-environ; `.env.example` lists them all.
Defaults here are the embedded, local ones. `production.py` removes the defaults for secrets.
"""

from datetime import timedelta
from pathlib import Path
from typing import Any

import environ
from csp.constants import NONCE, NONE, SELF
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()
if (BASE_DIR / ".env").exists():
    environ.Env.read_env(BASE_DIR / ".env")

# ---------------------------------------------------------------------------- core
SECRET_KEY = env("DJANGO_SECRET_KEY", default="insecure-local-only-key-do-not-use-in-production")
DEBUG = env.bool("DJANGO_DEBUG", default=False)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"])
SITE_URL = env("SITE_URL", default="http://127.0.0.1:8000")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "django_celery_beat",
    "simple_history",
    "csp",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "core",
    "orders",
    "payments",
    "reconciliation",
    "disputes",
    "billing",
    "console",
]

MIDDLEWARE = [
    # First, so that every log line of the request carries its id.
    "core.context.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Content-Security-Policy with the configured Stripe origins (core/csp.py).
    "core.csp.StripeCSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # request.user.is_verified(): the staff member's second factor in this session.
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # Order history rows name the staff user of the request that changed the order.
    "simple_history.middleware.HistoryRequestMiddleware",
    # Staff: idle and absolute session limits, and the second factor before any admin page.
    "core.security.StaffSecurityMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: turns a locked-out login into its lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

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
            ],
        },
    },
]


# ---------------------------------------------------------------------------- page defences
# https://django-csp.readthedocs.io/en/latest/configuration.html (django-csp 4). Our own origin
# only; core.csp.StripeCSPMiddleware adds the configured Stripe origins to script-src, style-src,
# connect-src, frame-src and form-action. Inline <script>/<style> carry the request's nonce.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF, NONCE],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "frame-src": [SELF],
        "form-action": [SELF],
        "object-src": [NONE],
        "base-uri": [NONE],
        "frame-ancestors": [NONE],
    },
}
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"


# ---------------------------------------------------------------------------- database
# https://django-environ.readthedocs.io/en/latest/types.html#environ-env-db-url
def database_from_env(default: Any = environ.Env.NOTSET) -> dict[str, Any]:
    """`DATABASE_URL` (required unless a default is given) with the options its engine needs
    here; every settings module builds its database with this."""
    database: dict[str, Any] = env.db("DATABASE_URL", default=default)
    database["ATOMIC_REQUESTS"] = False
    options = database.setdefault("OPTIONS", {})
    if database["ENGINE"] == "django.db.backends.sqlite3":
        # The embedded default: web server and worker write to one file. WAL lets readers go on
        # during a write; IMMEDIATE transactions queue for the write lock (up to `timeout`)
        # instead of failing half-way with "database is locked".
        options.update(
            {"transaction_mode": "IMMEDIATE", "timeout": 20, "init_command": "PRAGMA journal_mode=WAL;"}
        )
    if database["ENGINE"] == "django.db.backends.postgresql":
        # Parameters bound on the server, so psycopg prepares the statements the inbox and the
        # worker repeat (the event insert, the order lock) and PostgreSQL stops parsing and
        # planning them each time. Behind PgBouncer in transaction mode this needs
        # `max_prepared_statements` (1.21+), or DATABASE_SERVER_SIDE_BINDING=false.
        options["server_side_binding"] = env.bool("DATABASE_SERVER_SIDE_BINDING", default=True)
    return database


DATABASES = {"default": database_from_env(default=f"sqlite:///{BASE_DIR / 'var' / 'db.sqlite3'}")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# ---------------------------------------------------------------------------- staff accounts
# django-axes first: it refuses a locked-out username or address before the password is checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# https://django-axes.readthedocs.io/en/latest/4_configuration.html: after AXES_FAILURE_LIMIT
# failed logins for one username, or from one address, logins are refused for the cool-off
# (extended by every refused attempt). A success resets that username's count. Successful logins
# are kept in Axes' access logs, failed ones in its access attempts and failure logs.
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True
AXES_ENABLE_ACCESS_FAILURE_LOG = True
AXES_CLIENT_IP_CALLABLE = "core.security.client_ip"
AXES_LOCKOUT_CALLABLE = "core.security.login_locked_out"
# How many proxies of ours rewrite X-Forwarded-For in front of the web processes (0: none, use
# REMOTE_ADDR). Login throttling and the card-testing limits count by this address.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
# Staff sessions: 30 minutes idle, 12 hours in all; money actions want a password or a code from
# the last 10 minutes (core.security.require_recent_auth).
STAFF_SESSION_IDLE_SECONDS = env.int("STAFF_SESSION_IDLE_SECONDS", default=30 * 60)
STAFF_SESSION_MAX_SECONDS = env.int("STAFF_SESSION_MAX_SECONDS", default=12 * 3600)
RECENT_AUTH_SECONDS = env.int("RECENT_AUTH_SECONDS", default=10 * 60)
# The name authenticator apps show next to the code.
OTP_TOTP_ISSUER = env("OTP_TOTP_ISSUER", default="Payments back office")
# The admin never shows a device's key or QR code (or recovery codes): an administrator could
# otherwise copy another staff member's second factor.
OTP_ADMIN_HIDE_SENSITIVE_DATA = True
LOGIN_URL = "admin:login"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-gb"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"

# ---------------------------------------------------------------------------- cache
# Login throttling alerts and the card-testing counters. Shared by every process in production:
# CACHE_URL=redis://host:6379/1. The default is per process, for the embedded default and tests.
CACHES = {"default": env.cache("CACHE_URL", default="locmemcache://")}

# ---------------------------------------------------------------------------- card testing
# payments/card_testing.py: payment attempts (orders placed, payment pages opened, declines)
# allowed per browser session, per address and per email within the window; then 429.
CARD_TESTING_WINDOW_SECONDS = env.int("CARD_TESTING_WINDOW_SECONDS", default=3600)
CARD_TESTING_MAX_PER_SESSION = env.int("CARD_TESTING_MAX_PER_SESSION", default=15)
CARD_TESTING_MAX_PER_ADDRESS = env.int("CARD_TESTING_MAX_PER_ADDRESS", default=30)
CARD_TESTING_MAX_PER_EMAIL = env.int("CARD_TESTING_MAX_PER_EMAIL", default=15)
# Staff are alerted when the shop's declines reach this many within the decline window.
CARD_TESTING_DECLINE_ALERT_THRESHOLD = env.int("CARD_TESTING_DECLINE_ALERT_THRESHOLD", default=20)
CARD_TESTING_DECLINE_WINDOW_SECONDS = env.int("CARD_TESTING_DECLINE_WINDOW_SECONDS", default=600)

# ---------------------------------------------------------------------------- celery
# https://docs.celeryq.dev/en/stable/userguide/configuration.html
# The embedded default has no Redis: kombu's filesystem transport keeps messages in var/broker.
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default="filesystem://")
CELERY_BROKER_TRANSPORT_OPTIONS = (
    {
        "data_folder_in": str(BASE_DIR / "var" / "broker"),
        "data_folder_out": str(BASE_DIR / "var" / "broker"),
        "processed_folder": str(BASE_DIR / "var" / "broker-processed"),
        "control_folder": str(BASE_DIR / "var" / "broker-control"),
        "store_processed": False,
    }
    if CELERY_BROKER_URL.startswith("filesystem")
    else {"visibility_timeout": 3600}
)
CELERY_RESULT_BACKEND = None
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
# Late acknowledgement: a worker killed half-way leaves the message on the broker to run again.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ALWAYS_EAGER = False
# One scheduler however many beats run: it sends only while it holds a PostgreSQL advisory lock.
CELERY_BEAT_SCHEDULER = "core.beat:SingleBeatScheduler"
# Queues by job, so slow work never sits in front of a paid order: webhooks and fulfillment
# (the default), confirmation emails, and finance (reconciliation, disputes). Each queue gets its
# own workers in production (Procfile); the embedded default's one worker consumes all three.
# CELERY_QUEUE_PREFIX keeps two deployments (or two test runs) on one broker apart.
QUEUE_PREFIX = env("CELERY_QUEUE_PREFIX", default="")
QUEUE_WEBHOOKS = f"{QUEUE_PREFIX}webhooks"
QUEUE_EMAILS = f"{QUEUE_PREFIX}emails"
QUEUE_FINANCE = f"{QUEUE_PREFIX}finance"
CELERY_TASK_DEFAULT_QUEUE = QUEUE_WEBHOOKS
CELERY_TASK_ROUTES = {
    "orders.send_*": {"queue": QUEUE_EMAILS},
    "reconciliation.*": {"queue": QUEUE_FINANCE},
    "disputes.*": {"queue": QUEUE_FINANCE},
    "billing.send_*": {"queue": QUEUE_EMAILS},
    "billing.*": {"queue": QUEUE_FINANCE},
}
CELERY_TIMEZONE = TIME_ZONE

# ---------------------------------------------------------------------------- stripe
# https://docs.stripe.com/keys
STRIPE_SECRET_KEY = env("STRIPE_SECRET_KEY", default="sk_test_emulator")
STRIPE_PUBLISHABLE_KEY = env("STRIPE_PUBLISHABLE_KEY", default="pk_test_emulator")
# Several secrets, comma-separated: while a rolled secret is alive Stripe signs with both.
STRIPE_WEBHOOK_SECRETS = env.list("STRIPE_WEBHOOK_SECRETS", default=["whsec_emulator_local"])
# Empty means real Stripe (https://api.stripe.com); the embedded default points at the emulator.
STRIPE_API_BASE = env("STRIPE_API_BASE", default="http://127.0.0.1:12111")
# Where the browser loads Stripe.js from: https://js.stripe.com/v3/ for real Stripe.
STRIPE_JS_URL = env("STRIPE_JS_URL", default="")
# Pinned to the version the installed SDK's types were generated for.
STRIPE_API_VERSION = env("STRIPE_API_VERSION", default="2026-10-28.endive")
STRIPE_MAX_NETWORK_RETRIES = env.int("STRIPE_MAX_NETWORK_RETRIES", default=2)
STRIPE_CONNECT_TIMEOUT = env.float("STRIPE_CONNECT_TIMEOUT", default=5.0)
STRIPE_READ_TIMEOUT = env.float("STRIPE_READ_TIMEOUT", default=30.0)
# Our own retry for what the SDK does not retry (rate-limit 429s): attempts and backoff cap.
STRIPE_RATE_LIMIT_RETRIES = env.int("STRIPE_RATE_LIMIT_RETRIES", default=4)
STRIPE_RETRY_BASE_DELAY = env.float("STRIPE_RETRY_BASE_DELAY", default=0.5)
STRIPE_RETRY_MAX_DELAY = env.float("STRIPE_RETRY_MAX_DELAY", default=8.0)
# The account's API budget (payments/stripe_budget.py): one token bucket for every process, in
# Redis at this URL (empty: in this process's memory, for the embedded one-process default).
STRIPE_RATE_LIMIT_URL = env("STRIPE_RATE_LIMIT_URL", default="")
# Requests a second per mode and kind, below Stripe's limits (docs.stripe.com/rate-limits: 25/s
# test, 100/s live, search and files 20/s each); 0 turns a budget off.
STRIPE_RATE_LIMITS = {
    "test": {
        "default": env.float("STRIPE_RATE_LIMIT_TEST", default=20.0),
        "search": env.float("STRIPE_RATE_LIMIT_SEARCH", default=16.0),
        "files": env.float("STRIPE_RATE_LIMIT_FILES", default=16.0),
    },
    "live": {
        "default": env.float("STRIPE_RATE_LIMIT_LIVE", default=80.0),
        "search": env.float("STRIPE_RATE_LIMIT_SEARCH", default=16.0),
        "files": env.float("STRIPE_RATE_LIMIT_FILES", default=16.0),
    },
}
# The share of each bucket background calls may never take: it is kept for waiting customers.
STRIPE_RATE_LIMIT_CUSTOMER_RESERVE = env.float("STRIPE_RATE_LIMIT_CUSTOMER_RESERVE", default=0.25)
# The longest a call waits for a token before it is sent anyway (then our 429 retry applies).
STRIPE_RATE_LIMIT_MAX_WAIT = {
    "customer": env.float("STRIPE_RATE_LIMIT_CUSTOMER_MAX_WAIT", default=3.0),
    "background": env.float("STRIPE_RATE_LIMIT_BACKGROUND_MAX_WAIT", default=120.0),
}
# At most one alert in this many seconds when Stripe's 429s reach customers.
STRIPE_RATE_LIMIT_ALERT_SECONDS = env.int("STRIPE_RATE_LIMIT_ALERT_SECONDS", default=300)
# 3-D Secure on every PaymentIntent and Checkout Session
# (payment_method_options.card.request_three_d_secure): "automatic" (Stripe and Radar decide),
# "any" (whenever the card supports it: the fraud liability shifts to the issuer) or "challenge".
STRIPE_REQUEST_THREE_D_SECURE = env("STRIPE_REQUEST_THREE_D_SECURE", default="automatic")
if STRIPE_REQUEST_THREE_D_SECURE not in ("automatic", "any", "challenge"):
    raise ImproperlyConfigured("STRIPE_REQUEST_THREE_D_SECURE must be automatic, any or challenge")
# https://docs.stripe.com/webhooks#verify-events — the SDK's default tolerance.
STRIPE_WEBHOOK_TOLERANCE = env.int("STRIPE_WEBHOOK_TOLERANCE", default=300)
STRIPE_WEBHOOK_MAX_BYTES = env.int("STRIPE_WEBHOOK_MAX_BYTES", default=512 * 1024)

# ---------------------------------------------------------------------------- alerts
# Alerts carry identifiers only (order number, pi_…), never personal or card data.
ALERT_EMAILS = env.list("ALERT_EMAILS", default=[])
ALERT_CHAT_WEBHOOK_URL = env("ALERT_CHAT_WEBHOOK_URL", default="")
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="shop@localhost")
EMAIL_BACKEND = env("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
# Only for django.core.mail.backends.filebased.EmailBackend: the folder it writes messages to.
EMAIL_FILE_PATH = env("EMAIL_FILE_PATH", default=str(BASE_DIR / "var" / "mail"))

# ---------------------------------------------------------------------------- metrics
# GET /metrics (Prometheus) answers only `Authorization: Bearer <METRICS_TOKEN>`; unset: no metrics.
METRICS_TOKEN = env("METRICS_TOKEN", default="")

# ---------------------------------------------------------------------------- disputes
# What the dispute evidence says about the shop's policies and where the customer saw them
# (evidence[refund_policy_disclosure] etc., https://docs.stripe.com/disputes/best-practices).
DISPUTE_SHOP_NAME = env("DISPUTE_SHOP_NAME", default="Analytical Engine Posters")
DISPUTE_REFUND_POLICY = env(
    "DISPUTE_REFUND_POLICY",
    default="Unused items can be returned within 30 days of delivery for a full refund.",
)
DISPUTE_CANCELLATION_POLICY = env(
    "DISPUTE_CANCELLATION_POLICY",
    default="An order can be cancelled free of charge until it has been dispatched.",
)
DISPUTE_REFUND_POLICY_DISCLOSURE = env(
    "DISPUTE_REFUND_POLICY_DISCLOSURE",
    default=(
        "The refund policy is linked on the checkout page, next to the Pay button, and in the "
        "confirmation email."
    ),
)
DISPUTE_CANCELLATION_POLICY_DISCLOSURE = env(
    "DISPUTE_CANCELLATION_POLICY_DISCLOSURE",
    default="The cancellation policy is linked on the checkout page and in the confirmation email.",
)
# Stripe's documented limit per evidence file (https://docs.stripe.com/file-upload).
DISPUTE_EVIDENCE_MAX_FILE_BYTES = env.int("DISPUTE_EVIDENCE_MAX_FILE_BYTES", default=4 * 1024 * 1024)

# ---------------------------------------------------------------------------- logging
LOG_FORMAT = env("LOG_FORMAT", default="text")  # "json" in production
LOG_LEVEL = env("LOG_LEVEL", default="INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "mask_secrets": {"()": "config.logging.MaskSecretsFilter"},
        "context": {"()": "core.context.ContextFilter"},
    },
    "formatters": {
        "text": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json": {"()": "config.logging.JsonFormatter"},
        "django.server": {
            "()": "django.utils.log.ServerFormatter",
            "format": "[{server_time}] {message}",
            "style": "{",
        },
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["context", "mask_secrets"],
        },
        # The dev server's access log (`runserver`): Django's own handler and format, with the
        # mask, since the Payment Element's return URL carries the client secret.
        "django.server": {
            "class": "logging.StreamHandler",
            "formatter": "django.server",
            "filters": ["mask_secrets"],
        },
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "stripe": {"level": "WARNING"},
        "django.db.backends": {"level": "INFO"},
        "django.server": {"handlers": ["django.server"], "level": "INFO", "propagate": False},
    },
}

# The finance and staff API (/api/): a token (`Authorization: Token <key>`, listed first so an
# anonymous request gets 401 with WWW-Authenticate rather than 403) or an admin session. The
# customer pages' small JSON endpoints set their own (none).
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        # An admin session, only once its second factor was verified (core/security.py).
        "core.security.VerifiedSessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["core.permissions.IsSupport"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_SCHEMA_CLASS": "core.schema.FinanceAutoSchema",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Finance and staff API",
    "DESCRIPTION": "Payouts, discrepancies, disputes, orders, refunds; money in minor units, times in UTC.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["core.permissions.IsSupport"],
    "SCHEMA_PATH_PREFIX": "/api/",
}

# ---------------------------------------------------------------------------- audit
# https://django-simple-history.readthedocs.io/en/latest/
# Order history is a record of what happened, never a way to undo it: Stripe is the ledger.
SIMPLE_HISTORY_REVERT_DISABLED = True
