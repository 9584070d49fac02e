from django.apps import AppConfig


class ConsoleConfig(AppConfig):
    """The staff console: one search for any id, the order's refund page, the finance API's
    order and refund endpoints and the staff search endpoint."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "console"
    verbose_name = "Staff console"
