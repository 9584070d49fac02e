"""Helpers for the disputes' end-to-end tests against the Stripe emulator: an order as the shop
keeps it, paid through the emulator with a dispute test card, and the stored events processed
as the worker's drain does (in this process, where the pipeline is not what is under test)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from core.keys import idempotency_key
from orders.models import Order
from payments.services.events.drain import stripe_events_drain
from tests.e2e_support import open_events
from tests.factories import OrderFactory, OrderItemFactory

FRAUD_CARD = "pm_card_createDispute"  # 4000000000000259
INQUIRY_CARD = "pm_card_createDisputeInquiry"  # 4000000000001976
ROOT = Path(__file__).resolve().parents[2]
REDIS_URL = os.environ.get("E2E_REDIS_URL", "redis://127.0.0.1:6379/9")


def shop_order(amount: int = 4200) -> Order:
    """An order awaiting payment, with one item and the customer's details, as checkout makes it."""
    order = OrderFactory(payment_intent_id=None, amount=amount)
    OrderItemFactory(order=order, unit_amount=amount, currency=order.currency)
    return order


def pay(emulator: Any, order: Order, card: str) -> str:
    """Pay the order as the Payment Element checkout does (its key, its metadata); the
    PaymentIntent's id is stored on the order as checkout stores it. Returns it."""
    params = {
        "amount": order.amount,
        "currency": order.currency,
        "payment_method": card,
        "payment_method_types": ["card"],
        "confirm": True,
        "metadata": {"order_id": str(order.pk), "order_number": order.number},
    }
    Order.objects.filter(pk=order.pk).update(
        payment_intent_idempotency_key=idempotency_key("order", order.pk, "payment-intent")
    )
    pi = emulator.client().v1.payment_intents.create(
        params=params, options={"idempotency_key": idempotency_key("order", order.pk, "payment-intent")}
    )
    Order.objects.filter(pk=order.pk).update(payment_intent_id=pi.id)
    return str(pi.id)


def drain() -> int:
    """Process every stored, pending event as the worker's drain does (the tests using this are
    transactional, so on-commit work, the evidence task and alerts, runs at each commit)."""
    return stripe_events_drain()


def settle(emulator: Any, timeout: float = 20) -> None:
    """Wait until the emulator has delivered everything, drain what was stored, and again while
    the drain's own calls to Stripe (the evidence staged) make it send more."""
    for _ in range(10):
        assert emulator.wait_for_deliveries(timeout=timeout), "the emulator kept deliveries in flight"
        if not drain() and emulator.wait_for_deliveries(timeout=timeout) and not open_events():
            return
    raise AssertionError("the events never settled")
