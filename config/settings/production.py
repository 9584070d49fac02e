"""Production: every secret from the environment with no default, JSON logs, secure cookies.

A missing variable stops start-up with django-environ's ImproperlyConfigured, which names it
("Set the STRIPE_SECRET_KEY environment variable").
"""

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403
from .base import LOGGING, database_from_env, env

DEBUG = env.bool("DJANGO_DEBUG", default=False)
SECRET_KEY = env("DJANGO_SECRET_KEY")
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS")
SITE_URL = env("SITE_URL")
DATABASES = {"default": database_from_env()}
# Persistent connections (https://docs.djangoproject.com/en/5.2/ref/databases/#persistent-connections):
# opening one per request or task (Django's default, 0) costs PostgreSQL a backend process each
# time, several times the webhook's whole request path. The health check drops a connection that
# died between requests instead of failing the next one. `?conn_max_age=0` in DATABASE_URL wins.
DATABASES["default"].setdefault("CONN_MAX_AGE", 60)
DATABASES["default"].setdefault("CONN_HEALTH_CHECKS", True)
CELERY_BROKER_URL = env("CELERY_BROKER_URL")
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}

STRIPE_SECRET_KEY = env("STRIPE_SECRET_KEY")
STRIPE_PUBLISHABLE_KEY = env("STRIPE_PUBLISHABLE_KEY")
STRIPE_WEBHOOK_SECRETS = env.list("STRIPE_WEBHOOK_SECRETS")
STRIPE_API_BASE = env("STRIPE_API_BASE", default="")
STRIPE_JS_URL = env("STRIPE_JS_URL", default="https://js.stripe.com/v3/")
if not STRIPE_WEBHOOK_SECRETS:
    raise ImproperlyConfigured("Set the STRIPE_WEBHOOK_SECRETS environment variable")
EMAIL_BACKEND = env("EMAIL_BACKEND", default="django.core.mail.backends.smtp.EmailBackend")

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_CONTENT_TYPE_NOSNIFF = True
# HTTPS only (https://docs.djangoproject.com/en/5.2/ref/middleware/#http-strict-transport-security).
# On by default; a deployment that terminates TLS somewhere that cannot send X-Forwarded-Proto,
# or a loopback test, turns them off or down by environment. The health check answers plain HTTP
# too, for load balancers that probe without TLS.
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
# security.W021 (HSTS preload off): joining the browsers' preload list is a commitment the
# domain's owner makes for every subdomain, hard to undo; SECURE_HSTS_PRELOAD=true opts in.
SILENCED_SYSTEM_CHECKS = ["security.W021"]

LOGGING["handlers"]["console"]["formatter"] = env("LOG_FORMAT", default="json")  # type: ignore[index]
