"""Tests: PostgreSQL (row locks and constraints are under test), in-memory broker unless a test
starts a real worker, fast password hashing, email kept in memory."""

from .base import *  # noqa: F403
from .base import database_from_env, env

DATABASES = {"default": database_from_env(default="postgres://postgres@127.0.0.1:5432/payments")}
DATABASES["default"]["TEST"] = {"NAME": env("TEST_DATABASE_NAME", default="test_payments")}
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default="memory://")
CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {}  # type: ignore[no-redef]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
# Environment overrides exist for the worker processes that some tests start.
STRIPE_SECRET_KEY = env("STRIPE_SECRET_KEY", default="sk_test_suite")
STRIPE_PUBLISHABLE_KEY = env("STRIPE_PUBLISHABLE_KEY", default="pk_test_suite")
STRIPE_WEBHOOK_SECRETS = env.list(
    "STRIPE_WEBHOOK_SECRETS", default=["whsec_test_suite_current", "whsec_test_suite_previous"]
)
# Tests point the gateway at the emulator fixture's address; nothing may reach api.stripe.com.
STRIPE_API_BASE = env("STRIPE_API_BASE", default="http://127.0.0.1:9")
STRIPE_RETRY_BASE_DELAY = 0.01
STRIPE_RETRY_MAX_DELAY = 0.05
# A budget far above what a test sends, so only the tests of the budget (which set their own
# figures) ever wait for it.
_RATE = env.float("STRIPE_RATE_LIMIT_TEST", default=1000.0)
STRIPE_RATE_LIMITS = {mode: dict.fromkeys(("default", "search", "files"), _RATE) for mode in ("test", "live")}
