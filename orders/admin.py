"""Order admin: find an order by any id staff are given, see its items and fulfillment, jump to
Stripe, re-sync it. The order's page is the hub: its PaymentIntent, charge attempts, refunds,
disputes, Stripe events and the payouts its money went out in, each linked to its own page
(the reads are the owning apps' selectors)."""

from __future__ import annotations

from collections.abc import Sequence

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from simple_history.admin import SimpleHistoryAdmin

from config.admin_helpers import (
    ReadOnlyAdminMixin,
    address_display,
    money_column,
    money_display,
    stripe_link,
)
from console.admin import RefundRequestInline
from core.admin import RoleAdminMixin
from disputes.liability import liability_shift_assess
from orders.models import Fulfillment, Order, OrderItem
from orders.selectors import order_search
from payments import stripe_gateway
from payments.admin import ChargeAttemptInline, OrderPaymentIntentInline
from payments.selectors import order_refunds, order_stripe_events
from payments.services.objects import stripe_object_resync
from payments.stripe_gateway import StripeGatewayError
from reconciliation.selectors import order_balance_transactions


class OrderItemInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = OrderItem
    extra = 0
    fields = ("product_name", "sku", "unit_price", "quantity", "line_total")
    readonly_fields = fields
    unit_price = money_column("unit_amount", "currency", description="Unit price")

    @admin.display(description="Line total")
    def line_total(self, item: OrderItem) -> str:
        return money_display(item.line_total, item.currency)


@admin.register(Order)
class OrderAdmin(RoleAdminMixin, ReadOnlyAdminMixin, SimpleHistoryAdmin):
    list_display = ("number", "status", "total", "email", "payment_intent_id", "paid_at", "created_at")
    list_filter = ("status", "currency", "livemode")
    search_fields = ("=email",)
    search_help_text = "Order number (ORD-000123), pi_…, cs_…, ch_…, cus_… or an email."
    inlines = (OrderItemInline, OrderPaymentIntentInline, ChargeAttemptInline, RefundRequestInline)
    # "History": every change of the order (webhook, task, staff), read-only (no revert).
    history_list_display = ("status", "amount_refunded", "payment_intent_status")
    actions = ("resync",)
    fieldsets = (
        (None, {"fields": ("number", "status", "total", "refunded", "public_token")}),
        (
            "Customer",
            {
                "fields": (
                    "email",
                    "name",
                    "billing_address_shown",
                    "shipping_address_shown",
                    "customer_ip",
                    "user_agent",
                )
            },
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
                    "liability_shift_info",
                    "disputes_info",
                )
            },
        ),
        ("Dates", {"fields": ("created_at", "paid_at", "fulfilled_at", "canceled_at", "fulfillment_info")}),
        ("Refunds, payouts and events", {"fields": ("refunds_info", "payouts_info", "events_info")}),
    )
    readonly_fields = (
        "number",
        "status",
        "total",
        "refunded",
        "public_token",
        "email",
        "name",
        "billing_address_shown",
        "shipping_address_shown",
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
        "liability_shift_info",
        "disputes_info",
        "refunds_info",
        "payouts_info",
        "events_info",
    )

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Order], search_term: str
    ) -> tuple[QuerySet[Order], bool]:
        if not search_term.strip():
            return queryset, False
        return queryset & order_search(query=search_term), False

    @admin.display(description="Number", ordering="pk")
    def number(self, order: Order) -> str:
        return order.number

    total = money_column("amount", "currency", description="Total")
    refunded = money_column("amount_refunded", "currency", description="Refunded")

    @admin.display(description="Billing address")
    def billing_address_shown(self, order: Order) -> str:
        return address_display(order.billing_address)

    @admin.display(description="Shipping address")
    def shipping_address_shown(self, order: Order) -> str:
        return address_display(order.shipping_address)

    @admin.display(description="PaymentIntent")
    def payment_link(self, order: Order) -> str:
        return stripe_link(order.payment_intent_id, order.livemode)

    @admin.display(description="Checkout Session")
    def checkout_session_link(self, order: Order) -> str:
        return stripe_link(order.checkout_session_id, order.livemode)

    @admin.display(description="Fulfillment")
    def fulfillment_info(self, order: Order) -> str:
        fulfillment = Fulfillment.objects.filter(order=order).first()
        return f"{fulfillment.created_at:%Y-%m-%d %H:%M} ({fulfillment.source})" if fulfillment else "-"

    @admin.display(description="3-D Secure liability shift")
    def liability_shift_info(self, order: Order) -> str:
        """Whether a fraud dispute on the paid charge would be the issuer's loss (3-D Secure
        authenticated), from the charge's mirrored `three_d_secure` result."""
        charge = order.charges.filter(status="succeeded").order_by("-pk").first()
        if charge is not None:
            shift = liability_shift_assess(
                result=charge.three_d_secure_result,
                result_reason=charge.three_d_secure_result_reason,
                authentication_flow=charge.three_d_secure_authentication_flow,
                version=charge.three_d_secure_version,
                electronic_commerce_indicator=charge.three_d_secure_electronic_commerce_indicator,
                card_brand=charge.card_brand,
            )
        elif order.charge_id:
            # No mirror row for the charge (only disputed charges are mirrored so far): ask Stripe.
            try:
                fetched = stripe_gateway.charge_retrieve(charge_id=order.charge_id)
                card = fetched["payment_method_details"]["card"]
            except (StripeGatewayError, KeyError, TypeError):
                return f"Unknown: Stripe did not give the 3-D Secure result of {order.charge_id}."
            three_ds = card.get("three_d_secure") or {}
            shift = liability_shift_assess(
                result=three_ds.get("result") or "",
                result_reason=three_ds.get("result_reason") or "",
                authentication_flow=three_ds.get("authentication_flow") or "",
                version=three_ds.get("version") or "",
                electronic_commerce_indicator=three_ds.get("electronic_commerce_indicator") or "",
                card_brand=card.get("brand") or "",
            )
        else:
            return "- (not paid yet)"
        return ("Applies. " if shift.applies else "Does not apply. ") + shift.explanation

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

    @admin.display(description="Refunds")
    def refunds_info(self, order: Order) -> SafeString | str:
        """Each refund Stripe has for the order (whoever asked for it), and where it stands."""
        rows = [
            (
                reverse("admin:payments_refund_change", args=[refund.pk]),
                refund.stripe_id,
                money_display(refund.amount, refund.currency),
                refund.status + (f" ({refund.failure_reason})" if refund.failure_reason else ""),
            )
            for refund in order_refunds(order=order)
        ]
        if not rows:
            return "-"
        return _table(
            ("Refund", "Amount", "Status"), '<td><a href="{}">{}</a></td><td>{}</td><td>{}</td>', rows
        )

    @admin.display(description="Payouts")
    def payouts_info(self, order: Order) -> SafeString | str:
        """The order's balance transactions (charge, refunds, dispute money) and the payout each
        went out in."""
        rows = []
        for line in order_balance_transactions(order=order):
            payout = line.payout
            rows.append(
                (
                    reverse("admin:reconciliation_balancetransaction_change", args=[line.pk]),
                    line.stripe_id,
                    line.reporting_category or line.type,
                    money_display(line.amount, line.currency),
                    money_display(line.fee, line.currency),
                    money_display(line.net, line.currency),
                    format_html(
                        '<a href="{}">{}</a> · {} · {}',
                        reverse("admin:reconciliation_payout_change", args=[payout.pk]),
                        payout.stripe_id,
                        payout.status,
                        f"{payout.arrival_date:%Y-%m-%d}" if payout.arrival_date else "no arrival date",
                    )
                    if payout is not None
                    else "not paid out yet",
                )
            )
        if not rows:
            return "-"
        return _table(
            ("Balance transaction", "Category", "Amount", "Fee", "Net", "Payout"),
            '<td><a href="{}">{}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>',
            rows,
        )

    @admin.display(description="Stripe events")
    def events_info(self, order: Order) -> SafeString | str:
        """The newest events about the order's PaymentIntent, Session, charges, refunds and
        disputes, and a link to all of them in the events list."""
        found = order_stripe_events(order=order)
        if not found.events:
            return "-"
        rows = [
            (
                reverse("admin:payments_stripeevent_change", args=[event.pk]),
                event.stripe_id,
                event.type,
                event.object_id,
                event.status,
                f"{event.stripe_created:%Y-%m-%d %H:%M:%S}" if event.stripe_created else "-",
            )
            for event in found.events
        ]
        table = _table(
            ("Event", "Type", "Object", "Status", "At Stripe"),
            '<td><a href="{}">{}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>',
            rows,
        )
        everything = (
            reverse("admin:payments_stripeevent_changelist") + "?object_id__in=" + ",".join(found.object_ids)
        )
        shown = f"the newest {len(found.events)} of {found.total}" if found.total > len(found.events) else ""
        return format_html(
            '{}<p><a href="{}" id="order-events-all">All {} events of this order</a>{}</p>',
            table,
            everything,
            found.total,
            f" (this list shows {shown})" if shown else "",
        )

    @admin.action(description="Re-sync the payment from Stripe (fetch and apply)", permissions=["support"])
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


def _table(headings: tuple[str, ...], row_format: str, rows: Sequence[tuple[object, ...]]) -> SafeString:
    """A read-only table for a field of the order's page (no inline styles: the admin's CSP)."""
    head = format_html_join("", "<th>{}</th>", ((heading,) for heading in headings))
    body = format_html_join("", "<tr>" + row_format + "</tr>", rows)
    return format_html("<table><thead><tr>{}</tr></thead><tbody>{}</tbody></table>", head, body)
