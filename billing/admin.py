"""Billing in the admin: plans are edited here; the mirrors are read-only, with the past-due
subscriptions and their next retry time one filter away."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import OuterRef, QuerySet, Subquery
from django.http import HttpRequest

from billing.models import DunningNotice, Invoice, Plan, Subscriber, Subscription
from config.admin_helpers import ReadOnlyAdminMixin, money_column, stripe_link


@admin.register(Plan)
class PlanAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "price_shown", "interval", "active", "stripe_price_id")
    list_filter = ("active", "interval")
    readonly_fields = ("stripe_price_id",)
    price_shown = money_column("amount", "currency", description="Price")


@admin.register(Subscriber)
class SubscriberAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("pk", "plan", "stripe_customer_id", "stripe_subscription_id", "created_at")
    search_fields = ("stripe_customer_id", "stripe_subscription_id", "email")
    exclude = ("public_token",)  # the customer's account link: staff do not need it


class InvoiceInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = Invoice
    fields = ("stripe_id", "number", "status", "amount_due", "attempt_count", "next_payment_attempt")
    extra = 0
    show_change_link = True


@admin.register(Subscription)
class SubscriptionAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "stripe_id",
        "status",
        "amount_shown",
        "current_period_end",
        "next_retry",
        "cancel_at_period_end",
        "customer_id",
    )
    list_filter = ("status", "cancel_at_period_end")
    search_fields = ("stripe_id", "customer_id", "latest_invoice_id")
    readonly_fields = ("stripe_link_shown",)
    inlines = [InvoiceInline]
    amount_shown = money_column("amount", "currency", description="Amount")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Subscription]:
        retry = Invoice.objects.filter(
            subscription_id=OuterRef("stripe_id"),
            status=Invoice.Status.OPEN,
            next_payment_attempt__isnull=False,
        ).order_by("next_payment_attempt")
        return (
            super()
            .get_queryset(request)
            .annotate(next_retry_at=Subquery(retry.values("next_payment_attempt")[:1]))
        )

    @admin.display(description="Next retry", ordering="next_retry_at")
    def next_retry(self, obj: Any) -> Any:
        return getattr(obj, "next_retry_at", None) or "—"

    @admin.display(description="At Stripe")
    def stripe_link_shown(self, obj: Subscription) -> Any:
        return stripe_link(obj.stripe_id, obj.livemode)


@admin.register(Invoice)
class InvoiceAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("stripe_id", "number", "status", "amount_shown", "attempt_count", "next_payment_attempt")
    list_filter = ("status", "billing_reason")
    search_fields = ("stripe_id", "number", "payment_intent_id", "customer_id")
    amount_shown = money_column("amount_due", "currency", description="Amount due")


@admin.register(DunningNotice)
class DunningNoticeAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("invoice", "attempt", "kind", "sent_at")
    list_filter = ("kind",)
