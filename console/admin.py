"""Admin for refund requests: read-only everywhere (they change only through the refund service
and the refund.* webhooks), listed on their order's page."""

from __future__ import annotations

from django.contrib import admin

from config.admin_helpers import ReadOnlyAdminMixin, money_column
from payments.models import RefundRequest


class RefundRequestInline(ReadOnlyAdminMixin, admin.TabularInline):
    """On the order's page: every refund asked for, and how it ended (a refund that failed
    later shows here as failed, with Stripe's reason)."""

    model = RefundRequest
    extra = 0
    fields = ("created_at", "money", "reason", "status", "stripe_refund_id", "failure_reason", "requested_by")
    readonly_fields = fields
    verbose_name = "refund request"
    money = money_column("amount", "currency")


@admin.register(RefundRequest)
class RefundRequestAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "pk",
        "order",
        "money",
        "reason",
        "status",
        "stripe_refund_id",
        "requested_by",
        "created_at",
    )
    list_filter = ("status", "reason")
    search_fields = ("=stripe_refund_id",)
    list_select_related = ("order", "requested_by")
    readonly_fields = (
        "order",
        "money",
        "reason",
        "status",
        "stripe_refund_id",
        "failure_reason",
        "idempotency_key",
        "requested_by",
        "created_at",
        "updated_at",
    )
    fields = readonly_fields
    money = money_column("amount", "currency")
