from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate


class CoreConfig(AppConfig):
    """What every app shares: staff roles, the finance API's auth and idempotency keys."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "core"
    verbose_name = "Staff and API"

    def ready(self) -> None:
        # Registers the user_logged_in receiver that starts a staff session's clocks, and the
        # schema's extension for the verified session auth.
        from core import schema, security  # noqa: F401
        from core.roles import role_permissions_grant

        def grant(sender: AppConfig, using: str = "default", **kwargs: Any) -> None:
            role_permissions_grant(app_label=sender.label, using=using)

        # After auth's own handler has created the permissions of `sender` (it connected first).
        post_migrate.connect(grant, weak=False, dispatch_uid="core.roles.role_permissions_grant")
