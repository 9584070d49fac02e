"""Proven under faults, end to end: the Stripe emulator delivering to the live Django server,
PostgreSQL, a broker (Redis, and RabbitMQ where marked "on either broker") and a real Celery
worker process.

- 200 orders paid while the emulator drops 30%, duplicates 30% and reorders deliveries: after
  the recovery job, every paid order is fulfilled exactly once and no unpaid order is;
- a worker killed half-way through a handler: the message comes back (late ack) and the event
  has one effect;
- the broker down when the event arrives: stored, acknowledged, re-queued later, processed;
- on either broker: a worker killed half-way; a worker stopped (SIGTERM) in the middle of a
  drain and a new one started; the broker restarted under a running worker (every connection
  cut): every event processed once, every order fulfilled once;
- the database down when the event arrives: 5xx, Stripe's retry is stored and processed.
"""

import contextlib
import os
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
from celery import Celery
from django.db import OperationalError
from django.db.backends.utils import CursorWrapper
from django.db.models import Count
from django.test import Client

from orders.models import Fulfillment, Order
from payments.models import Charge, PaymentIntent, StripeEvent
from payments.services.events import wakeup
from payments.services.events.recovery import stripe_event_recover, stripe_event_requeue_stale
from payments.services.events.wakeup import DRAIN_TASK
from tests.e2e_support import REDIS_URL, Worker, open_events, pay, wait_until
from tests.factories import OrderFactory, event, payment_intent, signed

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker, pytest.mark.slow]

RABBITMQ_URL = os.environ.get("E2E_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672//")
BROKERS = {"redis": REDIS_URL, "rabbitmq": RABBITMQ_URL}


@pytest.fixture(params=sorted(BROKERS))
def broker_url(request: pytest.FixtureRequest) -> str:
    """Each test that takes it runs once on Redis and once on RabbitMQ."""
    return BROKERS[request.param]


def test_200_orders_under_drops_duplicates_and_reordering_are_fulfilled_exactly_once(
    emulator: Any, live_server: Any, settings: Any, start_worker: Callable[..., Worker]
) -> None:
    # given the emulator delivering to the live server, badly, and a real worker
    endpoint = emulator.add_webhook_endpoint(live_server.url + "/stripe/webhook/")
    settings.STRIPE_WEBHOOK_SECRETS = [endpoint["secret"]]
    worker = start_worker()
    emulator.set_faults(drop_rate=0.3, duplicate_rate=0.3, reorder_window=8, double_event_rate=0.1)
    orders = [OrderFactory(payment_intent_id=None) for _ in range(200)]
    cards = ["pm_card_chargeDeclined" if i % 7 == 0 else "pm_card_visa" for i in range(len(orders))]

    # when 200 customers pay
    client = emulator.client()
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda pair: pay(client, *pair), zip(orders, cards, strict=True)))
    for order, (pi_id, _) in zip(orders, results, strict=True):
        Order.objects.filter(pk=order.pk).update(payment_intent_id=pi_id)
    assert emulator.wait_for_deliveries(timeout=120)
    wait_until(lambda: open_events() == 0, 120, "the worker to process the delivered events", worker)
    delivered = StripeEvent.objects.count()
    # ... and the recovery job runs
    summary = stripe_event_recover()
    wait_until(lambda: open_events() == 0, 120, "the worker to process the recovered events", worker)

    # then
    paid = {order.pk for order, (_, ok) in zip(orders, results, strict=True) if ok}
    assert 150 < len(paid) < 200
    assert len(summary.recovered) > 0, "a 30% drop rate lost nothing?"
    assert StripeEvent.objects.count() == delivered + len(summary.recovered)
    fulfillments = dict(Fulfillment.objects.values_list("order_id").annotate(n=Count("id")))
    assert set(fulfillments) == paid
    assert set(fulfillments.values()) == {1}
    statuses = dict(Order.objects.filter(pk__in=[o.pk for o in orders]).values_list("pk", "status"))
    assert {statuses[pk] for pk in paid} == {Order.Status.FULFILLED}
    assert {statuses[o.pk] for o in orders if o.pk not in paid} == {Order.Status.PAYMENT_FAILED}
    assert not StripeEvent.objects.filter(status=StripeEvent.Status.DEAD).exists()
    assert StripeEvent.objects.filter(source=StripeEvent.Source.RECOVERY).count() == len(summary.recovered)
    # and the mirrors agree: each order's PaymentIntent and its one attempt, linked, in their
    # final state whatever order the events came in
    expected = {o.pk: "succeeded" if o.pk in paid else "requires_payment_method" for o in orders}
    assert dict(PaymentIntent.objects.filter(order__in=orders).values_list("order_id", "status")) == expected
    attempts = Charge.objects.filter(order__in=orders)
    assert attempts.count() == len(orders)
    assert dict(attempts.values_list("order_id", "status")) == {
        o.pk: "succeeded" if o.pk in paid else "failed" for o in orders
    }
    assert not attempts.filter(payment_intent=None).exists()


def deliver(order: Order, **fields: Any) -> tuple[int, StripeEvent | None]:
    payload = event("payment_intent.succeeded", payment_intent(order), **fields)
    body, signature = signed(payload)
    response = Client().generic(
        "POST", "/stripe/webhook/", body, content_type="application/json", HTTP_STRIPE_SIGNATURE=signature
    )
    return response.status_code, StripeEvent.objects.filter(stripe_id=payload["id"]).first()


def test_a_worker_killed_half_way_loses_nothing_and_doubles_nothing(
    tmp_path: Path, start_worker: Callable[..., Worker], broker_url: str
) -> None:
    # given a worker that will die in the middle of the first succeeded-payment handler
    marker = tmp_path / "crash-once"
    marker.touch()
    worker = start_worker(crash_marker=marker, broker=broker_url)
    order = OrderFactory()
    # when the event arrives
    status, row = deliver(order)
    assert status == 200 and row is not None
    # then the worker died once, the message came back (late ack), and the event had one effect
    wait_until(lambda: open_events() == 0, 60, "the event to be processed after the crash", worker)
    assert not marker.exists(), "the handler never ran"
    row.refresh_from_db()
    assert row.status == StripeEvent.Status.PROCESSED
    assert row.attempts == 1  # the killed attempt's writes were never committed
    assert Fulfillment.objects.filter(order=order).count() == 1
    assert "WorkerLostError" in worker.log.read_text() or "exited with 'exitcode 1'" in worker.log.read_text()


def test_the_broker_down_when_the_event_arrives_loses_nothing(
    start_worker: Callable[..., Worker], monkeypatch: pytest.MonkeyPatch
) -> None:
    # given the broker is down
    order = OrderFactory()
    down = Celery("down", broker="redis://127.0.0.1:1/0", broker_connection_retry=False)
    down.conf.broker_transport_options = {"max_retries": 0}

    def publish_to_nowhere() -> None:
        down.send_task(DRAIN_TASK, retry=False)

    monkeypatch.setattr(wakeup, "stripe_events_drain_publish", publish_to_nowhere)
    # when the event arrives, it is stored and acknowledged all the same
    status, row = deliver(order)
    assert status == 200 and row is not None and row.status == StripeEvent.Status.PENDING
    # then, once the broker is back, the re-queue job (beat) sends it and the worker processes it
    worker = start_worker()
    assert stripe_event_requeue_stale(older_than=timedelta(0)) == 1
    wait_until(lambda: open_events() == 0, 60, "the re-queued event to be processed", worker)
    assert Fulfillment.objects.filter(order=order).count() == 1


def test_the_database_down_answers_5xx_and_stripes_retry_succeeds(
    emulator: Any,
    live_server: Any,
    settings: Any,
    start_worker: Callable[..., Worker],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # given the database refuses the inbox insert for the first three attempts
    endpoint = emulator.add_webhook_endpoint(
        live_server.url + "/stripe/webhook/", events=["payment_intent.succeeded"]
    )
    settings.STRIPE_WEBHOOK_SECRETS = [endpoint["secret"]]
    emulator.configure_webhooks(first_retry=0.2, factor=1.5, max_attempts=6)
    worker = start_worker()
    failures = {"left": 3}
    original = CursorWrapper.execute

    def flaky(self: CursorWrapper, sql: str, params: Any = None) -> Any:
        if "INSERT INTO" in sql and "payments_stripeevent" in sql and failures["left"] > 0:
            failures["left"] -= 1
            raise OperationalError("could not connect to server: Connection refused")
        return original(self, sql, params)

    monkeypatch.setattr(CursorWrapper, "execute", flaky)
    order = OrderFactory(payment_intent_id=None)
    # when the customer pays
    pi_id, ok = pay(emulator.client(), order, "pm_card_visa")
    Order.objects.filter(pk=order.pk).update(payment_intent_id=pi_id)
    assert ok
    assert emulator.wait_for_deliveries(timeout=30)
    # then Stripe saw 5xx three times, then a 200, and the event was processed once
    attempts = [
        d for d in emulator.deliveries() if d.get("event_type", d.get("type")) == "payment_intent.succeeded"
    ]
    statuses = [d.get("status") for d in attempts]
    assert statuses.count(503) == 3, attempts
    assert 200 in statuses
    wait_until(lambda: open_events() == 0, 60, "the retried event to be processed", worker)
    assert StripeEvent.objects.filter(type="payment_intent.succeeded").count() == 1
    assert Fulfillment.objects.filter(order=order).count() == 1


def fulfilled_once(orders: list[Order]) -> bool:
    counts = dict(
        Fulfillment.objects.filter(order__in=orders).values_list("order_id").annotate(n=Count("id"))
    )
    return set(counts) == {order.pk for order in orders} and set(counts.values()) == {1}


def processed_events() -> int:
    return StripeEvent.objects.filter(status=StripeEvent.Status.PROCESSED).count()


def test_a_worker_stopped_in_the_middle_of_a_drain_loses_nothing_on_either_broker(
    start_worker: Callable[..., Worker], broker_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given 300 paid events stored while no worker runs
    monkeypatch.setattr(wakeup, "stripe_events_drain_publish", lambda: None)
    orders = [OrderFactory() for _ in range(300)]
    for order in orders:
        assert deliver(order)[0] == 200
    # when a worker starts draining them, 50 a task (each hands over to the next), and is
    # stopped (SIGTERM: a deploy) half-way: it finishes the task it runs and stops
    first = start_worker(broker=broker_url, drain_limit=50)
    first.publish_drain()
    wait_until(lambda: processed_events() >= 60, 60, "the drain to start", first)
    first.process.terminate()
    first.process.wait(timeout=30)
    assert open_events() > 0, "the backlog was done before the stop: nothing was tested"
    # then the next worker on the same queue takes the hand-over message the first one left on
    # the broker (no re-queue job needed), and nothing is lost or doubled
    second = start_worker(broker=broker_url, drain_limit=50, queue=first.queue)
    wait_until(lambda: open_events() == 0, 120, "the second worker to finish the backlog", second)
    assert processed_events() == 300
    assert set(StripeEvent.objects.values_list("attempts", flat=True)) == {1}
    assert fulfilled_once(orders)


class BrokerLink:
    """A TCP relay between the worker and the broker. `cut()` closes every connection and refuses
    new ones, as a broker that restarts does; `restore()` lets them in again."""

    def __init__(self, target: str) -> None:
        parts = urlsplit(target)
        self.target = (parts.hostname or "127.0.0.1", int(parts.port or 0))
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.url = urlunsplit(parts._replace(netloc=parts.netloc.replace(f":{parts.port}", f":{self.port}")))
        self.up = threading.Event()
        self.up.set()
        self.sockets: list[socket.socket] = []
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if not self.up.is_set():
                client.close()
                continue
            upstream = socket.create_connection(self.target)
            with self.lock:
                self.sockets += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                with contextlib.suppress(OSError):
                    end.close()

    def cut(self) -> None:
        self.up.clear()
        with self.lock:
            for sock in self.sockets:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                    sock.close()
            self.sockets.clear()

    def restore(self) -> None:
        self.up.set()

    def close(self) -> None:
        self.cut()
        self.listener.close()


def test_a_broker_restarted_under_a_running_worker_loses_nothing_on_either_broker(
    start_worker: Callable[..., Worker], broker_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    link = BrokerLink(broker_url)
    worker: Worker | None = None
    try:
        # given a worker reaching the broker through the link, draining 300 stored events
        monkeypatch.setattr(wakeup, "stripe_events_drain_publish", lambda: None)
        orders = [OrderFactory() for _ in range(300)]
        for order in orders:
            assert deliver(order)[0] == 200
        worker = start_worker(broker=link.url)
        worker.publish_drain()
        wait_until(lambda: processed_events() >= 30, 60, "the drain to start", worker)
        # when the broker goes away for three seconds (every connection cut) and comes back
        link.cut()
        time.sleep(3)
        link.restore()
        # then the worker reconnects, the re-queue job wakes a drain, and nothing is lost or doubled
        stripe_event_requeue_stale(older_than=timedelta(0))
        wait_until(lambda: open_events() == 0, 120, "the backlog to be processed after the restart", worker)
        assert processed_events() == 300
        assert fulfilled_once(orders)
        assert not StripeEvent.objects.filter(status=StripeEvent.Status.DEAD).exists()
    finally:
        if worker is not None:
            worker.stop()
        link.close()
