"""Order admin: find an order by any id staff are given, see its items and fulfillment, jump to
Stripe, re-sync it."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from config.money import format_money
from orders.models import Fulfillment, Order, OrderItem
from orders.selectors import order_search
from payments import stripe_gateway
from payments.services.objects import stripe_object_resync
from payments.stripe_gateway import StripeGatewayError


class OrderItemInline(admin.TabularInline):
    model = OrderItem
    extra = 0
    can_delete = False
    readonly_fields = ("product_name", "sku", "unit_amount", "quantity", "currency")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    list_display = ("number", "status", "total", "email", "payment_intent_id", "paid_at", "created_at")
    list_filter = ("status", "currency", "livemode")
    search_fields = ("=email",)
    search_help_text = "Order number (ORD-000123), pi_…, cs_…, ch_…, cus_… or an email."
    inlines = (OrderItemInline,)
    actions = ("resync",)
    fieldsets = (
        (None, {"fields": ("number", "status", "total", "refunded", "public_token")}),
        (
            "Customer",
            {"fields": ("email", "name", "billing_address", "shipping_address", "customer_ip", "user_agent")},
        ),
        (
            "Stripe",
            {
                "fields": (
                    "payment_link",
                    "checkout_session_link",
                    "charge_id",
                    "stripe_customer_id",
                    "payment_intent_status",
                    "last_decline_code",
                    "payment_intent_idempotency_key",
                    "livemode",
                    "disputes_info",
                )
            },
        ),
        ("Dates", {"fields": ("created_at", "paid_at", "fulfilled_at", "canceled_at", "fulfillment_info")}),
    )
    readonly_fields = (
        "number",
        "status",
        "total",
        "refunded",
        "public_token",
        "email",
        "name",
        "billing_address",
        "shipping_address",
        "customer_ip",
        "user_agent",
        "payment_link",
        "checkout_session_link",
        "charge_id",
        "stripe_customer_id",
        "payment_intent_status",
        "last_decline_code",
        "payment_intent_idempotency_key",
        "livemode",
        "created_at",
        "paid_at",
        "fulfilled_at",
        "canceled_at",
        "fulfillment_info",
        "disputes_info",
    )

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Order], search_term: str
    ) -> tuple[QuerySet[Order], bool]:
        if not search_term.strip():
            return queryset, False
        return queryset & order_search(query=search_term), False

    @admin.display(description="Number", ordering="pk")
    def number(self, order: Order) -> str:
        return order.number

    @admin.display(description="Total", ordering="amount")
    def total(self, order: Order) -> str:
        return format_money(order.amount, order.currency)

    @admin.display(description="Refunded")
    def refunded(self, order: Order) -> str:
        return format_money(order.amount_refunded, order.currency)

    @admin.display(description="PaymentIntent")
    def payment_link(self, order: Order) -> str:
        return self._link(order.payment_intent_id, order.livemode)

    @admin.display(description="Checkout Session")
    def checkout_session_link(self, order: Order) -> str:
        return self._link(order.checkout_session_id, order.livemode)

    @admin.display(description="Fulfillment")
    def fulfillment_info(self, order: Order) -> str:
        fulfillment = Fulfillment.objects.filter(order=order).first()
        return f"{fulfillment.created_at:%Y-%m-%d %H:%M} ({fulfillment.source})" if fulfillment else "-"

    @admin.display(description="Disputes")
    def disputes_info(self, order: Order) -> str:
        """Each dispute on the order's payment and where it stands (won, lost, …)."""
        disputes = order.disputes.order_by("pk")
        if not disputes:
            return "-"
        return format_html_join(
            ", ",
            '<a href="{}">{} · {}</a>',
            (
                (reverse("admin:disputes_dispute_change", args=[d.pk]), d.stripe_id, d.status)
                for d in disputes
            ),
        )

    @staticmethod
    def _link(object_id: str | None, livemode: bool) -> str:
        if not object_id:
            return "-"
        url = stripe_gateway.dashboard_url(object_id=object_id, livemode=livemode)
        return format_html('<a href="{}" target="_blank" rel="noopener">{}</a>', url, object_id)

    @admin.action(description="Re-sync the payment from Stripe (fetch and apply)")
    def resync(self, request: HttpRequest, queryset: QuerySet[Order]) -> None:
        for order in queryset:
            object_id = order.payment_intent_id or order.checkout_session_id
            if not object_id:
                self.message_user(
                    request, f"{order.number}: no PaymentIntent or Session yet.", messages.WARNING
                )
                continue
            try:
                result = stripe_object_resync(object_id=object_id, actor=request.user)
            except StripeGatewayError as error:
                self.message_user(request, f"{order.number}: {error}", messages.ERROR)
                continue
            status = result.order.status if result.order else result.note
            self.message_user(request, f"{order.number} re-synced: {status}", messages.SUCCESS)
