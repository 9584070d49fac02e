from django.apps import AppConfig


class CoreConfig(AppConfig):
    """What every app shares: staff roles, the finance API's auth and idempotency keys, the
    idempotency keys of business operations, the drain wake-ups and database helpers."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "core"
    verbose_name = "Staff and API"
