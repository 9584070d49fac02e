"""Races on real PostgreSQL connections: the same event delivered by 8 concurrent requests, and
8 workers processing the same change at once (one event row, or two Event objects)."""

import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test import Client

from orders.models import Fulfillment, Order
from payments.models import StripeEvent
from payments.services.events.process import stripe_event_process
from tests.factories import OrderFactory, event, payment_intent, signed, stored_event

pytestmark = pytest.mark.django_db(transaction=True)

CONCURRENCY = 8


def race(work: Callable[[int], Any]) -> list[Any]:
    """Run `work(i)` in CONCURRENCY threads released together; each has its own connection."""
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
        thread.join(timeout=30)
    return results


def test_eight_concurrent_deliveries_of_one_event_store_and_queue_it_once(queued: list[None]) -> None:
    order = OrderFactory()
    body, signature = signed(event("payment_intent.succeeded", payment_intent(order)))

    statuses = race(
        lambda i: Client()
        .generic(
            "POST", "/stripe/webhook/", body, content_type="application/json", HTTP_STRIPE_SIGNATURE=signature
        )
        .status_code
    )

    assert statuses == [200] * CONCURRENCY
    assert StripeEvent.objects.count() == 1
    assert queued == [None]


def test_eight_workers_on_one_event_have_one_effect(queued: list[None]) -> None:
    order = OrderFactory()
    row = stored_event(event("payment_intent.succeeded", payment_intent(order)))

    outcomes = race(lambda i: stripe_event_process(event_pk=row.pk))

    assert outcomes == [StripeEvent.Status.PROCESSED] * CONCURRENCY
    row.refresh_from_db()
    assert row.attempts == 1
    assert Fulfillment.objects.filter(order=order).count() == 1
    order.refresh_from_db()
    assert order.status == Order.Status.FULFILLED


def test_eight_event_objects_for_one_change_processed_at_once_fulfill_once(queued: list[None]) -> None:
    order = OrderFactory()
    types = ["payment_intent.succeeded", "charge.succeeded"] * (CONCURRENCY // 2)
    rows = [
        stored_event(event("payment_intent.succeeded", payment_intent(order)))
        if kind.startswith("payment_intent")
        else stored_event(
            event(
                "charge.succeeded",
                {
                    "id": f"ch_for_{order.payment_intent_id}",
                    "object": "charge",
                    "status": "succeeded",
                    "paid": True,
                    "payment_intent": order.payment_intent_id,
                    "amount_refunded": 0,
                },
            )
        )
        for kind in types
    ]

    outcomes = race(lambda i: stripe_event_process(event_pk=rows[i].pk))

    assert outcomes == [StripeEvent.Status.PROCESSED] * CONCURRENCY
    assert Fulfillment.objects.filter(order=order).count() == 1
    order.refresh_from_db()
    assert order.status == Order.Status.FULFILLED
