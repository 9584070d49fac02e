"""factory-boy factories and builders of Stripe-shaped payloads for the payments tests."""

from __future__ import annotations

import itertools
import json
import time
from datetime import UTC, datetime
from typing import Any

import factory
from django.conf import settings
from django.utils import timezone

from core.keys import idempotency_key
from orders.models import Order, OrderItem
from payments.models import Charge, PaymentIntent, StripeEvent
from payments.stripe_gateway import webhook_sign

_seq = itertools.count(1)


class OrderFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Order
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"customer{n}@example.com")
    name = "Ada Lovelace"
    billing_address = factory.LazyFunction(
        lambda: {
            "line1": "12 St James's Square",
            "city": "London",
            "postal_code": "SW1Y 4JH",
            "country": "GB",
        }
    )
    shipping_address = factory.LazyAttribute(lambda order: dict(order.billing_address))
    customer_ip = "203.0.113.7"
    user_agent = "Mozilla/5.0 (test)"
    amount = 4200
    currency = "gbp"
    status = Order.Status.AWAITING_PAYMENT
    payment_intent_id = factory.Sequence(lambda n: f"pi_test{n:06d}")

    @factory.post_generation
    def key(self, create: bool, extracted: Any, **kwargs: Any) -> None:
        if create and not self.payment_intent_idempotency_key:
            self.payment_intent_idempotency_key = idempotency_key("order", self.pk, "payment-intent")
            self.save(update_fields=["payment_intent_idempotency_key"])


class OrderItemFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = OrderItem

    order = factory.SubFactory(OrderFactory)
    product_name = "Analytical Engine poster"
    sku = "POSTER-1"
    unit_amount = 4200
    quantity = 1
    currency = "gbp"


class PaymentIntentFactory(factory.django.DjangoModelFactory):
    """A PaymentIntent mirror as the sync service leaves it after a successful payment, with its
    order; its `stripe_id` is the order's `payment_intent_id`. `PaymentIntentFactory(order=…)`
    mirrors an existing order's PaymentIntent."""

    class Meta:
        model = PaymentIntent

    order = factory.SubFactory(OrderFactory)
    stripe_id = factory.LazyAttributeSequence(
        lambda pi, n: pi.order.payment_intent_id
        if pi.order and pi.order.payment_intent_id
        else f"pi_mirror{n:06d}"
    )
    livemode = False
    stripe_created = factory.LazyFunction(timezone.now)
    synced_at = factory.LazyFunction(timezone.now)
    customer_id = factory.Sequence(lambda n: f"cus_mirror{n:06d}")
    status = PaymentIntent.Status.SUCCEEDED
    status_at = factory.LazyFunction(lambda: int(time.time()))
    amount = factory.LazyAttribute(lambda pi: pi.order.amount if pi.order else 4200)
    amount_received = factory.LazyAttribute(lambda pi: pi.amount if pi.status == "succeeded" else 0)
    currency = factory.LazyAttribute(lambda pi: pi.order.currency if pi.order else "gbp")
    capture_method = "automatic_async"
    idempotency_key = factory.LazyAttribute(
        lambda pi: pi.order.payment_intent_idempotency_key if pi.order else ""
    )


class ChargeFactory(factory.django.DjangoModelFactory):
    """One charge attempt's mirror: by default the succeeded charge of a PaymentIntent mirror,
    with a Visa card and its balance transaction. Traits: `declined=True` (an issuer decline,
    `insufficient_funds`), `three_d_secure=True` (an authenticated 3-D Secure challenge)."""

    class Meta:
        model = Charge

    class Params:
        declined = factory.Trait(
            status=Charge.Status.FAILED,
            paid=False,
            captured=False,
            amount_captured=0,
            balance_transaction_id="",
            failure_code="card_declined",
            failure_message="Your card has insufficient funds.",
            outcome_network_status="declined_by_network",
            outcome_reason="insufficient_funds",
            outcome_type="issuer_declined",
        )
        three_d_secure = factory.Trait(
            three_d_secure_result="authenticated",
            three_d_secure_authentication_flow="challenge",
            three_d_secure_version="2.2.0",
            three_d_secure_electronic_commerce_indicator="05",
        )

    payment_intent = factory.SubFactory(PaymentIntentFactory)
    payment_intent_stripe_id = factory.LazyAttribute(
        lambda ch: ch.payment_intent.stripe_id if ch.payment_intent else ""
    )
    order = factory.LazyAttribute(lambda ch: ch.payment_intent.order if ch.payment_intent else None)
    stripe_id = factory.Sequence(lambda n: f"ch_mirror{n:06d}")
    livemode = False
    stripe_created = factory.LazyFunction(timezone.now)
    synced_at = factory.LazyFunction(timezone.now)
    status = Charge.Status.SUCCEEDED
    status_at = factory.LazyFunction(lambda: int(time.time()))
    paid = True
    captured = True
    amount = factory.LazyAttribute(lambda ch: ch.payment_intent.amount if ch.payment_intent else 4200)
    amount_captured = factory.LazyAttribute(lambda ch: ch.amount)
    amount_refunded = 0
    currency = factory.LazyAttribute(lambda ch: ch.payment_intent.currency if ch.payment_intent else "gbp")
    balance_transaction_id = factory.Sequence(lambda n: f"txn_mirror{n:06d}")
    outcome_network_status = "approved_by_network"
    outcome_risk_level = "normal"
    outcome_type = "authorized"
    card_brand = "visa"
    card_last4 = "4242"
    card_exp_month = 12
    card_exp_year = 2034
    card_country = "US"
    card_funding = "credit"
    card_fingerprint = factory.Sequence(lambda n: f"fp{n:014d}")


def event_id() -> str:
    return f"evt_test{next(_seq):08d}{int(time.time() * 1000) % 10**8}"


def payment_intent(order: Order, *, status: str = "succeeded", **fields: Any) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "id": order.payment_intent_id,
        "object": "payment_intent",
        "amount": order.amount,
        "currency": order.currency,
        "status": status,
        "livemode": False,
        "metadata": {"order_id": str(order.pk), "order_number": order.number},
        "latest_charge": f"ch_for_{order.payment_intent_id}" if status == "succeeded" else None,
        "last_payment_error": None,
    }
    obj.update(fields)
    return obj


def charge(order: Order, *, status: str = "succeeded", **fields: Any) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "id": f"ch_for_{order.payment_intent_id}",
        "object": "charge",
        "amount": order.amount,
        "amount_refunded": 0,
        "currency": order.currency,
        "status": status,
        "paid": status == "succeeded",
        "refunded": False,
        "livemode": False,
        "payment_intent": order.payment_intent_id,
        "metadata": {"order_id": str(order.pk)},
        "failure_code": "card_declined" if status == "failed" else None,
        # What a real charge carries and an alert must never repeat.
        "billing_details": {"name": order.name, "email": order.email, "address": order.billing_address},
        "payment_method_details": {"card": {"last4": "4242", "brand": "visa"}},
    }
    obj.update(fields)
    return obj


def event(
    type: str,
    obj: dict[str, Any],
    *,
    id: str | None = None,
    created: int | None = None,
    livemode: bool = False,
) -> dict[str, Any]:
    return {
        "id": id or event_id(),
        "object": "event",
        "api_version": settings.STRIPE_API_VERSION,
        "created": int(time.time()) if created is None else created,
        "livemode": livemode,
        "type": type,
        "data": {"object": obj},
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
    }


def signed(
    payload: dict[str, Any] | bytes, *, secret: str | None = None, timestamp: int | None = None
) -> tuple[bytes, str]:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return body, webhook_sign(
        payload=body, secret=secret or settings.STRIPE_WEBHOOK_SECRETS[0], timestamp=timestamp
    )


def stored_event(
    payload: dict[str, Any], *, status: str = StripeEvent.Status.PENDING, **fields: Any
) -> StripeEvent:
    """A StripeEvent row as the webhook view would have stored it."""
    obj = payload["data"]["object"]
    return StripeEvent.objects.create(
        stripe_id=payload["id"],
        type=payload["type"],
        object_id=obj.get("id") or "",
        livemode=payload["livemode"],
        stripe_created=datetime.fromtimestamp(payload["created"], tz=UTC),
        api_version=payload["api_version"],
        payload=payload,
        status=status,
        **fields,
    )
