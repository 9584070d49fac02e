"""Plans, subscribers, and the Subscription and Invoice mirrors, with the dunning notices.

Access is derived from the Subscription mirror's `status` as Stripe reports it
(`billing.selectors.subscription_has_access`); nothing here stores "has access".
"""

from __future__ import annotations

import secrets

from django.db import models

from config.models import StripeMirror, TimeStampedModel
from config.money import format_money


def new_public_token() -> str:
    return secrets.token_urlsafe(24)


class Plan(TimeStampedModel):
    """A recurring price in our catalog. Its Stripe Price is created once, on first use, under
    the key `plan:<pk>:price:v1`."""

    class Interval(models.TextChoices):
        DAY = "day"
        WEEK = "week"
        MONTH = "month"
        YEAR = "year"

    slug = models.SlugField(unique=True)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    amount = models.BigIntegerField(help_text="Per period, in minor units.")
    currency = models.CharField(max_length=3, default="gbp")
    interval = models.CharField(max_length=8, choices=Interval.choices, default=Interval.MONTH)
    active = models.BooleanField(default=True)
    stripe_price_id = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["amount", "pk"]
        constraints = [models.CheckConstraint(condition=models.Q(amount__gt=0), name="plan_amount_positive")]

    def __str__(self) -> str:
        return f"{self.name} · {format_money(self.amount, self.currency)} per {self.interval}"


class Subscriber(TimeStampedModel):
    """Who subscribed, and the unguessable token of their account page. The idempotency keys of
    the Stripe writes made for them are stored here before each call."""

    email = models.EmailField()
    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="subscribers")
    public_token = models.CharField(max_length=64, unique=True, default=new_public_token)
    # From the subscribe form (rendered once per visit): a double submit of the same form finds
    # the same subscriber, so it makes one Stripe customer and one subscription, not two.
    form_token = models.CharField(max_length=64, unique=True, null=True, blank=True)
    stripe_customer_id = models.CharField(max_length=255, blank=True)
    customer_key = models.CharField(max_length=255, blank=True)
    subscription_key = models.CharField(max_length=255, blank=True)
    stripe_subscription_id = models.CharField(max_length=255, blank=True, db_index=True)
    # A card change is one SetupIntent per attempt: `subscriber:<pk>:setup-intent:v<card_changes>`.
    card_changes = models.PositiveIntegerField(default=0)
    setup_intent_id = models.CharField(max_length=255, blank=True)
    welcome_sent_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"Subscriber #{self.pk} · {self.plan.slug} · {self.stripe_subscription_id or 'not subscribed'}"


class Subscription(StripeMirror):
    class Status(models.TextChoices):
        INCOMPLETE = "incomplete"
        INCOMPLETE_EXPIRED = "incomplete_expired"
        TRIALING = "trialing"
        ACTIVE = "active"
        PAST_DUE = "past_due"
        CANCELED = "canceled"
        UNPAID = "unpaid"
        PAUSED = "paused"

    subscriber = models.ForeignKey(
        Subscriber, on_delete=models.PROTECT, related_name="subscriptions", null=True, blank=True
    )
    customer_id = models.CharField(max_length=255, db_index=True)
    status = models.CharField(max_length=32, choices=Status.choices)
    # Stripe time (ms) of the snapshot applied: an older snapshot never overwrites a newer one.
    status_at = models.BigIntegerField(default=0)
    price_id = models.CharField(max_length=255, blank=True)
    amount = models.BigIntegerField(default=0)
    currency = models.CharField(max_length=3, blank=True)
    cancel_at_period_end = models.BooleanField(default=False)
    current_period_start = models.DateTimeField(null=True, blank=True)
    current_period_end = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    latest_invoice_id = models.CharField(max_length=255, blank=True)
    default_payment_method = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["-stripe_created", "pk"]
        indexes = [models.Index(fields=["status"], name="subscription_status")]

    def __str__(self) -> str:
        return f"{self.stripe_id} · {self.status} · {format_money(self.amount, self.currency or 'gbp')}"


class Invoice(StripeMirror):
    class Status(models.TextChoices):
        DRAFT = "draft"
        OPEN = "open"
        PAID = "paid"
        UNCOLLECTIBLE = "uncollectible"
        VOID = "void"

    subscription = models.ForeignKey(
        Subscription,
        to_field="stripe_id",
        db_column="subscription_id",
        db_constraint=False,  # an invoice event can arrive before its subscription's
        on_delete=models.DO_NOTHING,
        related_name="invoices",
        null=True,
        blank=True,
    )
    customer_id = models.CharField(max_length=255, blank=True)
    number = models.CharField(max_length=64, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices)
    status_at = models.BigIntegerField(default=0)
    billing_reason = models.CharField(max_length=64, blank=True)
    amount_due = models.BigIntegerField(default=0)
    amount_paid = models.BigIntegerField(default=0)
    currency = models.CharField(max_length=3)
    attempt_count = models.PositiveIntegerField(default=0)
    next_payment_attempt = models.DateTimeField(null=True, blank=True)
    period_start = models.DateTimeField(null=True, blank=True)
    period_end = models.DateTimeField(null=True, blank=True)
    paid_at = models.DateTimeField(null=True, blank=True)
    payment_intent_id = models.CharField(max_length=255, blank=True)
    payment_intent_status = models.CharField(max_length=32, blank=True)

    class Meta:
        ordering = ["-stripe_created", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(amount_due__gte=0, amount_paid__gte=0), name="invoice_amounts_non_negative"
            )
        ]

    def __str__(self) -> str:
        amount = format_money(self.amount_due, self.currency)
        return f"{self.number or self.stripe_id} · {self.status} · {amount}"

    @property
    def needs_authentication(self) -> bool:
        return self.status == self.Status.OPEN and self.payment_intent_status == "requires_action"


class DunningNotice(TimeStampedModel):
    """One email per failed collection attempt of an invoice: the unique row is the claim."""

    class Kind(models.TextChoices):
        PAY = "pay"
        AUTHENTICATE = "authenticate"
        ENDED = "ended"

    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="notices")
    attempt = models.PositiveIntegerField()
    kind = models.CharField(max_length=16, choices=Kind.choices)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["invoice", "attempt"], name="dunning_once_per_attempt")
        ]

    def __str__(self) -> str:
        return f"{self.invoice.stripe_id} attempt {self.attempt} · {self.kind}"
