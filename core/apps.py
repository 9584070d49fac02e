from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _grant(sender: AppConfig, using: str = "default", **kwargs: Any) -> None:
    from core.roles import role_permissions_grant

    role_permissions_grant(app_label=sender.label, using=using)


class CoreConfig(AppConfig):
    """What every app shares: staff roles, the finance API's auth and idempotency keys, the
    idempotency keys of business operations, the drain wake-ups and database helpers."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "core"
    verbose_name = "Staff and API"

    def ready(self) -> None:
        # After auth's own handler has created the permissions of `sender` (it connected first).
        post_migrate.connect(_grant, dispatch_uid="core.roles.role_permissions_grant")
