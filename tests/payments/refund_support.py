"""Shared pieces of the refund tests (tests/payments/test_refund_*.py, tests/console/, the staff
browser journeys): paying an order at the emulator, an order paid and applied to our books, the
refunds Stripe holds for an order, and racing real connections."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from django.db import connection

from core.keys import idempotency_key
from orders.models import Order
from payments.services.objects import stripe_object_resync
from tests.factories import OrderFactory

CONCURRENCY = 8


def emulator_pay(emulator: Any, order: Order, card: str = "pm_card_visa") -> str:
    """Pay `order` at the emulator as the checkout would (with the order's key); link and return
    its PaymentIntent."""
    params = {
        "amount": order.amount,
        "currency": order.currency,
        "payment_method": card,
        "payment_method_types": ["card"],
        "confirm": True,
        "metadata": {"order_id": str(order.pk), "order_number": order.number},
    }
    key = idempotency_key("order", order.pk, "payment-intent")
    pi_id = emulator.client().v1.payment_intents.create(params=params, options={"idempotency_key": key}).id
    Order.objects.filter(pk=order.pk).update(payment_intent_id=pi_id)
    return str(pi_id)


def paid_at_stripe(emulator: Any, card: str = "pm_card_visa", **fields: Any) -> Order:
    """An order (£42.00 unless `fields` say otherwise) paid at the emulator and applied here as a
    re-sync would (no webhook needed)."""
    order = OrderFactory(payment_intent_id=None, **fields)
    stripe_object_resync(object_id=emulator_pay(emulator, order, card=card))
    order.refresh_from_db()
    assert order.status == Order.Status.FULFILLED
    return order


def stripe_refunds(emulator: Any, order: Order) -> list[Any]:
    """The refunds Stripe has made of the order's PaymentIntent, oldest first."""
    return list(emulator.client().v1.refunds.list(params={"payment_intent": order.payment_intent_id}).data)


def race(work: Callable[[int], Any]) -> list[Any]:
    """Run `work(i)` in CONCURRENCY threads released together, each on its own connection; an
    exception is returned in place of its result."""
    barrier = threading.Barrier(CONCURRENCY)
    results: list[Any] = [None] * CONCURRENCY

    def run(i: int) -> None:
        try:
            barrier.wait()
            results[i] = work(i)
        except Exception as error:
            results[i] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(CONCURRENCY)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results
