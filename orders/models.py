"""Orders, their items and their one fulfillment.

An order's `status` changes only through `orders.services`, and only forwards (see
`Order.Status.rank` and `ORDER_STATUS_RULES` below). Stripe delivers events out of order and
twice; the rank is what lets a stale snapshot arrive late and change nothing.
"""

from __future__ import annotations

import re
import secrets

from django.db import models
from django.db.models.functions import Upper
from simple_history.models import HistoricalRecords

from config.models import TimeStampedModel
from config.money import format_money

NUMBER_PREFIX = "ORD-"
NUMBER_RE = re.compile(r"^ORD-(\d{1,12})$", re.IGNORECASE)


def new_public_token() -> str:
    """An unguessable token for the customer's order page (the number is guessable)."""
    return secrets.token_urlsafe(24)


def order_number(pk: int) -> str:
    return f"{NUMBER_PREFIX}{pk:06d}"


def order_pk_from_number(value: str) -> int | None:
    """`ORD-000123` → 123; a bare `123` (Stripe metadata `order_id`) too; anything else → None."""
    value = value.strip()
    match = NUMBER_RE.match(value)
    if match:
        return int(match.group(1))
    if value.isdigit() and len(value) <= 12:
        return int(value)
    return None


class Order(TimeStampedModel):
    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        AWAITING_PAYMENT = "awaiting_payment", "Awaiting payment"
        PAYMENT_FAILED = "payment_failed", "Payment failed"
        CANCELED = "canceled", "Canceled"
        PAID = "paid", "Paid"
        FULFILLED = "fulfilled", "Fulfilled"
        PARTIALLY_REFUNDED = "partially_refunded", "Partially refunded"
        REFUNDED = "refunded", "Refunded"
        DISPUTED = "disputed", "Disputed"

    number_prefix = NUMBER_PREFIX

    public_token = models.CharField(max_length=64, unique=True, default=new_public_token, editable=False)
    email = models.EmailField(blank=True)
    name = models.CharField(max_length=255, blank=True)
    # Stripe's address shape: line1, line2, city, state, postal_code, country.
    billing_address = models.JSONField(default=dict, blank=True)
    shipping_address = models.JSONField(default=dict, blank=True)
    customer_ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.TextField(blank=True)

    amount = models.BigIntegerField(help_text="Total in minor units of `currency`.")
    currency = models.CharField(max_length=3)
    amount_refunded = models.BigIntegerField(default=0)
    status = models.CharField(max_length=32, choices=Status.choices, default=Status.PENDING, db_index=True)
    # Stripe's own status of the PaymentIntent, as last applied, and the `created` time (unix
    # seconds) of the event that brought it: within one rank the newer snapshot wins.
    payment_intent_status = models.CharField(max_length=32, blank=True)
    payment_state_at = models.BigIntegerField(default=0)

    payment_intent_id = models.CharField(max_length=255, unique=True, null=True, blank=True)
    checkout_session_id = models.CharField(max_length=255, unique=True, null=True, blank=True)
    charge_id = models.CharField(max_length=255, blank=True, db_index=True)
    stripe_customer_id = models.CharField(max_length=255, blank=True, db_index=True)
    # Invariant 2: the key of the "create the PaymentIntent" operation, stored before the call
    # and reused on every retry (`order:<pk>:payment-intent:v1`).
    payment_intent_idempotency_key = models.CharField(max_length=255, blank=True)
    livemode = models.BooleanField(default=False)
    last_decline_code = models.CharField(max_length=64, blank=True)

    paid_at = models.DateTimeField(null=True, blank=True)
    fulfilled_at = models.DateTimeField(null=True, blank=True)
    canceled_at = models.DateTimeField(null=True, blank=True)
    # Set by the one UPDATE that claims the confirmation email (orders.tasks): sent exactly once.
    confirmation_sent_at = models.DateTimeField(null=True, blank=True)

    # Every save of an order (webhook, task, re-sync, staff) leaves a row: who changed its money
    # state and when. Personal data that never changes after checkout is not copied.
    history = HistoricalRecords(excluded_fields=["billing_address", "shipping_address", "user_agent"])

    class Meta:
        ordering = ["-pk"]
        indexes = [
            # Staff search by email: `email__iexact` is UPPER(email) = UPPER(%s).
            models.Index(Upper("email"), name="order_email_upper"),
            # The confirmation drain looks for fulfilled orders not yet confirmed.
            models.Index(
                fields=["fulfilled_at"],
                condition=models.Q(confirmation_sent_at__isnull=True),
                name="order_confirmation_due",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(currency__regex=r"^[a-z]{3}$"), name="order_currency_iso"
            ),
            models.CheckConstraint(condition=models.Q(amount__gte=0), name="order_amount_non_negative"),
            models.CheckConstraint(
                condition=models.Q(amount_refunded__gte=0), name="order_amount_refunded_non_negative"
            ),
        ]

    def __str__(self) -> str:
        amount = format_money(self.amount, self.currency) if self.currency else str(self.amount)
        return f"{self.number} · {self.status} · {amount}"

    @property
    def number(self) -> str:
        return order_number(self.pk) if self.pk else f"{NUMBER_PREFIX}(unsaved)"


# The forward-only rules, written down once (invariant 5). A change is applied when the new status
# has a higher rank than the current one; within the "unsettled" rank (awaiting payment / payment
# failed: a customer may fail, retry, fail again) the snapshot with the newer Stripe time wins.
#   pending < awaiting_payment = payment_failed < canceled < paid < fulfilled
#           < partially_refunded < refunded < disputed
# - A succeeded payment is never set back to processing, requires_action or failed.
# - Canceled ranks below paid: Stripe cannot cancel a succeeded PaymentIntent, so if both
#   arrive, the money was taken and paid wins.
# - Fulfillment is a fact of its own (the Fulfillment row): an order that Stripe says is paid is
#   fulfilled exactly once even if the refund event was processed first; its status stays refunded.
# - Refunded beats paid/fulfilled; the refunded amount only grows.
# - Disputed beats everything (the dispute handlers will set it).
STATUS_RANK: dict[str, int] = {
    Order.Status.PENDING: 0,
    Order.Status.AWAITING_PAYMENT: 10,
    Order.Status.PAYMENT_FAILED: 10,
    Order.Status.CANCELED: 20,
    Order.Status.PAID: 30,
    Order.Status.FULFILLED: 40,
    Order.Status.PARTIALLY_REFUNDED: 50,
    Order.Status.REFUNDED: 60,
    Order.Status.DISPUTED: 70,
}
UNSETTLED_RANK = STATUS_RANK[Order.Status.AWAITING_PAYMENT]


class OrderItem(TimeStampedModel):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="items")
    product_name = models.CharField(max_length=255)
    sku = models.CharField(max_length=64, blank=True)
    unit_amount = models.BigIntegerField()
    quantity = models.PositiveIntegerField(default=1)
    currency = models.CharField(max_length=3)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(currency__regex=r"^[a-z]{3}$"), name="order_item_currency_iso"
            ),
            models.CheckConstraint(
                condition=models.Q(unit_amount__gte=0), name="order_item_amount_non_negative"
            ),
            models.CheckConstraint(condition=models.Q(quantity__gte=1), name="order_item_quantity_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} × {self.product_name} · {format_money(self.unit_amount, self.currency)}"

    @property
    def line_total(self) -> int:
        return self.unit_amount * self.quantity


class Fulfillment(TimeStampedModel):
    """The one fulfillment of an order. The OneToOne (a unique index) is the guard of invariant 3:
    a second insert fails in the database, whatever raced it."""

    order = models.OneToOneField(Order, on_delete=models.PROTECT, related_name="fulfillment")
    # What triggered it, for staff: the event id or `resync`.
    source = models.CharField(max_length=255, blank=True)

    def __str__(self) -> str:
        return f"Fulfillment of {self.order.number}"


class Product(TimeStampedModel):
    """A catalog entry. The only source of prices: a cart holds product ids and quantities, and
    an order's lines are copied from here on the server, never from a form."""

    sku = models.CharField(max_length=64, unique=True)
    name = models.CharField(max_length=255)
    description = models.TextField(blank=True)
    unit_amount = models.BigIntegerField(help_text="Price in minor units of `currency`.")
    currency = models.CharField(max_length=3)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["pk"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(currency__regex=r"^[a-z]{3}$"), name="product_currency_iso"
            ),
            models.CheckConstraint(condition=models.Q(unit_amount__gt=0), name="product_amount_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.name} · {format_money(self.unit_amount, self.currency)}"

    @property
    def price_display(self) -> str:
        return format_money(self.unit_amount, self.currency)


class OrderCheckout(TimeStampedModel):
    """How the customer is paying for an order, and the checkout's own bookkeeping.

    - `form_token` comes from the checkout form (rendered once per visit): a double submit of the
      same form finds the same order instead of creating a second one (the unique index decides).
    - `revision` counts changes of the order's lines; the PaymentIntent update that follows a
      change carries it in its idempotency key, stored here before the call.
    - `synced_at` rate-limits the return page's fetches from Stripe (a conditional UPDATE, so it
      holds across processes).
    """

    class Method(models.TextChoices):
        PAYMENT_ELEMENT = "payment_element", "Card on this page"
        CHECKOUT = "checkout", "Stripe Checkout"

    order = models.OneToOneField(Order, on_delete=models.CASCADE, related_name="checkout")
    form_token = models.CharField(max_length=64, unique=True)
    method = models.CharField(max_length=32, choices=Method.choices)
    revision = models.PositiveIntegerField(default=1)
    synced_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"Checkout of {self.order.number} · {self.method} · r{self.revision}"
