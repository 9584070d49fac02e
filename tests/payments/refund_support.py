"""Shared pieces of the refund tests (tests/payments/test_refund_*.py, tests/console/): an order
paid at the emulator and applied to our books, and the refunds Stripe holds for an order."""

from __future__ import annotations

from typing import Any

from orders.models import Order
from payments.services.objects import stripe_object_resync
from tests.factories import OrderFactory
from tests.payments.test_recovery import pay


def paid_at_stripe(emulator: Any, card: str = "pm_card_visa", **fields: Any) -> Order:
    """An order (£42.00 unless `fields` say otherwise) paid at the emulator and applied here as a
    re-sync would (no webhook needed)."""
    order = OrderFactory(payment_intent_id=None, **fields)
    stripe_object_resync(object_id=pay(emulator, order, card=card))
    order.refresh_from_db()
    assert order.status == Order.Status.FULFILLED
    return order


def stripe_refunds(emulator: Any, order: Order) -> list[Any]:
    """The refunds Stripe has made of the order's PaymentIntent, oldest first."""
    return list(emulator.client().v1.refunds.list(params={"payment_intent": order.payment_intent_id}).data)
