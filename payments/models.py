"""The Stripe event inbox, the PaymentIntent, Charge and Refund mirrors, the event-recovery
checkpoint and the staff audit trail."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from config.models import StripeMirror, TimeStampedModel
from config.money import format_money


class StripeEvent(StripeMirror):
    """One Stripe Event, stored once (unique `stripe_id` = `evt_…`) before we answer 2xx.

    `stripe_created` is the event's `created`; `created_at` is when we stored it."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        RETRYING = "retrying", "Failed, retrying"
        PROCESSED = "processed", "Processed"
        IGNORED = "ignored", "Ignored (type not handled)"
        DEAD = "dead", "Dead letter"

    class Source(models.TextChoices):
        WEBHOOK = "webhook", "Webhook"
        RECOVERY = "recovery", "Recovered from GET /v1/events"
        REPLAY = "replay", "Replayed by staff"

    type = models.CharField(max_length=128, db_index=True)
    # data.object.id: with `type`, the second dedup key Stripe recommends (two Event objects can be
    # sent for one change), and what staff search by.
    object_id = models.CharField(max_length=255, blank=True, db_index=True)
    api_version = models.CharField(max_length=64, blank=True)
    payload = models.JSONField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.WEBHOOK)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-stripe_created", "-pk"]
        indexes = [
            # The re-queue job looks for rows left pending or retrying, oldest first.
            models.Index(fields=["status", "updated_at"], name="stripeevent_status_updated"),
            models.Index(fields=["object_id", "type"], name="stripeevent_object_type"),
            # The drain task walks the pending rows in arrival order.
            models.Index(fields=["id"], condition=models.Q(status="pending"), name="stripeevent_pending"),
        ]

    def __str__(self) -> str:
        return f"{self.stripe_id} · {self.type} · {self.status}"


class PaymentIntent(StripeMirror):
    """Mirror of a Stripe PaymentIntent (`pi_…`): one per order, however many cards were tried.

    Kept from `payment_intent.*` events and from our own fetches by one forward-only sync
    service; `status_at` is the Stripe time (unix seconds) of the snapshot last applied, so a
    stale snapshot of the same rank changes nothing (invariant 5)."""

    class Status(models.TextChoices):
        REQUIRES_PAYMENT_METHOD = "requires_payment_method", "Requires payment method"
        REQUIRES_CONFIRMATION = "requires_confirmation", "Requires confirmation"
        REQUIRES_ACTION = "requires_action", "Requires action"
        PROCESSING = "processing", "Processing"
        REQUIRES_CAPTURE = "requires_capture", "Requires capture"
        CANCELED = "canceled", "Canceled"
        SUCCEEDED = "succeeded", "Succeeded"

    order = models.ForeignKey(
        "orders.Order", on_delete=models.PROTECT, related_name="payment_intents", null=True, blank=True
    )
    customer_id = models.CharField(max_length=255, blank=True, db_index=True)
    status = models.CharField(max_length=32, choices=Status.choices)
    status_at = models.BigIntegerField(default=0, help_text="Stripe time of the snapshot applied.")
    amount = models.BigIntegerField()
    amount_received = models.BigIntegerField(default=0)
    currency = models.CharField(max_length=3)
    capture_method = models.CharField(max_length=32, blank=True)
    latest_charge_id = models.CharField(max_length=255, blank=True, db_index=True)
    last_error_code = models.CharField(max_length=64, blank=True)
    last_error_decline_code = models.CharField(max_length=64, blank=True)
    last_error_message = models.TextField(blank=True)
    idempotency_key = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["-stripe_created", "-pk"]
        constraints = [
            models.CheckConstraint(condition=models.Q(amount__gte=0), name="pi_amount_non_negative"),
            models.CheckConstraint(
                condition=models.Q(amount_received__gte=0), name="pi_amount_received_non_negative"
            ),
            models.CheckConstraint(condition=models.Q(currency__regex=r"^[a-z]{3}$"), name="pi_currency_iso"),
        ]

    def __str__(self) -> str:
        return f"{self.stripe_id} · {self.status} · {format_money(self.amount, self.currency)}"


class Charge(StripeMirror):
    """Mirror of one charge attempt (`ch_…`/`py_…`): an order declined twice and then paid has
    three. Card details are the non-sensitive ones Stripe returns; billing details are not kept
    here (personal data stays on the order)."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    payment_intent = models.ForeignKey(
        PaymentIntent, on_delete=models.PROTECT, related_name="charges", null=True, blank=True
    )
    # The charge's `payment_intent` as Stripe gave it: a charge event can arrive before its
    # PaymentIntent's, and the PaymentIntent's sync links the charges waiting for it by this id.
    payment_intent_stripe_id = models.CharField(max_length=255, blank=True, db_index=True)
    order = models.ForeignKey(
        "orders.Order", on_delete=models.PROTECT, related_name="charges", null=True, blank=True
    )
    status = models.CharField(max_length=16, choices=Status.choices)
    status_at = models.BigIntegerField(default=0, help_text="Stripe time of the snapshot applied.")
    paid = models.BooleanField(default=False)
    captured = models.BooleanField(default=False)
    amount = models.BigIntegerField()
    amount_captured = models.BigIntegerField(default=0)
    amount_refunded = models.BigIntegerField(default=0)
    currency = models.CharField(max_length=3)
    refunded = models.BooleanField(default=False)
    disputed = models.BooleanField(default=False)
    balance_transaction_id = models.CharField(max_length=255, blank=True, db_index=True)
    failure_code = models.CharField(max_length=64, blank=True)
    failure_message = models.TextField(blank=True)
    # The card used (`pm_…`): staff are handed it, and search finds the charges made with it.
    payment_method_id = models.CharField(max_length=255, blank=True, db_index=True)
    # outcome
    outcome_network_status = models.CharField(max_length=64, blank=True)
    outcome_reason = models.CharField(max_length=64, blank=True)
    outcome_risk_level = models.CharField(max_length=32, blank=True)
    outcome_type = models.CharField(max_length=64, blank=True)
    # payment_method_details.card
    card_brand = models.CharField(max_length=32, blank=True)
    card_last4 = models.CharField(max_length=4, blank=True)
    card_exp_month = models.PositiveSmallIntegerField(null=True, blank=True)
    card_exp_year = models.PositiveSmallIntegerField(null=True, blank=True)
    card_country = models.CharField(max_length=2, blank=True)
    card_funding = models.CharField(max_length=16, blank=True)
    card_fingerprint = models.CharField(max_length=64, blank=True, db_index=True)
    # payment_method_details.card.three_d_secure (null when the charge had no 3-D Secure)
    three_d_secure_result = models.CharField(max_length=64, blank=True)
    three_d_secure_result_reason = models.CharField(max_length=64, blank=True)
    three_d_secure_authentication_flow = models.CharField(max_length=32, blank=True)
    three_d_secure_version = models.CharField(max_length=16, blank=True)
    three_d_secure_electronic_commerce_indicator = models.CharField(max_length=4, blank=True)

    class Meta:
        ordering = ["-stripe_created", "-pk"]
        constraints = [
            models.CheckConstraint(condition=models.Q(amount__gte=0), name="charge_amount_non_negative"),
            models.CheckConstraint(
                condition=models.Q(amount_refunded__gte=0), name="charge_amount_refunded_non_negative"
            ),
            models.CheckConstraint(
                condition=models.Q(currency__regex=r"^[a-z]{3}$"), name="charge_currency_iso"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.stripe_id} · {self.status} · {format_money(self.amount, self.currency)}"


class Refund(StripeMirror):
    """Mirror of a Stripe Refund (`re_…`), kept by the refund.* and charge.refunded handlers."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        REQUIRES_ACTION = "requires_action", "Requires action"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        CANCELED = "canceled", "Canceled"

    order = models.ForeignKey("orders.Order", on_delete=models.PROTECT, related_name="refunds", null=True)
    payment_intent_id = models.CharField(max_length=255, blank=True, db_index=True)
    charge_id = models.CharField(max_length=255, blank=True, db_index=True)
    amount = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    status = models.CharField(max_length=32, choices=Status.choices)
    failure_reason = models.CharField(max_length=64, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=models.Q(amount__gte=0), name="refund_amount_non_negative"),
            models.CheckConstraint(
                condition=models.Q(currency__regex=r"^[a-z]{3}$"), name="refund_currency_iso"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.stripe_id} · {self.status} · {format_money(self.amount, self.currency)}"


# A refund's status only moves forward too; failed/canceled are final (a refund can fail after it
# looked succeeded, so they rank above it).
REFUND_STATUS_RANK: dict[str, int] = {
    Refund.Status.PENDING: 0,
    Refund.Status.REQUIRES_ACTION: 1,
    Refund.Status.SUCCEEDED: 2,
    Refund.Status.FAILED: 3,
    Refund.Status.CANCELED: 3,
}


class RefundRequest(TimeStampedModel):
    """One refund staff asked for (admin or finance API), stored before Stripe is called.

    Its Stripe idempotency key `refund-request:<pk>:v1` is saved with the row, before the call,
    and reused on every retry (invariant 2): a retry of the same request never refunds twice, and
    two equal partial refunds are two rows with two keys. A double submit of the admin form finds
    the same row by `form_token`, an API retry by its `api_key` (both unique). The refund.*
    webhooks move `status` forward through the Refund mirror (payments.services.refunds)."""

    class Reason(models.TextChoices):
        REQUESTED_BY_CUSTOMER = "requested_by_customer", "Requested by the customer"
        DUPLICATE = "duplicate", "Duplicate payment"
        FRAUDULENT = "fraudulent", "Fraudulent (Stripe then blocks the card and email)"

    class Status(models.TextChoices):
        REQUESTED = "requested", "Requested (Stripe not answered yet)"
        PENDING = "pending", "Pending at Stripe"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    order = models.ForeignKey("orders.Order", on_delete=models.PROTECT, related_name="refund_requests")
    amount = models.BigIntegerField(help_text="Minor units of `currency`.")
    currency = models.CharField(max_length=3)
    reason = models.CharField(max_length=32, choices=Reason.choices)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.REQUESTED)
    stripe_refund_id = models.CharField(max_length=255, unique=True, null=True, blank=True)
    idempotency_key = models.CharField(max_length=255, blank=True)
    failure_reason = models.CharField(max_length=255, blank=True)
    form_token = models.CharField(max_length=64, unique=True, null=True, blank=True, editable=False)
    api_key = models.OneToOneField(
        "core.ApiIdempotencyKey",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="refund_request",
    )

    class Meta:
        ordering = ["-pk"]
        constraints = [
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="refund_request_amount_positive"),
            models.CheckConstraint(
                condition=models.Q(currency__regex=r"^[a-z]{3}$"), name="refund_request_currency_iso"
            ),
        ]

    def __str__(self) -> str:
        return f"Refund request #{self.pk} · {self.status} · {format_money(self.amount, self.currency)}"


# Forward-only, like the mirror: a refund can fail after it looked succeeded.
REFUND_REQUEST_STATUS_RANK: dict[str, int] = {
    RefundRequest.Status.REQUESTED: 0,
    RefundRequest.Status.PENDING: 1,
    RefundRequest.Status.SUCCEEDED: 2,
    RefundRequest.Status.FAILED: 3,
}
# What the request's status becomes for each status of its Stripe Refund.
REFUND_STATUS_TO_REQUEST: dict[str, str] = {
    Refund.Status.PENDING: RefundRequest.Status.PENDING,
    Refund.Status.REQUIRES_ACTION: RefundRequest.Status.PENDING,
    Refund.Status.SUCCEEDED: RefundRequest.Status.SUCCEEDED,
    Refund.Status.FAILED: RefundRequest.Status.FAILED,
    Refund.Status.CANCELED: RefundRequest.Status.FAILED,
}


class EventCheckpoint(TimeStampedModel):
    """Where the missed-event recovery job got to: the newest `created` it has seen."""

    name = models.CharField(max_length=64, unique=True)
    last_created = models.BigIntegerField(default=0, help_text="Unix seconds of the newest event seen.")

    def __str__(self) -> str:
        return f"{self.name} @ {self.last_created}"


class StaffAction(TimeStampedModel):
    """Audit trail: who did what to which record, why, and what came of it (admin and API).
    Written by the staff services only; read-only everywhere."""

    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True)
    action = models.CharField(max_length=64)
    target = models.CharField(
        max_length=255, db_index=True, help_text="The id acted on (evt_…, pi_…, ORD-…)."
    )
    reason = models.CharField(
        max_length=255, blank=True, help_text="Why, as staff gave it (a refund's reason)."
    )
    outcome = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.actor} {self.action} {self.target}"
