from django.apps import AppConfig
from django.conf import settings


class PaymentsConfig(AppConfig):
    name = "payments"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from axes.signals import user_locked_out

        from config.checks import check_stripe_keys
        from payments.alerts import alert_login_locked_out

        user_locked_out.connect(alert_login_locked_out, dispatch_uid="payments.alerts.login_locked_out")

        # On the final settings of whichever module is in use, so local's DEBUG=True counts.
        check_stripe_keys(
            secret_key=settings.STRIPE_SECRET_KEY,
            publishable_key=settings.STRIPE_PUBLISHABLE_KEY,
            debug=settings.DEBUG,
        )
