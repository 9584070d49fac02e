"""Admin for the event inbox, the PaymentIntent, Charge and Refund mirrors and the audit trail.
Mirrors are read-only; actions call services and leave a StaffAction behind."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from config.admin_helpers import ReadOnlyAdminMixin, money_column, stripe_link
from core.admin import RoleAdminMixin
from orders.models import NUMBER_PREFIX, order_number, order_pk_from_number
from payments.models import Charge, EventCheckpoint, PaymentIntent, Refund, StaffAction, StripeEvent
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


# ---------------------------------------------------------------------------- mirrors


def _admin_link(obj: PaymentIntent | Charge | None) -> str:
    if obj is None:
        return "-"
    url = reverse(f"admin:payments_{obj._meta.model_name}_change", args=[obj.pk])
    return format_html('<a href="{}">{}</a>', url, obj.stripe_id)


def _three_d_secure(charge: Charge) -> str:
    if not charge.three_d_secure_result:
        return "-"
    flow = (
        f" ({charge.three_d_secure_authentication_flow})" if charge.three_d_secure_authentication_flow else ""
    )
    return f"{charge.three_d_secure_result}{flow}"


def _outcome(charge: Charge) -> str:
    parts = [
        charge.outcome_type,
        charge.outcome_reason,
        charge.outcome_risk_level and f"risk {charge.outcome_risk_level}",
    ]
    return " · ".join(part for part in parts if part) or "-"


class MirrorAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """A mirror of Stripe data: staff look, only the sync services write."""

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Any], search_term: str
    ) -> tuple[QuerySet[Any], bool]:
        # An order number (ORD-000123) finds the order's mirrors, besides the exact ids.
        term = search_term.strip()
        pk = order_pk_from_number(term) if term.upper().startswith(NUMBER_PREFIX) else None
        if pk is not None:
            return queryset.filter(order_id=pk), False
        return super().get_search_results(request, queryset, search_term)

    @admin.display(description="Order", ordering="order_id")
    def order_link(self, obj: PaymentIntent | Charge) -> str:
        if obj.order_id is None:
            return "-"
        url = reverse("admin:orders_order_change", args=[obj.order_id])
        return format_html('<a href="{}">{}</a>', url, order_number(obj.order_id))

    @admin.display(description="In the Stripe Dashboard")
    def dashboard_link(self, obj: PaymentIntent | Charge) -> str:
        return stripe_link(obj.stripe_id, obj.livemode)

    amount_display = money_column("amount", "currency", description="Amount")


class _MirrorInline(ReadOnlyAdminMixin, admin.TabularInline):
    """Read-only rows of an order's mirrors, on the order's admin page."""

    extra = 0

    @admin.display(description="Id")
    def link(self, obj: PaymentIntent | Charge) -> str:
        return _admin_link(obj)

    amount_display = money_column("amount", "currency", description="Amount")


class OrderPaymentIntentInline(_MirrorInline):
    model = PaymentIntent
    verbose_name = "PaymentIntent"
    verbose_name_plural = "PaymentIntent"
    fields = ("link", "status", "amount_display", "received", "latest_charge_id", "last_error")
    readonly_fields = fields

    received = money_column("amount_received", "currency", description="Received")

    @admin.display(description="Last payment error")
    def last_error(self, obj: PaymentIntent) -> str:
        return " · ".join(code for code in (obj.last_error_code, obj.last_error_decline_code) if code) or "-"


class ChargeAttemptInline(_MirrorInline):
    """Every attempt at paying an order (or a PaymentIntent), oldest first, with its outcome."""

    model = Charge
    verbose_name = "charge attempt"
    verbose_name_plural = "Charge attempts"
    fields = (
        "link",
        "created",
        "status",
        "amount_display",
        "failure_code",
        "outcome",
        "three_d_secure",
        "card",
    )
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[Charge]:
        return super().get_queryset(request).order_by("stripe_created", "pk")

    @admin.display(description="At")
    def created(self, obj: Charge) -> str:
        return f"{obj.stripe_created:%Y-%m-%d %H:%M:%S}" if obj.stripe_created else "-"

    @admin.display(description="Outcome")
    def outcome(self, obj: Charge) -> str:
        return _outcome(obj)

    @admin.display(description="3-D Secure")
    def three_d_secure(self, obj: Charge) -> str:
        return _three_d_secure(obj)

    @admin.display(description="Card")
    def card(self, obj: Charge) -> str:
        return f"{obj.card_brand} ···· {obj.card_last4}" if obj.card_last4 else "-"


@admin.register(PaymentIntent)
class PaymentIntentAdmin(MirrorAdmin):
    inlines = (ChargeAttemptInline,)
    list_display = (
        "stripe_id",
        "order_link",
        "status",
        "amount_display",
        "latest_charge_id",
        "stripe_created",
    )
    list_filter = ("status", "livemode")
    search_fields = ("=stripe_id", "=latest_charge_id", "=customer_id")
    search_help_text = (
        "A PaymentIntent (pi_…), its latest charge (ch_…), a customer (cus_…) or an order number."
    )
    list_select_related = ("order",)
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "stripe_id",
                    "order_link",
                    "status",
                    "amount_display",
                    "received_display",
                    "livemode",
                )
            },
        ),
        ("Payment", {"fields": ("customer_id", "capture_method", "latest_charge_link", "idempotency_key")}),
        (
            "Last payment error",
            {"fields": ("last_error_code", "last_error_decline_code", "last_error_message")},
        ),
        ("Sync", {"fields": ("stripe_created", "status_at", "synced_at", "dashboard_link")}),
    )
    readonly_fields = (
        "stripe_id",
        "order_link",
        "status",
        "amount_display",
        "received_display",
        "livemode",
        "customer_id",
        "capture_method",
        "latest_charge_link",
        "idempotency_key",
        "last_error_code",
        "last_error_decline_code",
        "last_error_message",
        "stripe_created",
        "status_at",
        "synced_at",
        "dashboard_link",
    )

    received_display = money_column("amount_received", "currency", description="Received")

    @admin.display(description="Latest charge")
    def latest_charge_link(self, obj: PaymentIntent) -> str:
        charge = (
            Charge.objects.filter(stripe_id=obj.latest_charge_id).first() if obj.latest_charge_id else None
        )
        return _admin_link(charge) if charge else (obj.latest_charge_id or "-")


@admin.register(Charge)
class ChargeAdmin(MirrorAdmin):
    list_display = (
        "stripe_id",
        "order_link",
        "status",
        "amount_display",
        "failure_code",
        "outcome_display",
        "three_d_secure_display",
        "stripe_created",
    )
    list_filter = ("status", "disputed", "refunded", "card_brand", "livemode")
    search_fields = (
        "=stripe_id",
        "=payment_intent_stripe_id",
        "=card_fingerprint",
        "=balance_transaction_id",
    )
    search_help_text = (
        "A charge (ch_…), its PaymentIntent (pi_…), a card fingerprint, a txn_… or an order number."
    )
    list_select_related = ("order",)
    fieldsets = (
        (None, {"fields": ("stripe_id", "order_link", "payment_intent_link", "status", "livemode")}),
        (
            "Money",
            {
                "fields": (
                    "amount_display",
                    "captured_display",
                    "refunded_display",
                    "paid",
                    "captured",
                    "refunded",
                    "disputed",
                    "balance_transaction_id",
                )
            },
        ),
        (
            "Outcome",
            {
                "fields": (
                    "failure_code",
                    "failure_message",
                    "outcome_network_status",
                    "outcome_reason",
                    "outcome_risk_level",
                    "outcome_type",
                )
            },
        ),
        (
            "Card",
            {
                "fields": (
                    "card_brand",
                    "card_last4",
                    "card_exp_month",
                    "card_exp_year",
                    "card_country",
                    "card_funding",
                    "card_fingerprint",
                )
            },
        ),
        (
            "3-D Secure",
            {
                "fields": (
                    "three_d_secure_result",
                    "three_d_secure_result_reason",
                    "three_d_secure_authentication_flow",
                    "three_d_secure_version",
                    "three_d_secure_electronic_commerce_indicator",
                )
            },
        ),
        ("Sync", {"fields": ("stripe_created", "status_at", "synced_at", "dashboard_link")}),
    )
    readonly_fields = (
        "stripe_id",
        "order_link",
        "payment_intent_link",
        "status",
        "livemode",
        "amount_display",
        "captured_display",
        "refunded_display",
        "paid",
        "captured",
        "refunded",
        "disputed",
        "balance_transaction_id",
        "failure_code",
        "failure_message",
        "outcome_network_status",
        "outcome_reason",
        "outcome_risk_level",
        "outcome_type",
        "card_brand",
        "card_last4",
        "card_exp_month",
        "card_exp_year",
        "card_country",
        "card_funding",
        "card_fingerprint",
        "three_d_secure_result",
        "three_d_secure_result_reason",
        "three_d_secure_authentication_flow",
        "three_d_secure_version",
        "three_d_secure_electronic_commerce_indicator",
        "stripe_created",
        "status_at",
        "synced_at",
        "dashboard_link",
    )

    @admin.display(description="PaymentIntent")
    def payment_intent_link(self, obj: Charge) -> str:
        return (
            _admin_link(obj.payment_intent)
            if obj.payment_intent_id
            else (obj.payment_intent_stripe_id or "-")
        )

    captured_display = money_column("amount_captured", "currency", description="Captured amount")
    refunded_display = money_column("amount_refunded", "currency", description="Refunded amount")

    @admin.display(description="Outcome")
    def outcome_display(self, obj: Charge) -> str:
        return _outcome(obj)

    @admin.display(description="3-D Secure")
    def three_d_secure_display(self, obj: Charge) -> str:
        return _three_d_secure(obj)
