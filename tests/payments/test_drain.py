"""The drain: stored events wake one task for a whole burst, which processes every pending event
in arrival order. No event is left unseen between a wake-up and a drain, a lost drain message
is made good by the re-queue job, and one failing event does not hold up the others."""

import json
from datetime import timedelta
from typing import Any

import psycopg
import pytest
from django.db import connection
from django.test import TestCase
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from config.celery import app as celery_app
from core.models import DrainWakeup
from orders.models import Fulfillment, Order
from payments import tasks
from payments.models import PaymentIntent, StripeEvent
from payments.services.events import drain as drain_module
from payments.services.events import wakeup
from payments.services.events.drain import stripe_events_drain
from payments.services.events.process import stripe_event_process
from payments.services.events.receive import stripe_event_envelope, stripe_event_record
from payments.services.events.recovery import REQUEUE_AFTER, stripe_event_requeue_stale
from payments.services.events.retry import RETRY_BACKOFF_MAX_SECONDS
from payments.stripe_gateway import StripeUnavailable
from tests.factories import OrderFactory, event, payment_intent

pytestmark = pytest.mark.django_db


@pytest.fixture
def retries(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int]]:
    """(event pk, countdown) of each per-event retry the drain sends to the broker."""
    scheduled: list[tuple[int, int]] = []

    def send_task(name: str, *, args: tuple[int], countdown: int, **options: Any) -> None:
        assert name == tasks.process_stripe_event.name
        scheduled.append((args[0], countdown))

    monkeypatch.setattr(celery_app, "send_task", send_task)
    return scheduled


def receive(order: Order, type: str = "payment_intent.succeeded") -> int:
    """Store an event as the webhook view does, on-commit callbacks included."""
    payload = event(type, payment_intent(order))
    envelope = stripe_event_envelope(event=payload, payload_text=json.dumps(payload))
    with TestCase.captureOnCommitCallbacks(execute=True):
        pk = stripe_event_record(envelope=envelope, source=StripeEvent.Source.WEBHOOK)
    assert pk is not None
    return pk


def drain(**kwargs: Any) -> int:
    with TestCase.captureOnCommitCallbacks(execute=True):
        return stripe_events_drain(**kwargs)


def test_a_burst_of_events_sends_one_broker_message(queued: list[None]) -> None:
    for _ in range(20):
        receive(OrderFactory())
    assert queued == [None]
    assert StripeEvent.objects.filter(status="pending").count() == 20


def test_the_drain_fulfills_every_paid_order_once(queued: list[None]) -> None:
    orders = [OrderFactory() for _ in range(5)]
    for order in orders:
        receive(order)
    receive(orders[0])  # a second Event object for the same payment
    assert drain() == 6
    assert set(StripeEvent.objects.values_list("status", flat=True)) == {"processed"}
    assert Fulfillment.objects.count() == 5
    for order in orders:
        order.refresh_from_db()
        assert order.status == Order.Status.FULFILLED


def test_an_event_stored_after_the_drain_started_wakes_the_next_one(queued: list[None]) -> None:
    receive(OrderFactory())
    receive(OrderFactory())
    assert len(queued) == 1
    drain()
    # The drain took the wake-up row: the next event must queue a drain of its own.
    late = receive(OrderFactory())
    assert len(queued) == 2
    drain()
    assert StripeEvent.objects.get(pk=late).status == "processed"


def test_a_drain_that_reaches_its_limit_hands_over_to_a_fresh_one(
    queued: list[None], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(drain_module, "DRAIN_PAGE", 2)
    for _ in range(5):
        receive(OrderFactory())
    assert drain(limit=3) == 4  # two pages of two
    assert len(queued) == 2  # the first wake-up, then one for the backlog; the hand-over finds it
    assert drain() == 1
    assert not StripeEvent.objects.filter(status="pending").exists()


def test_one_failing_event_gets_its_own_retry_and_the_others_are_processed(
    queued: list[None], retries: list[tuple[int, int]], monkeypatch: pytest.MonkeyPatch
) -> None:
    from payments import handlers

    flaky_order, good_order = OrderFactory(), OrderFactory()
    flaky, good = receive(flaky_order), receive(good_order)
    original = handlers.HANDLERS["payment_intent.succeeded"]

    def stripe_down_for_one(row: StripeEvent) -> str | None:
        if row.pk == flaky:
            raise StripeUnavailable("Stripe did not answer")
        return original(row)

    monkeypatch.setitem(handlers.HANDLERS, "payment_intent.succeeded", stripe_down_for_one)
    drain()
    assert StripeEvent.objects.get(pk=good).status == "processed"
    row = StripeEvent.objects.get(pk=flaky)
    assert (row.status, row.attempts) == ("retrying", 1)
    ((pk, countdown),) = retries
    assert pk == flaky and 0 <= countdown <= RETRY_BACKOFF_MAX_SECONDS
    flaky_order.refresh_from_db()
    assert flaky_order.status == Order.Status.AWAITING_PAYMENT


def test_a_broker_that_is_down_leaves_the_event_pending_and_the_next_event_tries_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    attempts: list[None] = []

    def down() -> None:
        attempts.append(None)
        raise ConnectionRefusedError("broker down")

    monkeypatch.setattr(wakeup, "stripe_events_drain_publish", down)
    first = receive(OrderFactory())
    receive(OrderFactory())
    # Each event tried the broker: a failed publish does not leave a wake-up row that would
    # silence the events after it.
    assert len(attempts) == 2
    assert not DrainWakeup.objects.exists()
    assert StripeEvent.objects.get(pk=first).status == "pending"


def test_the_re_queue_job_replaces_a_lost_drain_message(queued: list[None]) -> None:
    receive(OrderFactory())
    assert DrainWakeup.objects.exists() and len(queued) == 1
    # The message is lost: the row stays, and later events would only count on that drain.
    StripeEvent.objects.update(updated_at=timezone.now() - REQUEUE_AFTER - timedelta(seconds=1))
    stripe_event_requeue_stale()
    assert len(queued) == 2
    drain()
    assert not StripeEvent.objects.filter(status="pending").exists()


@pytest.mark.django_db(transaction=True)
def test_a_row_locked_by_another_worker_is_left_to_it(queued: list[None]) -> None:
    pk = receive(OrderFactory())
    database = connection.settings_dict
    other = psycopg.connect(
        dbname=database["NAME"], user=database["USER"], host=database["HOST"], port=database["PORT"]
    )
    try:
        other.execute("SELECT id FROM payments_stripeevent WHERE id = %s FOR UPDATE", [pk])
        assert stripe_event_process(event_pk=pk, skip_locked=True) == "skipped"
        assert stripe_events_drain() == 0
        assert StripeEvent.objects.get(pk=pk).status == "pending"
    finally:
        other.rollback()
        other.close()
    assert stripe_event_process(event_pk=pk, skip_locked=True) == "processed"


def test_a_backlog_wakes_a_second_drain_to_share_it(
    queued: list[None], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(drain_module, "DRAIN_PAGE", 2)
    for _ in range(3):
        receive(OrderFactory())
    assert len(queued) == 1
    assert drain() == 3
    assert len(queued) == 2  # the full first page woke a second drain
    assert drain() == 0


def test_an_event_that_fails_for_good_is_dead_lettered_and_the_rest_of_its_page_processed(
    queued: list[None], monkeypatch: pytest.MonkeyPatch
) -> None:
    from payments import handlers

    orders = [OrderFactory() for _ in range(3)]
    pks = [receive(order) for order in orders]
    original = handlers.HANDLERS["payment_intent.succeeded"]

    def broken_for_one(row: StripeEvent) -> str | None:
        result = original(row)
        if row.pk == pks[1]:
            raise KeyError("data")
        return result

    monkeypatch.setitem(handlers.HANDLERS, "payment_intent.succeeded", broken_for_one)
    assert drain() == 3
    statuses = dict(StripeEvent.objects.values_list("pk", "status"))
    assert [statuses[pk] for pk in pks] == ["processed", "dead", "processed"]
    # The page was undone and redone event by event: the broken event's writes are gone.
    assert list(Fulfillment.objects.values_list("order_id", flat=True).order_by("order_id")) == [
        orders[0].pk,
        orders[2].pk,
    ]


def test_a_paid_event_costs_the_drain_at_most_eight_statements(queued: list[None]) -> None:
    orders = [OrderFactory() for _ in range(20)]
    for order in orders:
        receive(order)
    with CaptureQueriesContext(connection) as queries:
        assert stripe_events_drain() == 20
    # Per event (7 today, 8 allowed): the order found and locked, the PaymentIntent mirror's
    # upsert, the link of charges that waited for it, the fulfillment, the order, the event's
    # outcome, and since the staff console the order's history row (django-simple-history's
    # INSERT after the order's save: finance can see who changed an order's money state, and
    # when). Per drain: the wake-up row and two pages (the second one empty), each page in a
    # transaction that is a savepoint here (inside the test's transaction): two statements more
    # per page.
    assert len(queries) <= 8 * 20 + 3 + 2 * 2, [q["sql"][:80] for q in queries]
    assert sum('"orders_historicalorder"' in q["sql"] for q in queries) == 20
    # and those statements did the whole job: every order fulfilled, every PaymentIntent mirrored
    assert Fulfillment.objects.filter(order__in=orders).count() == 20
    mirrored = dict(PaymentIntent.objects.values_list("stripe_id", "status"))
    assert mirrored == {order.payment_intent_id: "succeeded" for order in orders}
