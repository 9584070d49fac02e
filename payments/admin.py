"""Admin for the event inbox, refunds and the audit trail. Mirrors are read-only; actions call
services and leave a StaffAction behind."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from config.admin_helpers import ReadOnlyAdminMixin, money_column, stripe_link
from core.admin import RoleAdminMixin
from payments.models import EventCheckpoint, Refund, StaffAction, StripeEvent
from payments.services.events import stripe_event_replay
from payments.services.objects import stripe_object_resync
from payments.stripe_gateway import StripeGatewayError


@admin.register(StripeEvent)
class StripeEventAdmin(RoleAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("stripe_id", "type", "status", "source", "object_link", "attempts", "stripe_created")
    list_filter = ("status", "source", "type", "livemode")
    # Exact matches on indexed columns: staff paste an evt_ or an object id (pi_, ch_, cs_, re_).
    search_fields = ("=stripe_id", "=object_id")
    search_help_text = "An event id (evt_…) or the id of its object (pi_…, ch_…, re_…, cs_…)."
    date_hierarchy = "stripe_created"
    actions = ("replay", "resync")
    fieldsets = (
        (None, {"fields": ("stripe_id", "type", "object_link", "status", "source", "livemode")}),
        ("Processing", {"fields": ("attempts", "last_error", "processed_at", "created_at", "updated_at")}),
        ("Stripe", {"fields": ("stripe_created", "api_version", "event_link", "payload")}),
    )
    readonly_fields = (
        "stripe_id",
        "type",
        "object_link",
        "status",
        "source",
        "livemode",
        "attempts",
        "last_error",
        "processed_at",
        "created_at",
        "updated_at",
        "stripe_created",
        "api_version",
        "event_link",
        "payload",
    )

    @admin.display(description="Object", ordering="object_id")
    def object_link(self, event: StripeEvent) -> str:
        return stripe_link(event.object_id, event.livemode)

    @admin.display(description="In the Stripe Dashboard")
    def event_link(self, event: StripeEvent) -> str:
        return stripe_link(event.stripe_id, event.livemode)

    @admin.action(description="Replay the selected events (process them again)", permissions=["support"])
    def replay(self, request: HttpRequest, queryset: QuerySet[StripeEvent]) -> None:
        count = stripe_event_replay(events=queryset, actor=request.user)
        self.message_user(request, f"{count} event(s) queued for processing again.", messages.SUCCESS)

    @admin.action(description="Re-sync their objects from Stripe (fetch and apply)", permissions=["support"])
    def resync(self, request: HttpRequest, queryset: QuerySet[StripeEvent]) -> None:
        object_ids = sorted({event.object_id for event in queryset if event.object_id})
        for object_id in object_ids:
            try:
                result = stripe_object_resync(object_id=object_id, actor=request.user)
            except StripeGatewayError as error:
                self.message_user(request, f"{object_id}: {error}", messages.ERROR)
                continue
            what = result.note or (f"{result.order.number} is {result.order.status}" if result.order else "")
            self.message_user(request, f"{object_id} re-synced: {what}", messages.SUCCESS)


@admin.register(Refund)
class RefundAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("stripe_id", "order", "status", "amount_shown", "stripe_created")
    list_filter = ("status",)
    search_fields = ("=stripe_id", "=payment_intent_id", "=charge_id")
    # Every field as the model has it, but money as `£5.00`, not `500` and `gbp` apart.
    readonly_fields = [
        "amount_shown" if f.name == "amount" else f.name for f in Refund._meta.fields if f.name != "currency"
    ]
    fields = tuple(readonly_fields)
    amount_shown = money_column("amount", "currency", description="Amount")


@admin.register(StaffAction)
class StaffActionAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("created_at", "actor", "action", "target", "reason", "outcome")
    list_filter = ("action",)
    search_fields = ("=target",)
    readonly_fields = ("created_at", "actor", "action", "target", "reason", "outcome")


@admin.register(EventCheckpoint)
class EventCheckpointAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("name", "last_created", "updated_at")
    readonly_fields = ("name", "last_created", "updated_at")
