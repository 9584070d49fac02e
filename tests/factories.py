"""factory-boy factories and builders of Stripe-shaped payloads for the payments tests."""

from __future__ import annotations

import itertools
import json
import time
from datetime import UTC, datetime
from typing import Any

import factory
from django.conf import settings

from core.keys import idempotency_key
from orders.models import Order, OrderItem
from payments.models import StripeEvent
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
