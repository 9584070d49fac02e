from django.apps import AppConfig


class CoreConfig(AppConfig):
    """What every app shares: staff roles, the finance API's auth and idempotency keys."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "core"
    verbose_name = "Staff and API"

    def ready(self) -> None:
        # Registers the user_logged_in receiver that starts a staff session's clocks.
        from core import security  # noqa: F401
