from django.apps import AppConfig


class OrdersConfig(AppConfig):
    name = "orders"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from core.wakeups import wakeup_register
        from orders.emails import CONFIRMATIONS_WAKEUP, order_confirmations_wake

        wakeup_register(name=CONFIRMATIONS_WAKEUP, waker=order_confirmations_wake)
