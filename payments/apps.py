from django.apps import AppConfig
from django.conf import settings


class PaymentsConfig(AppConfig):
    name = "payments"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from axes.signals import user_locked_out
        from celery.signals import task_postrun, task_prerun

        from config.checks import check_stripe_keys
        from core.wakeups import wakeup_register
        from payments import stripe_budget
        from payments.alerts import alert_login_locked_out
        from payments.services.events.wakeup import DRAIN_WAKEUP, stripe_events_wake

        wakeup_register(name=DRAIN_WAKEUP, waker=stripe_events_wake)
        user_locked_out.connect(alert_login_locked_out, dispatch_uid="payments.alerts.login_locked_out")
        # A Celery task's Stripe calls are background unless its code says otherwise.
        task_prerun.connect(stripe_budget.task_started, dispatch_uid="payments.stripe_budget.started")
        task_postrun.connect(stripe_budget.task_finished, dispatch_uid="payments.stripe_budget.finished")

        # On the final settings of whichever module is in use, so local's DEBUG=True counts.
        check_stripe_keys(
            secret_key=settings.STRIPE_SECRET_KEY,
            publishable_key=settings.STRIPE_PUBLISHABLE_KEY,
            debug=settings.DEBUG,
        )
