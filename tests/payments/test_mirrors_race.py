"""Races on real PostgreSQL connections: snapshots of one new PaymentIntent synced by 8
connections at once end in the newest one, in one row; a payment's events processed at once end
in the newest charge, linked to its PaymentIntent."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection, transaction

from payments.models import Charge, PaymentIntent, StripeEvent
from payments.services.events.process import stripe_event_process
from payments.services.mirrors import payment_intent_sync
from tests.factories import OrderFactory, charge, event, payment_intent, stored_event

pytestmark = pytest.mark.django_db(transaction=True)

T0 = int(time.time()) - 600
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


UNSETTLED = ["requires_payment_method", "requires_action", "processing", "requires_confirmation"]


def test_concurrent_snapshots_of_one_payment_intent_end_in_the_newest() -> None:
    order = OrderFactory()
    # the succeeded one is not the latest in time, but it outranks every attempt's state
    snapshots = [
        (
            payment_intent(order, status="succeeded")
            if i == 3
            else payment_intent(order, status=UNSETTLED[i % 4])
        )
        for i in range(CONCURRENCY)
    ]

    def sync(i: int) -> bool:
        with transaction.atomic():
            return payment_intent_sync(obj=snapshots[i], source=f"evt_{i}", seen_at=T0 + i)

    results = race(sync)

    assert all(isinstance(result, bool) for result in results), results
    mirror = PaymentIntent.objects.get()
    assert (mirror.status, mirror.status_at) == ("succeeded", T0 + 3)


def test_concurrent_events_of_one_payment_end_in_the_newest_charge_linked_to_its_payment_intent(
    queued: list[None],
) -> None:
    # The order's lock serialises its events (lock order: event, order, mirrors), so a charge
    # and its PaymentIntent stored at the same moment still find each other.
    order = OrderFactory()
    rows = [stored_event(event("payment_intent.succeeded", payment_intent(order), created=T0))] + [
        stored_event(event("charge.refunded", charge(order, amount_refunded=100 * i), created=T0 + i))
        for i in range(1, CONCURRENCY)
    ]

    outcomes = race(lambda i: stripe_event_process(event_pk=rows[i].pk))

    assert outcomes == [StripeEvent.Status.PROCESSED] * CONCURRENCY
    row = Charge.objects.get()
    assert (row.amount_refunded, row.status_at) == (100 * (CONCURRENCY - 1), T0 + CONCURRENCY - 1)
    assert row.payment_intent == PaymentIntent.objects.get()
    assert row.order == order
